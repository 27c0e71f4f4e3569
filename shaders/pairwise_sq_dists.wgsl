// Squared distances between the m rows of a matrix from its Gram matrix G = X Xᵀ (computed by
// matmul beforehand), twin of backend::cpu::robust::pairwise_sq_dists_from_gram:
// D_ij = (G_ii + G_jj) − (G_ij + G_ij) read from the upper triangle (D exactly symmetric), no
// multiply (nothing to contract into an FMA), D_ii = 0. Negative results (rounding) become 0;
// NaN (∞ − ∞ from a non-finite row) becomes +∞, so such a row is infinitely far from the others.

struct Params {
    m: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

const WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> gram: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(1) @binding(0) var<uniform> p: Params;

fn clamp_sq_dist(v: f32) -> f32 {
    let b = bitcast<u32>(v);
    if (b & 0x7fffffffu) > 0x7f800000u {
        return bitcast<f32>(0x7f800000u);
    }
    if (b & 0x80000000u) != 0u {
        return 0.0;
    }
    return v;
}

@compute @workgroup_size(256)
fn pairwise_sq_dists(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let idx = (wid.x + wid.y * nwg.x) * WG + lid;
    if idx >= p.m * p.m {
        return;
    }
    let i = idx / p.m;
    let j = idx - i * p.m;
    if i == j {
        out[idx] = 0.0;
        return;
    }
    let a = min(i, j);
    let b = max(i, j);
    let x = gram[a * p.m + b];
    out[idx] = clamp_sq_dist((gram[a * p.m + a] + gram[b * p.m + b]) - (x + x));
}
