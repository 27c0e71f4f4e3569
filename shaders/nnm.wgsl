// Nearest-neighbour mixing weights from the squared-distance matrix D (n × n), twin of
// backend::cpu::robust::nnm. One workgroup, thread i = row i (n ≤ 128): mix[i·n + j] = 1 for
// j = i and for the k = n − f − 1 nearest other rows (rank count by order_key, ties by index),
// else 0; mix[n·n + i] = 1/(n − f) is combine_rows' scale of output row i.

struct Params {
    n: u32,
    k: u32,
    inv_keep: f32,
    _pad0: u32,
}

@group(0) @binding(0) var<storage, read> dists: array<f32>;
@group(0) @binding(1) var<storage, read_write> mix: array<f32>;
@group(1) @binding(0) var<uniform> p: Params;

// backend::robust::order_key.
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

@compute @workgroup_size(128)
fn nnm(@builtin(local_invocation_index) i: u32) {
    if i >= p.n {
        return;
    }
    let row = i * p.n;
    for (var j = 0u; j < p.n; j++) {
        let kj = order_key(dists[row + j]);
        var rank = 0u;
        for (var l = 0u; l < p.n; l++) {
            let kl = order_key(dists[row + l]);
            rank += select(0u, 1u, l != i && (kl < kj || (kl == kj && l < j)));
        }
        mix[row + j] = select(0.0, 1.0, j == i || rank < p.k);
    }
    mix[p.n * p.n + i] = p.inv_keep;
}
