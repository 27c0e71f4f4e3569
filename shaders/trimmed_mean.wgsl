// Coordinate-wise trimmed mean (the median is the window f = ⌊(n − 1)/2⌋), twin of
// backend::cpu::robust::trimmed_mean. One thread per coordinate j ranks the n values of column j
// by order_key with ties by row index (an O(n²) rank count, n ≤ MAX_N) and sums the values of
// rank lo..hi in row order, times scale = 1/(hi − lo): the same selection and the same additions
// as the CPU, so the result is bit-equal.
// Selection: each workgroup counts, per row, how many of its coordinates averaged that row
// (u32 workgroup atomics: integer sums are exact, so their order does not matter) and writes the
// counts to partials[group · n + row]; trimmed_mean_selection sums a row's partials in group
// order and scales by sel_scale = 1/(d · (hi − lo)).

struct Params {
    n: u32,
    d: u32,
    lo: u32,
    hi: u32,
    scale: f32,
    groups: u32,
    sel_scale: f32,
    _pad0: u32,
}

const WG: u32 = 256u;
const MAX_N: u32 = 128u;

@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<u32>;
@group(0) @binding(3) var<storage, read_write> selection: array<f32>;
@group(1) @binding(0) var<uniform> p: Params;

var<workgroup> counts: array<atomic<u32>, MAX_N>;

// backend::robust::order_key: a total order on the f32 bits, every NaN above +inf.
fn order_key(x: f32) -> u32 {
    let b = bitcast<u32>(x);
    if (b & 0x7fffffffu) > 0x7f800000u {
        return 0xffffffffu;
    }
    if (b & 0x80000000u) != 0u {
        return ~b;
    }
    return b | 0x80000000u;
}

@compute @workgroup_size(256)
fn trimmed_mean(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let group = wid.x + wid.y * nwg.x;
    // Uniform per workgroup: surplus workgroups of a 2-D grid leave before any barrier.
    if group >= p.groups {
        return;
    }
    if lid < MAX_N {
        atomicStore(&counts[lid], 0u);
    }
    workgroupBarrier();
    let j = group * WG + lid;
    if j < p.d {
        var keys: array<u32, MAX_N>;
        for (var i = 0u; i < p.n; i++) {
            keys[i] = order_key(g[i * p.d + j]);
        }
        // Starts from the first averaged value rather than 0 + it (a compiler may fold 0 + x
        // into x, which differs for x = −0); the CPU twin does the same.
        var acc = 0.0;
        var first = true;
        for (var i = 0u; i < p.n; i++) {
            let ki = keys[i];
            var rank = 0u;
            for (var k = 0u; k < p.n; k++) {
                let kk = keys[k];
                rank += select(0u, 1u, kk < ki || (kk == ki && k < i));
            }
            if rank >= p.lo && rank < p.hi {
                let x = g[i * p.d + j];
                acc = select(acc + x, x, first);
                first = false;
                atomicAdd(&counts[i], 1u);
            }
        }
        out[j] = acc * p.scale;
    }
    workgroupBarrier();
    if lid < p.n {
        partials[group * p.n + lid] = atomicLoad(&counts[lid]);
    }
}

// One workgroup; thread i sums row i's counts over the groups.
@compute @workgroup_size(128)
fn trimmed_mean_selection(@builtin(local_invocation_index) lid: u32) {
    if lid >= p.n {
        return;
    }
    var total = 0u;
    for (var group = 0u; group < p.groups; group++) {
        total += partials[group * p.n + lid];
    }
    selection[lid] = f32(total) * p.sel_scale;
}
