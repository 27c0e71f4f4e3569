use std::fs;
use std::io::Read;

use super::*;
use crate::report::write_csv_atomic;

const MIB: u64 = 1 << 20;
const KIB: u64 = 1 << 10;

/// A small deterministic jitter in [-0.5, 0.5) per (seed, epoch, salt).
fn jitter(seed: u64, epoch: u32, salt: u64) -> f64 {
    let mut x =
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (u64::from(epoch) << 20) ^ salt.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 31;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 29;
    (x % 10_000) as f64 / 10_000.0 - 0.5
}

struct Config {
    label: &'static str,
    partitions: usize,
    partitioner: &'static str,
    boundary: &'static str,
    keep_versions: bool,
    seeds: &'static [u64],
    /// Accuracy lost against serial training.
    penalty: f64,
}

const CONFIGS: [Config; 6] = [
    Config {
        label: "serial",
        partitions: 1,
        partitioner: "metis",
        boundary: "exact",
        keep_versions: false,
        seeds: &[0, 1],
        penalty: 0.0,
    },
    Config {
        label: "p2-metis-exact",
        partitions: 2,
        partitioner: "metis",
        boundary: "exact",
        keep_versions: false,
        seeds: &[0, 1],
        penalty: 0.0,
    },
    Config {
        label: "p4-metis-exact",
        partitions: 4,
        partitioner: "metis",
        boundary: "exact",
        keep_versions: false,
        seeds: &[0, 1],
        penalty: 0.0,
    },
    Config {
        label: "p2-random-drop",
        partitions: 2,
        partitioner: "random",
        boundary: "drop",
        keep_versions: false,
        seeds: &[0, 1],
        penalty: 0.04,
    },
    Config {
        label: "p4-random-drop",
        partitions: 4,
        partitioner: "random",
        boundary: "drop",
        keep_versions: false,
        seeds: &[0, 1],
        penalty: 0.09,
    },
    Config {
        label: "p4-metis-exact-keep",
        partitions: 4,
        partitioner: "metis",
        boundary: "exact",
        keep_versions: true,
        seeds: &[0],
        penalty: 0.0,
    },
];

const EPOCHS: u32 = 120;

/// Serial plus P = 2, 4 with two seeds each, and one keep_versions run whose weights grow
/// by one version per epoch.
fn synthetic() -> (Vec<RunRow>, Vec<LongMetricsRow>) {
    synthetic_from(&CONFIGS)
}

fn synthetic_from(configs: &[Config]) -> (Vec<RunRow>, Vec<LongMetricsRow>) {
    let mut runs = Vec::new();
    let mut metrics = Vec::new();
    for c in configs {
        for &seed in c.seeds {
            let p = c.partitions as u64;
            let random = c.partitioner == "random";
            let edge_cut = match (p, random) {
                (1, _) => 0,
                (_, true) => 5200 * (p - 1) / p + seed * 40,
                (_, false) => 310 * (p - 1),
            } as usize;
            let halo_nodes = if c.boundary == "drop" || p == 1 { 0 } else { (edge_cut as f64 * 1.6) as usize };
            let mut run = RunRow {
                run_id: format!("{}-s{seed}", c.label),
                label: c.label.into(),
                seed,
                partitions: c.partitions,
                partitioner: c.partitioner.into(),
                boundary: c.boundary.into(),
                sample_rate: 1.0,
                eval: "full".into(),
                aggregate: "mean".into(),
                keep_versions: c.keep_versions,
                optimizer: "adam".into(),
                epochs_run: EPOCHS,
                final_train_loss: 0.0,
                final_valid_acc: 0.0,
                final_test_acc: 0.0,
                best_valid_epoch: 0,
                best_valid_acc: 0.0,
                test_acc_at_best_valid: 0.0,
                peak_bytes: 0,
                edge_cut,
                edge_cut_fraction: edge_cut as f64 / 5278.0,
                halo_nodes,
                replication_factor: 1.0 + halo_nodes as f64 / 2708.0,
                comm_bytes_per_epoch: (2 * 92 * 1024 * p) as f64
                    + if c.boundary == "exchange" { edge_cut as f64 * 256.0 } else { 0.0 },
                boundary_bytes_per_epoch: if c.boundary == "exchange" { edge_cut as f64 * 256.0 } else { 0.0 },
                halo_feature_bytes: 0,
                consistency: "bsp".into(),
                staleness: 0,
                topology: "flat".into(),
                device_profile: "h100".into(),
                network: "dc-100g".into(),
                stragglers: "none".into(),
                failures: String::new(),
                on_failure: "wait".into(),
                sim_time_s: 0.0,
                sim_seconds_per_round: 0.0,
                gradients_applied: 0,
                gradients_discarded: 0,
                mean_staleness: 0.0,
                max_live_versions: 1,
                byzantine: 0,
                byzantine_workers: String::new(),
                attack: "none".into(),
                pre_aggregate: "none".into(),
                detection_precision: None,
                detection_recall: None,
                mean_byzantine_weight: None,
                mean_rel_dist_honest: None,
                features: "dataset".into(),
                embedding_dim: 0,
                servers: 1,
                // Launch-bound compute that shrinks little with P, and a barrier that grows.
                round_compute_s: 4e-5 + 1e-4 / p as f64,
                round_exchange_s: if c.boundary == "exchange" { 2e-5 } else { 0.0 },
                round_push_s: 1e-5 * p as f64,
                round_server_s: 1.5e-5,
                round_pull_s: 1e-5,
                round_wait_s: 5e-6 * (p - 1) as f64,
                target_acc_default: None,
                epoch_to_default: None,
                time_to_default_s: None,
            };
            let weights = 92 * KIB * (p + 1); // one copy per worker and the server
            for epoch in 1..=EPOCHS {
                let e = f64::from(epoch);
                let noise = |salt| jitter(seed, epoch, salt) * (0.3 + 2.0 / e.sqrt());
                let train_loss = 0.28 + 0.05 * c.penalty * 10.0 + 1.67 * (-e / 18.0).exp() + 0.02 * noise(1);
                let acc = |top: f64, salt| (top - c.penalty) * (1.0 - 0.86 * (-e / 14.0).exp()) + 0.012 * noise(salt);
                let versions = if c.keep_versions { u64::from(epoch) + 1 } else { 1 };
                let m = LongMetricsRow {
                    run_id: run.run_id.clone(),
                    label: run.label.clone(),
                    seed,
                    partitions: c.partitions,
                    keep_versions: c.keep_versions,
                    epoch,
                    weight_version: u64::from(epoch),
                    train_loss,
                    train_acc: acc(0.97, 2),
                    valid_loss: train_loss + 0.4,
                    valid_acc: acc(0.79, 3),
                    test_loss: train_loss + 0.42,
                    test_acc: acc(0.81, 4),
                    live_graph_bytes: 2 * MIB + p * 96 * KIB,
                    live_features_bytes: 21 * MIB + (halo_nodes as u64) * 5732,
                    live_activations_bytes: 5 * MIB + p * 64 * KIB,
                    live_gradients_bytes: 2 * weights,
                    live_weights_bytes: weights * versions,
                    live_optimizer_state_bytes: 2 * weights,
                    live_exchange_bytes: 0,
                    live_staging_bytes: if p == 1 { 0 } else { 768 * KIB },
                    live_embeddings_bytes: 0,
                    live_embedding_state_bytes: 0,
                    live_total_bytes: 0,
                    peak_total_bytes: 0,
                    live_weight_versions: versions as usize,
                    comm_broadcast_bytes: weights * p,
                    comm_gradient_bytes: weights * p,
                    comm_halo_bytes: halo_nodes as u64 * 64,
                    comm_boundary_forward_bytes: 0,
                    comm_boundary_backward_bytes: 0,
                    sim_time_s: e * 2e-4,
                    staleness_mean: 0.0,
                    staleness_max: 0,
                    byzantine_weight: None,
                    agg_rel_dist_honest: None,
                    lr: Some(0.01),
                    shard_imbalance: None,
                    comm_broadcast_raw_bytes: weights * p,
                    comm_gradient_raw_bytes: weights * p,
                    push_rel_error: None,
                };
                let total = m.live_graph_bytes
                    + m.live_features_bytes
                    + m.live_activations_bytes
                    + m.live_gradients_bytes
                    + m.live_weights_bytes
                    + m.live_optimizer_state_bytes
                    + m.live_staging_bytes;
                metrics.push(LongMetricsRow { live_total_bytes: total, peak_total_bytes: total, ..m });
            }
            let last = metrics.last().unwrap();
            run.final_train_loss = last.train_loss;
            run.final_valid_acc = last.valid_acc;
            run.final_test_acc = last.test_acc;
            run.peak_bytes = last.peak_total_bytes;
            runs.push(run);
        }
    }
    (runs, metrics)
}

/// Walks the PNG chunks, checks every CRC and inflates the image data: a reader will open it.
fn check_png(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    let (mut at, mut size, mut idat) = (8, (0, 0), Vec::new());
    while at < bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let kind = &bytes[at + 4..at + 8];
        let data = &bytes[at + 8..at + 8 + len];
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        assert_eq!(crc.sum().to_be_bytes(), bytes[at + 8 + len..at + 12 + len], "CRC of {kind:?}");
        match kind {
            b"IHDR" => {
                size = (
                    u32::from_be_bytes(data[..4].try_into().unwrap()),
                    u32::from_be_bytes(data[4..8].try_into().unwrap()),
                )
            }
            b"IDAT" => idat.extend_from_slice(data),
            _ => {}
        }
        at += 12 + len;
    }
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..]).read_to_end(&mut raw).unwrap();
    assert_eq!(raw.len(), size.1 as usize * (1 + 3 * size.0 as usize), "scanlines");
    size
}

fn leftovers(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') || n.contains(".tmp"))
        .collect()
}

#[test]
fn draw_all_writes_every_figure_with_its_data() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo-experiment");
    let (runs, metrics) = synthetic();
    let written = draw_all(&dir, &runs, &metrics, Traces::default()).unwrap();
    let names: Vec<_> = written.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(
        names,
        [
            "convergence.png",
            "convergence.svg",
            "memory.png",
            "memory.svg",
            "partitions.png",
            "partitions.svg",
            "time.png",
            "time.svg"
        ]
    );
    for path in &written {
        let bytes = fs::read(path).unwrap();
        if path.extension().unwrap() == "png" {
            assert!(bytes.len() > 20_000, "{} is only {} bytes", path.display(), bytes.len());
            assert_eq!(check_png(&bytes), FIGURE_SIZE);
        } else {
            let svg = String::from_utf8(bytes).unwrap();
            assert!(svg.starts_with("<svg"), "{}", path.display());
            assert!(svg.contains("demo-experiment"), "title in {}", path.display());
        }
    }
    let svg = |stem: &str| fs::read_to_string(dir.join(format!("{stem}.svg"))).unwrap();
    let convergence = svg("convergence");
    // Every configuration has two seeds: the title says so once.
    for s in ["2 seeds: mean, band min–max", "p4-metis-exact", "training loss", "serial loss", "epoch"] {
        assert!(convergence.contains(s), "convergence.svg lacks {s:?}");
    }
    assert!(!convergence.contains("×2 seeds"), "the seed count is in the title only");
    // keep_versions trains exactly like release: it belongs to the memory figure only.
    assert!(!convergence.contains("p4-metis-exact-keep"), "convergence.svg shows a keep_versions run");
    let memory = svg("memory");
    for s in [
        "p4-metis-exact-keep",
        "growth since the first epoch",
        "optimizer_state",
        "categories of run p4-metis-exact-keep-s0",
    ] {
        assert!(memory.contains(s), "memory.svg lacks {s:?}");
    }
    let partitions = svg("partitions");
    for s in
        ["serial (P = 1)", "partitioner (colour)", "boundary (line and marker)", "metis", "random", "drop", "edge cut"]
    {
        assert!(partitions.contains(s), "partitions.svg lacks {s:?}");
    }
    assert!(leftovers(&dir).is_empty(), "temporary files left: {:?}", leftovers(&dir));
}

#[test]
fn one_partition_count_skips_the_partitions_figure() {
    let tmp = tempfile::tempdir().unwrap();
    // P = 4 only, no keep_versions run: memory draws totals and categories only.
    let (runs, metrics) = synthetic_from(&CONFIGS[2..3]);
    let written = draw_all(tmp.path(), &runs, &metrics, Traces::default()).unwrap();
    assert_eq!(written.len(), 6, "convergence, memory and time");
    assert!(!tmp.path().join("partitions.png").exists());
    let memory = fs::read_to_string(tmp.path().join("memory.svg")).unwrap();
    assert!(!memory.contains("keep_versions (no release)"));
    assert!(memory.contains("staging"));
    assert!(leftovers(tmp.path()).is_empty());
}

#[test]
fn empty_results_still_draw() {
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(draw_all(tmp.path(), &[], &[], Traces::default()).unwrap().len(), 4);
}

#[test]
fn results_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let (runs, metrics) = synthetic();
    write_csv_atomic(&tmp.path().join("runs.csv"), &runs).unwrap();
    write_csv_atomic(&tmp.path().join("metrics.csv"), &metrics).unwrap();
    let (r, m) = read_results(tmp.path()).unwrap();
    assert_eq!(r, runs);
    assert_eq!(m, metrics);
}

#[test]
fn malformed_row_names_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let (runs, metrics) = synthetic();
    write_csv_atomic(&tmp.path().join("runs.csv"), &runs).unwrap();
    write_csv_atomic(&tmp.path().join("metrics.csv"), &metrics[..5]).unwrap();
    let path = tmp.path().join("metrics.csv");
    let text = fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    // Line 3 = the second data row: its train_loss (8th field) becomes text.
    let mut fields: Vec<&str> = lines[2].split(',').collect();
    fields[7] = "not-a-number";
    lines[2] = fields.join(",");
    fs::write(&path, lines.join("\n") + "\n").unwrap();
    let err = read_results(tmp.path()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ReportError::Parse { line: 3, .. }), "{msg}");
    assert!(msg.contains("metrics.csv") && msg.contains("metrics.csv:3:"), "{msg}");

    // A short row is reported the same way.
    fs::write(&path, lines[..2].join("\n") + "\n1,2,3\n").unwrap();
    let msg = read_results(tmp.path()).unwrap_err().to_string();
    assert!(msg.contains("metrics.csv") && msg.contains("metrics.csv:3:"), "{msg}");
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let err = read_results(tmp.path()).unwrap_err();
    assert!(matches!(err, ReportError::Io { .. }) && err.to_string().contains("runs.csv"), "{err}");
}

/// Renders the synthetic figures to `$GCNSIM_PLOTS_OUT` (default: the system temporary
/// folder) for looking at them: `cargo test --release --lib report::plots -- --ignored`.
#[test]
#[ignore]
fn render_synthetic_for_inspection() {
    let out = std::env::var_os("GCNSIM_PLOTS_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("gcnsim-plots"));
    let (runs, metrics) = synthetic();
    draw_all(&out.join("synthetic"), &runs, &metrics, Traces::default()).unwrap();
    let (runs, metrics) = synthetic_from(&CONFIGS[..3]);
    draw_all(&out.join("no-keep"), &runs, &metrics, Traces::default()).unwrap();
    let (runs, metrics) = synthetic_from(&many_configs());
    draw_all(&out.join("many"), &runs, &metrics, Traces::default()).unwrap();
}

/// Serial plus every P ∈ {2, 4, 8, 16} × partitioner × boundary: 17 labels, more than the
/// palette holds.
/// The runs of [`many_configs`] (17 configurations), for figures drawn from runs.csv alone.
pub(super) fn many_runs() -> Vec<RunRow> {
    synthetic_from(&many_configs()).0
}

fn many_configs() -> Vec<Config> {
    let mut configs = vec![Config { seeds: &[0, 1, 2], ..CONFIGS[0] }];
    for p in [2, 4, 8, 16] {
        for (partitioner, boundary) in [("metis", "exact"), ("metis", "drop"), ("random", "exact"), ("random", "drop")]
        {
            let label: &'static str = Box::leak(format!("p{p}-{partitioner}-{boundary}").into_boxed_str());
            let penalty = if boundary == "drop" { 0.01 * p as f64 } else { 0.0 };
            configs.push(Config {
                label,
                partitions: p,
                partitioner,
                boundary,
                keep_versions: false,
                seeds: &[0, 1, 2],
                penalty,
            });
        }
    }
    configs
}

#[test]
fn many_labels_draw() {
    let tmp = tempfile::tempdir().unwrap();
    let (runs, metrics) = synthetic_from(&many_configs());
    assert_eq!(draw_all(tmp.path(), &runs, &metrics, Traces::default()).unwrap().len(), 8);
}

/// A figure focused on one partition count spans the time of the runs it draws: with P = 16
/// twice as slow as P = 8 (17 labels focus on P = 8), the time axis ends near P = 8's last
/// round, not P = 16's.
#[test]
fn a_focused_time_figure_spans_only_the_drawn_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let (runs, mut metrics) = synthetic_from(&many_configs());
    for m in &mut metrics {
        m.sim_time_s *= m.partitions as f64; // P = 8 ends at 192 ms, P = 16 at 384 ms
    }
    draw_all(tmp.path(), &runs, &metrics, Traces::default()).unwrap();
    let svg = fs::read_to_string(tmp.path().join("time.svg")).unwrap();
    assert!(svg.contains("P = 8 and serial"), "the figure is focused");
    let numbers: Vec<f64> =
        svg.split('>').filter_map(|s| s.split('<').next()).filter_map(|t| t.trim().parse::<f64>().ok()).collect();
    let largest = numbers.iter().copied().fold(0.0, f64::max);
    assert!((150.0..250.0).contains(&largest), "largest axis label {largest} (ms), want P = 8's ~192");
}

#[test]
fn long_legend_labels_fit_fewer_columns() {
    let short: Vec<String> = (0..6).map(|i| format!("P={i} exchange")).collect();
    assert!(legend::columns_that_fit(&short, FIGURE_SIZE.0) >= 2);
    let long = vec!["gat P=10 replicate random centered_clipping:tau=0.1 F=3 scaled:factor=-10".to_string()];
    assert_eq!(legend::columns_that_fit(&long, FIGURE_SIZE.0), 1);
}

mod scaling;
