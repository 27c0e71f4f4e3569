//! The device a worker's kernels run on, as the three numbers of a roofline with launch cost.
//!
//! Written as a preset name (`h100`, `a100`, `v100`, `cpu`) or a path to a TOML file:
//!
//! ```toml
//! name = "my-gpu"            # optional; default: the file name without extension
//! peak_flops = 1.95e13       # f32 FLOP/s (non-tensor-core)
//! mem_bandwidth = 2.039e12   # bytes/s of device memory
//! launch_latency = 5e-6      # seconds of fixed cost per kernel
//! ```
//!
//! In a config it serializes as the preset name when it equals a preset, else as that table
//! inline; it deserializes from either form. Errors are [`ProfileError`]s naming the file, key
//! and line.

use std::fmt;
use std::str::FromStr;

use super::kernel_rates::{self, KernelRates};
use super::profile::{self, NumberKey, Profile, ProfileError};

#[derive(Clone, Debug, PartialEq)]
pub struct DeviceProfile {
    pub name: String,
    /// Peak f32 FLOP/s without tensor cores (the GCN's kernels are plain f32 WGSL).
    pub peak_flops: f64,
    /// Peak device-memory bandwidth, bytes/s.
    pub mem_bandwidth: f64,
    /// Fixed cost of one kernel (launch, dispatch, drain), seconds.
    pub launch_latency: f64,
    /// Achieved rates per kernel class (a calibrated profile, `[kernels.CLASS]` tables); a class
    /// without them uses the three numbers above. Empty for the presets.
    pub kernels: KernelRates,
    /// Where a calibrated profile comes from (`[calibration]`: machine, backend, adapter, date,
    /// the fit's residuals), kept as written so that results carry it.
    pub calibration: Option<toml::Table>,
}

/// Per-kernel fixed cost of the GPU presets: 5 µs. Measured CUDA launch + synchronize costs are
/// a few µs per kernel: "about 4-6 μs" through the driver and runtime in the pegainfer write-up
/// (<https://susun-blog.com/blog/pegainfer-3-cuda-graph>, RTX 5070 Ti, CUDA 13), the overhead that
/// NVIDIA's "Getting Started with CUDA Graphs" (<https://developer.nvidia.com/blog/cuda-graphs/>)
/// sets out to remove. We take the middle of that range for every GPU; wgpu adds its own
/// validation cost on the CPU, which this does not model.
const GPU_LAUNCH_LATENCY: f64 = 5e-6;

impl DeviceProfile {
    /// A profile of one roofline for every kernel (no per-class rates, no calibration).
    pub fn roofline(name: impl Into<String>, peak_flops: f64, mem_bandwidth: f64, launch_latency: f64) -> Self {
        Self {
            name: name.into(),
            peak_flops,
            mem_bandwidth,
            launch_latency,
            kernels: KernelRates::new(),
            calibration: None,
        }
    }

    /// NVIDIA H100 **SXM5** 80 GB: 67 TFLOP/s FP32 (non-tensor), 3.35 TB/s HBM3; NVIDIA H100 Tensor
    /// Core GPU datasheet (<https://www.nvidia.com/en-us/data-center/h100/>). The PCIe card is
    /// slower (51 TFLOP/s, 2 TB/s).
    pub fn h100() -> Self {
        Self::roofline("h100", 67e12, 3.35e12, GPU_LAUNCH_LATENCY)
    }

    /// NVIDIA A100 **SXM4 80 GB**: 19.5 TFLOP/s FP32, 2,039 GB/s HBM2e; NVIDIA A100 Tensor Core GPU
    /// datasheet (<https://www.nvidia.com/en-us/data-center/a100/>). The 40 GB part has 1,555 GB/s.
    pub fn a100() -> Self {
        Self::roofline("a100", 19.5e12, 2.039e12, GPU_LAUNCH_LATENCY)
    }

    /// NVIDIA V100 **SXM2**: 15.7 TFLOP/s FP32, 900 GB/s HBM2; NVIDIA Tesla V100 datasheet
    /// (<https://www.nvidia.com/en-us/data-center/v100/>). The PCIe card has 14 TFLOP/s.
    pub fn v100() -> Self {
        Self::roofline("v100", 15.7e12, 900e9, GPU_LAUNCH_LATENCY)
    }

    /// A 2-core x86 machine like the one this crate is developed on. Assumptions, not
    /// measurements:
    /// - compute: 2 cores × 3.0 GHz × 2 FMA units × 8 f32 lanes (AVX2) × 2 FLOP per FMA
    ///   = 192 GFLOP/s (two 256-bit FMA pipes per core as on Intel Skylake and AMD Zen 2 and later;
    ///   Agner Fog, "The microarchitecture of Intel, AMD and VIA CPUs"). The CPU backend's scalar
    ///   loops reach a fraction of this; the profile describes the hardware, not that code.
    /// - memory: 20 GB/s, what two cores typically sustain in a STREAM-like copy on a
    ///   dual-channel DDR4 server, well below the channels' 2 × 25.6 GB/s peak at DDR4-3200.
    /// - per op call: 0.5 µs for the backend call itself (shape checks, views, loop set-up).
    pub fn cpu() -> Self {
        Self::roofline("cpu", 192e9, 20e9, 0.5e-6)
    }

    pub fn presets() -> Vec<Self> {
        vec![Self::h100(), Self::a100(), Self::v100(), Self::cpu()]
    }

    /// Parses the text of a profile file; `path` labels errors and names a profile without `name`.
    pub fn parse(text: &str, path: &std::path::Path) -> Result<Self, ProfileError> {
        profile::parse_toml(text, path)
    }

    /// The profile as a file's text, every number written (a preset too, whose config form is
    /// only its name).
    pub fn to_file_text(&self) -> String {
        let mut t = toml::Table::new();
        t.insert("name".into(), self.name.clone().into());
        for (key, value) in Self::KEYS.iter().zip(self.values()) {
            t.insert(key.name.into(), value.into());
        }
        for (key, value) in self.tables() {
            t.insert(key.into(), value);
        }
        t.to_string()
    }

    /// Reads a profile file (see the module docs for its keys).
    pub fn load(path: &std::path::Path) -> Result<Self, ProfileError> {
        profile::load_file(path)
    }
}

impl Profile for DeviceProfile {
    const KIND: &'static str = "device";
    const KEYS: &'static [NumberKey] = &[
        // From a microcontroller (1 MFLOP/s, 1 MB/s) to a thousand times an H100; launch costs
        // from 1 ns to 1 s.
        NumberKey { name: "peak_flops", unit: "f32 FLOP/s", min: 1e6, max: 1e18 },
        NumberKey { name: "mem_bandwidth", unit: "bytes/s", min: 1e6, max: 1e15 },
        NumberKey { name: "launch_latency", unit: "seconds per kernel", min: 1e-9, max: 1.0 },
    ];

    fn presets() -> Vec<Self> {
        DeviceProfile::presets()
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn from_parts(name: String, v: &[f64]) -> Self {
        Self::roofline(name, v[0], v[1], v[2])
    }

    fn values(&self) -> Vec<f64> {
        vec![self.peak_flops, self.mem_bandwidth, self.launch_latency]
    }

    const TABLES: &'static [&'static str] = &["kernels", "calibration"];

    fn set_table(&mut self, key: &str, value: &toml::Value) -> Result<(), (String, String)> {
        match (key, value) {
            ("kernels", v) => self.kernels = kernel_rates::from_toml(v)?,
            ("calibration", toml::Value::Table(t)) => self.calibration = Some(t.clone()),
            (key, _) => return Err((key.to_string(), "expected a table".into())),
        }
        Ok(())
    }

    fn tables(&self) -> Vec<(&'static str, toml::Value)> {
        let mut tables = Vec::new();
        if !self.kernels.is_empty() {
            tables.push(("kernels", kernel_rates::to_toml(&self.kernels)));
        }
        if let Some(c) = &self.calibration {
            tables.push(("calibration", toml::Value::Table(c.clone())));
        }
        tables
    }
}

/// A preset name or a path to a TOML file.
impl FromStr for DeviceProfile {
    type Err = ProfileError;

    fn from_str(s: &str) -> Result<Self, ProfileError> {
        profile::parse_spec(s)
    }
}

impl fmt::Display for DeviceProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({:.3} TFLOP/s f32, {:.0} GB/s, {:.1} µs per kernel)",
            self.name,
            self.peak_flops / 1e12,
            self.mem_bandwidth / 1e9,
            self.launch_latency * 1e6
        )?;
        if !self.kernels.is_empty() {
            let classes: Vec<_> = self.kernels.keys().map(|c| c.name()).collect();
            write!(f, ", calibrated rates for {}", classes.join(", "))?;
        }
        Ok(())
    }
}

impl serde::Serialize for DeviceProfile {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        profile::serialize(self, s)
    }
}

impl<'de> serde::Deserialize<'de> for DeviceProfile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        profile::deserialize(d)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn parse(text: &str) -> Result<DeviceProfile, ProfileError> {
        profile::parse_toml(text, Path::new("profiles/gpu.toml"))
    }

    #[test]
    fn presets_by_name_and_an_unknown_name_lists_them() {
        assert_eq!("a100".parse::<DeviceProfile>().unwrap(), DeviceProfile::a100());
        assert_eq!("h100".parse::<DeviceProfile>().unwrap().mem_bandwidth, 3.35e12);
        let msg = "b200".parse::<DeviceProfile>().unwrap_err().to_string();
        assert!(msg.contains("b200") && msg.contains("h100, a100, v100, cpu"), "{msg}");
    }

    #[test]
    fn a_file_with_all_keys_parses_and_integers_are_accepted() {
        let d = parse("name = \"x\"\npeak_flops = 1e9\nmem_bandwidth = 2.5e9\nlaunch_latency = 1e-6\n").unwrap();
        assert_eq!(d, DeviceProfile::roofline("x", 1e9, 2.5e9, 1e-6));
        // Without `name`, the file stem names it.
        let d = parse("peak_flops = 1e12\nmem_bandwidth = 1e9\nlaunch_latency = 1e-6\n").unwrap();
        assert_eq!(d.name, "gpu");
    }

    #[test]
    fn errors_name_the_file_key_and_line() {
        let cases = [
            (
                "peak_flops = -1.0\nmem_bandwidth = 1e9\nlaunch_latency = 1e-6\n",
                "profiles/gpu.toml:1: key `peak_flops`",
            ),
            (
                "peak_flops = 1e12\nmem_bandwidth = 0\nlaunch_latency = 1e-6\n",
                "profiles/gpu.toml:2: key `mem_bandwidth`",
            ),
            (
                "peak_flops = 1e12\nmem_bandwidth = 1e9\nlaunch_latency = nan\n",
                "profiles/gpu.toml:3: key `launch_latency`",
            ),
            ("peak_flops = 1e12\nmem_bandwidth = 1e9\nlaunch_latency = inf\n", "key `launch_latency`"),
            ("peak_flops = 1e12\nmem_bandwidth = 1e9\n", "profiles/gpu.toml: key `launch_latency`: missing"),
            (
                "peak_flops = 1e12\nmem_bandwidth = \"fast\"\nlaunch_latency = 1e-6\n",
                "gpu.toml:2: key `mem_bandwidth`: expected a number",
            ),
            (
                "peak_flops = 1e12\nmem_bandwidth = 1e9\nlaunch_latency = 1e-6\nflops = 2\n",
                "gpu.toml:4: key `flops`: unknown key",
            ),
            ("peak_flops = 1e12\nmem_bandwidth = = 1.0\n", "profiles/gpu.toml:2:"),
            // Physical bounds: the extremes that made the simulated clock infinite.
            (
                "peak_flops = 1e12\nmem_bandwidth = 1e9\nlaunch_latency = 1e308\n",
                "gpu.toml:3: key `launch_latency`: must be between 1e-9 and 1 seconds per kernel, got 1e308",
            ),
            ("peak_flops = 1e-308\nmem_bandwidth = 1e9\nlaunch_latency = 1e-6\n", "gpu.toml:1: key `peak_flops`"),
            ("peak_flops = 1e12\nmem_bandwidth = 1e308\nlaunch_latency = 1e-6\n", "gpu.toml:2: key `mem_bandwidth`"),
        ];
        for (text, needle) in cases {
            let msg = parse(text).unwrap_err().to_string();
            assert!(msg.contains(needle), "{text:?}: {msg}");
        }
    }

    const CALIBRATED: &str = "name = \"lab\"\npeak_flops = 1e10\nmem_bandwidth = 5e9\nlaunch_latency = 1e-6\n\n\
        [kernels.spmm]\nlaunch_latency = 2e-6\npeak_flops = 3e9\nmem_bandwidth = 4e9\ncache_bytes = 3e7\ncache_bandwidth = 2e10\n\n\
        [kernels.matmul]\nlaunch_latency = 3e-6\npeak_flops = 2e10\nmem_bandwidth = 6e9\n\n\
        [calibration]\nmachine = \"host\"\nbackend = \"cpu\"\n";

    #[test]
    fn a_calibrated_file_keeps_its_class_rates_and_provenance_through_a_config() {
        use crate::backend::{KernelClass, KernelCost, Work};
        let d = parse(CALIBRATED).unwrap();
        assert_eq!(d.kernels.len(), 2);
        assert_eq!(d.kernels[&KernelClass::Matmul].peak_flops, 2e10);
        assert_eq!(d.calibration.as_ref().unwrap()["backend"].as_str(), Some("cpu"));
        // Classes with rates use them; the others the profile's own roofline.
        let matmul = Work::new(KernelClass::Matmul, KernelCost::matmul(100, 100, 100));
        assert_eq!(d.work_time(&matmul), 3e-6 + 2e6 / 2e10);
        let relu = Work::new(KernelClass::Elementwise, KernelCost::relu(1000));
        assert_eq!(d.work_time(&relu), d.kernel_time(&KernelCost::relu(1000)));
        assert!(d.to_string().contains("calibrated rates for spmm, matmul"), "{d}");

        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Cfg {
            device: DeviceProfile,
        }
        assert_eq!(parse(&d.to_file_text()).unwrap(), d);
        assert_eq!(parse(&DeviceProfile::v100().to_file_text()).unwrap(), DeviceProfile::v100());
        let cfg = Cfg { device: d };
        let text = toml::to_string(&cfg).unwrap();
        assert_eq!(toml::from_str::<Cfg>(&text).unwrap(), cfg, "{text}");
    }

    #[test]
    fn a_bad_class_table_names_the_dotted_key_and_the_table_line() {
        let text = CALIBRATED.replace("mem_bandwidth = 4e9", "mem_bandwidth = 0");
        let msg = parse(&text).unwrap_err().to_string();
        assert!(msg.contains("profiles/gpu.toml") && msg.contains("key `kernels.spmm.mem_bandwidth`"), "{msg}");
        let msg = parse(&CALIBRATED.replace("[calibration]\nmachine", "calibration = 3\n[x]\nmachine")).unwrap_err();
        assert!(msg.to_string().contains("calibration"), "{msg}");
    }

    #[test]
    fn a_missing_file_is_an_io_error_naming_it() {
        let msg = "no/such/device.toml".parse::<DeviceProfile>().unwrap_err().to_string();
        assert!(msg.starts_with("no/such/device.toml:"), "{msg}");
    }

    #[test]
    fn serde_writes_presets_by_name_and_custom_profiles_in_full() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Cfg {
            device: DeviceProfile,
        }
        let preset = Cfg { device: DeviceProfile::v100() };
        let text = toml::to_string(&preset).unwrap();
        assert_eq!(text.trim(), "device = \"v100\"");
        assert_eq!(toml::from_str::<Cfg>(&text).unwrap(), preset);

        let custom = Cfg { device: DeviceProfile { name: "mine".into(), ..DeviceProfile::v100() } };
        let text = toml::to_string(&custom).unwrap();
        assert!(text.contains("peak_flops"), "{text}");
        assert_eq!(toml::from_str::<Cfg>(&text).unwrap(), custom);

        let err = toml::from_str::<Cfg>("device = { peak_flops = 1e12, mem_bandwidth = -2.0, launch_latency = 1e-6 }")
            .unwrap_err()
            .to_string();
        assert!(err.contains("mem_bandwidth"), "{err}");
    }
}
