// Sums over the entries of a CSR `a` (rows i: destinations, columns j: sources) for graph
// attention. Per-edge matrices have one row of H heads per entry, in CSR order. An entry whose
// value is 0 is absent (a sampled-out edge): skipped, and its d_alpha is 0.
//
// edge_row_sum:                  out[i, h] = Σ_{present e in row i} x[perm(e), h]  (thread per (i, h))
//                                with perm(e) = perm[e] if has_perm, else e
// attention_spmm_backward_alpha: out[e, h] = Σ_c d_out[i, h·C + c] · x[j, h·C + c]   (thread per (e, h))
//                                for each present entry e = (i, j); i is found by binary search
//                                in row_ptr (no per-entry row array is stored)
//
// Every sum runs in ascending order (entries, then c) in one thread: deterministic, no atomics.

struct Params {
    rows: u32,
    heads: u32,
    c: u32,
    nnz: u32,
    has_perm: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

const WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> row_ptr: array<u32>;
@group(0) @binding(1) var<storage, read> col_idx: array<u32>;
@group(0) @binding(2) var<storage, read> values: array<f32>;
@group(0) @binding(3) var<storage, read> perm: array<u32>;
@group(0) @binding(4) var<storage, read> x: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<storage, read> d_out: array<f32>;
@group(1) @binding(0) var<uniform> p: Params;

@compute @workgroup_size(256)
fn edge_row_sum(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let t = (wid.x + wid.y * nwg.x) * WG + lid;
    if t >= p.rows * p.heads {
        return;
    }
    let i = t / p.heads;
    let h = t - i * p.heads;
    let end = row_ptr[i + 1u];
    var acc = 0.0;
    for (var e = row_ptr[i]; e < end; e++) {
        if values[e] != 0.0 {
            let src = select(e, perm[e], p.has_perm != 0u);
            acc += x[src * p.heads + h];
        }
    }
    out[t] = acc;
}

/// The row of entry e: the last i with row_ptr[i] ≤ e (rows without entries share their
/// row_ptr with the next row, so the last one is the row that holds e).
fn row_of(e: u32) -> u32 {
    var lo = 0u;
    var hi = p.rows;
    while lo < hi {
        let mid = (lo + hi + 1u) / 2u;
        if row_ptr[mid] <= e {
            lo = mid;
        } else {
            hi = mid - 1u;
        }
    }
    return lo;
}

@compute @workgroup_size(256)
fn attention_spmm_backward_alpha(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let t = (wid.x + wid.y * nwg.x) * WG + lid;
    if t >= p.nnz * p.heads {
        return;
    }
    let e = t / p.heads;
    let h = t - e * p.heads;
    if values[e] == 0.0 {
        out[t] = 0.0;
        return;
    }
    let w = p.heads * p.c;
    let gi = row_of(e) * w + h * p.c;
    let xj = col_idx[e] * w + h * p.c;
    var acc = 0.0;
    for (var k = 0u; k < p.c; k++) {
        acc += d_out[gi + k] * x[xj + k];
    }
    out[t] = acc;
}
