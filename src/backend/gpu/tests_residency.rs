//! Streaming (see [`super::residency`]): workers' buffers leave the device and come back with
//! the same bits, only resident bytes are counted, and the ring carries only written buffers.

use super::tests::{assert_bits_eq, down, rand_matrix, up};
use super::*;
use crate::rng::SplitMix64;

fn with(set: ResidentSet, budget: Option<u64>) -> Option<GpuBackend> {
    gpu_for_tests()?;
    Some(GpuBackend::with_residency(&AdapterPreference::Best, Residency { set, budget }).expect("a GPU backend"))
}

/// Two workers' inputs and outputs, each in its own group, and a shared weight matrix; every
/// op runs while the other worker's buffers are wherever the policy put them. Returns both
/// outputs after two rounds, the bytes live after each worker's first product and the most
/// seen after any op (all but staging: the streaming ring, the parameter arena).
fn two_workers(b: &GpuBackend, x: &[HostMatrix; 2], w: &HostMatrix) -> (Vec<Vec<f32>>, Vec<u64>, u64) {
    let mut most = 0;
    let mut sample = |b: &GpuBackend| {
        let s = b.memory().snapshot();
        most = most.max(s.live_total() - s.live(MemCategory::Staging));
    };
    let wb = up(b, w);
    let mut xs = Vec::new();
    let mut outs = Vec::new();
    for (i, x) in x.iter().enumerate() {
        b.residency_group(Some(i));
        xs.push(up(b, x));
        outs.push(b.alloc(x.rows, w.cols, MemCategory::Activations, &format!("out{i}")).unwrap());
        b.residency_group(None);
    }
    let mut live = Vec::new();
    for round in 0..2 {
        for (x, out) in xs.iter().zip(outs.iter_mut()) {
            if round == 0 {
                b.matmul(x, &wb, out, false, false);
                b.flush().unwrap();
                let s = b.memory().snapshot();
                live.push(s.live_total() - s.live(MemCategory::Staging));
            } else {
                // Reads the output written in round 0 (evicted since under `one`) and adds to it.
                let rows = out.rows();
                let mut tmp = b.alloc(rows, out.cols(), MemCategory::Activations, "sum").unwrap();
                sample(b);
                b.relu(out, &mut tmp);
                sample(b);
                b.add_rows(&tmp, 0, out, 0, rows);
            }
            sample(b);
        }
    }
    let outs = outs.iter().map(|o| down(b, o)).collect();
    (outs, live, most)
}

#[test]
fn streamed_working_sets_keep_their_bits() {
    let Some(all) = with(ResidentSet::All, None) else { return };
    let mut rng = SplitMix64::new(5);
    let x = [rand_matrix(&mut rng, 2000, 64), rand_matrix(&mut rng, 1500, 64)];
    let w = rand_matrix(&mut rng, 64, 16);
    let (want, live_all, _) = two_workers(&all, &x, &w);
    assert_eq!(all.streaming_stats(), StreamingStats::default(), "`all` moves nothing");

    let one = with(ResidentSet::One, None).expect("a GPU backend");
    // Outputs name a policy other than the default; the device's description (which a
    // checkpoint must match to resume) does not change.
    assert!(crate::backend::label(&one).ends_with("[resident one]"), "{}", crate::backend::label(&one));
    assert_eq!(one.describe(), all.describe());
    let default = with(ResidentSet::Auto, None).expect("a GPU backend");
    assert_eq!(crate::backend::label(&default), default.describe(), "the default policy is not named");
    let (got, live_one, _) = two_workers(&one, &x, &w);
    for (g, w) in got.iter().zip(&want) {
        assert_bits_eq("streamed under `one`", g, w);
    }
    let s = one.streaming_stats();
    assert!(s.evictions >= 4 && s.restores >= 3, "{s:?}");
    // Worker 0's output was written before it left: it came back through the ring. Its input
    // (uploaded, never written) left without a transfer: only outputs were read back.
    let outputs = 4 * (2000 + 1500) * 16;
    assert!(s.bytes_to_host >= outputs && s.bytes_to_host < outputs + 4 * 2000 * 64, "{s:?}");
    assert!(s.ring_drains >= 1, "{s:?}");
    // While worker 1 ran, worker 0's 2000 × 64 input and its output were off the device.
    let worker0 = 4 * 2000 * (64 + 16);
    assert!(live_one[1] + worker0 <= live_all[1], "live bytes {live_one:?} (one) vs {live_all:?} (all)");

    // `auto` under a budget that holds one worker but not both: each worker leaves when the
    // other needs room.
    let budget = live_all[1] - 4 * 1500 * 64;
    let auto = with(ResidentSet::Auto, Some(budget)).expect("a GPU backend");
    let (got, _, most) = two_workers(&auto, &x, &w);
    for (g, w) in got.iter().zip(&want) {
        assert_bits_eq("streamed under `auto`", g, w);
    }
    assert!(auto.streaming_stats().evictions > 0, "{:?}", auto.streaming_stats());
    assert!(most <= budget, "auto kept {most} device bytes, over its budget of {budget}");

    // `all` under the same budget: the allocation that does not fit is an error naming it.
    let strict = with(ResidentSet::All, Some(budget)).expect("a GPU backend");
    strict.residency_group(Some(0));
    let _x0 = up(&strict, &x[0]);
    let _x1 = strict.upload(&x[1], MemCategory::Features, "x1").map(|_| ());
    let _x2 = strict.upload(&x[1], MemCategory::Features, "x2");
    let err = _x2.err().or(_x1.err()).expect("`all` refuses what does not fit");
    assert!(matches!(err, BackendError::OutOfDeviceMemory { .. }) && err.to_string().contains("--gpu-memory"), "{err}");
}

/// A pinned buffer (no group) never leaves, whatever the policy.
#[test]
fn pinned_buffers_stay() {
    let Some(one) = with(ResidentSet::One, None) else { return };
    let mut rng = SplitMix64::new(9);
    let pinned = up(&one, &rand_matrix(&mut rng, 100, 8));
    one.residency_group(Some(0));
    let a = up(&one, &rand_matrix(&mut rng, 100, 8));
    one.residency_group(Some(1));
    let mut b = up(&one, &rand_matrix(&mut rng, 100, 8));
    one.residency_group(None);
    one.copy(&pinned, &mut b);
    assert!(pinned.buffer().page().resident());
    assert!(!a.buffer().page().resident(), "worker 0 left when worker 1's buffer was used");
    assert_bits_eq("copy into a streamed buffer", &down(&one, &b), &down(&one, &pinned));
}

/// Under a budget, the worker that leaves is the one that ran last before the current one:
/// with workers running in a cycle 0, 1, 2, 0, …, that is the one needed last, so worker 0
/// is still there when its turn comes again (least-recently-used would have sent it away).
#[test]
fn the_worker_that_ran_last_leaves_first() {
    let mut rng = SplitMix64::new(3);
    let xs: Vec<HostMatrix> = (0..3).map(|_| rand_matrix(&mut rng, 1000, 32)).collect();
    // Room for two workers' inputs (125 KiB each), the pinned 1 × 32 output, the placeholder
    // and one 64 KiB chunk of the parameter arena, not for three inputs.
    let budget = 2 * 4 * 1000 * 32 + 4 * 32 + 4 + (64 << 10) + 1024;
    let Some(auto) = with(ResidentSet::Auto, Some(budget)) else { return };
    let mut out = auto.alloc(1, 32, MemCategory::Activations, "out").unwrap();
    let mut bufs = Vec::new();
    for (i, x) in xs.iter().enumerate() {
        auto.residency_group(Some(i));
        bufs.push(up(&auto, x));
        auto.residency_group(None);
        auto.copy_rows(&bufs[i], 0, &mut out, 0, 1);
    }
    let resident: Vec<bool> = bufs.iter().map(|b| b.buffer().page().resident()).collect();
    assert_eq!(resident, [true, false, true], "worker 1 ran last before worker 2: it left");
    let before = auto.streaming_stats().restores;
    auto.copy_rows(&bufs[0], 0, &mut out, 0, 1);
    assert_eq!(auto.streaming_stats().restores, before, "worker 0 was still resident");
    assert_bits_eq("row 0 of worker 0", &down(&auto, &out), &xs[0].data[..32]);
}
