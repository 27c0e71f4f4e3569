//! SIGINT and SIGTERM: the output folders' staging folders, temporary and lock files are
//! removed (see `report::output::cleanup`) and the process exits with 130 or 143.
//!
//! The signals are blocked in every thread and taken by one thread of their own with
//! `sigwait`, so the clean-up runs as ordinary code (a signal handler may do almost nothing).
//! Threads inherit the mask: [`install`] must run before any other thread starts. Child
//! processes start with an empty mask (std resets it).

#[cfg(unix)]
pub fn install() {
    use crate::report::output::cleanup;
    // SAFETY: plain libc calls on a local, initialized signal set.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return; // the default action stays: the process dies, the next run cleans up
        }
        set
    };
    let spawned = std::thread::Builder::new().name("signals".into()).spawn(move || loop {
        let mut signal = 0;
        // SAFETY: `set` is initialized; `signal` is written on success.
        if unsafe { libc::sigwait(&set, &mut signal) } == 0 {
            let name = if signal == libc::SIGINT { "SIGINT" } else { "SIGTERM" };
            cleanup::interrupted(signal, name);
        }
    });
    if spawned.is_err() {
        // Nobody would take the signals: give them back their default action.
        // SAFETY: as above.
        unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
    }
}

#[cfg(not(unix))]
pub fn install() {}
