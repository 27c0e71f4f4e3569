// Distances from z to rows, twin of backend::row_space::row_distances (after row_space.wgsl).
// Workgroup r computes out[r] = ‖z − x_r‖ for r < rows; with extra = 2 also out[rows] =
// ‖z − prev‖ and out[rows + 1] = ‖z‖. Lane l takes the elements j ≡ l (mod 256) in order, then
// a halving tree combines the lanes: first the largest |difference| (an integer max of the
// bits; a non-finite one makes the distance +∞), then the sum of squares of the differences
// scaled down by its exponent. A workgroup per distance keeps each invocation's loops at
// 2·d/256 iterations (llvmpipe stops running loops past ~65,535 per invocation).

struct Params {
    rows: u32,
    d: u32,
    extra: u32,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> prev: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(1) @binding(0) var<uniform> p: Params;

var<workgroup> lane_max: array<u32, LANES>;
var<workgroup> lane_sum: array<f32, LANES>;

fn other(r: u32, j: u32) -> f32 {
    if r < p.rows {
        return x[r * p.d + j];
    }
    if r == p.rows {
        return prev[j];
    }
    return 0.0;
}

@compute @workgroup_size(256)
fn row_distances(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) l: u32) {
    // Uniform in the workgroup: the whole group returns or none of it.
    let r = wid.x + wid.y * nwg.x;
    if r >= p.rows + p.extra {
        return;
    }
    var m = 0u;
    for (var j = l; j < p.d; j += LANES) {
        m = max(m, bitcast<u32>(diff(z[j], other(r, j))) & 0x7fffffffu);
    }
    lane_max[l] = m;
    workgroupBarrier();
    for (var stride = LANES / 2u; stride > 0u; stride >>= 1u) {
        if l < stride {
            lane_max[l] = max(lane_max[l], lane_max[l + stride]);
        }
        workgroupBarrier();
    }
    let top_bits = lane_max[0];
    let top = top_bits >> 23u;
    var acc = 0.0;
    for (var j = l; j < p.d; j += LANES) {
        let t = scale_down(diff(z[j], other(r, j)), top);
        acc = mul_add(acc, t, t);
    }
    lane_sum[l] = acc;
    workgroupBarrier();
    for (var stride = LANES / 2u; stride > 0u; stride >>= 1u) {
        if l < stride {
            lane_sum[l] = add(lane_sum[l], lane_sum[l + stride]);
        }
        workgroupBarrier();
    }
    if l == 0u {
        var dist = sqrt(lane_sum[0]) * bitcast<f32>(top << 23u);
        if top_bits == 0u {
            dist = 0.0;
        }
        if top_bits >= 0x7f800000u {
            dist = bitcast<f32>(0x7f800000u);
        }
        out[r] = dist;
    }
}
