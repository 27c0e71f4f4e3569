// Fused masked softmax cross-entropy, one thread per row (classes are few). For a row with
// split code 1..3: max (first argmax on ties, strict >), logsumexp, loss = lse − logit[label],
// correct = argmax == label, written to rowstats[2r], rowstats[2r + 1]; rows with another code
// get zeros. With has_grad: grad = (softmax − onehot) · grad_scale on training rows (code 1),
// 0 elsewhere. The per-split sums are done by reduce.wgsl (mode 0).

struct Params {
    rows: u32,
    cols: u32,
    grad_scale: f32,
    has_grad: u32,
}

const WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read> split: array<u32>;
@group(0) @binding(3) var<storage, read_write> grad: array<f32>;
@group(0) @binding(4) var<storage, read_write> rowstats: array<f32>;
@group(1) @binding(0) var<uniform> p: Params;

@compute @workgroup_size(256)
fn softmax_xent(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let r = (wid.x + wid.y * nwg.x) * WG + lid;
    if r >= p.rows {
        return;
    }
    let code = split[r];
    let base = r * p.cols;
    if code == 0u || code > 3u {
        rowstats[2u * r] = 0.0;
        rowstats[2u * r + 1u] = 0.0;
        if p.has_grad != 0u {
            for (var c = 0u; c < p.cols; c++) {
                grad[base + c] = 0.0;
            }
        }
        return;
    }
    let label = labels[r];
    var mx = logits[base];
    var am = 0u;
    for (var c = 1u; c < p.cols; c++) {
        let v = logits[base + c];
        if v > mx {
            mx = v;
            am = c;
        }
    }
    var s = 0.0;
    for (var c = 0u; c < p.cols; c++) {
        s += exp(logits[base + c] - mx);
    }
    let lse = mx + log(s);
    rowstats[2u * r] = lse - logits[base + label];
    rowstats[2u * r + 1u] = select(0.0, 1.0, am == label);
    if p.has_grad != 0u {
        if code == 1u {
            for (var c = 0u; c < p.cols; c++) {
                let pc = exp(logits[base + c] - lse);
                grad[base + c] = (pc - select(0.0, 1.0, c == label)) * p.grad_scale;
            }
        } else {
            for (var c = 0u; c < p.cols; c++) {
                grad[base + c] = 0.0;
            }
        }
    }
}
