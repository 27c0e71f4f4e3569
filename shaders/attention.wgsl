// Graph attention (GAT) over the entries of a CSR A (rows: destinations i, columns: sources j).
// An entry whose value is 0 is absent (a sampled-out edge). Per-edge matrices are nnz × heads,
// row-major in CSR order. Every kernel gives each output element one invocation that loops over
// its row's entries in stored order (as the CPU twins in src/backend/cpu/ops.rs): no atomics,
// deterministic. A long row is looped over by one invocation (rows are node degrees, and each
// (row, head) is a few FLOPs per entry).
// edge_scores, then edge_softmax (Backend::edge_softmax, two dispatches): one invocation per
//   (row, head); pre = s_src[j] + s_dst[i] (every entry); then m = the first largest
//   LeakyReLU(pre) of the present entries, α = exp(LeakyReLU(pre) − m), then ÷ their sum.
// edge_softmax_backward: one per (row, head): dot = Σ α·dα (present), d_pre = α·(dα − dot)
//   times 1 (pre > 0) or slope; 0 on absent entries.
// attention_spmm: one per output element (i, h·C + c): Σ_e α[perm(e), h] · x[col(e), h·C + c].

struct Params {
    n: u32,        // invocations: rows · heads, or rows · k for attention_spmm
    rows: u32,
    heads: u32,
    k: u32,        // attention_spmm: columns of x and out (heads · C)
    c: u32,        // attention_spmm: columns per head
    use_perm: u32, // attention_spmm: 1 = read α through perm
    slope: f32,    // LeakyReLU's negative slope
    _pad: u32,
}

const WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> row_ptr: array<u32>;
@group(0) @binding(1) var<storage, read> col_idx: array<u32>;
@group(0) @binding(2) var<storage, read> values: array<f32>;
// Inputs: edge_scores (s_src, s_dst), edge_softmax (pre), edge_softmax_backward (pre, α, dα), attention_spmm (α, x).
@group(0) @binding(3) var<storage, read> in0: array<f32>;
@group(0) @binding(4) var<storage, read> in1: array<f32>;
@group(0) @binding(5) var<storage, read> in2: array<f32>;
// Outputs: edge_scores (pre), edge_softmax (α), edge_softmax_backward (d_pre), attention_spmm (out).
@group(0) @binding(6) var<storage, read_write> out0: array<f32>;
@group(0) @binding(7) var<storage, read_write> out1: array<f32>;
@group(0) @binding(8) var<storage, read> perm: array<u32>;
@group(1) @binding(0) var<uniform> p: Params;

fn leaky_relu(x: f32) -> f32 {
    return select(x * p.slope, x, x > 0.0);
}

@compute @workgroup_size(256)
fn edge_scores(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let t = (wid.x + wid.y * nwg.x) * WG + lid;
    if t >= p.n {
        return;
    }
    let i = t / p.heads;
    let h = t - i * p.heads;
    let dst = in1[i * p.heads + h];
    for (var e = row_ptr[i]; e < row_ptr[i + 1u]; e++) {
        out0[e * p.heads + h] = in0[col_idx[e] * p.heads + h] + dst;
    }
}

@compute @workgroup_size(256)
fn edge_softmax(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let t = (wid.x + wid.y * nwg.x) * WG + lid;
    if t >= p.n {
        return;
    }
    let i = t / p.heads;
    let h = t - i * p.heads;
    let begin = row_ptr[i];
    let end = row_ptr[i + 1u];
    var m = 0.0;
    var found = false;
    for (var e = begin; e < end; e++) {
        let l = leaky_relu(in0[e * p.heads + h]);
        if values[e] != 0.0 && (!found || l > m) {
            m = l;
            found = true;
        }
    }
    var sum = 0.0;
    for (var e = begin; e < end; e++) {
        var x = 0.0;
        if values[e] != 0.0 {
            x = exp(leaky_relu(in0[e * p.heads + h]) - m);
        }
        out1[e * p.heads + h] = x;
        sum += x;
    }
    for (var e = begin; e < end; e++) {
        let at = e * p.heads + h;
        out1[at] = select(0.0, out1[at] / sum, values[e] != 0.0);
    }
}

@compute @workgroup_size(256)
fn edge_softmax_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let t = (wid.x + wid.y * nwg.x) * WG + lid;
    if t >= p.n {
        return;
    }
    let i = t / p.heads;
    let h = t - i * p.heads;
    let begin = row_ptr[i];
    let end = row_ptr[i + 1u];
    var dot = 0.0;
    for (var e = begin; e < end; e++) {
        if values[e] != 0.0 {
            dot += in1[e * p.heads + h] * in2[e * p.heads + h];
        }
    }
    for (var e = begin; e < end; e++) {
        let at = e * p.heads + h;
        let g = in1[at] * (in2[at] - dot);
        out0[at] = select(0.0, select(g * p.slope, g, in0[at] > 0.0), values[e] != 0.0);
    }
}

@compute @workgroup_size(256)
fn attention_spmm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let t = (wid.x + wid.y * nwg.x) * WG + lid;
    if t >= p.n {
        return;
    }
    let i = t / p.k;
    let col = t - i * p.k;
    let h = col / p.c;
    var acc = 0.0;
    for (var e = row_ptr[i]; e < row_ptr[i + 1u]; e++) {
        var pe = e;
        if p.use_perm == 1u {
            pe = perm[e];
        }
        acc += in0[pe * p.heads + h] * in1[col_idx[e] * p.k + col];
    }
    out0[t] = acc;
}
