// out[j] = Σ_{k: w_k ≠ 0} w_k · x[k][j] over the m rows of x in k order with mul_add, twin of
// backend::row_space::weighted_rows (after row_space.wgsl). A row of weight 0, a non-finite
// one included, adds nothing. One thread per column.

struct Params {
    m: u32,
    d: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(1) @binding(0) var<uniform> p: Params;

@compute @workgroup_size(256)
fn weighted_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let j = (wid.x + wid.y * nwg.x) * LANES + lid;
    if j >= p.d {
        return;
    }
    var acc = 0.0;
    for (var k = 0u; k < p.m; k++) {
        let wk = w[k];
        if wk != 0.0 {
            acc = mul_add(acc, wk, x[k * p.d + j]);
        }
    }
    out[j] = acc;
}
