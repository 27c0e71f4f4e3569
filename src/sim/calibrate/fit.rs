//! Fitting a kernel class's rates to measured kernels: the roofline's parameters (and, for
//! classes that gather, the cache's) chosen to minimise the mean squared log error between
//! modelled and measured seconds, by Nelder–Mead over the logarithms of the parameters (every
//! rate is positive and they span orders of magnitude, so the log space is the natural one).

use crate::backend::Work;
use crate::cost::{CacheRates, ClassRates};

/// One measured kernel: its work as the clock counts it and the seconds it took.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub work: Work,
    pub seconds: f64,
}

/// The rates of the parameter vector `p` (logarithms): launch, FLOP/s, bytes/s, then, when
/// present, cache bytes and cache bytes/s.
/// Each parameter is held to the range a profile file accepts, so a parameter the samples do
/// not determine (the launch cost when every kernel is large) stays a valid, physical value.
fn rates_of(p: &[f64], overlap: bool) -> ClassRates {
    let at = |i: usize, (lo, hi): (f64, f64)| p[i].exp().clamp(lo, hi);
    let cache = (p.len() == 5).then(|| CacheRates { bytes: at(3, (1e3, 1e12)), bandwidth: at(4, (1e6, 1e16)) });
    ClassRates { cache, overlap, ..ClassRates::roofline(at(0, (1e-9, 1.0)), at(1, (1e6, 1e18)), at(2, (1e6, 1e15))) }
}

/// Mean squared log error of `rates` on `samples`.
pub fn log_error(rates: &ClassRates, samples: &[Sample]) -> f64 {
    let sum: f64 = samples.iter().map(|s| (rates.time(&s.work) / s.seconds).ln().powi(2)).sum();
    sum / samples.len() as f64
}

/// Relative error `modelled / measured − 1` of each sample.
pub fn residuals(rates: &ClassRates, samples: &[Sample]) -> Vec<f64> {
    samples.iter().map(|s| rates.time(&s.work) / s.seconds - 1.0).collect()
}

/// The best rates for `samples` (at least one, every time positive): with or without a cache
/// model (only with one when `with_cache`: the classes whose kernels gather, where the reused
/// set decides), compute and traffic overlapping (the roofline) or adding, whichever form fits
/// best. Deterministic for given samples.
pub fn fit(samples: &[Sample], with_cache: bool) -> ClassRates {
    let forms = [(false, true), (false, false), (true, true), (true, false)];
    let fits = forms
        .iter()
        .filter(|(cache, _)| *cache || !with_cache)
        .map(|&(cache, overlap)| fit_form(samples, cache, overlap));
    fits.min_by(|a, b| log_error(a, samples).total_cmp(&log_error(b, samples))).expect("at least one form")
}

fn fit_form(samples: &[Sample], with_cache: bool, overlap: bool) -> ClassRates {
    assert!(!samples.is_empty() && samples.iter().all(|s| s.seconds > 0.0), "fit: no samples or a non-positive time");
    // Starting point from the samples' extremes: the fastest kernel's time as launch cost, the
    // highest rates seen as peaks (every kernel at least as slow as its roofline).
    let launch = samples.iter().map(|s| s.seconds).fold(f64::INFINITY, f64::min) * 0.5;
    let rate = |f: fn(&Sample) -> f64| samples.iter().map(|s| f(s) / s.seconds).fold(1e6, f64::max);
    let flops = rate(|s| s.work.cost.flops);
    let bandwidth = rate(|s| s.work.cost.bytes);
    let start = vec![launch.ln(), flops.ln(), bandwidth.ln()];
    let objective = |p: &[f64]| log_error(&rates_of(p, overlap), samples);
    let mut starts = vec![start.clone()];
    if with_cache {
        // The cache size is the hard parameter (the error is flat between two samples' reused
        // sets): start once from each reused-set size seen, the cache twice as fast as memory.
        let mut sizes: Vec<f64> = samples.iter().map(|s| s.work.working_set()).filter(|&r| r > 0.0).collect();
        sizes.sort_by(f64::total_cmp);
        sizes.dedup();
        // At most eight starts, spread over the sizes' range.
        if sizes.len() > 8 {
            sizes = (0..8).map(|i| sizes[i * (sizes.len() - 1) / 7]).collect();
        }
        starts = sizes.iter().map(|&r| [start.clone(), vec![r.ln(), (bandwidth * 2.0).ln()]].concat()).collect();
        if starts.is_empty() {
            starts.push([start, vec![1e6f64.ln(), (bandwidth * 2.0).ln()]].concat());
        }
    }
    let mut best: Option<(f64, Vec<f64>)> = None;
    for start in starts {
        // Restarts from the best point found shake off a collapsed simplex.
        let mut p = start;
        for _ in 0..4 {
            p = nelder_mead(&objective, &p, 1.0, 2000);
        }
        let e = objective(&p);
        if best.as_ref().is_none_or(|(b, _)| e < *b) {
            best = Some((e, p));
        }
    }
    rates_of(&best.expect("at least one start").1, overlap)
}

/// Nelder–Mead minimisation of `f` from `x0` with an initial simplex of side `step`; standard
/// coefficients (reflection 1, expansion 2, contraction ½, shrink ½).
fn nelder_mead(f: &dyn Fn(&[f64]) -> f64, x0: &[f64], step: f64, iterations: usize) -> Vec<f64> {
    let n = x0.len();
    let mut simplex: Vec<Vec<f64>> = vec![x0.to_vec()];
    for i in 0..n {
        let mut x = x0.to_vec();
        x[i] += step;
        simplex.push(x);
    }
    let mut values: Vec<f64> = simplex.iter().map(|x| f(x)).collect();
    for _ in 0..iterations {
        let mut order: Vec<usize> = (0..=n).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        simplex = order.iter().map(|&i| simplex[i].clone()).collect();
        values = order.iter().map(|&i| values[i]).collect();
        if values[n] - values[0] <= 1e-12 * values[0].abs().max(1e-300) {
            break;
        }
        let centroid: Vec<f64> = (0..n).map(|j| simplex[..n].iter().map(|x| x[j]).sum::<f64>() / n as f64).collect();
        let towards =
            |t: f64| -> Vec<f64> { (0..n).map(|j| centroid[j] + t * (simplex[n][j] - centroid[j])).collect() };
        let reflected = towards(-1.0);
        let fr = f(&reflected);
        if fr < values[0] {
            let expanded = towards(-2.0);
            let fe = f(&expanded);
            (simplex[n], values[n]) = if fe < fr { (expanded, fe) } else { (reflected, fr) };
        } else if fr < values[n - 1] {
            (simplex[n], values[n]) = (reflected, fr);
        } else {
            let contracted = if fr < values[n] { towards(-0.5) } else { towards(0.5) };
            let fc = f(&contracted);
            if fc < values[n].min(fr) {
                (simplex[n], values[n]) = (contracted, fc);
            } else {
                for i in 1..=n {
                    simplex[i] = (0..n).map(|j| simplex[0][j] + 0.5 * (simplex[i][j] - simplex[0][j])).collect();
                    values[i] = f(&simplex[i]);
                }
            }
        }
    }
    let best = (0..=n).min_by(|&a, &b| values[a].total_cmp(&values[b])).expect("a simplex has points");
    simplex[best].clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{KernelClass, KernelCost};

    fn samples_of(truth: &ClassRates, works: &[Work]) -> Vec<Sample> {
        works.iter().map(|w| Sample { work: *w, seconds: truth.time(w) }).collect()
    }

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a / b - 1.0).abs() <= rel
    }

    #[test]
    fn recovers_a_roofline_from_its_own_times() {
        let truth = ClassRates::roofline(3e-6, 2e10, 5e9);
        // Both regimes: small (launch), FLOP-bound and bandwidth-bound kernels.
        let mut works = Vec::new();
        for m in [10, 100, 1000, 10_000, 100_000] {
            for (k, n) in [(16, 16), (256, 256), (1433, 16)] {
                works.push(Work::new(KernelClass::Matmul, KernelCost::matmul(m, k, n)));
            }
            works.push(Work::new(KernelClass::Matmul, KernelCost::copy(m * 64)));
        }
        let fitted = fit(&samples_of(&truth, &works), false);
        assert!(close(fitted.launch_latency, 3e-6, 0.02), "{fitted:?}");
        assert!(close(fitted.peak_flops, 2e10, 0.02), "{fitted:?}");
        assert!(close(fitted.mem_bandwidth, 5e9, 0.02), "{fitted:?}");
        assert!(residuals(&fitted, &samples_of(&truth, &works)).iter().all(|r| r.abs() < 0.01));
    }

    #[test]
    fn recovers_a_cache_from_gathers_on_both_sides_of_it() {
        let cache = CacheRates { bytes: 4e6, bandwidth: 4e10 };
        let truth = ClassRates { cache: Some(cache), ..ClassRates::roofline(1e-6, 1e11, 4e9) };
        let mut works = Vec::new();
        for cols in [1_000, 10_000, 100_000, 1_000_000] {
            for k in [8, 64] {
                for degree in [2, 16] {
                    works.push(Work::spmm(cols, cols, cols * degree, k));
                }
            }
        }
        let fitted = fit(&samples_of(&truth, &works), true);
        let errors = residuals(&fitted, &samples_of(&truth, &works));
        assert!(errors.iter().all(|r| r.abs() < 0.03), "{fitted:?} {errors:?}");
        assert!(close(fitted.mem_bandwidth, 4e9, 0.05), "{fitted:?}");
    }

    #[test]
    fn a_single_sample_is_fitted_exactly() {
        let w = Work::new(KernelClass::Elementwise, KernelCost::relu(1000));
        let fitted = fit(&[Sample { work: w, seconds: 1e-5 }], false);
        assert!(close(fitted.time(&w), 1e-5, 1e-3), "{fitted:?}");
    }
}
