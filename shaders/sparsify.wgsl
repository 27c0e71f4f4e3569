// Top-k and rand-k per row (backend::compress::RowCodec; CPU twin in
// src/backend/cpu/compress.rs): keep the k columns of largest key, ties to the lower column,
// zero the rest. One workgroup of 256 threads per row.
//
// The threshold is found by radix select over the 32-bit keys, 8 bits per pass from the top:
// a histogram (u32 workgroup atomics: integer counts are exact in any order) of the digit among
// the keys that match the prefix so far, then one thread walks the bins from the top to the
// one that holds the k-th key. After four passes `thr` is the k-th largest key and `need` the
// number of keys equal to it that are kept. The selecting pass walks the row in chunks of 256
// columns in order; a workgroup prefix sum ranks the ties, so the `need` lowest columns among
// them are kept: exactly the CPU's set.
//
// mode 0 top-k: key = bits of |v| (compress::topk_key); mode 1 rand-k: key =
// hash32(mask_row_key(stream, row_ids[row]) ^ column) (compress::randk_key).

struct Params {
    rows: u32,
    cols: u32,
    k: u32,
    mode: u32,
    stream: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

const WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> row_ids: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(1) @binding(0) var<uniform> p: Params;

var<workgroup> hist: array<atomic<u32>, 256>;
var<workgroup> scan: array<u32, 256>;
// (prefix, mask, need) after each pass.
var<workgroup> sel: array<u32, 3>;

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

fn key(base: u32, row_key: u32, i: u32) -> u32 {
    if p.mode == 0u {
        return bitcast<u32>(x[base + i]) & 0x7fffffffu;
    }
    return hash32(row_key ^ i);
}

@compute @workgroup_size(256)
fn select_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let row = wid.x + wid.y * nwg.x;
    // Surplus workgroups of a 2-D grid: uniform per workgroup, so the barriers below are safe.
    if row >= p.rows {
        return;
    }
    let n = p.cols;
    let base = row * n;
    let row_key = hash32(p.stream ^ (row_ids[row] * 0x27d4eb2fu));
    if lid == 0u {
        sel[0] = 0u;
        sel[1] = 0u;
        sel[2] = p.k;
    }
    for (var digit = 0u; digit < 4u; digit++) {
        let shift = 24u - 8u * digit;
        atomicStore(&hist[lid], 0u);
        workgroupBarrier();
        let prefix = sel[0];
        let mask = sel[1];
        for (var i = lid; i < n; i += WG) {
            let kv = key(base, row_key, i);
            if (kv & mask) == prefix {
                atomicAdd(&hist[(kv >> shift) & 255u], 1u);
            }
        }
        workgroupBarrier();
        if lid == 0u {
            // Walk the bins from the top; the k-th key is in the first bin where the count of
            // keys at or above it reaches `need`.
            var need = sel[2];
            var b = 255u;
            loop {
                let h = atomicLoad(&hist[b]);
                if h >= need || b == 0u {
                    break;
                }
                need -= h;
                b -= 1u;
            }
            sel[0] = prefix | (b << shift);
            sel[1] = mask | (255u << shift);
            sel[2] = need;
        }
        workgroupBarrier();
    }
    let thr = sel[0];
    let need = sel[2];
    var taken = 0u;
    for (var c0 = 0u; c0 < n; c0 += WG) {
        let i = c0 + lid;
        var kv = 0u;
        var tie = 0u;
        if i < n {
            kv = key(base, row_key, i);
            tie = select(0u, 1u, kv == thr);
        }
        // Inclusive prefix sum of the tie flags over the chunk (Hillis–Steele).
        scan[lid] = tie;
        workgroupBarrier();
        for (var s = 1u; s < WG; s = s * 2u) {
            var add = 0u;
            if lid >= s {
                add = scan[lid - s];
            }
            workgroupBarrier();
            scan[lid] += add;
            workgroupBarrier();
        }
        if i < n {
            let rank = taken + scan[lid] - tie;
            let keep = kv > thr || (tie == 1u && rank < need);
            out[base + i] = select(0.0, x[base + i], keep);
        }
        taken += scan[WG - 1u];
        workgroupBarrier();
    }
}
