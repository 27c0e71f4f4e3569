//! The per-class rates of a calibrated device profile: each [`KernelClass`] keeps the roofline's
//! form (`launch + max(flops / peak_flops, bytes / bandwidth)`) with its own achieved numbers, and
//! optionally a cache: the fraction of a kernel's working set (its reused bytes, or for a kernel
//! that streams, all its traffic: a tensor the previous kernel wrote is still cached if it fits)
//! that fits in `cache_bytes` is read at `cache_bandwidth`, the rest at `mem_bandwidth`. Written by `gcnsim calibrate` as
//!
//! ```toml
//! [kernels.spmm]
//! launch_latency = 2.1e-6    # seconds per kernel
//! peak_flops = 3.1e9         # f32 FLOP/s achieved
//! mem_bandwidth = 4.2e9      # bytes/s achieved from memory
//! cache_bytes = 3.0e7        # optional, with cache_bandwidth: the reused set that stays cached
//! cache_bandwidth = 2.0e10   # bytes/s achieved from cache
//! ```
//!
//! `overlap = false` adds the compute and traffic terms instead of taking their maximum: a
//! core that does not hide memory behind arithmetic (what `gcnsim calibrate` finds for narrow
//! products on one CPU thread). An op may have its own rates within its class, in
//! `[kernels.CLASS.ops.OP]` (the same keys): ops of one class that cost the same bytes can differ
//! by their instructions per element (an `exp`, a hash), which counted FLOPs do not weigh.
//!
//! A class without a table falls back to the profile's own three numbers; an op without one to
//! its class's.

use std::collections::BTreeMap;

use super::profile::{check_range, NumberKey};
use crate::backend::{KernelClass, Work};

#[derive(Clone, Debug, PartialEq)]
pub struct ClassRates {
    pub launch_latency: f64,
    pub peak_flops: f64,
    pub mem_bandwidth: f64,
    pub cache: Option<CacheRates>,
    /// Whether compute and traffic overlap (the roofline's maximum) or add.
    pub overlap: bool,
    /// Rates of single ops of the class, by op name; empty for an op's own rates.
    pub ops: BTreeMap<String, ClassRates>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CacheRates {
    /// Bytes of a kernel's reused set that stay in cache.
    pub bytes: f64,
    /// Bytes/s at which the cached part is read.
    pub bandwidth: f64,
}

pub type KernelRates = BTreeMap<KernelClass, ClassRates>;

const LAUNCH: NumberKey = NumberKey { name: "launch_latency", unit: "seconds per kernel", min: 1e-9, max: 1.0 };
const FLOPS: NumberKey = NumberKey { name: "peak_flops", unit: "f32 FLOP/s", min: 1e6, max: 1e18 };
const BANDWIDTH: NumberKey = NumberKey { name: "mem_bandwidth", unit: "bytes/s", min: 1e6, max: 1e15 };
const CACHE_BYTES: NumberKey = NumberKey { name: "cache_bytes", unit: "bytes", min: 1e3, max: 1e12 };
const OVERLAP: &str = "overlap";
const OPS: &str = "ops";
const CACHE_BANDWIDTH: NumberKey = NumberKey { name: "cache_bandwidth", unit: "bytes/s", min: 1e6, max: 1e16 };

impl ClassRates {
    /// The roofline's three numbers, no cache, overlapping, no op rates.
    pub fn roofline(launch_latency: f64, peak_flops: f64, mem_bandwidth: f64) -> Self {
        Self { launch_latency, peak_flops, mem_bandwidth, cache: None, overlap: true, ops: BTreeMap::new() }
    }

    /// Seconds for `work` at these rates, or at its op's own rates where it has them.
    pub fn time(&self, work: &Work) -> f64 {
        match self.ops.get(work.op) {
            Some(op) => op.own_time(work),
            None => self.own_time(work),
        }
    }

    fn own_time(&self, work: &Work) -> f64 {
        let seconds_per_byte = match self.cache {
            Some(cache) if work.working_set() > 0.0 => {
                let hit = (cache.bytes / work.working_set()).min(1.0);
                hit / cache.bandwidth + (1.0 - hit) / self.mem_bandwidth
            }
            _ => 1.0 / self.mem_bandwidth,
        };
        let (compute, traffic) = (work.cost.flops / self.peak_flops, work.cost.bytes * seconds_per_byte);
        self.launch_latency + if self.overlap { compute.max(traffic) } else { compute + traffic }
    }

    fn to_table(&self) -> toml::Table {
        let mut t = toml::Table::new();
        t.insert(LAUNCH.name.into(), self.launch_latency.into());
        t.insert(FLOPS.name.into(), self.peak_flops.into());
        t.insert(BANDWIDTH.name.into(), self.mem_bandwidth.into());
        if let Some(c) = self.cache {
            t.insert(CACHE_BYTES.name.into(), c.bytes.into());
            t.insert(CACHE_BANDWIDTH.name.into(), c.bandwidth.into());
        }
        if !self.overlap {
            t.insert(OVERLAP.into(), false.into());
        }
        if !self.ops.is_empty() {
            let ops = self.ops.iter().map(|(op, r)| (op.clone(), r.to_table().into())).collect::<toml::Table>();
            t.insert(OPS.into(), ops.into());
        }
        t
    }
}

/// A profile's `kernels` value as a TOML table of class tables.
pub(crate) fn to_toml(rates: &KernelRates) -> toml::Value {
    toml::Value::Table(rates.iter().map(|(class, r)| (class.name().to_string(), r.to_table().into())).collect())
}

/// Reads a `kernels` table; errors name the dotted key (`kernels.spmm.mem_bandwidth`).
pub(crate) fn from_toml(value: &toml::Value) -> Result<KernelRates, (String, String)> {
    let table = value.as_table().ok_or_else(|| ("kernels".to_string(), "expected a table of kernel classes".into()))?;
    let mut rates = KernelRates::new();
    for (name, class_value) in table {
        let key = format!("kernels.{name}");
        let class = KernelClass::from_name(name)
            .ok_or_else(|| (key.clone(), format!("unknown kernel class; classes: {}", KernelClass::names())))?;
        let r = rates_from_table(class_value, &key, true)?;
        rates.insert(class, r);
    }
    Ok(rates)
}

/// One `[kernels.CLASS]` (or, not `nested`, `[kernels.CLASS.ops.OP]`) table read at `key`.
fn rates_from_table(value: &toml::Value, key: &str, nested: bool) -> Result<ClassRates, (String, String)> {
    let key = key.to_string();
    let t = value.as_table().ok_or_else(|| (key.clone(), "expected a table".to_string()))?;
    let valid = "launch_latency, peak_flops, mem_bandwidth, cache_bytes, cache_bandwidth, overlap";
    for k in t.keys() {
        let known = [LAUNCH, FLOPS, BANDWIDTH, CACHE_BYTES, CACHE_BANDWIDTH].iter().any(|n| n.name == k)
            || k == OVERLAP
            || (nested && k == OPS);
        if !known {
            let valid = if nested { format!("{valid}, ops") } else { valid.to_string() };
            return Err((format!("{key}.{k}"), format!("unknown key; valid keys: {valid}")));
        }
    }
    let number = |n: NumberKey| -> Result<Option<f64>, (String, String)> {
        let full = format!("{key}.{}", n.name);
        match t.get(n.name) {
            None => Ok(None),
            Some(toml::Value::Integer(i)) => check_range(&n, *i as f64).map(Some).map_err(|m| (full, m)),
            Some(toml::Value::Float(f)) => check_range(&n, *f).map(Some).map_err(|m| (full, m)),
            Some(other) => Err((full, format!("expected a number in {}, got {}", n.unit, other.type_str()))),
        }
    };
    let required = |n: NumberKey| {
        number(n)?.ok_or_else(|| (format!("{key}.{}", n.name), format!("missing; give the value in {}", n.unit)))
    };
    let cache = match (number(CACHE_BYTES)?, number(CACHE_BANDWIDTH)?) {
        (Some(bytes), Some(bandwidth)) => Some(CacheRates { bytes, bandwidth }),
        (None, None) => None,
        _ => return Err((key, "cache_bytes and cache_bandwidth go together: give both or neither".into())),
    };
    let overlap = match t.get(OVERLAP) {
        None => true,
        Some(toml::Value::Boolean(b)) => *b,
        Some(other) => {
            return Err((format!("{key}.{OVERLAP}"), format!("expected true or false, got {}", other.type_str())))
        }
    };
    let mut ops = BTreeMap::new();
    if let Some(v) = t.get(OPS) {
        let table = v.as_table().ok_or_else(|| (format!("{key}.{OPS}"), "expected a table of ops".to_string()))?;
        for (op, op_value) in table {
            ops.insert(op.clone(), rates_from_table(op_value, &format!("{key}.{OPS}.{op}"), false)?);
        }
    }
    Ok(ClassRates {
        launch_latency: required(LAUNCH)?,
        peak_flops: required(FLOPS)?,
        mem_bandwidth: required(BANDWIDTH)?,
        cache,
        overlap,
        ops,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::KernelCost;

    fn rates(cache: Option<CacheRates>) -> ClassRates {
        ClassRates { cache, ..ClassRates::roofline(1e-6, 1e9, 1e9) }
    }

    #[test]
    fn without_a_cache_it_is_the_roofline() {
        let w = Work::new(KernelClass::Matmul, KernelCost { flops: 2e6, bytes: 1e6 });
        assert_eq!(rates(None).time(&w), 1e-6 + 2e-3);
        let w = Work::new(KernelClass::Elementwise, KernelCost { flops: 1e3, bytes: 5e6 });
        assert_eq!(rates(None).time(&w), 1e-6 + 5e-3);
    }

    #[test]
    fn the_cached_fraction_of_the_reused_set_reads_at_cache_bandwidth() {
        let cache = Some(CacheRates { bytes: 1e6, bandwidth: 1e10 });
        let cost = KernelCost { flops: 0.0, bytes: 1e7 };
        // Reused set fits: every byte at 1e10 B/s.
        let fits = Work { reused_bytes: 5e5, ..Work::new(KernelClass::Spmm, cost) };
        assert!((rates(cache).time(&fits) - (1e-6 + 1e-3)).abs() < 1e-15);
        // Four times the cache: a quarter at 1e10, three quarters at 1e9.
        let spills = Work { reused_bytes: 4e6, ..fits };
        let want = 1e-6 + 1e7 * (0.25 / 1e10 + 0.75 / 1e9);
        assert!((rates(cache).time(&spills) - want).abs() < 1e-15);
        // No reuse: the working set is the whole traffic, ten times the cache.
        let streams = Work { reused_bytes: 0.0, ..fits };
        let want = 1e-6 + 1e7 * (0.1 / 1e10 + 0.9 / 1e9);
        assert!((rates(cache).time(&streams) - want).abs() < 1e-15);
        // Without a cache: memory bandwidth.
        assert_eq!(rates(None).time(&streams), 1e-6 + 1e-2);
    }

    #[test]
    fn an_op_with_its_own_rates_uses_them_and_the_others_use_the_class() {
        let mut class = rates(None);
        class.ops.insert("elu".into(), ClassRates::roofline(2e-6, 1e8, 1e9));
        let cost = KernelCost { flops: 1e6, bytes: 1e6 };
        let elu = Work::new(KernelClass::Elementwise, cost).named("elu");
        let relu = Work::new(KernelClass::Elementwise, cost).named("relu");
        assert_eq!(class.time(&elu), 2e-6 + 1e-2);
        assert_eq!(class.time(&relu), 1e-6 + 1e-3);
    }

    #[test]
    fn without_overlap_compute_and_traffic_add() {
        let w = Work::new(KernelClass::Matmul, KernelCost { flops: 2e6, bytes: 1e6 });
        let adding = ClassRates { overlap: false, ..rates(None) };
        assert!((adding.time(&w) - (1e-6 + 2e-3 + 1e-3)).abs() < 1e-15);
    }

    #[test]
    fn competing_bytes_push_a_kernel_out_of_the_cache() {
        let cache = Some(CacheRates { bytes: 1e6, bandwidth: 1e10 });
        let w = Work::new(KernelClass::Elementwise, KernelCost { flops: 0.0, bytes: 5e5 });
        // Alone it fits; with 1.5e6 bytes competing, the working set is twice the cache.
        assert!((rates(cache).time(&w) - (1e-6 + 5e-5)).abs() < 1e-15);
        let crowded = w.in_context(1.5e6);
        assert_eq!(crowded.working_set(), 2e6);
        let want = 1e-6 + 5e5 * (0.5 / 1e10 + 0.5 / 1e9);
        assert!((rates(cache).time(&crowded) - want).abs() < 1e-15);
    }

    #[test]
    fn tables_round_trip_and_errors_name_the_dotted_key() {
        let mut all = KernelRates::new();
        let mut elementwise = ClassRates { overlap: false, ..rates(None) };
        elementwise.ops.insert(
            "elu".into(),
            ClassRates { cache: Some(CacheRates { bytes: 1e6, bandwidth: 1e10 }), ..rates(None) },
        );
        all.insert(KernelClass::Elementwise, elementwise);
        all.insert(KernelClass::Spmm, rates(Some(CacheRates { bytes: 3e7, bandwidth: 2e10 })));
        all.insert(KernelClass::Matmul, rates(None));
        assert_eq!(from_toml(&to_toml(&all)).unwrap(), all);

        let cases = [
            ("[gemm]\nlaunch_latency = 1e-6", "kernels.gemm", "unknown kernel class"),
            ("[spmm]\nlaunch_latency = 1e-6\npeak_flops = 1e9", "kernels.spmm.mem_bandwidth", "missing"),
            (
                "[spmm]\nlaunch_latency = 1e-6\npeak_flops = 1e9\nmem_bandwidth = -1",
                "kernels.spmm.mem_bandwidth",
                "between",
            ),
            (
                "[spmm]\nlaunch_latency = 1e-6\npeak_flops = 1e9\nmem_bandwidth = 1e9\ncache_bytes = 1e6",
                "kernels.spmm",
                "go together",
            ),
            ("[spmm]\nlatency = 1e-6", "kernels.spmm.latency", "unknown key"),
            ("spmm = 3", "kernels.spmm", "expected a table"),
            (
                "[spmm]\nlaunch_latency = 1e-6\npeak_flops = 1e9\nmem_bandwidth = 1e9\noverlap = 1",
                "kernels.spmm.overlap",
                "true or false",
            ),
            (
                "[spmm]\nlaunch_latency = 1e-6\npeak_flops = 1e9\nmem_bandwidth = 1e9\n[spmm.ops.spmm]\nlaunch_latency = 1e-6",
                "kernels.spmm.ops.spmm.peak_flops",
                "missing",
            ),
            (
                "[spmm]\nlaunch_latency = 1e-6\npeak_flops = 1e9\nmem_bandwidth = 1e9\n[spmm.ops.spmm]\nlaunch_latency = 1e-6\n\
                 peak_flops = 1e9\nmem_bandwidth = 1e9\nops = {}",
                "kernels.spmm.ops.spmm.ops",
                "unknown key",
            ),
        ];
        for (text, key, message) in cases {
            let value = toml::Value::Table(text.parse::<toml::Table>().unwrap());
            let (k, m) = from_toml(&value).unwrap_err();
            assert_eq!(k, key, "{text}");
            assert!(m.contains(message), "{text}: {m}");
        }
    }
}
