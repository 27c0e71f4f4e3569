// out (rows × k) = A (CSR) · x (cols × k). Row-parallel with feature tiling: a workgroup of 256
// threads covers `rows_per_wg` rows × one tile of `tw` columns (tw ≤ 64, chosen by the host so
// small k packs several rows per workgroup and large k splits into column tiles). Each thread
// owns one output element and sums the row's entries in stored order: deterministic, no atomics.

struct Params {
    rows: u32,
    k: u32,
    tw: u32,          // threads (columns) per row in a workgroup
    rows_per_wg: u32,
    col_tiles: u32,   // ceil(k / tw)
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read> row_ptr: array<u32>;
@group(0) @binding(1) var<storage, read> col_idx: array<u32>;
@group(0) @binding(2) var<storage, read> values: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(1) @binding(0) var<uniform> p: Params;

@compute @workgroup_size(256)
fn spmm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let wg = wid.x + wid.y * nwg.x;
    let block = wg / p.col_tiles;
    let tile = wg - block * p.col_tiles;
    let lr = lid / p.tw;
    if lr >= p.rows_per_wg {
        return;
    }
    let r = block * p.rows_per_wg + lr;
    let c = tile * p.tw + (lid - lr * p.tw);
    if r >= p.rows || c >= p.k {
        return;
    }
    let end = row_ptr[r + 1u];
    var acc = 0.0;
    for (var e = row_ptr[r]; e < end; e++) {
        acc += values[e] * x[col_idx[e] * p.k + c];
    }
    out[r * p.k + c] = acc;
}
