// Dropout with the counter-based mask of src/rng.rs (bit-identical: u32 arithmetic only, the
// 24-bit uniform is exact in f32): keep element (node, column) iff mask_uniform >= rate, then
// out = x * scale, else 0.
// dropout: dense, row r is node node_ids[r]; a matrix larger than one binding is bound in row
// ranges, one dispatch each, row0 telling the range's first row. dropout_sparse: one thread per stored entry, the
// entry's row found by binary search in row_ptr; node_cols selects the layout.
// edge_dropout: attention dropout on an nnz × heads per-edge matrix (cols = heads), one thread
// per element; its draw is rng::edge_mask_key of (stream, node_ids[row], col_ids[column]), then
// the head as the column of mask_uniform_in_row.

struct Params {
    n: u32,        // elements (dense) or stored entries (sparse)
    cols: u32,     // dense columns
    rows: u32,     // sparse rows
    stream: u32,
    rate: f32,
    scale: f32,
    node_cols: u32, // 0 = NodeRows, 1 = NodeCols
    first_boundary: u32, // sample_boundary: local nodes below it are owned, copied as they are
    row0: u32,     // dense: the first row of this dispatch (x and out are bound from that row)
}

const WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> node_ids: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read> row_ptr: array<u32>;
@group(0) @binding(4) var<storage, read> col_idx: array<u32>;
@group(0) @binding(5) var<storage, read> col_ids: array<u32>; // edge_dropout: global source ids
@group(1) @binding(0) var<uniform> p: Params;

// rng::hash32 (lowbias32).
fn hash32(v: u32) -> u32 {
    var h = v;
    h ^= h >> 16u;
    h *= 0x7feb352du;
    h ^= h >> 15u;
    h *= 0x846ca68bu;
    h ^= h >> 16u;
    return h;
}

// rng::mask_uniform.
fn mask_uniform(stream: u32, node: u32, column: u32) -> f32 {
    let h = hash32(hash32(stream ^ (node * 0x27d4eb2fu)) ^ column);
    return f32(h >> 8u) * (1.0 / 16777216.0);
}

fn apply(v: f32, node: u32, column: u32) -> f32 {
    return select(0.0, v * p.scale, mask_uniform(p.stream, node, column) >= p.rate);
}

@compute @workgroup_size(256)
fn dropout(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if i >= p.n {
        return;
    }
    let r = i / p.cols;
    let c = i - r * p.cols;
    out[i] = apply(x[i], node_ids[p.row0 + r], c);
}

// Largest r with row_ptr[r] <= e; row_ptr[rows] = n > e, so empty rows are skipped.
fn row_of(e: u32) -> u32 {
    var lo = 0u;
    var hi = p.rows;
    while hi - lo > 1u {
        let mid = (lo + hi) / 2u;
        if row_ptr[mid] <= e {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

// Boundary sampling (BNS-GCN) of a local Â (node_cols = 1: the column is the local node) or
// Âᵀ (node_cols = 0: the row): owned entries are copied, a boundary entry is kept and scaled
// iff its node's draw (column 0 of the stream) is >= rate.
@compute @workgroup_size(256)
fn sample_boundary(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let e = (wid.x + wid.y * nwg.x) * WG + lid;
    if e >= p.n {
        return;
    }
    var local = row_of(e);
    if p.node_cols == 1u {
        local = col_idx[e];
    }
    if local < p.first_boundary {
        out[e] = x[e];
    } else {
        out[e] = apply(x[e], node_ids[local], 0u);
    }
}

@compute @workgroup_size(256)
fn dropout_sparse(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let e = (wid.x + wid.y * nwg.x) * WG + lid;
    if e >= p.n {
        return;
    }
    let lo = row_of(e);
    let c = col_idx[e];
    var node = node_ids[lo];
    var column = c;
    if p.node_cols == 1u {
        node = node_ids[c];
        column = lo;
    }
    out[e] = apply(x[e], node, column);
}

@compute @workgroup_size(256)
fn edge_dropout(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if i >= p.n {
        return;
    }
    let e = i / p.cols;
    let h = i - e * p.cols;
    // rng::edge_mask_key(stream, dst, src), then rng::mask_uniform_in_row(key, h).
    let key = hash32(hash32(p.stream ^ (node_ids[row_of(e)] * 0x27d4eb2fu)) ^ col_ids[col_idx[e]]);
    let u = f32(hash32(key ^ h) >> 8u) * (1.0 / 16777216.0);
    out[i] = select(0.0, x[i] * p.scale, u >= p.rate);
}
