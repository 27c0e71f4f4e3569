//! `gcnsim calibrate`: microbenchmarks each kernel class on this machine's backend
//! ([`cases`]), fits each class's rates ([`fit`]) and makes a device profile of them, with its
//! residuals and provenance. The clock then charges every kernel at its class's fitted rates.

pub mod agreement;
pub mod cases;
pub mod fit;

use std::collections::BTreeMap;

pub use cases::{Budget, Measured};
pub use fit::Sample;

use crate::backend::{Backend, BackendError, KernelClass};
use crate::cost::{DeviceProfile, KernelRates};

/// How well one class's fit reproduces its own microbenchmarks.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassFit {
    pub samples: usize,
    /// `exp(mean |ln(modelled / measured)|) − 1`: the geometric mean of the ratio's distance
    /// from 1 (0.1: typically 10% off in either direction).
    pub geomean_error: f64,
    /// The largest `exp(|ln(modelled / measured)|) − 1` (half and double: both 100%).
    pub worst_error: f64,
}

/// The geometric-mean error of (modelled, measured) pairs, as [`ClassFit::geomean_error`].
pub fn geomean_error(pairs: impl IntoIterator<Item = (f64, f64)>) -> f64 {
    let (sum, n) = pairs.into_iter().fold((0.0, 0usize), |(s, n), (m, t)| (s + (m / t).ln().abs(), n + 1));
    if n == 0 {
        0.0
    } else {
        (sum / n as f64).exp() - 1.0
    }
}

/// A finished calibration.
#[derive(Clone, Debug)]
pub struct Calibration {
    pub measured: Vec<Measured>,
    pub rates: KernelRates,
    pub fits: BTreeMap<KernelClass, ClassFit>,
}

/// Measures every class on `b` and fits it.
pub fn calibrate<B: Backend>(
    b: &B,
    budget: Budget,
    progress: &mut dyn FnMut(&Measured),
) -> Result<Calibration, BackendError> {
    let measured = cases::run_all(b, budget, progress)?;
    Ok(fit_all(measured))
}

/// Fits every class present in `measured`.
pub fn fit_all(measured: Vec<Measured>) -> Calibration {
    let mut rates = KernelRates::new();
    let mut fits = BTreeMap::new();
    for class in KernelClass::ALL {
        let samples: Vec<Sample> = measured.iter().map(|m| m.sample).filter(|s| s.work.class == class).collect();
        if samples.is_empty() {
            continue;
        }
        let mut r = fit::fit(&samples, cases::gathers(class));
        // An op measured at enough shapes gets its own rates where its class has several ops
        // (three parameters need at least four shapes).
        let mut ops: BTreeMap<&'static str, Vec<Sample>> = BTreeMap::new();
        for s in &samples {
            ops.entry(s.work.op).or_default().push(*s);
        }
        if ops.len() > 1 {
            for (op, op_samples) in ops.iter().filter(|(op, s)| !op.is_empty() && s.len() >= 4) {
                r.ops.insert(op.to_string(), fit::fit(op_samples, cases::gathers(class)));
            }
        }
        let pairs = || samples.iter().map(|s| (r.time(&s.work), s.seconds));
        let fit = ClassFit {
            samples: samples.len(),
            geomean_error: geomean_error(pairs()),
            worst_error: agreement::worst_error(pairs()),
        };
        rates.insert(class, r);
        fits.insert(class, fit);
    }
    Calibration { measured, rates, fits }
}

impl Calibration {
    /// The profile: every class's fitted rates, and as the fallback three numbers (kernels of a
    /// class that was not measured) the matmul fit's FLOP/s and the element-wise fit's bandwidth
    /// and launch cost. `provenance` becomes its `[calibration]` table, with each class's fit.
    pub fn profile(&self, name: &str, mut provenance: toml::Table) -> DeviceProfile {
        let cpu = DeviceProfile::cpu();
        let fallback = crate::cost::ClassRates::roofline(cpu.launch_latency, cpu.peak_flops, cpu.mem_bandwidth);
        let matmul = self.rates.get(&KernelClass::Matmul).unwrap_or(&fallback);
        let stream = self.rates.get(&KernelClass::Elementwise).unwrap_or(&fallback);
        let mut profile = DeviceProfile::roofline(name, matmul.peak_flops, stream.mem_bandwidth, stream.launch_latency);
        profile.kernels = self.rates.clone();
        let mut fits = toml::Table::new();
        for (class, f) in &self.fits {
            let mut t = toml::Table::new();
            t.insert("samples".into(), (f.samples as i64).into());
            t.insert("geomean_error".into(), f.geomean_error.into());
            t.insert("worst_error".into(), f.worst_error.into());
            fits.insert(class.name().into(), t.into());
        }
        provenance.insert("fit".into(), fits.into());
        profile.calibration = Some(provenance);
        profile
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn geomean_error_is_symmetric_in_the_ratio() {
        assert!((geomean_error([(1.1, 1.0)]) - 0.1).abs() < 1e-12);
        assert!((geomean_error([(1.0, 1.1)]) - 0.1).abs() < 1e-12);
        assert!((geomean_error([(2.0, 1.0), (1.0, 2.0)]) - 1.0).abs() < 1e-12);
        assert_eq!(geomean_error(std::iter::empty()), 0.0);
    }

    /// The quick calibration on the CPU backend measures every class, fits each, and the
    /// profile it makes round-trips through its TOML with the rates the fit found.
    #[test]
    fn a_quick_cpu_calibration_fits_every_class_and_its_profile_round_trips() {
        let b = crate::backend::cpu::CpuBackend::new();
        let budget = Budget { quick: true, per_shape: Duration::from_millis(2) };
        let mut seen = 0;
        let cal = calibrate(&b, budget, &mut |_| seen += 1).unwrap();
        assert_eq!(seen, cal.measured.len());
        for class in KernelClass::ALL {
            let fit = &cal.fits[&class];
            assert!(fit.samples >= 2 && fit.geomean_error.is_finite(), "{class}: {fit:?}");
        }
        assert!(cal.rates[&KernelClass::Spmm].cache.is_some());
        let mut provenance = toml::Table::new();
        provenance.insert("backend".into(), "cpu".into());
        let profile = cal.profile("here", provenance);
        let text = toml::to_string(&profile).unwrap();
        let back: DeviceProfile = DeviceProfile::parse(&text, std::path::Path::new("here.toml")).unwrap();
        assert_eq!(back, profile, "{text}");
    }
}
