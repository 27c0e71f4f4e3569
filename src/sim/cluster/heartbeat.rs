//! Failure detection by heartbeats. A worker sends a heartbeat every H seconds from when it
//! registers; the server expects each one and declares the worker dead `timeout` seconds after
//! one is missed (gRPC-style keepalive). Control messages are small and modelled as instant.
//!
//! A worker that fails at T sent its last heartbeat at r + ⌊(T − r)/H⌋·H (r: registration); the
//! next was due H later, so detection is at last + H + timeout, within
//! (T + timeout, T + timeout + H].

/// When the server declares dead a worker registered at `registered` that fails at `failed`.
pub fn detection_time(registered: f64, failed: f64, heartbeat: f64, timeout: f64) -> f64 {
    assert!(failed >= registered, "a worker fails after it registered");
    let beats = ((failed - registered) / heartbeat).floor();
    registered + beats * heartbeat + heartbeat + timeout
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_is_within_timeout_and_one_heartbeat_after_the_failure() {
        let (h, timeout) = (0.25, 1.0);
        for registered in [0.0, 0.1, 3.7] {
            for k in 0..200 {
                let failed = registered + k as f64 * 0.0137;
                let d = detection_time(registered, failed, h, timeout);
                assert!(d > failed + timeout - 1e-12 && d <= failed + timeout + h + 1e-12, "{failed} -> {d}");
            }
        }
        // Failing right after a heartbeat: the next one is due a full period later.
        assert_eq!(detection_time(0.0, 0.5, 0.25, 1.0), 1.75);
    }
}
