// Deterministic sums over nodes / elements: each workgroup of 256 threads reduces a block of
// 1024 items (4 per thread, strided, in fixed order) and then a shared-memory tree, writing
// `width` sums per workgroup to dst[dst_offset + g * width ..]. The host repeats with mode 2
// over the per-workgroup partials until one workgroup remains, which writes into the stats
// slot. The shape depends only on n: no atomics, same result every run.
//
// mode 0: softmax_xent rows — items are rows; src = rowstats (loss, correct), codes = split;
//         sums (Σ loss, Σ correct, count) per split code 1..3 → width 9.
// mode 1: sum of squares of src → width 1.
// mode 2: partial vectors of `width` in src → element-wise sums.

struct Params {
    n: u32,
    mode: u32,
    width: u32,
    dst_offset: u32,
}

const WG: u32 = 256u;
const ITEMS: u32 = 4u;
const MAX_WIDTH: u32 = 9u;

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> codes: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(1) @binding(0) var<uniform> p: Params;

var<workgroup> sh: array<f32, 2304>; // MAX_WIDTH * WG

@compute @workgroup_size(256)
fn reduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    // Surplus workgroups of a 2-D grid (uniform per workgroup); group 0 always writes, so n = 0
    // still overwrites the slot with zeros.
    if g > 0u && g * (WG * ITEMS) >= p.n {
        return;
    }
    var acc: array<f32, 9>;
    for (var w = 0u; w < MAX_WIDTH; w++) {
        acc[w] = 0.0;
    }
    for (var j = 0u; j < ITEMS; j++) {
        let i = g * (WG * ITEMS) + j * WG + lid;
        if i < p.n {
            if p.mode == 0u {
                let code = codes[i];
                if code >= 1u && code <= 3u {
                    let b = (code - 1u) * 3u;
                    acc[b] += src[2u * i];
                    acc[b + 1u] += src[2u * i + 1u];
                    acc[b + 2u] += 1.0;
                }
            } else if p.mode == 1u {
                let v = src[i];
                acc[0] += v * v;
            } else {
                for (var w = 0u; w < p.width; w++) {
                    acc[w] += src[i * p.width + w];
                }
            }
        }
    }
    for (var w = 0u; w < p.width; w++) {
        sh[w * WG + lid] = acc[w];
    }
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if lid < s {
            for (var w = 0u; w < p.width; w++) {
                sh[w * WG + lid] += sh[w * WG + lid + s];
            }
        }
        workgroupBarrier();
    }
    if lid == 0u {
        for (var w = 0u; w < p.width; w++) {
            dst[p.dst_offset + g * p.width + w] = sh[w * WG];
        }
    }
}
