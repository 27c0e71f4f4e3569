// Optimizer steps, element-wise, in the operation order of cpu::optim::optimizer_step (the
// formulas in backend/optim.rs).
// adam: g = grad + wd·p; m = β1 m + (1−β1) g; v = β2 v + (1−β2) g g; p −= lr_t m / (√v + ε).
// sgd:  p −= lr (g + wd·p).
// The other steps take their parameters in the same slots (OptimizerStep::packed):
// momentum/nesterov: beta1 = μ; adagrad: eps; rmsprop: beta1 = ρ, eps; adamw: lr = lr_t,
// extra = keep (1 − lr·λ); ftrl: lr = α, beta1 = β, beta2 = λ1, weight_decay = λ2.
// State s1 (and s2) are the step's state matrices in OptimizerStep's order.

struct Params {
    n: u32,
    lr: f32,      // lr_t for adam
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    extra: f32,
    _pad1: u32,
}

const WG: u32 = 256u;

@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
// The same slots under the names of the other steps' state.
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

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.x + wid.y * nwg.x) * WG + lid;
}

@compute @workgroup_size(256)
fn momentum_step(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    if i >= p.n {
        return;
    }
    let w = param[i];
    let g = grad[i] + p.weight_decay * w;
    let vi = p.beta1 * m[i] + g;
    m[i] = vi;
    param[i] = w - p.lr * vi;
}

@compute @workgroup_size(256)
fn nesterov_step(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    if i >= p.n {
        return;
    }
    let w = param[i];
    let g = grad[i] + p.weight_decay * w;
    let vi = p.beta1 * m[i] + g;
    m[i] = vi;
    param[i] = w - p.lr * (g + p.beta1 * vi);
}

@compute @workgroup_size(256)
fn adagrad_step(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    if i >= p.n {
        return;
    }
    let w = param[i];
    let g = grad[i] + p.weight_decay * w;
    let a = m[i] + g * g;
    m[i] = a;
    param[i] = w - p.lr * g / (sqrt(a) + p.eps);
}

@compute @workgroup_size(256)
fn rmsprop_step(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    if i >= p.n {
        return;
    }
    let w = param[i];
    let g = grad[i] + p.weight_decay * w;
    let si = p.beta1 * m[i] + (1.0 - p.beta1) * g * g;
    m[i] = si;
    param[i] = w - p.lr * g / (sqrt(si) + p.eps);
}

@compute @workgroup_size(256)
fn adamw_step(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    if i >= p.n {
        return;
    }
    let g = grad[i];
    let mi = p.beta1 * m[i] + (1.0 - p.beta1) * g;
    let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = param[i] * p.extra - p.lr * mi / (sqrt(vi) + p.eps);
}

// FTRL-Proximal: m holds z, v holds n.
@compute @workgroup_size(256)
fn ftrl_step(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    if i >= p.n {
        return;
    }
    let alpha = p.lr;
    let beta = p.beta1;
    let l1 = p.beta2;
    let l2 = p.weight_decay;
    let g = grad[i];
    let n_old = v[i];
    let n_new = n_old + g * g;
    let sigma = (sqrt(n_new) - sqrt(n_old)) / alpha;
    let z = m[i] + (g - sigma * param[i]);
    m[i] = z;
    v[i] = n_new;
    var w = 0.0;
    if abs(z) > l1 {
        w = -(z - sign(z) * l1) / ((beta + sqrt(n_new)) / alpha + l2);
    }
    param[i] = w;
}
