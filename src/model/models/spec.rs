//! `--model NAME[:key=value,…]`: which network the workers train, with its constants.
//! `gcn` (Kipf & Welling 2017), `sage[:root=B]` (Hamilton et al. 2017, mean
//! aggregation as PyG's `SAGEConv`), `gat[:heads=H,out_heads=O,negative_slope=S,attn_dropout=D]`
//! (Veličković et al. 2018, as PyG's `GATConv`).

use std::fmt;
use std::str::FromStr;

use crate::spec::{non_default, write_spec, Parsed, SpecError};

/// (name, keys) of every model.
pub const MODELS: &[(&str, &[&str])] =
    &[("gcn", &[]), ("sage", &["aggr", "root"]), ("gat", &["heads", "out_heads", "negative_slope", "attn_dropout"])];

/// GAT's constants: the paper's Cora settings.
pub const GAT_HEADS: usize = 8;
pub const GAT_OUT_HEADS: usize = 1;
pub const GAT_NEGATIVE_SLOPE: f32 = 0.2;
pub const GAT_ATTN_DROPOUT: f32 = 0.6;
/// Most heads a GAT layer may have (the attention kernels loop over heads per edge).
pub const MAX_HEADS: usize = 16;

/// A model and its constants.
#[derive(Clone, Copy, Debug, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ModelSpec {
    /// Kipf & Welling's GCN: `Z = Â·H·W`, Â the symmetric renormalized adjacency.
    #[default]
    Gcn,
    /// GraphSAGE with mean aggregation: `Z = H·W_root + mean_{j∈N(i)} H_j·W_neigh + b` over the
    /// raw adjacency (no self-loops); `root = false` drops the first term.
    Sage { root: bool },
    /// GAT: per head, `z = H·W`, `α_ij = softmax_j LeakyReLU(a_srcᵀz_j + a_dstᵀz_i)` over the
    /// edges with self-loops, `h'_i = Σ_j α_ij z_j`; hidden layers concatenate `heads` heads,
    /// the output layer averages `out_heads`; dropout `attn_dropout` on α.
    Gat { heads: usize, out_heads: usize, negative_slope: f32, attn_dropout: f32 },
}

impl ModelSpec {
    pub fn name(&self) -> &'static str {
        match self {
            ModelSpec::Gcn => "gcn",
            ModelSpec::Sage { .. } => "sage",
            ModelSpec::Gat { .. } => "gat",
        }
    }

    /// GraphSAGE with PyG's defaults (root weight).
    pub fn sage() -> Self {
        ModelSpec::Sage { root: true }
    }

    /// GAT with the paper's constants.
    pub fn gat() -> Self {
        ModelSpec::Gat {
            heads: GAT_HEADS,
            out_heads: GAT_OUT_HEADS,
            negative_slope: GAT_NEGATIVE_SLOPE,
            attn_dropout: GAT_ATTN_DROPOUT,
        }
    }
}

fn parse_bool(p: &Parsed<'_>, key: &str) -> Result<Option<bool>, SpecError> {
    p.get(key, "true or false", |_: bool| true)
}

impl FromStr for ModelSpec {
    type Err = SpecError;

    fn from_str(spec: &str) -> Result<Self, SpecError> {
        let p = Parsed::new("model", spec, MODELS)?;
        Ok(match p.name {
            "gcn" => ModelSpec::Gcn,
            "sage" => {
                if let Some(aggr) = p.raw("aggr") {
                    if aggr != "mean" {
                        return Err(p.fail(format!("key `aggr`: `{aggr}` is not supported; expected mean")));
                    }
                }
                ModelSpec::Sage { root: parse_bool(&p, "root")?.unwrap_or(true) }
            }
            "gat" => {
                let heads_range = format!("an integer from 1 to {MAX_HEADS}");
                let heads_ok = |h: usize| (1..=MAX_HEADS).contains(&h);
                ModelSpec::Gat {
                    heads: p.get("heads", &heads_range, heads_ok)?.unwrap_or(GAT_HEADS),
                    out_heads: p.get("out_heads", &heads_range, heads_ok)?.unwrap_or(GAT_OUT_HEADS),
                    negative_slope: p
                        .get("negative_slope", "a finite number ≥ 0", |v: f32| v.is_finite() && v >= 0.0)?
                        .unwrap_or(GAT_NEGATIVE_SLOPE),
                    attn_dropout: p
                        .get("attn_dropout", "a number in [0, 1)", |v: f32| (0.0..1.0).contains(&v))?
                        .unwrap_or(GAT_ATTN_DROPOUT),
                }
            }
            other => unreachable!("Parsed::new accepts only the grammar's names, got {other}"),
        })
    }
}

impl fmt::Display for ModelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ModelSpec::Gcn => write!(f, "gcn"),
            ModelSpec::Sage { root } => write_spec(f, "sage", &[("root", non_default(root, true))]),
            ModelSpec::Gat { heads, out_heads, negative_slope, attn_dropout } => write_spec(
                f,
                "gat",
                &[
                    ("heads", non_default(heads, GAT_HEADS)),
                    ("out_heads", non_default(out_heads, GAT_OUT_HEADS)),
                    ("negative_slope", non_default(negative_slope, GAT_NEGATIVE_SLOPE)),
                    ("attn_dropout", non_default(attn_dropout, GAT_ATTN_DROPOUT)),
                ],
            ),
        }
    }
}

crate::spec_serde!(ModelSpec, SpecError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_round_trip_and_default() {
        for text in ["gcn", "sage", "sage:root=false", "gat", "gat:heads=4,attn_dropout=0.5"] {
            let spec: ModelSpec = text.parse().unwrap();
            assert_eq!(spec.to_string(), text);
            assert_eq!(spec.to_string().parse::<ModelSpec>().unwrap(), spec);
        }
        assert_eq!("gat".parse::<ModelSpec>().unwrap(), ModelSpec::gat());
        assert_eq!("sage:aggr=mean".parse::<ModelSpec>().unwrap(), ModelSpec::sage());
        assert_eq!(ModelSpec::default(), ModelSpec::Gcn);
    }

    #[test]
    fn bad_specs_name_the_key() {
        for (text, needle) in [
            ("gin", "unknown model `gin`; valid: gcn, sage, gat"),
            ("gat:heads=0", "key `heads`"),
            ("gat:heads=17", "key `heads`"),
            ("gat:attn_dropout=1", "key `attn_dropout`"),
            ("sage:aggr=max", "key `aggr`"),
            ("sage:root=yes", "key `root`"),
            ("gcn:heads=2", "`gcn` takes no keys"),
        ] {
            let err = text.parse::<ModelSpec>().unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
