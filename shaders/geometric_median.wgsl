// Smoothed Weiszfeld (RFA) in n-space, twin of backend::cpu::robust::geometric_median. One
// workgroup, thread i = row i (n ≤ 128). z = Σ_k w_k x_k is kept as its weights w (Σ w = 1),
// and with the squared-distance matrix D and Gram matrix G of the rows:
//   ‖z − x_i‖² = (D w)_i − ½ wᵀ D w,  ‖z' − z‖² = −½ δᵀ D δ (δ = w' − w, Σ δ = 0),  ‖z‖² = wᵀ G w.
// From w = 1/n (the mean), each of the `iters` steps sets β_i = 1/max(ν, ‖z − x_i‖) and
// w' = β / Σβ. Once a step's relative change ‖z' − z‖/‖z‖ is below tol the weights freeze
// (strictly: tol = 0 never stops, whatever the rounding of a zero change): the
// command stream and the loop are the same every epoch, only the flag differs. Every thread
// computes the shared sums itself in k order (same value everywhere, no extra barrier); zero
// weights are skipped. Writes w to mix[0..n] and the selection, and combine_rows' scale 1 to
// mix[n].

struct Params {
    n: u32,
    iters: u32,
    nu: f32,
    tol: f32,
    inv_n: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

const MAX_N: u32 = 128u;

@group(0) @binding(0) var<storage, read> gram: array<f32>;
@group(0) @binding(1) var<storage, read> dists: array<f32>;
@group(0) @binding(2) var<storage, read_write> mix: array<f32>;
@group(0) @binding(3) var<storage, read_write> selection: array<f32>;
@group(1) @binding(0) var<uniform> p: Params;

var<workgroup> w: array<f32, MAX_N>;
var<workgroup> a: array<f32, MAX_N>;
var<workgroup> beta: array<f32, MAX_N>;
var<workgroup> delta: array<f32, MAX_N>;
var<workgroup> e: array<f32, MAX_N>;
var<workgroup> h: array<f32, MAX_N>;

@compute @workgroup_size(128)
fn geometric_median(@builtin(local_invocation_index) i: u32) {
    let n = p.n;
    let is_row = i < n;
    if is_row {
        w[i] = p.inv_n;
    }
    var frozen = false;
    workgroupBarrier();
    for (var t = 0u; t < p.iters; t++) {
        // a = D w
        var ai = 0.0;
        if is_row {
            for (var k = 0u; k < n; k++) {
                let wk = w[k];
                if wk != 0.0 {
                    ai += wk * dists[i * n + k];
                }
            }
            a[i] = ai;
        }
        workgroupBarrier();
        var q = 0.0;
        for (var k = 0u; k < n; k++) {
            let wk = w[k];
            if wk != 0.0 {
                q += wk * a[k];
            }
        }
        var bi = 0.0;
        if is_row {
            bi = 1.0 / max(p.nu, sqrt(max(ai - 0.5 * q, 0.0)));
            beta[i] = bi;
        }
        workgroupBarrier();
        var s = 0.0;
        for (var k = 0u; k < n; k++) {
            s += beta[k];
        }
        var next = 0.0;
        if is_row {
            next = bi / s;
            delta[i] = next - w[i];
        }
        workgroupBarrier();
        // e = D δ, h = G w
        if is_row {
            var ei = 0.0;
            var hi = 0.0;
            for (var k = 0u; k < n; k++) {
                let dk = delta[k];
                if dk != 0.0 {
                    ei += dk * dists[i * n + k];
                }
            }
            for (var k = 0u; k < n; k++) {
                let wk = w[k];
                if wk != 0.0 {
                    hi += wk * gram[i * n + k];
                }
            }
            e[i] = ei;
            h[i] = hi;
        }
        workgroupBarrier();
        var change = 0.0;
        for (var k = 0u; k < n; k++) {
            let dk = delta[k];
            if dk != 0.0 {
                change += dk * e[k];
            }
        }
        var norm = 0.0;
        for (var k = 0u; k < n; k++) {
            let wk = w[k];
            if wk != 0.0 {
                norm += wk * h[k];
            }
        }
        change = max(-0.5 * change, 0.0);
        let converged = change < p.tol * p.tol * norm;
        // Everyone has read w before it changes.
        workgroupBarrier();
        if is_row && !frozen {
            w[i] = next;
        }
        frozen = frozen || converged;
        workgroupBarrier();
    }
    if is_row {
        mix[i] = w[i];
        selection[i] = w[i];
    }
    if i == 0u {
        mix[n] = 1.0;
    }
}
