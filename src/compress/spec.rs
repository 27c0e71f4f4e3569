//! The codec flags: `--compress-boundary` / `--compress-boundary-grad`, `--compress-push` and
//! `--compress-pull`, parsed from spec strings (`name[:key=value,…][,ef]`), written back by
//! `Display`, (de)serialized through the same strings, and each codec's exact size on the wire.

use std::fmt;
use std::str::FromStr;

use crate::backend::compress::{k_of, powersgd_rank, RowCodec};
use crate::spec::{Parsed, SpecError};

/// Bytes of an f32 on the wire (scales, norms, values of sparse codecs, PowerSGD's factors).
const F32: u64 = 4;
/// Bytes of a u32 index of a sparse codec.
const U32: u64 = 4;

/// Splits the `ef` flag off a spec: `int8:ef`, `topk:ratio=0.01,ef` and `signsgd,ef` give the
/// spec without it and `true`.
fn split_ef(what: &'static str, spec: &str) -> Result<(String, bool), SpecError> {
    let fail = |message: String| SpecError { what, spec: spec.to_string(), message };
    let (name, rest) = match spec.find([':', ',']) {
        Some(i) => (&spec[..i], &spec[i + 1..]),
        None => (spec, ""),
    };
    let mut ef = false;
    let mut kept = Vec::new();
    for item in rest.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        if item == "ef" {
            if ef {
                return Err(fail("`ef` given twice".into()));
            }
            ef = true;
        } else {
            kept.push(item);
        }
    }
    let core = if kept.is_empty() { name.trim().to_string() } else { format!("{}:{}", name.trim(), kept.join(",")) };
    Ok((core, ef))
}

/// Parses the part without `ef`, reporting errors against the whole spec.
fn parse<'a>(
    what: &'static str,
    spec: &str,
    core: &'a str,
    grammar: &[(&str, &[&str])],
) -> Result<Parsed<'a>, SpecError> {
    Parsed::new(what, core, grammar).map_err(|e| SpecError { spec: spec.to_string(), ..e })
}

fn write_ef(f: &mut fmt::Formatter<'_>, params: Option<String>, ef: bool) -> fmt::Result {
    match (params, ef) {
        (None, false) => Ok(()),
        (None, true) => write!(f, ":ef"),
        (Some(p), false) => write!(f, ":{p}"),
        (Some(p), true) => write!(f, ":{p},ef"),
    }
}

/// `ceil(bits / 8)`.
fn packed(values: u64, bits: u64) -> u64 {
    (values * bits).div_ceil(8)
}

// ------------------------------------------------------------------------------ boundary

/// How boundary rows (or their gradients) travel. Each row block is `rows × cols` f32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BoundaryCodec {
    /// Plain f32: 4 B per value (today's exchange).
    #[default]
    None,
    /// IEEE half: 2 B per value.
    Fp16,
    /// AdaQP's uniform quantizer with `bits` ∈ {8, 4, 2}: the codes packed contiguously over
    /// the block, plus per row a zero point and a scale (2 f32).
    Int { bits: u32 },
    /// Sylvie's 1-bit features: 1 bit per value packed over the block, plus per row two f32
    /// scales, the mean of the non-negative values and the mean of the negative ones (1-bit
    /// SGD's reconstruction; a single scale would send both sides to ±mean|v|).
    OneBit,
}

/// (name, keys) of the boundary codecs.
pub const BOUNDARY_CODECS: &[(&str, &[&str])] =
    &[("none", &[]), ("fp16", &[]), ("int8", &[]), ("int4", &[]), ("int2", &[]), ("1bit", &[])];

/// `--compress-boundary` / `--compress-boundary-grad`: a codec and whether the sender keeps an
/// error-feedback residual per row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BoundaryCompression {
    pub codec: BoundaryCodec,
    pub error_feedback: bool,
}

impl BoundaryCompression {
    pub fn is_none(&self) -> bool {
        self.codec == BoundaryCodec::None
    }

    /// Exact bytes of a `rows × cols` block on the wire.
    pub fn encoded_bytes(&self, rows: usize, cols: usize) -> u64 {
        let (rows, n) = (rows as u64, (rows * cols) as u64);
        match self.codec {
            BoundaryCodec::None => 4 * n,
            BoundaryCodec::Fp16 => 2 * n,
            BoundaryCodec::Int { bits } => packed(n, bits as u64) + 2 * F32 * rows,
            BoundaryCodec::OneBit => packed(n, 1) + 2 * F32 * rows,
        }
    }

    /// The row codec the backend runs (`None` for plain f32, which sends x itself).
    pub fn row_codec(&self) -> Option<RowCodec> {
        match self.codec {
            BoundaryCodec::None => None,
            BoundaryCodec::Fp16 => Some(RowCodec::Fp16),
            BoundaryCodec::Int { bits } => Some(RowCodec::Uniform { bits }),
            BoundaryCodec::OneBit => Some(RowCodec::OneBit),
        }
    }
}

impl FromStr for BoundaryCompression {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        const WHAT: &str = "boundary compression";
        let (core, error_feedback) = split_ef(WHAT, s)?;
        let p = parse(WHAT, s, &core, BOUNDARY_CODECS)?;
        let codec = match p.name {
            "none" => BoundaryCodec::None,
            "fp16" => BoundaryCodec::Fp16,
            "int8" => BoundaryCodec::Int { bits: 8 },
            "int4" => BoundaryCodec::Int { bits: 4 },
            "int2" => BoundaryCodec::Int { bits: 2 },
            "1bit" => BoundaryCodec::OneBit,
            _ => unreachable!("Parsed::new accepts only names of BOUNDARY_CODECS"),
        };
        if codec == BoundaryCodec::None && error_feedback {
            return Err(p.fail("`none` loses nothing, so it has no error to feed back (drop `:ef`)".into()));
        }
        Ok(Self { codec, error_feedback })
    }
}

impl fmt::Display for BoundaryCompression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.codec {
            BoundaryCodec::None => write!(f, "none")?,
            BoundaryCodec::Fp16 => write!(f, "fp16")?,
            BoundaryCodec::Int { bits } => write!(f, "int{bits}")?,
            BoundaryCodec::OneBit => write!(f, "1bit")?,
        }
        write_ef(f, None, self.error_feedback)
    }
}

crate::spec_serde!(BoundaryCompression, SpecError);

// ------------------------------------------------------------------------------ push

/// How a worker's gradient travels to the server.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum PushCodec {
    /// Plain f32 (today's push).
    #[default]
    None,
    /// IEEE half: 2 B per value.
    Fp16,
    /// The ⌈ratio·cols⌉ values of largest |g| per row, each sent with its u32 column.
    TopK { ratio: f64 },
    /// ⌈ratio·cols⌉ values per row at columns drawn by the counter hash. Only the values travel,
    /// plus the 4-byte stream key once: the columns are a pure function of (key, row, column)
    /// that the server recomputes, so sending them would double the bytes for nothing.
    RandK { ratio: f64 },
    /// QSGD with `levels` = S: per row the f32 norm, per value a sign bit and a level in 0..=S
    /// in ⌈log2(S + 1)⌉ bits, packed (fixed width, not the paper's Elias code).
    Qsgd { levels: u32 },
    /// signSGD with a scale: 1 bit per value, one f32 (mean |g|) per row.
    SignSgd,
    /// PowerSGD at rank r: P (rows × r) and Q (cols × r) in f32, r at most min(rows, cols).
    PowerSgd { rank: usize },
}

/// (name, keys) of the push codecs.
pub const PUSH_CODECS: &[(&str, &[&str])] = &[
    ("none", &[]),
    ("fp16", &[]),
    ("topk", &["ratio"]),
    ("randk", &["ratio"]),
    ("qsgd", &["levels"]),
    ("signsgd", &[]),
    ("powersgd", &["rank"]),
];

/// `--compress-push`: a codec and whether each worker keeps an error-feedback residual.
#[derive(Clone, Copy, Debug, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PushCompression {
    pub codec: PushCodec,
    pub error_feedback: bool,
}

impl PushCompression {
    pub fn is_none(&self) -> bool {
        self.codec == PushCodec::None
    }

    /// Exact bytes of a `rows × cols` gradient on the wire.
    pub fn encoded_bytes(&self, rows: usize, cols: usize) -> u64 {
        let n = (rows * cols) as u64;
        let rows64 = rows as u64;
        match self.codec {
            PushCodec::None => 4 * n,
            PushCodec::Fp16 => 2 * n,
            PushCodec::TopK { ratio } => rows64 * k_of(ratio, cols) as u64 * (F32 + U32),
            PushCodec::RandK { ratio } => rows64 * k_of(ratio, cols) as u64 * F32 + U32,
            PushCodec::Qsgd { levels } => packed(n, 1 + level_bits(levels)) + F32 * rows64,
            PushCodec::SignSgd => packed(n, 1) + F32 * rows64,
            PushCodec::PowerSgd { rank } => {
                let r = powersgd_rank(rank, rows, cols) as u64;
                F32 * r * (rows64 + cols as u64)
            }
        }
    }

    /// The row codec the backend runs for rows of `cols` values; `None` for plain f32 and for
    /// PowerSGD (its own op).
    pub fn row_codec(&self, cols: usize) -> Option<RowCodec> {
        match self.codec {
            PushCodec::None | PushCodec::PowerSgd { .. } => None,
            PushCodec::Fp16 => Some(RowCodec::Fp16),
            PushCodec::TopK { ratio } => Some(RowCodec::TopK { k: k_of(ratio, cols) }),
            PushCodec::RandK { ratio } => Some(RowCodec::RandK { k: k_of(ratio, cols) }),
            PushCodec::Qsgd { levels } => Some(RowCodec::Qsgd { levels }),
            PushCodec::SignSgd => Some(RowCodec::Sign),
        }
    }
}

/// Bits of a QSGD level in 0..=S.
fn level_bits(levels: u32) -> u64 {
    (u32::BITS - levels.leading_zeros()) as u64
}

impl FromStr for PushCompression {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        const WHAT: &str = "push compression";
        let (core, error_feedback) = split_ef(WHAT, s)?;
        let p = parse(WHAT, s, &core, PUSH_CODECS)?;
        fn required<T>(p: &Parsed<'_>, key: &str, v: Option<T>) -> Result<T, SpecError> {
            v.ok_or_else(|| p.fail(format!("{}: `{key}` is required", p.name)))
        }
        let ratio = || {
            let v = p.get("ratio", "a number in (0, 1]", |r: f64| r > 0.0 && r <= 1.0).map_err(|e| SpecError {
                message: format!("{}: ratio must be in (0, 1] ({})", p.name, e.message),
                ..e
            })?;
            required(&p, "ratio", v)
        };
        let codec = match p.name {
            "none" => PushCodec::None,
            "fp16" => PushCodec::Fp16,
            "topk" => PushCodec::TopK { ratio: ratio()? },
            "randk" => PushCodec::RandK { ratio: ratio()? },
            "qsgd" => PushCodec::Qsgd {
                levels: required(
                    &p,
                    "levels",
                    p.get("levels", "an integer in 1..=65535", |l: u32| (1..=65535).contains(&l))?,
                )?,
            },
            "signsgd" => PushCodec::SignSgd,
            "powersgd" => PushCodec::PowerSgd { rank: required(&p, "rank", p.positive_count("rank")?)? },
            _ => unreachable!("Parsed::new accepts only names of PUSH_CODECS"),
        };
        if codec == PushCodec::None && error_feedback {
            return Err(p.fail("`none` loses nothing, so it has no error to feed back (drop `,ef`)".into()));
        }
        Ok(Self { codec, error_feedback })
    }
}

impl fmt::Display for PushCompression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, params) = match self.codec {
            PushCodec::None => ("none", None),
            PushCodec::Fp16 => ("fp16", None),
            PushCodec::TopK { ratio } => ("topk", Some(format!("ratio={ratio}"))),
            PushCodec::RandK { ratio } => ("randk", Some(format!("ratio={ratio}"))),
            PushCodec::Qsgd { levels } => ("qsgd", Some(format!("levels={levels}"))),
            PushCodec::SignSgd => ("signsgd", None),
            PushCodec::PowerSgd { rank } => ("powersgd", Some(format!("rank={rank}"))),
        };
        write!(f, "{name}")?;
        write_ef(f, params, self.error_feedback)
    }
}

crate::spec_serde!(PushCompression, SpecError);

// ------------------------------------------------------------------------------ pull

/// `--compress-pull`: how the server's weights travel to the workers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum PullCompression {
    #[default]
    None,
    Fp16,
}

impl PullCompression {
    pub fn is_none(&self) -> bool {
        *self == PullCompression::None
    }

    pub fn encoded_bytes(&self, rows: usize, cols: usize) -> u64 {
        let n = (rows * cols) as u64;
        match self {
            PullCompression::None => 4 * n,
            PullCompression::Fp16 => 2 * n,
        }
    }
}

impl FromStr for PullCompression {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        let p = Parsed::new("pull compression", s, &[("none", &[]), ("fp16", &[])])?;
        Ok(if p.name == "fp16" { PullCompression::Fp16 } else { PullCompression::None })
    }
}

impl fmt::Display for PullCompression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PullCompression::None => "none",
            PullCompression::Fp16 => "fp16",
        })
    }
}

crate::spec_serde!(PullCompression, SpecError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_specs_parse_and_round_trip() {
        for text in ["none", "fp16", "int8", "int4", "int2", "1bit", "int8:ef", "1bit:ef", "fp16:ef"] {
            let c: BoundaryCompression = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(c.to_string(), text);
        }
        let c: BoundaryCompression = "int4,ef".parse().unwrap();
        assert_eq!(c, BoundaryCompression { codec: BoundaryCodec::Int { bits: 4 }, error_feedback: true });
        assert_eq!(c.to_string(), "int4:ef");
        assert!(BoundaryCompression::default().is_none());
    }

    #[test]
    fn push_specs_parse_and_round_trip() {
        for text in [
            "none",
            "fp16",
            "fp16:ef",
            "topk:ratio=0.01",
            "topk:ratio=0.01,ef",
            "randk:ratio=0.25,ef",
            "qsgd:levels=4",
            "qsgd:levels=16,ef",
            "signsgd",
            "signsgd:ef",
            "powersgd:rank=2",
            "powersgd:rank=4,ef",
        ] {
            let c: PushCompression = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(c.to_string(), text);
            assert_eq!(c.to_string().parse::<PushCompression>().unwrap(), c);
        }
        assert_eq!("signsgd,ef".parse::<PushCompression>().unwrap().to_string(), "signsgd:ef");
        assert_eq!("topk:ef,ratio=0.5".parse::<PushCompression>().unwrap().to_string(), "topk:ratio=0.5,ef");
        for text in ["none", "fp16"] {
            assert_eq!(text.parse::<PullCompression>().unwrap().to_string(), text);
        }
    }

    #[test]
    fn bad_specs_name_the_bad_part() {
        let err = |s: &str| s.parse::<PushCompression>().unwrap_err().to_string();
        let e = err("topk:ratio=2");
        assert!(e.contains("topk: ratio must be in (0, 1]") && e.contains("`topk:ratio=2`"), "{e}");
        assert!(err("topk:ratio=0").contains("ratio must be in (0, 1]"));
        assert!(err("topk").contains("topk: `ratio` is required"), "{}", err("topk"));
        assert!(err("qsgd:levels=0").contains("key `levels`"), "{}", err("qsgd:levels=0"));
        assert!(err("powersgd:rank=0").contains("key `rank`"));
        assert!(err("powersgd:ratio=0.1").contains("unknown key `ratio`"));
        assert!(err("gzip").contains("unknown push compression `gzip`"), "{}", err("gzip"));
        assert!(err("none,ef").contains("no error to feed back"));
        assert!(err("topk:ratio=0.1,ef,ef").contains("`ef` given twice"));
        let b = |s: &str| s.parse::<BoundaryCompression>().unwrap_err().to_string();
        assert!(b("int3").contains("unknown boundary compression `int3`"), "{}", b("int3"));
        assert!(b("int8:bits=4").contains("`int8` takes no keys"), "{}", b("int8:bits=4"));
        assert!(b("none:ef").contains("no error to feed back"));
        assert!("bf16".parse::<PullCompression>().unwrap_err().to_string().contains("pull compression"));
        assert!("fp16:ef".parse::<PullCompression>().is_err());
    }

    #[test]
    fn serde_goes_through_the_spec_strings() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Config {
            boundary: BoundaryCompression,
            push: PushCompression,
            pull: PullCompression,
        }
        let c = Config {
            boundary: "int4:ef".parse().unwrap(),
            push: "topk:ratio=0.01,ef".parse().unwrap(),
            pull: PullCompression::Fp16,
        };
        let text = toml::to_string(&c).unwrap();
        assert!(text.contains("push = \"topk:ratio=0.01,ef\""), "{text}");
        assert_eq!(toml::from_str::<Config>(&text).unwrap(), c);
        let bad = toml::from_str::<Config>("boundary = \"int3\"\npush = \"none\"\npull = \"none\"");
        assert!(bad.unwrap_err().to_string().contains("int3"));
    }

    #[test]
    fn encoded_sizes_by_hand() {
        let b = |s: &str| s.parse::<BoundaryCompression>().unwrap();
        // 10 rows × 16 columns = 160 values.
        assert_eq!(b("none").encoded_bytes(10, 16), 640);
        assert_eq!(b("fp16").encoded_bytes(10, 16), 320);
        assert_eq!(b("int8").encoded_bytes(10, 16), 160 + 80);
        assert_eq!(b("int4:ef").encoded_bytes(10, 16), 80 + 80);
        assert_eq!(b("int2").encoded_bytes(10, 16), 40 + 80);
        assert_eq!(b("1bit").encoded_bytes(10, 16), 20 + 80);
        // Ragged: 3 × 5 = 15 values of 2 bits = 30 bits → 4 bytes.
        assert_eq!(b("int2").encoded_bytes(3, 5), 4 + 24);
        let p = |s: &str| s.parse::<PushCompression>().unwrap();
        // One row of 1000 values.
        assert_eq!(p("none").encoded_bytes(1, 1000), 4000);
        assert_eq!(p("fp16").encoded_bytes(1, 1000), 2000);
        assert_eq!(p("topk:ratio=0.01").encoded_bytes(1, 1000), 10 * 8);
        assert_eq!(p("randk:ratio=0.01").encoded_bytes(1, 1000), 10 * 4 + 4);
        // S = 4 needs 3 bits for 0..=4, plus the sign: 4 bits per value.
        assert_eq!(p("qsgd:levels=4").encoded_bytes(1, 1000), 500 + 4);
        assert_eq!(p("qsgd:levels=1").encoded_bytes(1, 1000), 250 + 4);
        assert_eq!(p("qsgd:levels=255").encoded_bytes(1, 1000), 1125 + 4);
        assert_eq!(p("signsgd").encoded_bytes(1, 1000), 125 + 4);
        // PowerSGD on 1000 × 64 at rank 4: (1000 + 64) · 4 f32; rank clamps to min(n, m).
        assert_eq!(p("powersgd:rank=4").encoded_bytes(1000, 64), 4 * 4 * 1064);
        assert_eq!(p("powersgd:rank=8").encoded_bytes(3, 100), 4 * 3 * 103);
        assert_eq!(PullCompression::Fp16.encoded_bytes(16, 7), 224);
    }
}
