// PowerSGD's orthogonalization (CPU twin: backend::cpu::compress::orthogonalize): modified
// Gram–Schmidt on the r columns of P (n × r, row-major), in place, PyTorch's order: normalize
// column i (a zero column stays zero), then project it out of every later column. One
// workgroup of 256 threads; every sum runs in the lane-then-tree order of
// compress::lane_tree_sum. The products around it (M·Q, Mᵀ·P, P·Qᵀ) are matmul.wgsl's.

struct Params {
    n: u32,
    r: u32,
    _pad0: u32,
    _pad1: u32,
}

const WG: u32 = 256u;

@group(0) @binding(0) var<storage, read_write> pm: array<f32>;
@group(1) @binding(0) var<uniform> p: Params;

var<workgroup> sh: array<f32, 256>;

// Σ over the rows of f(row) = P[row, a] · P[row, b], in lane_tree_sum's order; every thread
// gets the total.
fn column_dot(lid: u32, a: u32, b: u32) -> f32 {
    var acc = 0.0;
    for (var row = lid; row < p.n; row += WG) {
        acc += pm[row * p.r + a] * pm[row * p.r + b];
    }
    sh[lid] = acc;
    workgroupBarrier();
    for (var s = WG / 2u; s >= 1u; s = s / 2u) {
        if lid < s {
            sh[lid] += sh[lid + s];
        }
        workgroupBarrier();
    }
    let total = sh[0];
    workgroupBarrier();
    return total;
}

@compute @workgroup_size(256)
fn orthogonalize(@builtin(local_invocation_index) lid: u32) {
    let r = p.r;
    for (var i = 0u; i < r; i++) {
        let norm = sqrt(column_dot(lid, i, i));
        for (var row = lid; row < p.n; row += WG) {
            let at = row * r + i;
            pm[at] = select(0.0, pm[at] / norm, norm > 0.0);
        }
        storageBarrier();
        workgroupBarrier();
        for (var j = i + 1u; j < r; j++) {
            let d = column_dot(lid, i, j);
            for (var row = lid; row < p.n; row += WG) {
                pm[row * r + j] -= d * pm[row * r + i];
            }
            storageBarrier();
            workgroupBarrier();
        }
    }
}
