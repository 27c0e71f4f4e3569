// One Weiszfeld step's weights from the distances to z (row_distances), twin of the loop body
// of backend::cpu::robust::geometric_median (after row_space.wgsl). One workgroup, thread i =
// row i (n ≤ 128). β_i = 1/max(ν, d_i), 0 for an infinitely far row; w = β/Σβ (uniform when
// every row is infinitely far). From step 1 on, dists[n] = ‖z − z_prev‖ and dists[n + 1] = ‖z‖:
// once ‖z − z_prev‖ < tol·‖z‖ (strictly: tol = 0 never stops) the weights freeze (state[0] = 1),
// so z repeats bit for bit; the command stream is the same whether or not it stopped. Writes w
// to mix[0..n] and to the selection.

struct Params {
    n: u32,
    step: u32,
    nu: f32,
    tol: f32,
}

const MAX_N: u32 = 128u;

@group(0) @binding(0) var<storage, read> dists: array<f32>;
@group(0) @binding(1) var<storage, read_write> mix: array<f32>;
@group(0) @binding(2) var<storage, read_write> selection: array<f32>;
@group(0) @binding(3) var<storage, read_write> state: array<u32>;
@group(1) @binding(0) var<uniform> p: Params;

var<workgroup> beta: array<f32, MAX_N>;

fn weiszfeld_beta(d: f32, nu: f32) -> f32 {
    if non_finite(d) {
        return 0.0;
    }
    return ftz(1.0 / select(nu, d, d > nu));
}

@compute @workgroup_size(128)
fn geometric_median(@builtin(local_invocation_index) i: u32) {
    let n = p.n;
    var frozen = false;
    if p.step > 0u {
        frozen = state[0] != 0u || dists[n] < p.tol * dists[n + 1u];
    }
    var b = 0.0;
    if i < n {
        b = weiszfeld_beta(dists[i], p.nu);
        beta[i] = b;
    }
    workgroupBarrier();
    // Every thread has read state[0] before thread 0 writes it.
    storageBarrier();
    var s = 0.0;
    for (var k = 0u; k < n; k++) {
        s = add(s, beta[k]);
    }
    if i < n && !frozen {
        let wi = select(ftz(b / s), ftz(1.0 / f32(n)), s == 0.0);
        mix[i] = wi;
        selection[i] = wi;
    }
    if i == 0u {
        state[0] = select(0u, 1u, frozen);
    }
}
