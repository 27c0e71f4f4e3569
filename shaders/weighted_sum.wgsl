// out[i] = Σ_p w_p · inputs[p][i] over P inputs stacked in one buffer (input p at p * n), the
// weights read from the parameter arena at w_off. One thread per element.
// order 0 (Flat): ((w0·x0 + w1·x1) + w2·x2) + …
// order 1 (Tree): ops::tree_sum's shape, computed as a binary counter: after pushing term q,
// merge the top of the stack trailing_zeros(q + 1) times (equal-size blocks, left + right);
// at the end fold the remaining blocks from the right. For any P this equals the ⌈log2 P⌉
// rounds "v[j] += v[j + 2^r]" of tree_sum.

struct Params {
    n: u32,
    count: u32,
    order: u32,
    w_off: u32,
}

const WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> stacked: array<f32>;
@group(0) @binding(1) var<storage, read> weights: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(1) @binding(0) var<uniform> p: Params;

@compute @workgroup_size(256)
fn weighted_sum(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if i >= p.n {
        return;
    }
    if p.order == 0u {
        var acc = weights[p.w_off] * stacked[i];
        for (var q = 1u; q < p.count; q++) {
            acc = acc + weights[p.w_off + q] * stacked[q * p.n + i];
        }
        out[i] = acc;
        return;
    }
    var stack: array<f32, 32>;
    var top = 0u;
    for (var q = 0u; q < p.count; q++) {
        var v = weights[p.w_off + q] * stacked[q * p.n + i];
        let merges = countTrailingZeros(q + 1u);
        for (var m = 0u; m < merges; m++) {
            top -= 1u;
            v = stack[top] + v;
        }
        stack[top] = v;
        top += 1u;
    }
    var acc = stack[top - 1u];
    for (var t = top - 1u; t > 0u; t--) {
        acc = stack[t - 1u] + acc;
    }
    out[i] = acc;
}
