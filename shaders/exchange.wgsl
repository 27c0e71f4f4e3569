// Row moves of the boundary exchange between partition buffers: one thread per element of the
// `count` rows × `width` columns moved. No two threads write one element (scatter targets are
// distinct rows), so no atomics are needed and every sum has one fixed order: the dispatches'.
//
// gather_rows:      dst[(dst_row0 + k)·w + c]  = src[rows[k]·w + c]
// scatter_rows:     dst[rows[k]·w + c]         = src[(src_row0 + k)·w + c]
// scatter_add_rows: dst[rows[k]·w + c]        += src[(src_row0 + k)·w + c]
// add_rows:         dst[(dst_row0 + k)·w + c] += src[(src_row0 + k)·w + c]
// copy_cols:        dst[k·dst_width + dst_col0 + c] = src[k·src_width + src_col0 + c]
//                   (a block of `count` rows × `width` columns; the row moves leave the last
//                   four fields 0)

struct Params {
    count: u32,
    width: u32,
    src_row0: u32,
    dst_row0: u32,
    src_width: u32,
    dst_width: u32,
    src_col0: u32,
    dst_col0: u32,
}

const WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> rows: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(1) @binding(0) var<uniform> p: Params;

@compute @workgroup_size(256)
fn gather_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if i >= p.count * p.width {
        return;
    }
    let k = i / p.width;
    let c = i - k * p.width;
    dst[(p.dst_row0 + k) * p.width + c] = src[rows[k] * p.width + c];
}

@compute @workgroup_size(256)
fn scatter_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if i >= p.count * p.width {
        return;
    }
    let k = i / p.width;
    let c = i - k * p.width;
    dst[rows[k] * p.width + c] = src[(p.src_row0 + k) * p.width + c];
}

@compute @workgroup_size(256)
fn scatter_add_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if i >= p.count * p.width {
        return;
    }
    let k = i / p.width;
    let c = i - k * p.width;
    let d = rows[k] * p.width + c;
    dst[d] = dst[d] + src[(p.src_row0 + k) * p.width + c];
}

@compute @workgroup_size(256)
fn add_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if i >= p.count * p.width {
        return;
    }
    let d = p.dst_row0 * p.width + i;
    dst[d] = dst[d] + src[p.src_row0 * p.width + i];
}

@compute @workgroup_size(256)
fn copy_cols(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if i >= p.count * p.width {
        return;
    }
    let k = i / p.width;
    let c = i - k * p.width;
    dst[k * p.dst_width + p.dst_col0 + c] = src[k * p.src_width + p.src_col0 + c];
}
