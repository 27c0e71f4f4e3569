//! `gcnsim run --jobs N`: the runs left, handed out in the experiment's order to N job threads,
//! and the memory they may use together.
//!
//! Each run's pre-run memory estimate (what it checks before it allocates) is admitted against
//! a budget: a run waits while the runs in progress and it would need more than the budget; a
//! run alone always starts (its own check then refuses it if it cannot fit at all).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::RunSpec;

pub struct Queue<'a> {
    runs: &'a [&'a RunSpec],
    next: AtomicUsize,
    failed: AtomicBool,
    budget: Option<u128>,
    /// Bytes admitted and runs in progress.
    admitted: Mutex<(u128, usize)>,
    freed: Condvar,
}

impl<'a> Queue<'a> {
    /// `budget`: the bytes the runs in progress may need together; `None`: no bound.
    pub fn new(runs: &'a [&'a RunSpec], budget: Option<u128>) -> Self {
        Self {
            runs,
            next: AtomicUsize::new(0),
            failed: AtomicBool::new(false),
            budget,
            admitted: Mutex::new((0, 0)),
            freed: Condvar::new(),
        }
    }

    /// The next run to start; none once every run started or one failed.
    pub fn next(&self) -> Option<&'a RunSpec> {
        if self.failed.load(Ordering::SeqCst) {
            return None;
        }
        self.runs.get(self.next.fetch_add(1, Ordering::SeqCst)).copied()
    }

    /// A run failed: the others finish the runs they are in, and no run starts.
    pub fn fail(&self) {
        self.failed.store(true, Ordering::SeqCst);
    }

    fn held(&self) -> MutexGuard<'_, (u128, usize)> {
        self.admitted.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until a run needing `bytes` fits beside the runs in progress.
    pub fn admit(&self, bytes: u128) -> Admission<'_, 'a> {
        let started = Instant::now();
        let mut state = self.held();
        while let Some(budget) = self.budget {
            let (used, running) = *state;
            if running == 0 || used.saturating_add(bytes) <= budget {
                break;
            }
            state = self.freed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.0 = state.0.saturating_add(bytes);
        state.1 += 1;
        Admission { queue: self, bytes, waited: started.elapsed() }
    }
}

/// A run admitted; dropping it frees its bytes for the runs waiting.
pub struct Admission<'q, 'a> {
    queue: &'q Queue<'a>,
    bytes: u128,
    pub waited: Duration,
}

impl Drop for Admission<'_, '_> {
    fn drop(&mut self) {
        let mut state = self.queue.held();
        state.0 -= self.bytes;
        state.1 -= 1;
        self.queue.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_wait_for_memory_but_a_run_alone_always_starts() {
        let runs: Vec<&RunSpec> = Vec::new();
        let q = Queue::new(&runs, Some(100));
        let big = q.admit(500); // alone: admitted although over the budget
        std::thread::scope(|s| {
            let waiter = s.spawn(|| q.admit(60).waited);
            std::thread::sleep(Duration::from_millis(100));
            drop(big);
            assert!(waiter.join().unwrap() >= Duration::from_millis(50), "waited for the big run");
        });
        let (a, b) = (q.admit(40), q.admit(60));
        assert_eq!(*q.held(), (100, 2), "two runs that fit together run together");
        drop((a, b));
        assert_eq!(*q.held(), (0, 0));
        assert!(q.next().is_none());
    }
}
