// out (m × n) = op(A) (m × kd) · op(B) (kd × n), op = transpose when ta / tb is 1.
// A is stored m × kd (lda = kd) or, transposed, kd × m (lda = m); likewise B.
//
// matmul: a workgroup of 16 × 16 threads computes a (16·R) × 16 output tile, R rows per thread
// (R = 4 reuses each B value 4 times; R = 1 for m ≤ 16 avoids computing padding rows), stepping
// through k in tiles of 16 staged in workgroup memory. R is a pipeline override constant.
// Tiles are loaded so that consecutive threads read consecutive addresses in every form.
// Split-K (matmul_split): workgroup (tile, s) covers k in [s·chunk, (s+1)·chunk) and writes
// its partial tile to part[s]; matmul_sum_splits then adds the partials in s order. Used
// when there are few output tiles and a long k (the Xᵀ·G weight gradient), so that the long k
// runs in parallel. Every shape is fixed by (m, n, kd): deterministic, no atomics.
// Within a chunk each k tile is summed first and then added (a two-level sum: rounding grows
// with kd/16 + 16 rather than kd).
// An A larger than one storage binding is bound in row ranges, one dispatch each: rows of out
// for matmul (A and out bound from the same row), k chunks for matmul_split (A and B bound from
// the same k, split_base placing the partials), then one matmul_sum_splits over all of them.
// Chunk boundaries are those of the unsplit product, so the bits are the same.

struct Params {
    m: u32,
    n: u32,
    kd: u32,
    lda: u32,
    ldb: u32,
    ta: u32,
    tb: u32,
    tiles_n: u32,   // ceil(n / 16)
    tiles: u32,     // tiles_n * ceil(m / (16 R))
    splits: u32,    // k chunks (matmul: 1)
    chunk: u32,     // k per chunk, a multiple of 16 (matmul: ≥ kd)
    split_base: u32, // matmul_split: index in `part` of this dispatch's first chunk
}

// Rows per thread: 1 or 4 (set per pipeline).
override R: u32 = 4u;
const BN: u32 = 16u;
const BK: u32 = 16u;
const WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
// Split-K partials: written by matmul_split, read by matmul_sum_splits.
@group(0) @binding(3) var<storage, read_write> part: array<f32>;
@group(1) @binding(0) var<uniform> p: Params;

// as_[i][q] = op(A)[row0 + i][k0 + q]; bs[q][j] = op(B)[k0 + q][col0 + j]. +1 column against
// bank conflicts on the transposed stores.
var<workgroup> as_: array<array<f32, 17>, 64>;
var<workgroup> bs: array<array<f32, 17>, 16>;

// The R accumulators (of 4) of thread (tx, ty) for output tile `tile`, k chunk `s`.
fn tile_product(s: u32, tile: u32, tx: u32, ty: u32) -> array<f32, 4> {
    let row0 = (tile / p.tiles_n) * (16u * R);
    let col0 = (tile % p.tiles_n) * BN;
    let k_begin = s * p.chunk;
    let k_end = min(k_begin + p.chunk, p.kd);
    var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
    for (var k0 = k_begin; k0 < k_end; k0 += BK) {
        for (var r = 0u; r < R; r++) {
            if p.ta == 0u {
                // A row-major m × kd: neighbours along k.
                let i = row0 + ty + 16u * r;
                let q = k0 + tx;
                var v = 0.0;
                if i < p.m && q < k_end {
                    v = a[i * p.lda + q];
                }
                as_[ty + 16u * r][tx] = v;
            } else {
                // A stored kd × m: neighbours along i.
                let q = k0 + ty;
                let i = row0 + tx + 16u * r;
                var v = 0.0;
                if i < p.m && q < k_end {
                    v = a[q * p.lda + i];
                }
                as_[tx + 16u * r][ty] = v;
            }
        }
        if p.tb == 0u {
            // B row-major kd × n: neighbours along j.
            let q = k0 + ty;
            let j = col0 + tx;
            var v = 0.0;
            if q < k_end && j < p.n {
                v = b[q * p.ldb + j];
            }
            bs[ty][tx] = v;
        } else {
            // B stored n × kd: neighbours along k.
            let j = col0 + ty;
            let q = k0 + tx;
            var v = 0.0;
            if q < k_end && j < p.n {
                v = b[j * p.ldb + q];
            }
            bs[tx][ty] = v;
        }
        workgroupBarrier();
        var t = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
        for (var q = 0u; q < BK; q++) {
            let bv = bs[q][tx];
            for (var r = 0u; r < R; r++) {
                t[r] += as_[ty + 16u * r][q] * bv;
            }
        }
        for (var r = 0u; r < R; r++) {
            acc[r] += t[r];
        }
        workgroupBarrier();
    }
    return acc;
}

@compute @workgroup_size(16, 16)
fn matmul(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
    let tile = wid.x + wid.y * nwg.x;
    // Uniform across the workgroup, so returning here keeps the barriers uniform.
    if tile >= p.tiles {
        return;
    }
    let acc = tile_product(0u, tile, lid3.x, lid3.y);
    let i0 = (tile / p.tiles_n) * (16u * R) + lid3.y;
    let j = (tile % p.tiles_n) * BN + lid3.x;
    for (var r = 0u; r < R; r++) {
        let i = i0 + 16u * r;
        if i < p.m && j < p.n {
            out[i * p.n + j] = acc[r];
        }
    }
}

// Split-K: workgroup wg = s · tiles + tile writes the partial tile of k chunk s to part[s].
@compute @workgroup_size(16, 16)
fn matmul_split(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
    let wg = wid.x + wid.y * nwg.x;
    if wg >= p.tiles * p.splits {
        return;
    }
    let s = wg / p.tiles;
    let tile = wg - s * p.tiles;
    let acc = tile_product(s, tile, lid3.x, lid3.y);
    let i0 = (tile / p.tiles_n) * (16u * R) + lid3.y;
    let j = (tile % p.tiles_n) * BN + lid3.x;
    for (var r = 0u; r < R; r++) {
        let i = i0 + 16u * r;
        if i < p.m && j < p.n {
            part[(p.split_base + s) * p.m * p.n + i * p.n + j] = acc[r];
        }
    }
}

// out[i] = Σ_s part[s][i], s in increasing order.
@compute @workgroup_size(256)
fn matmul_sum_splits(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    let mn = p.m * p.n;
    if i >= mn {
        return;
    }
    var acc = part[i];
    for (var s = 1u; s < p.splits; s++) {
        acc += part[s * mn + i];
    }
    out[i] = acc;
}
