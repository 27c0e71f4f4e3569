//! The bulk-synchronous barrier: the update to version v+1 waits for all P gradients computed
//! from version v, and rejects any other.

use super::PsError;

#[derive(Clone, Debug)]
pub struct BspBarrier {
    version: u64,
    arrived: Vec<bool>,
}

impl BspBarrier {
    pub fn new(workers: usize, version: u64) -> Self {
        Self { version, arrived: vec![false; workers] }
    }

    /// The version whose gradients the barrier waits for.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// A worker's gradient, computed from `version`, arrives.
    pub fn arrive(&mut self, worker: usize, version: u64) -> Result<(), PsError> {
        let workers = self.arrived.len();
        let slot = self.arrived.get_mut(worker).ok_or(PsError::UnknownWorker { worker, workers })?;
        if version != self.version {
            return Err(PsError::StaleGradient { worker, got: version, expected: self.version });
        }
        if *slot {
            return Err(PsError::DuplicateGradient { worker, version });
        }
        *slot = true;
        Ok(())
    }

    pub fn missing(&self) -> usize {
        self.arrived.iter().filter(|&&a| !a).count()
    }

    /// Opens the barrier for the next version; fails unless every gradient arrived.
    pub fn advance(&mut self) -> Result<u64, PsError> {
        let missing = self.missing();
        if missing > 0 {
            return Err(PsError::BarrierIncomplete {
                version: self.version,
                next: self.version + 1,
                missing,
                workers: self.arrived.len(),
            });
        }
        self.version += 1;
        self.arrived.fill(false);
        Ok(self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_for_every_worker() {
        let mut b = BspBarrier::new(3, 0);
        b.arrive(0, 0).unwrap();
        b.arrive(2, 0).unwrap();
        assert_eq!(b.advance(), Err(PsError::BarrierIncomplete { version: 0, next: 1, missing: 1, workers: 3 }));
        b.arrive(1, 0).unwrap();
        assert_eq!(b.advance(), Ok(1));
        assert_eq!(b.missing(), 3);
    }

    #[test]
    fn rejects_stale_future_duplicate_and_unknown() {
        let mut b = BspBarrier::new(2, 5);
        assert_eq!(b.arrive(0, 4), Err(PsError::StaleGradient { worker: 0, got: 4, expected: 5 }));
        assert_eq!(b.arrive(0, 6), Err(PsError::StaleGradient { worker: 0, got: 6, expected: 5 }));
        b.arrive(0, 5).unwrap();
        assert_eq!(b.arrive(0, 5), Err(PsError::DuplicateGradient { worker: 0, version: 5 }));
        assert_eq!(b.arrive(7, 5), Err(PsError::UnknownWorker { worker: 7, workers: 2 }));
        let msg = PsError::StaleGradient { worker: 1, got: 3, expected: 5 }.to_string();
        assert!(msg.contains("stale"), "{msg}");
    }
}
