//! `gcnsim calibrate`: measures the kernel classes on this machine and writes the fitted device
//! profile, with where and when it was made.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;

use crate::backend::cpu::CpuBackend;
use crate::backend::gpu::GpuBackend;
use crate::backend::Backend;
use crate::cli::{CalibrateArgs, CalibrateBackend};
use crate::report::atomic::write_atomic;
use crate::report::provenance::SourceState;
use crate::sim::calibrate::{self, Budget, Calibration};

pub fn calibrate_command(args: &CalibrateArgs, threads: Option<usize>) -> anyhow::Result<()> {
    let name = args
        .out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .with_context(|| format!("--out {}: needs a file name", args.out.display()))?;
    match args.backend {
        CalibrateBackend::Cpu => {
            let backend = CpuBackend::new();
            eprintln!("calibrating {} ({} threads)", backend.describe(), rayon::current_num_threads());
            let threads = threads.unwrap_or_else(rayon::current_num_threads);
            let provenance = provenance(&backend.describe(), Some(threads), args.quick);
            calibrate_on(&backend, args, &name, provenance)
        }
        CalibrateBackend::Gpu => {
            let backend = GpuBackend::new().context("--backend gpu")?;
            eprintln!("calibrating {}", backend.describe());
            // The device's own parallelism, not the host's thread pool, runs its kernels.
            let mut provenance = provenance(&backend.describe(), None, args.quick);
            adapter_provenance(&mut provenance, &backend.context().info);
            calibrate_on(&backend, args, &name, provenance)
        }
    }
}

/// Measures every class on `backend`, prints the residuals and writes the profile.
fn calibrate_on<B: Backend>(
    backend: &B,
    args: &CalibrateArgs,
    name: &str,
    provenance: toml::Table,
) -> anyhow::Result<()> {
    let budget = Budget {
        quick: args.quick,
        per_shape: if args.quick { Duration::from_millis(5) } else { Duration::from_millis(300) },
    };
    let started = std::time::Instant::now();
    let cal = calibrate::calibrate(backend, budget, &mut |m| {
        eprintln!("  {:<48} {:>12.1} µs", m.label, m.sample.seconds * 1e6);
    })
    .with_context(|| format!("--backend {}", format!("{:?}", args.backend).to_lowercase()))?;
    print_residuals(&cal);
    let profile = cal.profile(name, provenance);
    let text = format!(
        "# A device profile fitted by `gcnsim calibrate` to microbenchmarks of each kernel class on\n\
         # the machine named in [calibration] ({:.0} s of measurement). Use it with\n\
         # --device-profile {}.\n{}",
        started.elapsed().as_secs_f64(),
        args.out.display(),
        profile.to_file_text()
    );
    write_atomic(&args.out, |w| w.write_all(text.as_bytes()))?;
    println!("wrote {}: {profile}", args.out.display());
    Ok(())
}

/// The GPU adapter measured, as wgpu describes it: `adapter` becomes its name, and its driver,
/// driver details, device type and graphics API join it.
fn adapter_provenance(t: &mut toml::Table, info: &wgpu::AdapterInfo) {
    t.insert("adapter".into(), info.name.clone().into());
    t.insert("driver".into(), info.driver.clone().into());
    t.insert("driver_info".into(), info.driver_info.clone().into());
    t.insert("device_type".into(), format!("{:?}", info.device_type).into());
    t.insert("graphics_api".into(), info.backend.to_string().into());
}

fn print_residuals(cal: &Calibration) {
    println!("{:<48} {:>12} {:>12} {:>8}", "kernel", "measured µs", "fitted µs", "error");
    for m in &cal.measured {
        let rates = &cal.rates[&m.sample.work.class];
        let fitted = rates.time(&m.sample.work);
        let error = fitted / m.sample.seconds - 1.0;
        println!("{:<48} {:>12.2} {:>12.2} {:>+7.1}%", m.label, m.sample.seconds * 1e6, fitted * 1e6, error * 100.0);
    }
    println!("\n{:<12} {:>8} {:>15} {:>12}", "class", "shapes", "geomean error", "worst");
    for (class, fit) in &cal.fits {
        println!(
            "{:<12} {:>8} {:>14.1}% {:>11.1}%",
            class.name(),
            fit.samples,
            fit.geomean_error * 100.0,
            fit.worst_error * 100.0
        );
    }
}

/// The `[calibration]` table: the machine, backend, date and the build that measured, and the
/// CPU backend's threads (`cpu_threads`; none for a device backend).
fn provenance(backend: &str, cpu_threads: Option<usize>, quick: bool) -> toml::Table {
    let mut t = toml::Table::new();
    t.insert("machine".into(), machine().into());
    t.insert("backend".into(), backend.into());
    t.insert("adapter".into(), backend.into());
    if let Some(threads) = cpu_threads {
        t.insert("threads".into(), (threads as i64).into());
    }
    t.insert("date".into(), today().into());
    t.insert("quick".into(), quick.into());
    t.insert("gcnsim_version".into(), env!("CARGO_PKG_VERSION").into());
    if let Some(source) = SourceState::of_this_build() {
        t.insert("source_commit".into(), source.commit.into());
        t.insert("source_dirty".into(), source.dirty.into());
    }
    t
}

/// The CPU model and core count, as the OS reports them.
fn machine() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{model}, {cores} logical cores, {}", std::env::consts::OS)
}

/// Today's UTC date, `YYYY-MM-DD` (Howard Hinnant's days-to-civil algorithm).
fn today() -> String {
    let days = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() / 86_400) as i64;
    civil(days)
}

fn civil(days_since_epoch: i64) -> String {
    let z = days_since_epoch + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_dates() {
        assert_eq!(super::civil(0), "1970-01-01");
        assert_eq!(super::civil(11_016), "2000-02-29");
        assert_eq!(super::civil(20_794), "2026-12-07");
    }

    #[test]
    fn threads_are_recorded_for_the_cpu_backend_only() {
        assert_eq!(super::provenance("cpu", Some(3), false).get("threads"), Some(&toml::Value::Integer(3)));
        assert!(super::provenance("gpu", None, false).get("threads").is_none());
    }
}
