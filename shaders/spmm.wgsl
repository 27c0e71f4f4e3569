// out (rows × k) = A (CSR) · x (cols × k). Row-parallel with feature tiling: a workgroup of 256
// threads covers `rows_per_wg` rows × one tile of `tw` columns (tw ≤ 64, chosen by the host so
// small k packs several rows per workgroup and large k splits into column tiles). Each thread
// owns one output element and sums the row's entries in stored order: deterministic, no atomics.
// Rows longer than max_row entries (hub rows of power-law graphs, common features of Xᵀ) would
// hold up their workgroup; spmm skips them, spmm_segments sums each of their segments of
// ≤ max_row entries (one thread per segment × column) and spmm_combine adds a row's segment
// sums in segment order. The plan (row ids, first segment of each row, segment ranges) is
// built on the host at upload.

struct Params {
    rows: u32,
    k: u32,
    tw: u32,          // threads (columns) per row in a workgroup
    rows_per_wg: u32,
    col_tiles: u32,   // ceil(k / tw)
    max_row: u32,     // longer rows are summed by segments
    long_rows: u32,   // L: rows in the plan
    segments: u32,    // S: segments in the plan
}

@group(0) @binding(0) var<storage, read> row_ptr: array<u32>;
@group(0) @binding(1) var<storage, read> col_idx: array<u32>;
@group(0) @binding(2) var<storage, read> values: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
// plan = [row ids (L) | first segment of each row (L + 1) | (start, end) of each segment (2·S)].
@group(0) @binding(5) var<storage, read> plan: array<u32>;
// part[s · k + c]: segment s's sum for column c.
@group(0) @binding(6) var<storage, read_write> part: array<f32>;
@group(1) @binding(0) var<uniform> p: Params;

const WG: u32 = 256u;

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
    let begin = row_ptr[r];
    let end = row_ptr[r + 1u];
    if end - begin > p.max_row {
        return;
    }
    var acc = 0.0;
    for (var e = begin; e < end; e++) {
        acc += values[e] * x[col_idx[e] * p.k + c];
    }
    out[r * p.k + c] = acc;
}

@compute @workgroup_size(256)
fn spmm_segments(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if i >= p.segments * p.k {
        return;
    }
    let s = i / p.k;
    let c = i - s * p.k;
    let at = 2u * p.long_rows + 1u + 2u * s;
    let end = plan[at + 1u];
    var acc = 0.0;
    for (var e = plan[at]; e < end; e++) {
        acc += values[e] * x[col_idx[e] * p.k + c];
    }
    part[i] = acc;
}

@compute @workgroup_size(256)
fn spmm_combine(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if i >= p.long_rows * p.k {
        return;
    }
    let l = i / p.k;
    let c = i - l * p.k;
    let first = plan[p.long_rows + l];
    let last = plan[p.long_rows + l + 1u];
    var acc = part[first * p.k + c];
    for (var s = first + 1u; s < last; s++) {
        acc += part[s * p.k + c];
    }
    out[plan[l] * p.k + c] = acc;
}
