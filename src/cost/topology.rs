//! How P gradients are combined: which partial sums exist, where they are computed, and in what
//! order. The structure is plain data so the simulator can sum on the GPU in the same order the
//! network schedule assumes.
//!
//! Levels: level 0 is the P workers' own gradients (partial i is worker i's). Each later level
//! is a list of groups; group g combines the listed partials of the level below, in the listed
//! order, into partial g of its level. A partial lives on a **host** worker: worker i for level
//! 0, and for a group the host of its lowest-index member (so that member's partial never
//! travels). The other members' hosts send it their partials.

use std::fmt;
use std::str::FromStr;

/// Per level, per group, the partials of the level below combined, in summation order.
pub type Levels = Vec<Vec<Vec<usize>>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", try_from = "TopologyFields", into = "TopologyFields")]
pub enum Topology {
    /// Every worker pushes to the server, which broadcasts the new weights back.
    #[default]
    Flat,
    /// Spark's `treeAggregate` with this `depth` (≥ 1): intermediate levels summed at workers,
    /// the last level at the server; see [`tree_levels`]. The broadcast runs down the same tree.
    Tree { depth: u32 },
    /// The pairwise tree of `ReduceOrder::Tree` (round r adds partial j + 2^r into j), reduced
    /// to worker 0 and broadcast back from it, with no server: worker 0 plays the server (as
    /// MPI's reduce + broadcast). See [`binary_tree_levels`].
    BinaryTree,
    /// Ring all-reduce with no server: reduce-scatter then all-gather, each P − 1 steps of M/P
    /// bytes; every worker ends with the aggregate and applies the update itself.
    Ring,
}

/// Spark's `treeAggregate` default depth.
pub const DEFAULT_TREE_DEPTH: u32 = 2;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("topology `{spec}`: {message}; valid: flat, tree, tree:depth=D (D ≥ 1), binary_tree, ring")]
pub struct TopologyError {
    pub spec: String,
    pub message: String,
}

/// `flat`, `ring`, `binary_tree`, `tree` (depth 2) or `tree:depth=D`.
impl FromStr for Topology {
    type Err = TopologyError;

    fn from_str(s: &str) -> Result<Self, TopologyError> {
        let fail = |message: &str| TopologyError { spec: s.to_string(), message: message.to_string() };
        match s {
            "flat" => return Ok(Topology::Flat),
            "ring" => return Ok(Topology::Ring),
            "binary_tree" => return Ok(Topology::BinaryTree),
            "tree" => return Ok(Topology::Tree { depth: DEFAULT_TREE_DEPTH }),
            _ => {}
        }
        let depth = s
            .strip_prefix("tree:depth=")
            .ok_or_else(|| fail("unknown topology"))?
            .parse::<u32>()
            .map_err(|_| fail("the depth must be a whole number"))?;
        if depth == 0 {
            return Err(fail("the depth must be at least 1"));
        }
        Ok(Topology::Tree { depth })
    }
}

impl fmt::Display for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Topology::Flat => write!(f, "flat"),
            Topology::Tree { depth } => write!(f, "tree:depth={depth}"),
            Topology::BinaryTree => write!(f, "binary_tree"),
            Topology::Ring => write!(f, "ring"),
        }
    }
}

/// The serde form (`"flat"`, `{ tree = { depth = 3 } }`, …), checked on the way in.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum TopologyFields {
    Flat,
    Tree { depth: u32 },
    BinaryTree,
    Ring,
}

impl TryFrom<TopologyFields> for Topology {
    type Error = String;

    fn try_from(t: TopologyFields) -> Result<Self, String> {
        Ok(match t {
            TopologyFields::Flat => Topology::Flat,
            TopologyFields::Tree { depth: 0 } => return Err("topology tree: the depth must be at least 1".into()),
            TopologyFields::Tree { depth } => Topology::Tree { depth },
            TopologyFields::BinaryTree => Topology::BinaryTree,
            TopologyFields::Ring => Topology::Ring,
        })
    }
}

impl From<Topology> for TopologyFields {
    fn from(t: Topology) -> Self {
        match t {
            Topology::Flat => TopologyFields::Flat,
            Topology::Tree { depth } => TopologyFields::Tree { depth },
            Topology::BinaryTree => TopologyFields::BinaryTree,
            Topology::Ring => TopologyFields::Ring,
        }
    }
}

/// Where the last level is summed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Root {
    /// The server receives every partial of the last level (flat, Spark tree).
    Server,
    /// The last level is summed at its host worker like any other (binary tree: worker 0).
    Worker,
}

impl Topology {
    /// The summation structure and its root for `p` workers; `None` for the ring, whose
    /// reduce-scatter sums chunk c in ring order starting at worker c + 1, not a tree.
    pub fn levels(self, p: usize) -> Option<(Levels, Root)> {
        match self {
            Topology::Flat => Some((vec![vec![(0..p).collect()]], Root::Server)),
            Topology::Tree { depth } => Some((tree_levels(p, depth), Root::Server)),
            Topology::BinaryTree => Some((binary_tree_levels(p), Root::Worker)),
            Topology::Ring => None,
        }
    }
}

/// Spark's `RDD.treeAggregate` grouping for `p` partials (apache/spark
/// `core/src/main/scala/org/apache/spark/rdd/RDD.scala`, commit 5058148):
///
/// ```scala
/// val scale = math.max(math.ceil(math.pow(numPartitions, 1.0 / depth)).toInt, 2)
/// while (numPartitions > scale + math.ceil(numPartitions.toDouble / scale)) {
///   numPartitions /= scale
///   ... mapPartitionsWithIndex { (i, iter) => iter.map((i % curNumPartitions, _)) }
///       .foldByKey(zeroValue, new HashPartitioner(curNumPartitions))(cleanCombOp).values
/// }
/// partiallyAggregated.fold(copiedZeroValue)(cleanCombOp)   // at the driver
/// ```
///
/// Note `numPartitions /= scale` is integer (floor) division, while the loop test uses the
/// ceiling. Partial i of a level goes to group `i mod n` of the next (`HashPartitioner` puts
/// the Int key j in partition j), so group j = [j, j + n, j + 2n, …]. The last level is one group
/// of all remaining partials, folded at the driver: our server. `scale` is computed with f64
/// `powf` and `ceil`, like the JVM's `Math.pow`, so exact powers agree (64^(1/3) rounds to
/// 3.9999999999999996, whose ceiling is 4 in both).
///
/// Spark's own summation order is not fixed: `foldByKey` merges in shuffle-fetch order and the
/// driver folds task results as they finish. We fix ascending partial index, and Spark's zero
/// value is left out (adding 0 first is exact).
pub fn tree_levels(p: usize, depth: u32) -> Levels {
    assert!(p > 0, "tree_levels: no workers");
    assert!(depth >= 1, "tree_levels: depth must be at least 1");
    let scale = ((p as f64).powf(1.0 / depth as f64).ceil() as usize).max(2);
    let mut levels = Vec::new();
    let mut n = p;
    while n > scale + n.div_ceil(scale) {
        let groups = n / scale;
        levels.push((0..groups).map(|j| (j..n).step_by(groups).collect()).collect());
        n = groups;
    }
    levels.push(vec![(0..n).collect()]);
    levels
}

/// The pairwise tree of `ReduceOrder::Tree` / `cpu::ops::tree_sum`: level r + 1 pairs partials
/// (2g, 2g + 1) of level r, an odd one out passing through alone; ⌈log2 p⌉ levels, the last a
/// single group. Group g of level r is hosted by worker g·2^r, so worker 0 ends with the sum.
pub fn binary_tree_levels(p: usize) -> Levels {
    assert!(p > 0, "binary_tree_levels: no workers");
    let mut levels = Vec::new();
    let mut n = p;
    while n > 1 {
        levels.push((0..n.div_ceil(2)).map(|g| (2 * g..(2 * g + 2).min(n)).collect()).collect());
        n = n.div_ceil(2);
    }
    levels
}

/// `hosts[l][g]`: the worker holding partial g of level l (level 0 = the workers themselves).
/// With `Root::Server` the last level has no host worker; it is left out.
pub fn hosts(p: usize, levels: &Levels, root: Root) -> Vec<Vec<usize>> {
    let mut hosts = vec![(0..p).collect::<Vec<_>>()];
    let summed_at_workers = if root == Root::Server { levels.len().saturating_sub(1) } else { levels.len() };
    for level in &levels[..summed_at_workers] {
        let below = hosts.last().expect("level 0 is there");
        let next =
            level.iter().map(|group| below[*group.iter().min().expect("a group has at least one member")]).collect();
        hosts.push(next);
    }
    hosts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spark_grouping_for_a_few_sizes() {
        // P=8, depth 2: scale ⌈√8⌉ = 3; 8 > 3 + ⌈8/3⌉ = 6, so n = ⌊8/3⌋ = 2; 2 > 3 + 1 fails.
        assert_eq!(tree_levels(8, 2), vec![vec![vec![0, 2, 4, 6], vec![1, 3, 5, 7]], vec![vec![0, 1]]]);
        // P=10, depth 2: scale ⌈√10⌉ = 4; 10 > 4 + 3, n = ⌊10/4⌋ = 2 (not ⌈10/4⌉ = 3).
        assert_eq!(tree_levels(10, 2), vec![vec![vec![0, 2, 4, 6, 8], vec![1, 3, 5, 7, 9]], vec![vec![0, 1]]]);
        // P=64, depth 3: scale 4; 64 > 4 + 16 → 16; 16 > 4 + 4 → 4; 4 > 4 + 1 fails.
        let l = tree_levels(64, 3);
        assert_eq!(l.len(), 3);
        assert_eq!(l[0].len(), 16);
        assert_eq!(l[0][5], vec![5, 21, 37, 53]);
        assert_eq!(l[1], (0..4).map(|j| vec![j, j + 4, j + 8, j + 12]).collect::<Vec<_>>());
        assert_eq!(l[2], vec![vec![0, 1, 2, 3]]);
        // Depth 1 is flat: scale = P and P > P + 1 never holds.
        assert_eq!(tree_levels(7, 1), vec![vec![(0..7).collect::<Vec<_>>()]]);
        // Depth log2 P does not give a binary tree: Spark stops when n ≤ scale + ⌈n/scale⌉,
        // so with scale 2 the server still receives 4 partials.
        assert_eq!(
            tree_levels(8, 3),
            vec![vec![vec![0, 4], vec![1, 5], vec![2, 6], vec![3, 7]], vec![vec![0, 1, 2, 3]]]
        );
    }

    #[test]
    fn every_partial_is_summed_exactly_once() {
        for p in 1..=70 {
            for levels in [tree_levels(p, 2), tree_levels(p, 3), binary_tree_levels(p)] {
                let mut n = p;
                for level in &levels {
                    let mut seen: Vec<usize> = level.iter().flatten().copied().collect();
                    seen.sort_unstable();
                    assert_eq!(seen, (0..n).collect::<Vec<_>>(), "p={p} {levels:?}");
                    n = level.len();
                }
                assert_eq!(n, 1, "p={p}: the last level is one group");
            }
        }
    }

    #[test]
    fn binary_tree_matches_tree_sum_pairs_and_hosts() {
        let l = binary_tree_levels(5);
        assert_eq!(l, vec![vec![vec![0, 1], vec![2, 3], vec![4]], vec![vec![0, 1], vec![2]], vec![vec![0, 1]]]);
        assert_eq!(hosts(5, &l, Root::Worker), vec![vec![0, 1, 2, 3, 4], vec![0, 2, 4], vec![0, 4], vec![0]]);
        assert!(binary_tree_levels(1).is_empty());
        let t = tree_levels(8, 2);
        assert_eq!(hosts(8, &t, Root::Server), vec![(0..8).collect::<Vec<_>>(), vec![0, 1]]);
    }

    #[test]
    fn parses_and_prints_topologies() {
        for (s, t) in [
            ("flat", Topology::Flat),
            ("ring", Topology::Ring),
            ("binary_tree", Topology::BinaryTree),
            ("tree", Topology::Tree { depth: 2 }),
            ("tree:depth=3", Topology::Tree { depth: 3 }),
        ] {
            assert_eq!(s.parse::<Topology>().unwrap(), t);
            assert_eq!(t.to_string().parse::<Topology>().unwrap(), t);
        }
        for bad in ["tree:depth=0", "tree:depth=x", "star", "tree:3"] {
            let err = bad.parse::<Topology>().unwrap_err();
            assert_eq!(err.spec, bad);
        }
    }

    #[test]
    fn serde_is_snake_case_and_rejects_depth_zero() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Cfg {
            topology: Topology,
        }
        let cfg: Cfg = toml::from_str("topology = { tree = { depth = 3 } }").unwrap();
        assert_eq!(cfg.topology, Topology::Tree { depth: 3 });
        assert_eq!(toml::from_str::<Cfg>("topology = \"binary_tree\"").unwrap().topology, Topology::BinaryTree);
        assert_eq!(toml::to_string(&Cfg { topology: Topology::Ring }).unwrap().trim(), "topology = \"ring\"");
        let err = toml::from_str::<Cfg>("topology = { tree = { depth = 0 } }").unwrap_err().to_string();
        assert!(err.contains("depth must be at least 1"), "{err}");
    }
}
