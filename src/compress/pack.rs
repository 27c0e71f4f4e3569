//! The wire format of the row codecs, on the host: a bit-packing encoder and the receiver's
//! decoder. The simulator never ships these bytes (the backends compute `decode(encode(x))` in
//! one fused op); they exist to prove that the fused ops are exactly what packing produces, and
//! that the spec's `encoded_bytes` is the real length.
//!
//! Layout of a rows × cols block: the per-row f32 parameters first (little-endian, row by
//! row), then the codes packed least-significant bit first, contiguously over the whole block:
//! - fp16: the halves, 2 bytes each;
//! - uniform (B bits): (zero point, scale) per row, then B-bit levels;
//! - one-bit: (non-negative mean, negative mean) per row, then one bit (v ≥ 0) per value;
//! - qsgd (S levels): the norm per row, then per value a sign bit and the level in
//!   ⌈log2(S + 1)⌉ bits;
//! - sign: the scale per row, then one bit per value;
//! - top-k: per row k × (u32 column, f32 value);
//! - rand-k: the u32 stream key, then per row k f32 values in ascending column order (the
//!   receiver recomputes the columns from the key).

use crate::backend::compress::lane_tree_sum;
use crate::backend::compress::{f16_bits_to_f32, f32_to_f16_bits, randk_key, select_k, topk_key, RowCodec};
use crate::backend::cpu::compress::{one_bit_scales, sign_scale, uniform_params};

#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    bits: usize,
}

impl BitWriter {
    fn put(&mut self, value: u32, width: u32) {
        for b in 0..width {
            if self.bits.is_multiple_of(8) {
                self.bytes.push(0);
            }
            if (value >> b) & 1 == 1 {
                *self.bytes.last_mut().expect("a byte was pushed") |= 1 << (self.bits % 8);
            }
            self.bits += 1;
        }
    }
}

struct BitReader<'a> {
    bytes: &'a [u8],
    bits: usize,
}

impl BitReader<'_> {
    fn get(&mut self, width: u32) -> u32 {
        let mut v = 0;
        for b in 0..width {
            let bit = (self.bytes[self.bits / 8] >> (self.bits % 8)) & 1;
            v |= (bit as u32) << b;
            self.bits += 1;
        }
        v
    }
}

fn put_f32(out: &mut Vec<u8>, x: f32) {
    out.extend_from_slice(&x.to_le_bytes());
}

fn get_f32(bytes: &[u8], at: &mut usize) -> f32 {
    let v = f32::from_le_bytes(bytes[*at..*at + 4].try_into().expect("4 bytes"));
    *at += 4;
    v
}

fn get_u32(bytes: &[u8], at: &mut usize) -> u32 {
    let v = u32::from_le_bytes(bytes[*at..*at + 4].try_into().expect("4 bytes"));
    *at += 4;
    v
}

/// Bits of a QSGD level in 0..=S.
fn level_bits(levels: u32) -> u32 {
    u32::BITS - levels.leading_zeros()
}

/// The bytes a sender puts on the wire for `v` (rows × cols); `row_ids` and `stream` key the
/// random draws as in the fused ops.
pub fn encode(codec: &RowCodec, stream: u32, v: &[f32], cols: usize, row_ids: &[u32]) -> Vec<u8> {
    let rows = v.len().checked_div(cols).unwrap_or(0);
    let row = |r: usize| &v[r * cols..(r + 1) * cols];
    let draw = |r: usize, c: usize| crate::rng::mask_uniform(stream, row_ids[r], c as u32);
    let mut head = Vec::new();
    let mut codes = BitWriter::default();
    match *codec {
        RowCodec::Fp16 => {
            for &x in v {
                codes.put(f32_to_f16_bits(x), 16);
            }
        }
        RowCodec::Uniform { bits } => {
            let top = ((1u32 << bits) - 1) as f32;
            for r in 0..rows {
                let (lo, scale) = uniform_params(row(r), bits);
                put_f32(&mut head, lo);
                put_f32(&mut head, scale);
                for (c, &x) in row(r).iter().enumerate() {
                    let q = if scale > 0.0 { ((x - lo) / scale + draw(r, c)).floor().min(top) } else { 0.0 };
                    codes.put(q as u32, bits);
                }
            }
        }
        RowCodec::OneBit | RowCodec::Sign => {
            for r in 0..rows {
                if *codec == RowCodec::OneBit {
                    let (pos, neg) = one_bit_scales(row(r));
                    put_f32(&mut head, pos);
                    put_f32(&mut head, neg);
                } else {
                    put_f32(&mut head, sign_scale(row(r)));
                }
                for &x in row(r) {
                    codes.put((x >= 0.0) as u32, 1);
                }
            }
        }
        RowCodec::Qsgd { levels } => {
            let s = levels as f32;
            for r in 0..rows {
                let x = row(r);
                let norm = lane_tree_sum(cols, |i| x[i] * x[i]).sqrt();
                put_f32(&mut head, norm);
                for (c, &x) in x.iter().enumerate() {
                    let l = if norm > 0.0 { (x.abs() / norm * s + draw(r, c)).floor().min(s) } else { 0.0 };
                    codes.put((x < 0.0) as u32, 1);
                    codes.put(l as u32, level_bits(levels));
                }
            }
        }
        RowCodec::TopK { k } => {
            for r in 0..rows {
                let keys: Vec<u32> = row(r).iter().map(|&x| topk_key(x)).collect();
                for c in select_k(&keys, k) {
                    head.extend_from_slice(&(c as u32).to_le_bytes());
                    put_f32(&mut head, row(r)[c]);
                }
            }
        }
        RowCodec::RandK { k } => {
            head.extend_from_slice(&stream.to_le_bytes());
            for (r, &id) in row_ids.iter().enumerate().take(rows) {
                let keys: Vec<u32> = (0..cols as u32).map(|c| randk_key(stream, id, c)).collect();
                for c in select_k(&keys, k) {
                    put_f32(&mut head, row(r)[c]);
                }
            }
        }
    }
    head.extend_from_slice(&codes.bytes);
    head
}

/// What the receiver reconstructs from `bytes` (rows × cols); `row_ids` as the sender's.
pub fn decode(codec: &RowCodec, bytes: &[u8], rows: usize, cols: usize, row_ids: &[u32]) -> Vec<f32> {
    let n = rows * cols;
    let mut out = vec![0.0f32; n];
    let mut at = 0;
    let params = match codec {
        RowCodec::Uniform { .. } | RowCodec::OneBit => 2,
        RowCodec::Qsgd { .. } | RowCodec::Sign => 1,
        _ => 0,
    };
    let head: Vec<f32> = (0..rows * params).map(|_| get_f32(bytes, &mut at)).collect();
    let mut codes = BitReader { bytes: &bytes[at..], bits: 0 };
    match *codec {
        RowCodec::Fp16 => {
            for o in out.iter_mut() {
                *o = f16_bits_to_f32(codes.get(16));
            }
        }
        RowCodec::Uniform { bits } => {
            for (i, o) in out.iter_mut().enumerate() {
                let (lo, scale) = (head[2 * (i / cols)], head[2 * (i / cols) + 1]);
                let q = codes.get(bits) as f32;
                *o = if scale > 0.0 { lo + q * scale } else { lo };
            }
        }
        RowCodec::OneBit => {
            for (i, o) in out.iter_mut().enumerate() {
                let (pos, neg) = (head[2 * (i / cols)], head[2 * (i / cols) + 1]);
                *o = if codes.get(1) == 1 { pos } else { neg };
            }
        }
        RowCodec::Sign => {
            for (i, o) in out.iter_mut().enumerate() {
                let s = head[i / cols];
                *o = if codes.get(1) == 1 { s } else { -s };
            }
        }
        RowCodec::Qsgd { levels } => {
            for (i, o) in out.iter_mut().enumerate() {
                let unit = head[i / cols] / levels as f32;
                let negative = codes.get(1) == 1;
                let m = codes.get(level_bits(levels)) as f32 * unit;
                *o = if negative { -m } else { m };
            }
        }
        RowCodec::TopK { k } => {
            for r in 0..rows {
                for _ in 0..k {
                    let c = get_u32(bytes, &mut at) as usize;
                    out[r * cols + c] = get_f32(bytes, &mut at);
                }
            }
        }
        RowCodec::RandK { k } => {
            let stream = get_u32(bytes, &mut at);
            for r in 0..rows {
                let keys: Vec<u32> = (0..cols as u32).map(|c| randk_key(stream, row_ids[r], c)).collect();
                for c in select_k(&keys, k) {
                    out[r * cols + c] = get_f32(bytes, &mut at);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::compress::{k_of, CompressStep};
    use crate::backend::cpu::compress::compress_rows;
    use crate::compress::{BoundaryCompression, PushCompression};
    use crate::rng::SplitMix64;

    /// Every row codec with the spec that names it (its `encoded_bytes` is the packed length).
    fn codecs(cols: usize) -> Vec<(RowCodec, u64)> {
        let b = |s: &str, rows: usize| {
            let spec: BoundaryCompression = s.parse().unwrap();
            (spec.row_codec().unwrap(), spec.encoded_bytes(rows, cols))
        };
        let p = |s: &str, rows: usize| {
            let spec: PushCompression = s.parse().unwrap();
            (spec.row_codec(cols).unwrap(), spec.encoded_bytes(rows, cols))
        };
        let rows = 7;
        vec![
            b("fp16", rows),
            b("int8", rows),
            b("int4", rows),
            b("int2", rows),
            b("1bit", rows),
            p("topk:ratio=0.1", rows),
            p("topk:ratio=1", rows),
            p("randk:ratio=0.3", rows),
            p("qsgd:levels=1", rows),
            p("qsgd:levels=5", rows),
            p("qsgd:levels=255", rows),
            p("signsgd", rows),
        ]
    }

    fn block(rng: &mut SplitMix64, rows: usize, cols: usize) -> Vec<f32> {
        let mut v: Vec<f32> = (0..rows * cols).map(|_| rng.normal() as f32 * 3.0).collect();
        // A constant row, a zero row and a row with ties and a signed zero.
        v[cols..2 * cols].fill(1.5);
        v[2 * cols..3 * cols].fill(0.0);
        for c in 0..cols {
            v[3 * cols + c] = [2.0, -2.0, 0.5, -0.0][c % 4];
        }
        v
    }

    #[test]
    fn packing_reproduces_the_fused_ops_bit_for_bit() {
        let mut rng = SplitMix64::new(11);
        let (rows, cols) = (7, 37);
        let v = block(&mut rng, rows, cols);
        let ids: Vec<u32> = (0..rows as u32).map(|r| 1000 + 17 * r).collect();
        for (codec, bytes) in codecs(cols) {
            let step = CompressStep { codec, stream: 0xdead_beef };
            let wire = encode(&codec, step.stream, &v, cols, &ids);
            assert_eq!(wire.len() as u64, bytes, "{codec:?}: packed length vs encoded_bytes");
            let got = decode(&codec, &wire, rows, cols, &ids);
            let mut fused = vec![f32::NAN; v.len()];
            compress_rows(&v, cols, &ids, &step, &mut fused);
            for (i, (g, f)) in got.iter().zip(&fused).enumerate() {
                assert_eq!(g.to_bits(), f.to_bits(), "{codec:?}: element {i}: packed {g} vs fused {f}");
            }
        }
    }

    #[test]
    fn bit_packing_known_answer() {
        // 2-bit codes of one row [0, 1, 2, 3, 3] over [0, 3]: scale 1, levels exact, packed LSB
        // first: 0b11_10_01_00 then 0b11.
        let v = [0.0, 1.0, 2.0, 3.0, 3.0];
        let wire = encode(&RowCodec::Uniform { bits: 2 }, 0, &v, 5, &[0]);
        let mut want = Vec::new();
        want.extend_from_slice(&0.0f32.to_le_bytes());
        want.extend_from_slice(&1.0f32.to_le_bytes());
        want.extend_from_slice(&[0b1110_0100, 0b11]);
        assert_eq!(wire, want);
        // Signs of [1, −1, 0, −2] → bits 1, 0, 1, 0; scale mean |v| = 1.
        let wire = encode(&RowCodec::Sign, 0, &[1.0, -1.0, 0.0, -2.0], 4, &[0]);
        assert_eq!(wire, [1.0f32.to_le_bytes().as_slice(), &[0b0101]].concat());
        // Top-2 of [0.5, −3, 2, −2]: (column 1, −3) and (column 2, 2).
        let wire = encode(&RowCodec::TopK { k: 2 }, 0, &[0.5, -3.0, 2.0, -2.0], 4, &[0]);
        let want: Vec<u8> =
            [1u32.to_le_bytes(), (-3.0f32).to_le_bytes(), 2u32.to_le_bytes(), 2.0f32.to_le_bytes()].concat();
        assert_eq!(wire, want);
        assert_eq!(k_of(0.5, 4), 2);
    }
}
