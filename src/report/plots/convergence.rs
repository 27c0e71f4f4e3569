//! Convergence: training loss, its distance to serial training, validation and test accuracy
//! per epoch, one line per label (mean over seeds, min–max band). Runs that keep every weight
//! version train exactly like their releasing twins, so they are left out here (the memory
//! figure is theirs).

use std::collections::{BTreeMap, HashMap};

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::*;
use super::legend::*;
use super::series::*;
use super::style::*;
use crate::report::rows::LongMetricsRow;
use crate::report::targets::training_tokens;

/// Differences to serial below this are drawn at it: f32 round-off of equal computations.
pub const DIFF_FLOOR: f64 = 1e-9;
/// The accuracy axes start after this fraction of the epochs, so the first epochs' ramp from
/// chance does not flatten the part where configurations differ.
const ZOOM_AFTER: f64 = 0.1;

/// Four panels, 2 × 2: (a) training loss (log axis), (b) |loss − serial loss| of the same seed
/// (log axis, floor 1e-9), (c) validation and (d) test accuracy on a shared, zoomed axis; one
/// legend strip under all four.
pub fn draw_convergence<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    experiment: &str,
    metrics: &[LongMetricsRow],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let _ = super::ensure_font(); // a failure shows up as the font error of the first text
    let (groups, focus_note) = drawn_groups(metrics);
    let looks = looks(&groups);
    let loss: Vec<Curve> = groups.iter().map(|g| Curve::of(&g.rows, |r| r.train_loss, |v| v > 0.0)).collect();
    let valid: Vec<Curve> = groups.iter().map(|g| Curve::of(&g.rows, |r| r.valid_acc, |_| true)).collect();
    let test: Vec<Curve> = groups.iter().map(|g| Curve::of(&g.rows, |r| r.test_acc, |_| true)).collect();
    let diffs = differences_to_serial(&groups);

    let (title, strip) = configuration_legend(experiment, &groups, &looks, focus_note, LEGEND_WORDS);
    let panels = layout_reserving(root, &title, (2, 2), &[strip])?;

    let x = epoch_range(union(loss.iter().chain(&valid).chain(&test).map(Curve::x_bounds)));
    let x_fmt = |v: &f64| fmt_num(*v);

    // (a)
    draw_loss_panel(&panels[0], x.clone(), "epoch", &x_fmt, &loss, &looks)?;

    // (b) How far each configuration is from serial training: ~1e-7 is the same computation
    // summed in another order; 1e-2 and up is a different training.
    let caption = "(b) |training loss − serial loss|, same seed";
    if diffs.iter().any(Option::is_some) {
        let y = log_padded(union(diffs.iter().flatten().map(Curve::y_bounds)).map(|(lo, hi)| (lo.max(DIFF_FLOOR), hi)));
        let ticks = log_ticks(&y);
        let mut chart = panel_builder(&panels[1])
            .caption(caption, text(CAPTION_PX))
            .build_cartesian_2d(x.clone(), y.log_scale().with_key_points(ticks))?;
        let y_fmt = |v: &f64| fmt_sci(*v);
        let mut mesh = chart.configure_mesh();
        style_mesh(&mut mesh);
        mesh.x_desc("epoch")
            .y_desc(format!("|difference| (log, floor {})", fmt_sci(DIFF_FLOOR)))
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .draw()?;
        let present: Vec<(Curve, Look)> =
            diffs.iter().zip(&looks).filter_map(|(d, l)| Some((d.clone()?, *l))).collect();
        let (curves, present_looks): (Vec<Curve>, Vec<Look>) = present.into_iter().unzip();
        draw_curves(&mut chart, &curves, &present_looks, None)?;
    } else {
        let note = if groups.iter().any(Group::is_serial) {
            "no partitioned run to compare"
        } else {
            "no serial run (partitions = 1)\nto compare with"
        };
        empty_panel(&panels[1], caption, note)?;
    }

    // (c), (d) share one accuracy range, zoomed past the first epochs.
    let from = x.start + ZOOM_AFTER * (x.end - x.start);
    let acc = accuracy_range(union(valid.iter().chain(&test).map(|c| c.y_bounds_from(from))));
    let acc = Ticked::linear(acc, 7);
    let acc_fmt = |v: &f64| acc.label(*v);
    let range = acc.range();
    for (panel, (caption, curves)) in
        panels[2..].iter().zip([("(c) validation accuracy", &valid), ("(d) test accuracy", &test)])
    {
        let mut chart =
            panel_builder(panel).caption(caption, text(CAPTION_PX)).build_cartesian_2d(x.clone(), acc.clone())?;
        let mut mesh = chart.configure_mesh();
        style_mesh(&mut mesh);
        mesh.x_desc("epoch")
            .y_desc(format!("accuracy (range of epochs ≥ {})", fmt_num(from.ceil())))
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&acc_fmt)
            .draw()?;
        draw_curves(&mut chart, curves, &looks, Some((range.start, range.end)))?;
    }
    root.present()
}

/// The legend strip [`draw_convergence`] draws, for sizing its canvas.
pub(super) fn legend_strip(metrics: &[LongMetricsRow]) -> Strip {
    let (groups, note) = drawn_groups(metrics);
    configuration_legend("", &groups, &looks(&groups), note, LEGEND_WORDS).1
}

/// What the title calls the figure, and how it combines seeds.
const LEGEND_WORDS: (&str, &str) = ("convergence", "mean, band min–max");

/// Per group, |loss − serial loss| paired by seed at each epoch (floored at [`DIFF_FLOOR`]) with
/// the serial run of the same training tokens (or the only serial configuration there is);
/// `None` for serial groups and groups without such a serial run.
fn differences_to_serial(groups: &[Group<'_>]) -> Vec<Option<Curve>> {
    let serial_groups: Vec<&Group<'_>> = groups.iter().filter(|g| g.is_serial()).collect();
    let twin = |g: &Group<'_>| -> Option<usize> {
        let tokens = training_tokens(&g.label);
        serial_groups
            .iter()
            .position(|s| training_tokens(&s.label) == tokens)
            .or_else(|| (serial_groups.len() == 1).then_some(0))
    };
    let serial: HashMap<(usize, u64, u32), f64> = serial_groups
        .iter()
        .enumerate()
        .flat_map(|(k, g)| g.rows.iter().map(move |r| ((k, r.seed, r.epoch), r.train_loss)))
        .collect();
    groups
        .iter()
        .map(|g| {
            if g.is_serial() {
                return None;
            }
            let k = twin(g)?;
            let mut samples: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
            for r in &g.rows {
                if let Some(s) = serial.get(&(k, r.seed, r.epoch)) {
                    let d = (r.train_loss - s).abs();
                    if d.is_finite() {
                        samples.entry(r.epoch).or_default().push(d.max(DIFF_FLOOR));
                    }
                }
            }
            (!samples.is_empty()).then(|| Curve::from_samples(samples))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::rows::LongMetricsRow;

    fn row(label: &str, partitions: usize, seed: u64, epoch: u32, loss: f64) -> LongMetricsRow {
        let mut r: LongMetricsRow = serde_json::from_value(serde_json::json!({
            "run_id": format!("{label}-s{seed}"), "label": label, "seed": seed, "partitions": partitions,
            "keep_versions": false, "epoch": epoch, "weight_version": 0, "train_loss": 0.0, "train_acc": 0.0,
            "valid_loss": 0.0, "valid_acc": 0.0, "test_loss": 0.0, "test_acc": 0.0, "live_graph_bytes": 0,
            "live_features_bytes": 0, "live_activations_bytes": 0, "live_gradients_bytes": 0, "live_weights_bytes": 0,
            "live_optimizer_state_bytes": 0, "live_exchange_bytes": 0, "live_staging_bytes": 0, "live_total_bytes": 0, "peak_total_bytes": 0,
            "live_weight_versions": 1, "comm_broadcast_bytes": 0, "comm_gradient_bytes": 0, "comm_halo_bytes": 0,
            "comm_boundary_forward_bytes": 0, "comm_boundary_backward_bytes": 0
        }))
        .unwrap();
        r.train_loss = loss;
        r
    }

    #[test]
    fn differences_pair_runs_with_the_serial_run_of_the_same_seed() {
        let rows = vec![
            row("serial", 1, 0, 1, 1.0),
            row("serial", 1, 1, 1, 2.0),
            row("P=2 drop", 2, 0, 1, 1.5),
            row("P=2 drop", 2, 1, 1, 2.1),
            row("P=2 exact", 2, 0, 1, 1.0),
            row("P=4 lonely", 4, 7, 1, 3.0),
        ];
        let groups = group_by_label(&rows);
        let d = differences_to_serial(&groups);
        let by_label: Vec<(&str, Option<Curve>)> = groups.iter().map(|g| g.label.as_str()).zip(d).collect();
        for (label, curve) in by_label {
            match label {
                "serial" | "P=4 lonely" => assert!(curve.is_none(), "{label}"),
                "P=2 drop" => {
                    let c = curve.unwrap();
                    assert!((c.mean[0].1 - 0.3).abs() < 1e-12 && (c.hi[0].1 - 0.5).abs() < 1e-12, "{c:?}");
                }
                "P=2 exact" => assert_eq!(curve.unwrap().mean[0].1, DIFF_FLOOR),
                other => panic!("{other}"),
            }
        }
    }

    #[test]
    fn each_optimizer_is_compared_with_its_own_serial_run() {
        let rows = vec![
            row("serial lr=5 optimizer=sgd", 1, 0, 1, 1.0),
            row("serial lr=0.01 optimizer=adam", 1, 0, 1, 2.0),
            row("P=2 drop lr=5 optimizer=sgd", 2, 0, 1, 1.25),
            row("P=2 drop lr=0.01 optimizer=adam", 2, 0, 1, 2.5),
            row("P=2 drop lr=1 optimizer=momentum", 2, 0, 1, 9.0),
            row("serial emb=16", 1, 0, 1, 4.0),
            row("serial features=none emb=16", 1, 0, 1, 8.0),
            row("P=2 exchange servers=4 emb=16", 2, 0, 1, 4.5),
            row("P=2 exchange servers=4 features=none emb=16", 2, 0, 1, 7.0),
        ];
        let groups = group_by_label(&rows);
        let d = differences_to_serial(&groups);
        for (g, curve) in groups.iter().zip(d) {
            let got = curve.map(|c| c.mean[0].1);
            let want = match g.label.as_str() {
                "P=2 drop lr=5 optimizer=sgd" => Some(0.25),
                "P=2 drop lr=0.01 optimizer=adam" => Some(0.5),
                "P=2 exchange servers=4 emb=16" => Some(0.5),
                "P=2 exchange servers=4 features=none emb=16" => Some(1.0),
                _ => None, // serial runs, and momentum, which has no serial run of its own
            };
            assert_eq!(got, want, "{}", g.label);
        }
    }
}
