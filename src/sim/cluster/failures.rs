//! `--fail worker=K,at=T[,down=D]`: a worker dies at simulated time T and comes back D seconds
//! later (never, without `down`).

use std::fmt;
use std::str::FromStr;

use super::spec::{parse_fields, SpecError};

/// Failure times and durations, and heartbeat periods, are at most a year of simulated time
/// (3.1536e7 s): a GCN round takes milliseconds to seconds, and the bound keeps every sum of
/// times on the clock finite.
pub const MAX_SECONDS: f64 = 365.0 * 24.0 * 3600.0;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FailureSpec {
    pub worker: usize,
    pub at: f64,
    pub down: Option<f64>,
}

impl FailureSpec {
    /// When the worker is back, if ever.
    pub fn back_at(&self) -> Option<f64> {
        self.down.map(|d| self.at + d)
    }

    pub fn overlaps(&self, other: &FailureSpec) -> bool {
        let end = |f: &FailureSpec| f.back_at().unwrap_or(f64::INFINITY);
        self.at < end(other) && other.at < end(self)
    }
}

impl FromStr for FailureSpec {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        let f = parse_fields(s, s, &["worker", "at", "down"], &["worker", "at"])?;
        let down = if f.has("down") { Some(f.at_most("down", MAX_SECONDS, true)?) } else { None };
        Ok(FailureSpec { worker: f.index("worker")?, at: f.at_most("at", MAX_SECONDS, false)?, down })
    }
}

impl fmt::Display for FailureSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "worker={},at={}", self.worker, self.at)?;
        if let Some(d) = self.down {
            write!(f, ",down={d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_checks() {
        let f: FailureSpec = "worker=3,at=0.5,down=0.25".parse().unwrap();
        assert_eq!((f.worker, f.at, f.down, f.back_at()), (3, 0.5, Some(0.25), Some(0.75)));
        assert_eq!(f.to_string(), "worker=3,at=0.5,down=0.25");
        assert_eq!("worker=1,at=2".parse::<FailureSpec>().unwrap().down, None);
        for bad in [
            "worker=1",
            "at=1",
            "worker=1,at=-1",
            "worker=1,at=1,down=0",
            "worker=1,at=1,when=2",
            "worker=1,worker=2,at=1",
            "worker=1,at=1e308",
            "worker=1,at=1,down=1e300",
        ] {
            let e = bad.parse::<FailureSpec>().unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
        let a: FailureSpec = "worker=1,at=1,down=2".parse().unwrap();
        assert!(a.overlaps(&"worker=1,at=2,down=1".parse().unwrap()));
        assert!(!a.overlaps(&"worker=1,at=3,down=1".parse().unwrap()));
    }
}
