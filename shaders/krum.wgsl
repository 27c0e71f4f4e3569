// Krum and Multi-Krum from the squared-distance matrix D (n × n), twin of
// backend::cpu::robust::krum. One workgroup, thread i = row i (n ≤ 128):
// score_i = Σ of the k = n − f − 2 smallest D_ij over j ≠ i (rank count by order_key, ties by
// index), summed in j order; then the m rows of lowest score (ties by index, NaN last) get
// weight 1 in mix[0..n] and 1/m in the selection, and mix[n] = 1/m is combine_rows' scale.

struct Params {
    n: u32,
    k: u32,
    m: u32,
    inv_m: f32,
}

@group(0) @binding(0) var<storage, read> dists: array<f32>;
@group(0) @binding(1) var<storage, read_write> mix: array<f32>;
@group(0) @binding(2) var<storage, read_write> selection: array<f32>;
@group(1) @binding(0) var<uniform> p: Params;

var<workgroup> score_keys: array<u32, 128>;

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
fn krum(@builtin(local_invocation_index) i: u32) {
    var key = 0xffffffffu;
    if i < p.n {
        let row = i * p.n;
        var score = 0.0;
        for (var j = 0u; j < p.n; j++) {
            if j == i {
                continue;
            }
            let kj = order_key(dists[row + j]);
            var rank = 0u;
            for (var l = 0u; l < p.n; l++) {
                let kl = order_key(dists[row + l]);
                rank += select(0u, 1u, l != i && (kl < kj || (kl == kj && l < j)));
            }
            if rank < p.k {
                score += dists[row + j];
            }
        }
        key = order_key(score);
        score_keys[i] = key;
    }
    workgroupBarrier();
    if i < p.n {
        var rank = 0u;
        for (var l = 0u; l < p.n; l++) {
            let kl = score_keys[l];
            rank += select(0u, 1u, kl < key || (kl == key && l < i));
        }
        let chosen = rank < p.m;
        mix[i] = select(0.0, 1.0, chosen);
        selection[i] = select(0.0, p.inv_m, chosen);
    }
    if i == 0u {
        mix[p.n] = p.inv_m;
    }
}
