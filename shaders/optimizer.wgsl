// Optimizer steps, element-wise, in the operation order of ops::adam_step / ops::sgd_step.
// adam: g = grad + wd·p; m = β1 m + (1−β1) g; v = β2 v + (1−β2) g g; p −= lr_t m / (√v + ε).
// sgd:  p −= lr (g + wd·p).

struct Params {
    n: u32,
    lr: f32,      // lr_t for adam
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    _pad0: u32,
    _pad1: u32,
}

const WG: u32 = 256u;

@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(1) @binding(0) var<uniform> p: Params;

@compute @workgroup_size(256)
fn adam_step(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if i >= p.n {
        return;
    }
    let w = param[i];
    let g = grad[i] + p.weight_decay * w;
    let mi = p.beta1 * m[i] + (1.0 - p.beta1) * g;
    let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = w - p.lr * mi / (sqrt(vi) + p.eps);
}

@compute @workgroup_size(256)
fn sgd_step(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if i >= p.n {
        return;
    }
    let w = param[i];
    param[i] = w - p.lr * (grad[i] + p.weight_decay * w);
}
