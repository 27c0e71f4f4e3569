//! The α-β network model: a message of `b` bytes takes `α + b/β` on an idle link.
//!
//! Written as a preset name (`dc-100g`, `eth-10g`, `nvlink`) or a path to a TOML file:
//!
//! ```toml
//! name = "ib-hdr"        # optional; default: the file name without extension
//! latency = 2e-6         # α: seconds from the last byte sent to the last byte received
//! bandwidth = 25e9       # β: bytes/s of one direction of one link (Gb/s ÷ 8 × 1e9)
//! ```
//!
//! Serialized like [`super::DeviceProfile`]: a preset by name, anything else as that table.

use std::fmt;
use std::str::FromStr;

use super::profile::{self, NumberKey, Profile, ProfileError};

#[derive(Clone, Debug, PartialEq)]
pub struct NetworkProfile {
    pub name: String,
    /// α, seconds per message.
    pub latency: f64,
    /// β, bytes/s per direction of a link.
    pub bandwidth: f64,
}

impl NetworkProfile {
    /// 100 Gb/s datacenter fabric (100 GbE or InfiniBand EDR): β = 100 Gb/s line rate
    /// = 12.5e9 bytes/s (IEEE 802.3 100GBASE-*). α = 5 µs: RDMA verbs measure about 1-2 µs
    /// one-way for small messages (`ib_send_lat` from linux-rdma/perftest, which reports half the
    /// round trip); a tuned RoCE/Ethernet path is quoted at ~2-10 µs
    /// (<https://fridayswithfaraday.com/posts/gpu-hw-nvlink-nvswitch-interconnect>). 5 µs leaves
    /// room for a switch hop and a communication library above the verbs.
    pub fn dc_100g() -> Self {
        Self { name: "dc-100g".into(), latency: 5e-6, bandwidth: 12.5e9 }
    }

    /// Commodity 10 Gb/s Ethernet with kernel TCP: β = 10 Gb/s line rate = 1.25e9 bytes/s
    /// (IEEE 802.3ae). α = 50 µs is an assumption, not a measurement: the kernel socket path on
    /// both ends, interrupt moderation and a switch hop put one-way small-message latency in the
    /// tens of µs. Measure yours with `netperf -t TCP_RR` (one-way ≈ half the transaction time)
    /// and write a profile file.
    pub fn eth_10g() -> Self {
        Self { name: "eth-10g".into(), latency: 50e-6, bandwidth: 1.25e9 }
    }

    /// NVLink 4 between H100 SXM GPUs: 900 GB/s total per GPU over 18 links, both directions
    /// together (NVIDIA H100 datasheet), so β = 450e9 bytes/s per direction. α = 1.5 µs, the
    /// middle of the ~1-2 µs quoted for NVLink 4 in the interconnect overview cited at
    /// [`NetworkProfile::dc_100g`].
    pub fn nvlink() -> Self {
        Self { name: "nvlink".into(), latency: 1.5e-6, bandwidth: 450e9 }
    }

    pub fn presets() -> Vec<Self> {
        vec![Self::dc_100g(), Self::eth_10g(), Self::nvlink()]
    }

    pub fn load(path: &std::path::Path) -> Result<Self, ProfileError> {
        profile::load_file(path)
    }

    /// Seconds to move `bytes` over one idle link: `α + bytes/β`.
    pub fn p2p_time(&self, bytes: u64) -> f64 {
        self.latency + self.wire_time(bytes)
    }

    /// Seconds a link is busy sending `bytes`: `bytes/β`.
    pub fn wire_time(&self, bytes: u64) -> f64 {
        bytes as f64 / self.bandwidth
    }
}

impl Profile for NetworkProfile {
    const KIND: &'static str = "network";
    const KEYS: &'static [NumberKey] = &[
        // From 1 ns (on-package) to 10 s (a satellite hop and then some); from 1 kB/s (a modem)
        // to 1 PB/s (far beyond any link).
        NumberKey { name: "latency", unit: "seconds per message (α)", min: 1e-9, max: 10.0 },
        NumberKey { name: "bandwidth", unit: "bytes/s per link direction (β)", min: 1e3, max: 1e15 },
    ];

    fn presets() -> Vec<Self> {
        NetworkProfile::presets()
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn from_parts(name: String, v: &[f64]) -> Self {
        Self { name, latency: v[0], bandwidth: v[1] }
    }

    fn values(&self) -> Vec<f64> {
        vec![self.latency, self.bandwidth]
    }
}

/// A preset name or a path to a TOML file.
impl FromStr for NetworkProfile {
    type Err = ProfileError;

    fn from_str(s: &str) -> Result<Self, ProfileError> {
        profile::parse_spec(s)
    }
}

impl fmt::Display for NetworkProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (α {:.1} µs, β {:.2} GB/s)", self.name, self.latency * 1e6, self.bandwidth / 1e9)
    }
}

impl serde::Serialize for NetworkProfile {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        profile::serialize(self, s)
    }
}

impl<'de> serde::Deserialize<'de> for NetworkProfile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        profile::deserialize(d)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn presets_by_name_and_p2p_time() {
        let net: NetworkProfile = "eth-10g".parse().unwrap();
        assert_eq!(net, NetworkProfile::eth_10g());
        // 1.25 MB at 1.25 GB/s is 1 ms, plus 50 µs.
        assert!((net.p2p_time(1_250_000) - 1.05e-3).abs() <= 1e-12 * 1.05e-3);
        let msg = "infiniband".parse::<NetworkProfile>().unwrap_err().to_string();
        assert!(msg.contains("dc-100g, eth-10g, nvlink"), "{msg}");
    }

    #[test]
    fn file_errors_name_the_key_and_line() {
        let parse = |t: &str| profile::parse_toml::<NetworkProfile>(t, Path::new("net.toml"));
        assert_eq!(parse("latency = 2e-6\nbandwidth = 25e9\n").unwrap().bandwidth, 25e9);
        let msg = parse("latency = 2e-6\nbandwidth = -25e9\n").unwrap_err().to_string();
        assert!(msg.starts_with("net.toml:2: key `bandwidth`: must be between 1000 and 1e15"), "{msg}");
        // The extremes that made the simulated clock infinite are refused, naming the bounds.
        let msg = parse("latency = 1e308\nbandwidth = 25e9\n").unwrap_err().to_string();
        assert!(msg.contains("key `latency`: must be between 1e-9 and 10 seconds"), "{msg}");
        let msg = parse("latency = 2e-6\nbandwidth = 1e-308\n").unwrap_err().to_string();
        assert!(msg.contains("key `bandwidth`") && msg.contains("got 1e-308"), "{msg}");
        let msg = parse("bandwidth = 25e9\n").unwrap_err().to_string();
        assert!(msg.contains("key `latency`: missing"), "{msg}");
    }

    #[test]
    fn serde_round_trips_presets_and_custom_profiles() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Cfg {
            network: NetworkProfile,
        }
        for network in [NetworkProfile::nvlink(), NetworkProfile { name: "slow".into(), latency: 1e-3, bandwidth: 1e6 }]
        {
            let cfg = Cfg { network };
            let text = toml::to_string(&cfg).unwrap();
            assert_eq!(toml::from_str::<Cfg>(&text).unwrap(), cfg, "{text}");
        }
        assert_eq!(toml::to_string(&Cfg { network: NetworkProfile::nvlink() }).unwrap().trim(), "network = \"nvlink\"");
    }
}
