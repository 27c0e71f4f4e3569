// Byzantine attacks in place on g (n × d), twin of backend::cpu::robust::byzantine_attack. One
// thread per coordinate j: it reads the honest rows of column j (flags[i] = 0), which it never
// writes, and rewrites the Byzantine ones. Honest statistics in row order: μ = Σ/h, sample
// variance Σ (x − μ)²/(h − 1) (σ = 0 for h = 1).
// kind: 1 a multiple of the own row (a·x: sign_flip and scaled of their own gradient), 2 zero,
// 3 mimic (row `mimic_row`), 4 a multiple of the honest mean (a·μ: ipm, sign_flip and scaled of
// the mean), 5 alie (μ − a·σ), 6 gaussian (μ + a·N(0, 1) from gaussian_noise). Kinds ≥ 4 read
// the honest mean.

struct Params {
    n: u32,
    d: u32,
    kind: u32,
    stream: u32,
    mimic_row: u32,
    a: f32,
    _pad0: u32,
    _pad1: u32,
}

const WG: u32 = 256u;

@group(0) @binding(0) var<storage, read_write> g: array<f32>;
@group(0) @binding(1) var<storage, read> flags: array<u32>;
@group(1) @binding(0) var<uniform> p: Params;

// rng::hash32 (lowbias32).
fn hash32(v: u32) -> u32 {
    var x = v;
    x ^= x >> 16u;
    x *= 0x7feb352du;
    x ^= x >> 15u;
    x *= 0x846ca68bu;
    x ^= x >> 16u;
    return x;
}

// backend::robust::gaussian_noise: Box–Muller from two exact 24-bit uniforms, u1 in (0, 1],
// the angle in [−π, π).
fn gaussian_noise(stream: u32, worker: u32, coord: u32) -> f32 {
    let row = hash32(stream ^ (worker * 0x27d4eb2fu));
    let h1 = hash32(row ^ (coord * 2u));
    let h2 = hash32(row ^ (coord * 2u + 1u));
    let u1 = f32((h1 >> 8u) + 1u) * (1.0 / 16777216.0);
    let u2 = f32(h2 >> 8u) * (1.0 / 16777216.0);
    let theta = (u2 * 2.0 - 1.0) * 3.14159265358979;
    return sqrt(-2.0 * log(u1)) * cos(theta);
}

@compute @workgroup_size(256)
fn byzantine_attack(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let j = (wid.x + wid.y * nwg.x) * WG + lid;
    if j >= p.d {
        return;
    }
    var mu = 0.0;
    var sigma = 0.0;
    if p.kind >= 4u {
        var sum = 0.0;
        var h = 0u;
        for (var i = 0u; i < p.n; i++) {
            if flags[i] == 0u {
                sum += g[i * p.d + j];
                h += 1u;
            }
        }
        mu = sum / f32(h);
        if p.kind == 5u && h > 1u {
            var ss = 0.0;
            for (var i = 0u; i < p.n; i++) {
                if flags[i] == 0u {
                    let dev = g[i * p.d + j] - mu;
                    ss += dev * dev;
                }
            }
            sigma = sqrt(ss / f32(h - 1u));
        }
    }
    for (var i = 0u; i < p.n; i++) {
        if flags[i] == 0u {
            continue;
        }
        let x = g[i * p.d + j];
        var v = x;
        switch p.kind {
            case 1u: {
                v = p.a * x;
            }
            case 2u: {
                v = 0.0;
            }
            case 3u: {
                v = g[p.mimic_row * p.d + j];
            }
            case 4u: {
                v = p.a * mu;
            }
            case 5u: {
                v = mu - p.a * sigma;
            }
            case 6u: {
                v = mu + p.a * gaussian_noise(p.stream, i, j);
            }
            default: {}
        }
        g[i * p.d + j] = v;
    }
}
