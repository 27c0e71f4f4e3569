//! Clocks of the stale-synchronous and asynchronous parameter server: which pushes are admitted,
//! and when a clock's update is complete.
//!
//! Partition q's clock c is its (c+1)-th gradient. Under a bound S (SSP; S = 0 is BSP) the
//! gradient of clock c must be computed from a version ≥ c − S, and clock c is applied once
//! every partition's clock-c gradient is in, in clock order, each making one version: version v
//! is the weights after clocks 0..v. Without a bound (ASP) every admitted push is applied at
//! once; only the order of a partition's own clocks is checked.

use std::collections::BTreeMap;

use super::PsError;

#[derive(Clone, Debug)]
pub struct ClockTable {
    bound: Option<u32>,
    /// Per partition: the clock it pushes next.
    next: Vec<u32>,
    /// Bounded: per clock not yet applied, the partitions whose gradients are in.
    pending: BTreeMap<u32, Vec<usize>>,
    /// Bounded: clocks applied so far (= the current version).
    applied: u32,
}

impl ClockTable {
    pub fn new(partitions: usize, bound: Option<u32>) -> Self {
        Self { bound, next: vec![0; partitions], pending: BTreeMap::new(), applied: 0 }
    }

    /// Whether partition state at `clock` may compute from `version` (the SSP read rule).
    pub fn may_read(&self, clock: u32, version: u64) -> bool {
        self.bound.is_none_or(|s| version + s as u64 >= clock as u64)
    }

    /// The smallest version a computation of `clock` may read.
    pub fn min_version(&self, clock: u32) -> u64 {
        self.bound.map_or(0, |s| clock.saturating_sub(s) as u64)
    }

    /// The clock `partition` pushes next.
    pub fn clock_of(&self, partition: usize) -> u32 {
        self.next[partition]
    }

    /// The slowest partition's clock.
    pub fn min_clock(&self) -> u32 {
        self.next.iter().copied().min().unwrap_or(0)
    }

    /// Admits `partition`'s gradient of `clock`, computed from `version`; rejects a push out of
    /// order or staler than the bound.
    pub fn admit(&mut self, partition: usize, clock: u32, version: u64) -> Result<(), PsError> {
        let partitions = self.next.len();
        let expected =
            *self.next.get(partition).ok_or(PsError::UnknownWorker { worker: partition, workers: partitions })?;
        if clock != expected {
            return Err(PsError::OutOfOrder { partition, got: clock, expected });
        }
        if let Some(bound) = self.bound {
            if !self.may_read(clock, version) {
                return Err(PsError::TooStale { partition, clock, got: version, bound });
            }
            self.pending.entry(clock).or_default().push(partition);
        }
        self.next[partition] += 1;
        Ok(())
    }

    /// Bounded: the next clock to apply, if all its gradients are in (removed from pending).
    pub fn take_complete(&mut self) -> Option<u32> {
        let (&clock, arrived) = self.pending.iter().next()?;
        if clock != self.applied || arrived.len() < self.next.len() {
            return None;
        }
        self.pending.remove(&clock);
        self.applied += 1;
        Some(clock)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssp_admits_within_the_bound_and_applies_in_clock_order() {
        let mut t = ClockTable::new(2, Some(1));
        t.admit(0, 0, 0).unwrap();
        assert_eq!(t.take_complete(), None, "partition 1's clock 0 is missing");
        t.admit(0, 1, 0).unwrap(); // clock 1 from version 0: staleness 1 is allowed
        assert_eq!(
            t.admit(0, 2, 0),
            Err(PsError::TooStale { partition: 0, clock: 2, got: 0, bound: 1 }),
            "clock 2 needs version ≥ 1"
        );
        assert!(!t.may_read(2, 0) && t.may_read(2, 1) && t.min_version(2) == 1);
        assert_eq!(t.admit(1, 1, 0), Err(PsError::OutOfOrder { partition: 1, got: 1, expected: 0 }));
        t.admit(1, 0, 0).unwrap();
        assert_eq!(t.take_complete(), Some(0));
        assert_eq!(t.take_complete(), None);
        t.admit(1, 1, 1).unwrap();
        assert_eq!(t.take_complete(), Some(1));
        assert_eq!(t.min_clock(), 2);
        assert!(PsError::TooStale { partition: 0, clock: 5, got: 1, bound: 3 }.to_string().contains("version ≥ 2"));
    }

    #[test]
    fn bsp_is_bound_zero_and_asp_checks_only_order() {
        let mut bsp = ClockTable::new(2, Some(0));
        assert!(bsp.admit(0, 0, 0).is_ok());
        assert!(matches!(bsp.admit(0, 1, 0), Err(PsError::TooStale { .. })));
        let mut asp = ClockTable::new(2, None);
        for c in 0..5 {
            asp.admit(0, c, 0).unwrap();
        }
        assert!(asp.may_read(100, 0));
        assert_eq!(asp.take_complete(), None, "ASP applies on arrival, never by clock");
        assert!(matches!(asp.admit(7, 0, 0), Err(PsError::UnknownWorker { .. })));
    }
}
