//! The simulated cluster's options: consistency model, cost models, stragglers, failures. Also
//! `train`'s options and experiment keys, like [`crate::sim::TrainConfig`].
//!
//! Profiles, topology, stragglers and failures are kept as the strings the user wrote (so an
//! experiment file and `--help` read the same) and parsed by [`ClusterConfig::resolve`], which
//! names the key of any bad value.

use super::failures::{FailureSpec, MAX_SECONDS};
use super::stragglers::Stragglers;
use crate::cost::{DeviceProfile, NetworkProfile, Topology};
use crate::sim::options::{defaults_from_clap, ConfigError};

/// How the parameter server orders updates and reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Consistency {
    /// Bulk-synchronous: every worker computes from version v; the server waits for all P.
    #[default]
    Bsp,
    /// Stale-synchronous (Petuum): a worker may compute clock c from any version ≥ c − S; the
    /// server applies clock c once all P gradients of clock c are in.
    Ssp,
    /// Asynchronous: the server applies every push as it arrives.
    Asp,
}

impl Consistency {
    pub fn name(self) -> &'static str {
        match self {
            Consistency::Bsp => "bsp",
            Consistency::Ssp => "ssp",
            Consistency::Asp => "asp",
        }
    }
}

/// What the server does with the partition of a worker it declared dead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Wait until the worker re-registers; it then pulls the latest version and goes on.
    #[default]
    Wait,
    /// Hand the partition to the surviving worker with the fewest partitions (lowest id on a
    /// tie); it returns to its worker when that one re-registers.
    Reassign,
}

/// Where the workers' compute times come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ComputeTime {
    /// The roofline of each kernel's shapes on `device_profile`: deterministic, the same on
    /// every backend and machine.
    #[default]
    Model,
    /// Each kernel's time as it ran here: its host time on the CPU backend, its device time
    /// (timestamp queries around its commands) on the GPU backend. Not deterministic: the
    /// simulated clock, and with it SSP/ASP orders, vary from run to run.
    Measured,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, clap::Args)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// Consistency model of the parameter server: bsp, ssp (bounded staleness) or asp.
    #[arg(long, value_enum, default_value_t = Consistency::Bsp)]
    pub consistency: Consistency,
    /// SSP's bound S: a worker at clock c computes from a version ≥ c − S (0 = BSP; below the
    /// epochs; refused under bsp and asp).
    #[arg(long, default_value_t = 3)]
    pub staleness: u32,
    /// Divide each update's learning rate by 1 + its gradient's staleness (staleness-aware
    /// asynchronous SGD).
    #[arg(long)]
    pub staleness_lr: bool,
    /// Device of every simulated worker, for the roofline compute-time model: h100, a100,
    /// v100, cpu, or a TOML file with peak_flops (1e6 to 1e18 FLOP/s), mem_bandwidth (1e6 to
    /// 1e15 B/s), launch_latency (1e-9 to 1 s).
    #[arg(long, default_value = "h100")]
    pub device_profile: String,
    /// Workers' kernel times: `model` (the roofline on `device_profile`, deterministic) or
    /// `measured` (each kernel's host time on the CPU backend, its device time on the GPU
    /// backend; the server's update keeps its roofline on `server_profile`).
    #[arg(long, value_enum, default_value_t = ComputeTime::Model)]
    pub compute_time: ComputeTime,
    /// Device of the parameter server, for the time of its reductions and optimizer steps:
    /// `cpu` (a server process, as in ps-lite and Petuum) or any device profile.
    #[arg(long, default_value = "cpu")]
    pub server_profile: String,
    /// Network between workers and the server (α-β): dc-100g, eth-10g, nvlink, or a TOML file
    /// with latency (1e-9 to 10 s) and bandwidth (1e3 to 1e15 B/s).
    #[arg(long, default_value = "dc-100g")]
    pub network: String,
    /// Gradient aggregation (BSP): flat (all to the server), tree / tree:depth=D (Spark's
    /// treeReduce), binary_tree, ring (all-reduce, no server).
    #[arg(long, default_value = "flat")]
    pub topology: String,
    /// Stragglers: none, fixed:worker=K,factor=F, lognormal:sigma=S, bernoulli:p=P,factor=F
    /// (drawn per worker and step from the seed; 0 < F ≤ 1e4, 0 ≤ S ≤ 3).
    #[arg(long, default_value = "none")]
    pub stragglers: String,
    /// Kill a worker: worker=K,at=T[,down=D] (seconds of simulated time, at most a year,
    /// 3.1536e7; without `down` it never comes back). Repeat for several failures.
    #[arg(long = "fail", value_name = "SPEC")]
    pub fail: Vec<String>,
    /// Seconds between a worker's heartbeats (1e-6 to 3.1536e7, a year).
    #[arg(long, default_value_t = 0.001)]
    pub heartbeat: f64,
    /// The server declares a worker dead this many seconds after a heartbeat it expected did not
    /// come (1e-6 to 3.1536e7, a year).
    #[arg(long, default_value_t = 0.004)]
    pub heartbeat_timeout: f64,
    /// What happens to a dead worker's partition: wait for it, or reassign it to a survivor.
    #[arg(long, value_enum, default_value_t = OnFailure::Wait)]
    pub on_failure: OnFailure,
    /// Parameter-server shards, each with its own network link and update: dense weights split
    /// by row blocks, embedding rows by jump consistent hash (BSP, flat topology).
    #[arg(long, default_value_t = 1)]
    pub servers: usize,
}

/// Shortest heartbeat period and timeout, 1 µs: shorter ones are below any network's latency
/// (and a subnormal period made the count of missed beats infinite).
pub const MIN_HEARTBEAT: f64 = 1e-6;

/// More shards than this are refused: every shard is a pair of links in the simulated fabric.
pub const MAX_SERVERS: usize = 1024;

impl Default for ClusterConfig {
    fn default() -> Self {
        defaults_from_clap()
    }
}

/// [`ClusterConfig`] with every string parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct Cluster {
    pub consistency: Consistency,
    /// The staleness bound the barrier enforces: S for SSP, 0 for BSP, none for ASP.
    pub bound: Option<u32>,
    pub staleness_lr: bool,
    pub device: DeviceProfile,
    pub compute_time: ComputeTime,
    pub server: DeviceProfile,
    pub network: NetworkProfile,
    pub topology: Topology,
    pub stragglers: Stragglers,
    pub failures: Vec<FailureSpec>,
    pub heartbeat: f64,
    pub heartbeat_timeout: f64,
    pub on_failure: OnFailure,
    /// Parameter-server shards (1: one server).
    pub servers: usize,
}

fn invalid(key: &str, message: impl std::fmt::Display) -> ConfigError {
    ConfigError { key: key.to_string(), message: message.to_string() }
}

impl ClusterConfig {
    /// Parses every option; errors name the key. `workers` is the partition count.
    pub fn resolve(&self, workers: usize) -> Result<Cluster, ConfigError> {
        let device: DeviceProfile = self.device_profile.parse().map_err(|e| invalid("device_profile", e))?;
        let server: DeviceProfile = self.server_profile.parse().map_err(|e| invalid("server_profile", e))?;
        let network: NetworkProfile = self.network.parse().map_err(|e| invalid("network", e))?;
        let topology: Topology = self.topology.parse().map_err(|e| invalid("topology", e))?;
        let stragglers: Stragglers = self.stragglers.parse().map_err(|e| invalid("stragglers", e))?;
        if let Stragglers::Fixed { worker, .. } = stragglers {
            if worker >= workers {
                return Err(invalid("stragglers", format!("worker {worker} does not exist: there are {workers}")));
            }
        }
        let failures = self
            .fail
            .iter()
            .map(|s| s.parse::<FailureSpec>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid("fail", e))?;
        for f in &failures {
            if f.worker >= workers {
                return Err(invalid("fail", format!("worker {} does not exist: there are {workers}", f.worker)));
            }
        }
        for (i, a) in failures.iter().enumerate() {
            for b in &failures[i + 1..] {
                if a.worker == b.worker && a.overlaps(b) {
                    return Err(invalid("fail", format!("two failures of worker {} overlap", a.worker)));
                }
            }
        }
        if self.on_failure == OnFailure::Wait {
            if let Some(f) = failures.iter().find(|f| f.down.is_none()) {
                return Err(invalid(
                    "fail",
                    format!(
                        "worker {} never comes back (no `down`), so `on_failure = wait` would wait forever; give it \
                         down=SECONDS or use on_failure = reassign",
                        f.worker
                    ),
                ));
            }
        }
        if !failures.is_empty() && workers == 1 {
            return Err(invalid("fail", "a serial run (1 worker) has no survivor to go on with"));
        }
        if failures.iter().any(|f| f.down.is_none())
            && workers - failures.iter().filter(|f| f.down.is_none()).count() == 0
        {
            return Err(invalid("fail", "every worker fails for good: nobody is left to train"));
        }
        for (key, v) in [("heartbeat", self.heartbeat), ("heartbeat_timeout", self.heartbeat_timeout)] {
            if !(v.is_finite() && (MIN_HEARTBEAT..=MAX_SECONDS).contains(&v)) {
                return Err(invalid(
                    key,
                    format!(
                        "must be between {MIN_HEARTBEAT:e} and {MAX_SECONDS:e} seconds (a year), got {}",
                        crate::cost::readable(v)
                    ),
                ));
            }
        }
        if self.consistency != Consistency::Bsp && topology != Topology::Flat {
            return Err(invalid(
                "topology",
                format!(
                    "{} applies gradients one worker at a time at the server; tree and ring aggregation need \
                     consistency = bsp",
                    self.consistency.name()
                ),
            ));
        }
        if !(1..=MAX_SERVERS).contains(&self.servers) {
            return Err(invalid("servers", format!("must be between 1 and {MAX_SERVERS}, got {}", self.servers)));
        }
        if self.servers > 1 && (self.consistency != Consistency::Bsp || topology != Topology::Flat) {
            return Err(invalid(
                "servers",
                format!(
                    "sharded servers are modelled for BSP rounds on the flat topology (every worker talks to every \
                     shard); this run has consistency = {} and topology = {}",
                    self.consistency.name(),
                    self.topology
                ),
            ));
        }
        let bound = match self.consistency {
            Consistency::Bsp => Some(0),
            Consistency::Ssp => Some(self.staleness),
            Consistency::Asp => None,
        };
        Ok(Cluster {
            consistency: self.consistency,
            bound,
            staleness_lr: self.staleness_lr,
            device,
            compute_time: self.compute_time,
            server,
            network,
            topology,
            stragglers,
            failures,
            heartbeat: self.heartbeat,
            heartbeat_timeout: self.heartbeat_timeout,
            on_failure: self.on_failure,
            servers: self.servers,
        })
    }

    /// Keys that do not apply reset to their defaults, so equal runs compare (and label) equal.
    pub fn normalized(mut self) -> Self {
        let d = Self::default();
        if self.consistency != Consistency::Ssp {
            self.staleness = d.staleness;
        }
        if self.consistency == Consistency::Bsp {
            self.staleness_lr = false;
        }
        if self.fail.is_empty() {
            self.heartbeat = d.heartbeat;
            self.heartbeat_timeout = d.heartbeat_timeout;
            self.on_failure = d.on_failure;
        }
        self
    }

    /// Short words for run labels: what differs from a plain BSP cluster.
    pub fn label_parts(&self, varies: impl Fn(&str) -> bool) -> Vec<String> {
        let d = Self::default();
        let mut parts = Vec::new();
        match self.consistency {
            Consistency::Ssp => parts.push(format!("ssp S={}", self.staleness)),
            c if c != d.consistency || varies("consistency") => parts.push(c.name().to_string()),
            _ => {}
        }
        if self.staleness_lr {
            parts.push("staleness-lr".into());
        }
        if self.compute_time == ComputeTime::Measured {
            parts.push("measured".into());
        }
        for (key, value, default) in [
            ("device_profile", &self.device_profile, &d.device_profile),
            ("server_profile", &self.server_profile, &d.server_profile),
            ("network", &self.network, &d.network),
            ("topology", &self.topology, &d.topology),
            ("stragglers", &self.stragglers, &d.stragglers),
        ] {
            if value != default || varies(key) {
                parts.push(match key {
                    "stragglers" => format!("stragglers={value}"),
                    // A profile file is named by its stem, as the profile itself is.
                    _ if value.ends_with(".toml") => std::path::Path::new(value.as_str())
                        .file_stem()
                        .map_or(value.clone(), |s| s.to_string_lossy().into_owned()),
                    _ => value.clone(),
                });
            }
        }
        if self.servers != d.servers || varies("servers") {
            parts.push(format!("servers={}", self.servers));
        }
        for f in &self.fail {
            parts.push(format!("fail {f}"));
        }
        if !self.fail.is_empty() && (self.on_failure != d.on_failure || varies("on_failure")) {
            parts.push(format!("{:?}", self.on_failure).to_lowercase());
        }
        parts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_plain_bsp_and_resolve() {
        let c = ClusterConfig::default();
        assert_eq!(c.consistency, Consistency::Bsp);
        let r = c.resolve(4).unwrap();
        assert_eq!((r.bound, r.topology, r.stragglers), (Some(0), Topology::Flat, Stragglers::None));
        assert_eq!(r.device, DeviceProfile::h100());
        assert!(c.label_parts(|_| false).is_empty());
    }

    #[test]
    fn bad_values_name_their_key() {
        type Case = (Box<dyn Fn(&mut ClusterConfig)>, &'static str);
        let cases: Vec<Case> = vec![
            (Box::new(|c| c.device_profile = "b200".into()), "device_profile"),
            (Box::new(|c| c.network = "carrier-pigeon".into()), "network"),
            (Box::new(|c| c.topology = "star".into()), "topology"),
            (Box::new(|c| c.stragglers = "bernoulli:p=2,factor=8".into()), "stragglers"),
            (Box::new(|c| c.stragglers = "fixed:worker=9,factor=2".into()), "stragglers"),
            (Box::new(|c| c.fail = vec!["worker=1".into()]), "fail"),
            (Box::new(|c| c.fail = vec!["worker=7,at=1,down=1".into()]), "fail"),
            (Box::new(|c| c.fail = vec!["worker=1,at=1".into()]), "fail"),
            (Box::new(|c| c.fail = vec!["worker=1,at=1,down=2".into(), "worker=1,at=2,down=1".into()]), "fail"),
            (Box::new(|c| c.heartbeat = 0.0), "heartbeat"),
            (Box::new(|c| c.heartbeat_timeout = f64::NAN), "heartbeat_timeout"),
            (Box::new(|c| c.heartbeat = 1e-310), "heartbeat"),
            (Box::new(|c| c.heartbeat_timeout = 1e308), "heartbeat_timeout"),
            (Box::new(|c| c.stragglers = "lognormal:sigma=1000".into()), "stragglers"),
            (Box::new(|c| c.fail = vec!["worker=1,at=1e308,down=1".into()]), "fail"),
            (Box::new(|c| c.network = "/no/such/net.toml".into()), "network"),
            (
                Box::new(|c| {
                    c.consistency = Consistency::Asp;
                    c.topology = "ring".into()
                }),
                "topology",
            ),
        ];
        for (edit, key) in cases {
            let mut c = ClusterConfig::default();
            edit(&mut c);
            let e = c.resolve(4).unwrap_err();
            assert_eq!(e.key, key, "{e}");
        }
        // A failure for good is fine when the partition can move.
        let mut c = ClusterConfig { fail: vec!["worker=1,at=1".into()], ..ClusterConfig::default() };
        c.on_failure = OnFailure::Reassign;
        assert!(c.resolve(4).is_ok());
    }

    #[test]
    fn labels_name_what_differs() {
        let c = ClusterConfig {
            consistency: Consistency::Ssp,
            staleness: 3,
            stragglers: "bernoulli:p=0.1,factor=8".into(),
            ..ClusterConfig::default()
        };
        assert_eq!(c.label_parts(|_| false), vec!["ssp S=3", "stragglers=bernoulli:p=0.1,factor=8"]);
        let bsp = ClusterConfig::default();
        assert_eq!(bsp.label_parts(|k| k == "consistency"), vec!["bsp"]);
    }
}
