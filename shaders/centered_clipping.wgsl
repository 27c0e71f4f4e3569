// One round of centered clipping on the weights over the n rows and the centre (point n), from
// the distances to v (row_distances), twin of backend::cpu::robust::clip_round and
// clip_selection (after row_space.wgsl). One workgroup, thread i = point i (n + 1 ≤ 129).
// s_i = min(1, τ/d_i) (0 for an infinitely far row); w ← (1 − Σs/n) w + s/n, round 0 from
// w = e_n; clip[i] sums s_i over the rounds, and the selection is each row's share of them.

struct Params {
    n: u32,
    step: u32,
    tau: f32,
    _pad: u32,
}

const MAX_POINTS: u32 = 256u;

@group(0) @binding(0) var<storage, read> dists: array<f32>;
@group(0) @binding(1) var<storage, read_write> mix: array<f32>;
@group(0) @binding(2) var<storage, read_write> selection: array<f32>;
@group(0) @binding(3) var<storage, read_write> clip: array<f32>;
@group(1) @binding(0) var<uniform> p: Params;

var<workgroup> s: array<f32, MAX_POINTS>;
var<workgroup> c: array<f32, MAX_POINTS>;

fn clip_factor(d: f32, tau: f32) -> f32 {
    if d <= tau {
        return 1.0;
    }
    return ftz(tau / d);
}

@compute @workgroup_size(256)
fn centered_clipping(@builtin(local_invocation_index) i: u32) {
    let n = p.n;
    let nf = f32(n);
    let first = p.step == 0u;
    var si = 0.0;
    if i < n {
        si = clip_factor(dists[i], p.tau);
        s[i] = si;
    }
    workgroupBarrier();
    var total = 0.0;
    for (var k = 0u; k < n; k++) {
        total = add(total, s[k]);
    }
    let keep = ftz(1.0 - ftz(total / nf));
    if i <= n {
        let wi = select(mix[i], select(0.0, 1.0, i == n), first);
        let base = select(0.0, ftz(si / nf), i < n);
        mix[i] = mul_add(base, keep, wi);
    }
    var ci = 0.0;
    if i < n {
        ci = add(select(clip[i], 0.0, first), si);
        clip[i] = ci;
        c[i] = ci;
    }
    workgroupBarrier();
    var clip_total = 0.0;
    for (var k = 0u; k < n; k++) {
        clip_total = add(clip_total, c[k]);
    }
    if i < n {
        selection[i] = select(ftz(ci / clip_total), 0.0, clip_total == 0.0);
    }
}
