// Centered clipping in n-space, twin of backend::cpu::robust::centered_clipping. The points are
// the n rows and the centre (point n); D is their (n+1) × (n+1) squared-distance matrix. One
// workgroup, thread i = point i (n + 1 ≤ 129 ≤ 256). v = Σ_k w_k y_k starts at the centre
// (w = e_n); with ‖v − x_i‖² = (D w)_i − ½ wᵀ D w, each of the `iters` rounds sets
// s_i = min(1, τ/‖x_i − v‖) and v ← v + (1/n) Σ s_i (x_i − v), i.e.
// w ← (1 − Σs/n) w + s/n on the rows. Shared sums run in k order in every thread; zero weights
// are skipped. Writes w to mix[0..n+1], combine_rows' scale 1 to mix[n+1], and
// selection_i = Σ_t s_i / Σ_t Σ_k s_k.

struct Params {
    n: u32,
    iters: u32,
    tau: f32,
    inv_n: f32,
}

const MAX_POINTS: u32 = 256u;

@group(0) @binding(0) var<storage, read> dists: array<f32>;
@group(0) @binding(1) var<storage, read_write> mix: array<f32>;
@group(0) @binding(2) var<storage, read_write> selection: array<f32>;
@group(1) @binding(0) var<uniform> p: Params;

var<workgroup> w: array<f32, MAX_POINTS>;
var<workgroup> a: array<f32, MAX_POINTS>;
var<workgroup> s: array<f32, MAX_POINTS>;

@compute @workgroup_size(256)
fn centered_clipping(@builtin(local_invocation_index) i: u32) {
    let n = p.n;
    let m = n + 1u;
    let is_point = i < m;
    let is_worker = i < n;
    if is_point {
        w[i] = select(0.0, 1.0, i == n);
    }
    var clip_sum = 0.0;
    workgroupBarrier();
    for (var t = 0u; t < p.iters; t++) {
        var ai = 0.0;
        if is_point {
            for (var k = 0u; k < m; k++) {
                let wk = w[k];
                if wk != 0.0 {
                    ai += wk * dists[i * m + k];
                }
            }
            a[i] = ai;
        }
        workgroupBarrier();
        var q = 0.0;
        for (var k = 0u; k < m; k++) {
            let wk = w[k];
            if wk != 0.0 {
                q += wk * a[k];
            }
        }
        var si = 0.0;
        if is_worker {
            let dist = sqrt(max(ai - 0.5 * q, 0.0));
            si = select(p.tau / dist, 1.0, dist <= p.tau);
            s[i] = si;
            clip_sum += si;
        }
        workgroupBarrier();
        var total = 0.0;
        for (var k = 0u; k < n; k++) {
            total += s[k];
        }
        let keep = 1.0 - total * p.inv_n;
        var next = 0.0;
        if is_point {
            next = keep * w[i] + select(0.0, si * p.inv_n, is_worker);
        }
        workgroupBarrier();
        if is_point {
            w[i] = next;
        }
        workgroupBarrier();
    }
    if is_worker {
        s[i] = clip_sum;
    }
    workgroupBarrier();
    var clip_total = 0.0;
    for (var k = 0u; k < n; k++) {
        clip_total += s[k];
    }
    if is_worker {
        selection[i] = clip_sum / clip_total;
    }
    if is_point {
        mix[i] = w[i];
    }
    if i == 0u {
        mix[m] = 1.0;
    }
}
