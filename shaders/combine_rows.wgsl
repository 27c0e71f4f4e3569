// out[r][j] = scale_r · Σ_{i: w_ri ≠ 0} w_ri · g[i][j], rows i in order, twin of
// backend::cpu::robust::combine_rows. Weights (rows × n at w_off) and scales (rows at s_off)
// come from a kernel's mix buffer or, for bucketing, the parameter arena. With 0/1 weights
// the products are exact (an FMA changes nothing), so Krum, NNM and bucketing are bit-equal to
// the CPU; zero weights are skipped, so a non-finite row of weight 0 adds nothing (no 0·∞).
// One thread per output element.

struct Params {
    n: u32,
    d: u32,
    rows: u32,
    w_off: u32,
    s_off: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

const WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read> weights: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(1) @binding(0) var<uniform> p: Params;

@compute @workgroup_size(256)
fn combine_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let idx = (wid.x + wid.y * nwg.x) * WG + lid;
    if idx >= p.rows * p.d {
        return;
    }
    let r = idx / p.d;
    let j = idx - r * p.d;
    // The first term is w·x, not 0 + w·x (see trimmed_mean.wgsl).
    var acc = 0.0;
    var first = true;
    for (var i = 0u; i < p.n; i++) {
        let w = weights[p.w_off + r * p.n + i];
        if w != 0.0 {
            let t = w * g[i * p.d + j];
            acc = select(acc + t, t, first);
            first = false;
        }
    }
    out[idx] = acc * weights[p.s_off + r];
}
