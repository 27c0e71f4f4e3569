// Row-space arithmetic shared by row_distances, weighted_rows, geometric_median and
// centered_clipping (prepended to each), line for line the functions of backend::row_space:
// exact operations (integer exponent shifts, products of 12-bit halves) and single IEEE adds,
// every result below the normal range flushed to +0 by its bits, so an FMA or a device that
// flushes denormals gives the same bits as the CPU.

const LANES: u32 = 256u;

fn ftz(x: f32) -> f32 {
    return select(x, 0.0, (bitcast<u32>(x) & 0x7f800000u) == 0u);
}

// ±∞ or NaN, by the bits (WGSL leaves float comparisons with NaN to the implementation).
fn non_finite(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) >= 0x7f800000u;
}

fn add(a: f32, b: f32) -> f32 {
    return ftz(a + b);
}

// x = hi + lo exactly, each with at most 12 significant bits.
fn split_hi(x: f32) -> f32 {
    return bitcast<f32>(bitcast<u32>(x) & 0xfffff000u);
}

// acc + a·b as four exact partial products added in a fixed order.
fn mul_add(acc: f32, a: f32, b: f32) -> f32 {
    let ah = split_hi(a);
    let al = ftz(a - ah);
    let bh = split_hi(b);
    let bl = ftz(b - bh);
    var r = add(acc, ftz(ah * bh));
    r = add(r, ftz(ah * bl));
    r = add(r, ftz(al * bh));
    return add(r, ftz(al * bl));
}

fn diff(a: f32, b: f32) -> f32 {
    return ftz(ftz(a) - ftz(b));
}

// x · 2^(127 − top) by shifting its exponent field; +0 where it leaves the normal range.
fn scale_down(x: f32, top: u32) -> f32 {
    let b = bitcast<u32>(x);
    let e = i32((b >> 23u) & 0xffu);
    let shifted = e + 127 - i32(top);
    if e == 0 || shifted <= 0 {
        return 0.0;
    }
    return bitcast<f32>((b & 0x807fffffu) | (u32(shifted) << 23u));
}
