//! The per-configuration figures with 1, 6, 12 and 24 configurations: no two texts overlap,
//! every text lies on the canvas, and the panels keep their height however long the legend.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use super::super::boxes::{outside, overlaps, TextBox, TextBoxes};
use super::*;

/// Serial plus `n - 1` configurations labelled as `gcnsim run` labels a grid (model, P,
/// boundary, partitioner, consistency, backend, stragglers), mostly at P = 8, every fourth at
/// P = 4, three seeds each.
fn realistic(n: usize) -> Vec<Config> {
    let serial = Config {
        label: "gcn serial cpu stragglers=none",
        partitions: 1,
        partitioner: "metis",
        boundary: "exchange",
        keep_versions: false,
        seeds: &[0, 1, 2],
        penalty: 0.0,
    };
    let mut configs = vec![serial];
    for i in 0..n.saturating_sub(1) {
        let boundary = ["replicate", "exchange", "drop"][i % 3];
        let partitioner = ["metis", "random"][(i / 3) % 2];
        let consistency = ["bsp", "ssp S=2", "asp"][(i / 6) % 3];
        let stragglers = ["none", "lognormal"][(i / 18) % 2];
        let p = if i % 4 == 3 { 4 } else { 8 };
        let label = format!("gcn P={p} {boundary} {partitioner} {consistency} cpu stragglers={stragglers}");
        configs.push(Config {
            label: Box::leak(label.into_boxed_str()),
            partitions: p,
            partitioner,
            boundary,
            keep_versions: false,
            seeds: &[0, 1, 2],
            penalty: 0.004 * (i % 7) as f64,
        });
    }
    configs
}

/// Rows of `n` configurations with simulated time that differs by configuration.
fn realistic_rows(n: usize) -> (Vec<RunRow>, Vec<LongMetricsRow>) {
    let (mut runs, mut metrics) = synthetic_from(&realistic(n));
    let slowdown = |label: &str| 1.0 + (label.len() % 5) as f64 * 0.3;
    for r in &mut runs {
        r.sim_seconds_per_round = 2e-4 * slowdown(&r.label);
        r.test_acc_at_best_valid = r.final_test_acc;
    }
    for m in &mut metrics {
        m.sim_time_s *= slowdown(&m.label);
    }
    (runs, metrics)
}

/// Draws `fig` as its PNG is drawn, recording every text's ink box; writes the PNG to `png`.
fn measure(fig: Figure, inputs: &Inputs<'_>, png: Option<&Path>) -> (Vec<TextBox>, (u32, u32)) {
    let (w, h) = fig.size(inputs);
    let mut rgb = vec![0u8; 3 * w as usize * h as usize];
    let boxes = Rc::new(RefCell::new(Vec::new()));
    {
        let inner = text::GlyphText(BitMapBackend::with_buffer(&mut rgb, (w, h)));
        let root = TextBoxes { inner, boxes: Rc::clone(&boxes) }.into_drawing_area();
        fig.draw(&root, inputs).unwrap();
    }
    if let Some(path) = png {
        fs::write(path, encode_png(&rgb, w, h).unwrap()).unwrap();
    }
    let boxes = boxes.take();
    (boxes, (w, h))
}

/// The top of the first text starting with `prefix` (a panel caption).
fn top_of(boxes: &[TextBox], prefix: &str) -> Option<i32> {
    boxes.iter().find(|(t, _)| t.starts_with(prefix)).map(|(_, b)| b[1])
}

/// Set `GCNSIM_FIGS_CHECK=/some/folder` to keep the twelve PNGs for looking at them.
#[test]
fn figures_with_many_configurations_keep_their_text_apart() {
    let keep = std::env::var_os("GCNSIM_FIGS_CHECK").map(PathBuf::from);
    if let Some(dir) = &keep {
        fs::create_dir_all(dir).unwrap();
    }
    let _ = ensure_font();
    // A panel's height: from its caption to the caption of the panel below it.
    let figures =
        [(Figure::Convergence, "(a)", "(c)"), (Figure::Time, "(a)", "(c)"), (Figure::Partitions, "(a)", "(c)")];
    let mut failures = Vec::new();
    let mut heights: BTreeMap<&str, i32> = BTreeMap::new();
    for n in [1, 6, 12, 24] {
        let (runs, metrics) = realistic_rows(n);
        let inputs = Inputs { experiment: "scaling", runs: &runs, metrics: &metrics, traces: Traces::default() };
        for (fig, upper, lower) in figures {
            let png = keep.as_ref().map(|d| d.join(format!("{}-{n:02}.png", fig.stem())));
            let (boxes, size) = measure(fig, &inputs, png.as_deref());
            let case = format!("{} with {n} configurations", fig.stem());
            for (a, b) in overlaps(&boxes) {
                failures.push(format!("{case}: {:?} {:?} overlaps {:?} {:?}", a.0, a.1, b.0, b.1));
            }
            for t in outside(&boxes, size) {
                failures.push(format!("{case}: {:?} {:?} leaves the {}×{} canvas", t.0, t.1, size.0, size.1));
            }
            match (top_of(&boxes, upper), top_of(&boxes, lower)) {
                (Some(a), Some(c)) => {
                    let want = *heights.entry(fig.stem()).or_insert(c - a);
                    if (c - a - want).abs() > 2 {
                        failures.push(format!("{case}: panels {} px high, {want} px with 1 configuration", c - a));
                    }
                }
                _ => failures.push(format!("{case}: no panel captions {upper} and {lower}")),
            }
        }
    }
    assert!(failures.is_empty(), "{} problems:\n{}", failures.len(), failures.join("\n"));
}
