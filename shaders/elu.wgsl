// elu: out = x > 0 ? x : exp(x) − 1 (α = 1); elu_backward: out = grad · (output > 0 ? 1 :
// output + 1), ELU's derivative exp(x) read from its output. One thread per element; bindings:
// a @0 (x or output), b @1 (grad), out @2.
//
// exp(x) − 1 loses its relative precision as x → 0 (it subtracts two numbers near 1), so for
// −1/8 < x ≤ 0 elu sums the Taylor series of expm1 to x⁵/120 instead (the first term left out,
// x⁶/720, is below 2^-24 of the result there); the CPU twin calls exp_m1.

struct Params {
    n: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

const WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(1) @binding(0) var<uniform> p: Params;

fn expm1(x: f32) -> f32 {
    if x > -0.125 {
        return x * (1.0 + x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0)))));
    }
    return exp(x) - 1.0;
}

@compute @workgroup_size(256)
fn elu(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if i >= p.n {
        return;
    }
    let v = a[i];
    if v > 0.0 {
        out[i] = v;
    } else {
        out[i] = expm1(v);
    }
}

@compute @workgroup_size(256)
fn elu_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if i >= p.n {
        return;
    }
    let y = a[i];
    let g = b[i];
    out[i] = select(g * (y + 1.0), g, y > 0.0);
}
