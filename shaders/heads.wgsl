// Per-head scores of GAT (aᵀz for each of H heads of C columns) and their backward. x is
// rows × W with W = H·C, att H × C, s (out of head_dot, ds of the backward) rows × H.
//
// head_dot:                    s[r, h] = Σ_c x[r, h·C + c] · att[h, c]            (thread per (r, h))
// head_dot_backward_dx:        dx[r, j] += ds[r, j / C] · att[j]                    (thread per (r, j))
// head_dot_backward_partials:  part[b, j] = Σ_{r in block b} ds[r, j / C] · x[r, j]  (thread per (b, j))
// head_dot_backward_att:       d_att[j] = Σ_b part[b, j]                            (thread per j)
//
// d_att sums over every row: in blocks of `block_rows` rows, then over the blocks, each in
// ascending order: deterministic without atomics, and many threads on a tall x.

struct Params {
    rows: u32,
    heads: u32,
    c: u32,
    blocks: u32,
    block_rows: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

const WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> att: array<f32>;
@group(0) @binding(2) var<storage, read_write> s: array<f32>;
@group(0) @binding(3) var<storage, read> ds: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@group(0) @binding(5) var<storage, read_write> part: array<f32>;
@group(0) @binding(6) var<storage, read_write> d_att: array<f32>;
@group(1) @binding(0) var<uniform> p: Params;

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.x + wid.y * nwg.x) * WG + lid;
}

@compute @workgroup_size(256)
fn head_dot(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    if i >= p.rows * p.heads {
        return;
    }
    let r = i / p.heads;
    let h = i - r * p.heads;
    let xr = r * p.heads * p.c + h * p.c;
    let ar = h * p.c;
    var acc = 0.0;
    for (var k = 0u; k < p.c; k++) {
        acc += x[xr + k] * att[ar + k];
    }
    s[i] = acc;
}

@compute @workgroup_size(256)
fn head_dot_backward_dx(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    let w = p.heads * p.c;
    if i >= p.rows * w {
        return;
    }
    let r = i / w;
    let j = i - r * w;
    dx[i] = dx[i] + ds[r * p.heads + j / p.c] * att[j];
}

@compute @workgroup_size(256)
fn head_dot_backward_partials(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    let w = p.heads * p.c;
    if i >= p.blocks * w {
        return;
    }
    let b = i / w;
    let j = i - b * w;
    let h = j / p.c;
    let end = min((b + 1u) * p.block_rows, p.rows);
    var acc = 0.0;
    for (var r = b * p.block_rows; r < end; r++) {
        acc += ds[r * p.heads + h] * x[r * w + j];
    }
    part[i] = acc;
}

@compute @workgroup_size(256)
fn head_dot_backward_att(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let j = index(wid, nwg, lid);
    let w = p.heads * p.c;
    if j >= w {
        return;
    }
    var acc = 0.0;
    for (var b = 0u; b < p.blocks; b++) {
        acc += part[b * w + j];
    }
    d_att[j] = acc;
}
