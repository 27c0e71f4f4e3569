// Quantize-dequantize (backend::compress::RowCodec; CPU twins in src/backend/cpu/compress.rs):
// out = decode(encode(v)), what the receiver of the packed codes reconstructs.
//
// fp16_round: one thread per element, u32 bit arithmetic only (compress::f32_to_f16_bits).
// quantize_rows: one workgroup of 256 threads per row. A statistics pass (min/max, or sums in
//   the lane-then-tree order of compress::lane_tree_sum), then each thread encodes and decodes
//   its columns. mode 1 uniform (AdaQP: per-row zero point and scale, stochastic rounding),
//   2 one-bit (mean of the non-negative and of the negative values), 3 QSGD (norm, levels,
//   stochastic rounding), 4 sign (mean |v|). The stochastic-rounding draw is rng::mask_uniform
//   of (stream, row_ids[row], column).
// ef_add: v = x + e; ef_residual: e = v − out (error feedback), one thread per element.
//
// Bindings: x @0 (the input, or v), row_ids @1, out @2, e @3 (ef_residual: the residual;
// ef_add writes v through out @2 from x @0 and e @3 read-write).

struct Params {
    n: u32,        // elements (element-wise entries) or rows (quantize_rows)
    cols: u32,
    mode: u32,
    levels: u32,   // uniform: 2^bits − 1; qsgd: S
    stream: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

const WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> row_ids: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> e: array<f32>;
@group(1) @binding(0) var<uniform> p: Params;

var<workgroup> sh_a: array<f32, 256>;
var<workgroup> sh_b: array<f32, 256>;
var<workgroup> sh_c: array<f32, 256>;

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

// rng::mask_uniform: 24 bits, exact in f32.
fn mask_uniform(stream: u32, node: u32, column: u32) -> f32 {
    let h = hash32(hash32(stream ^ (node * 0x27d4eb2fu)) ^ column);
    return f32(h >> 8u) * (1.0 / 16777216.0);
}

// compress::f32_to_f16_bits.
fn f32_to_f16_bits(v: f32) -> u32 {
    let b = bitcast<u32>(v);
    let sign = (b >> 16u) & 0x8000u;
    let a = b & 0x7fffffffu;
    if a >= 0x7f800000u {
        return sign | 0x7c00u | select(0u, 0x200u, a > 0x7f800000u);
    }
    if a >= 0x477ff000u {
        return sign | 0x7c00u;
    }
    if a >= 0x38800000u {
        let m = a + 0xfffu + ((a >> 13u) & 1u);
        return sign | ((m >> 13u) - (112u << 10u));
    }
    if a < 0x33000000u {
        return sign;
    }
    let ex = a >> 23u;
    let mant = (a & 0x007fffffu) | 0x00800000u;
    let s = 126u - ex;
    var q = mant >> s;
    let rem = mant & ((1u << s) - 1u);
    let half = 1u << (s - 1u);
    if rem > half || (rem == half && (q & 1u) == 1u) {
        q += 1u;
    }
    return sign | q;
}

// compress::f16_bits_to_f32.
fn f16_bits_to_f32(h: u32) -> f32 {
    let sign = (h & 0x8000u) << 16u;
    let ex = (h >> 10u) & 0x1fu;
    let m = h & 0x3ffu;
    if ex == 0u {
        return bitcast<f32>(bitcast<u32>(f32(m) * (1.0 / 16777216.0)) | sign);
    }
    if ex == 31u {
        return bitcast<f32>(sign | 0x7f800000u | (m << 13u));
    }
    return bitcast<f32>(sign | ((ex + 112u) << 23u) | (m << 13u));
}

fn element(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.x + wid.y * nwg.x) * WG + lid;
}

@compute @workgroup_size(256)
fn fp16_round(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = element(wid, nwg, lid);
    if i >= p.n {
        return;
    }
    out[i] = f16_bits_to_f32(f32_to_f16_bits(x[i]));
}

@compute @workgroup_size(256)
fn ef_add(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = element(wid, nwg, lid);
    if i >= p.n {
        return;
    }
    out[i] = x[i] + e[i];
}

@compute @workgroup_size(256)
fn ef_residual(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = element(wid, nwg, lid);
    if i >= p.n {
        return;
    }
    e[i] = x[i] - out[i];
}

// The tree half of compress::lane_tree_sum over sh_a, sh_b and sh_c at once (each lane has
// stored its partial sums); the totals end in element 0.
fn tree3(lid: u32) {
    workgroupBarrier();
    for (var s = WG / 2u; s >= 1u; s = s / 2u) {
        if lid < s {
            sh_a[lid] += sh_a[lid + s];
            sh_b[lid] += sh_b[lid + s];
            sh_c[lid] += sh_c[lid + s];
        }
        workgroupBarrier();
    }
}

@compute @workgroup_size(256)
fn quantize_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let row = wid.x + wid.y * nwg.x;
    // Surplus workgroups of a 2-D grid: uniform per workgroup, so the barriers below are safe.
    if row >= p.n {
        return;
    }
    let base = row * p.cols;
    let n = p.cols;
    // Statistics: uniform (min, max, −), one-bit (Σ v≥0, count v≥0, Σ v<0), qsgd (Σ v², −, −),
    // sign (Σ |v|, −, −). Min and max are exact in any order; the sums follow lane_tree_sum.
    var a = 0.0;
    var b = 0.0;
    var c = 0.0;
    if p.mode == 1u {
        a = bitcast<f32>(0x7f800000u);
        b = -a;
    }
    for (var i = lid; i < n; i += WG) {
        let v = x[base + i];
        switch p.mode {
            case 1u: {
                a = min(a, v);
                b = max(b, v);
            }
            case 2u: {
                if v >= 0.0 {
                    a += v;
                    b += 1.0;
                } else {
                    c += v;
                }
            }
            case 3u: {
                a += v * v;
            }
            default: {
                a += abs(v);
            }
        }
    }
    sh_a[lid] = a;
    sh_b[lid] = b;
    sh_c[lid] = c;
    if p.mode == 1u {
        workgroupBarrier();
        for (var s = WG / 2u; s >= 1u; s = s / 2u) {
            if lid < s {
                sh_a[lid] = min(sh_a[lid], sh_a[lid + s]);
                sh_b[lid] = max(sh_b[lid], sh_b[lid + s]);
            }
            workgroupBarrier();
        }
    } else {
        tree3(lid);
    }
    let s0 = sh_a[0];
    let s1 = sh_b[0];
    let s2 = sh_c[0];
    let id = row_ids[row];
    let top = f32(p.levels);
    switch p.mode {
        case 1u: {
            let lo = s0;
            let scale = (s1 - lo) / top;
            for (var i = lid; i < n; i += WG) {
                var d = lo;
                if scale > 0.0 {
                    let q = min(floor((x[base + i] - lo) / scale + mask_uniform(p.stream, id, i)), top);
                    d = lo + q * scale;
                }
                out[base + i] = d;
            }
        }
        case 2u: {
            let neg_cnt = f32(n) - s1;
            let pos = select(0.0, s0 / s1, s1 > 0.0);
            let neg = select(0.0, s2 / neg_cnt, neg_cnt > 0.0);
            for (var i = lid; i < n; i += WG) {
                out[base + i] = select(neg, pos, x[base + i] >= 0.0);
            }
        }
        case 3u: {
            let norm = sqrt(s0);
            let unit = norm / top;
            for (var i = lid; i < n; i += WG) {
                let v = x[base + i];
                var d = 0.0;
                if norm > 0.0 {
                    let l = min(floor(abs(v) / norm * top + mask_uniform(p.stream, id, i)), top);
                    d = select(l * unit, -(l * unit), v < 0.0);
                }
                out[base + i] = d;
            }
        }
        default: {
            let scale = s0 / f32(n);
            for (var i = lid; i < n; i += WG) {
                out[base + i] = select(-scale, scale, x[base + i] >= 0.0);
            }
        }
    }
}
