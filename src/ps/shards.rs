//! A sharded parameter server (`--servers S`): which shard holds which parameters, and the bytes
//! each shard moves.
//!
//! - Dense weights by row blocks: the rows of every layer's matrix are split into S contiguous
//!   blocks of ⌊R/S⌋ or ⌈R/S⌉ rows (rows `⌊R·s/S⌋ .. ⌊R·(s+1)/S⌋` to shard s), so each shard
//!   holds about 1/S of every layer.
//! - Embedding rows by jump consistent hash (Lamping & Veach 2014) of the row id: no table of
//!   assignments, balanced, and going from S to S + 1 shards moves only the rows the new shard
//!   takes, about 1/(S + 1) of them.
//!
//! Optimizers are element-wise and every shard sums the same gradients in the same order, so
//! sharding changes no number of a run: only who sends what to whom, and when.

/// Jump consistent hash: the bucket in `0..buckets` of `key` (Lamping & Veach, "A Fast, Minimal
/// Memory, Consistent Hash Algorithm", 2014, their code transcribed).
pub fn jump_consistent_hash(mut key: u64, buckets: u32) -> u32 {
    assert!(buckets > 0, "jump_consistent_hash: no buckets");
    let (mut b, mut j) = (-1i64, 0i64);
    while j < buckets as i64 {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b as u32
}

/// The shard of embedding row `row` among `shards`: the row id is mixed first (SplitMix64's
/// finalizer), as the paper advises for keys that are not already uniform.
pub fn embedding_shard(row: u32, shards: usize) -> usize {
    let mut z = (row as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    jump_consistent_hash(z ^ (z >> 31), shards as u32) as usize
}

/// Rows `start..end` of a matrix with `rows` rows that shard `s` of `shards` holds.
pub fn row_block(rows: usize, s: usize, shards: usize) -> std::ops::Range<usize> {
    let at = |k: usize| (rows as u128 * k as u128 / shards as u128) as usize;
    at(s)..at(s + 1)
}

/// One round's bytes at one shard.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShardTraffic {
    /// Gradient blocks and embedding rows pushed to the shard.
    pub bytes_in: u64,
    /// Weight blocks and embedding rows pulled from it.
    pub bytes_out: u64,
}

/// Which shard holds what, and what each worker sends to and receives from each shard per round.
#[derive(Clone, Debug, PartialEq)]
pub struct ShardPlan {
    pub shards: usize,
    /// Bytes of the dense weights (= of a gradient) each shard holds.
    pub dense_bytes: Vec<u64>,
    /// Bytes each worker pushes to / pulls from each shard per round: `dense_bytes`, or with
    /// compression its share of the encoded set ([`Self::encoded`]).
    pub push_bytes: Vec<u64>,
    pub pull_bytes: Vec<u64>,
    /// `[worker][shard]`: embedding bytes the worker pulls from / pushes to each shard.
    pub embedding_pull: Vec<Vec<u64>>,
    pub embedding_push: Vec<Vec<u64>>,
    /// Rows of the embedding table each shard steps per round (its share of the update).
    pub embedding_updated: Vec<u64>,
}

impl ShardPlan {
    /// `layers`: (rows, cols) of every dense matrix; `pulled[i]` / `pushed[i]`: the global
    /// embedding rows worker i pulls / pushes each round (empty without embeddings), `dim` wide.
    pub fn new(shards: usize, layers: &[(usize, usize)], dim: usize, pulled: &[&[u32]], pushed: &[&[u32]]) -> Self {
        let dense_bytes: Vec<u64> = (0..shards)
            .map(|s| layers.iter().map(|&(r, c)| 4 * (row_block(r, s, shards).len() * c) as u64).sum())
            .collect();
        let per_shard = |rows: &[u32], bytes_per_row: u64| {
            let mut v = vec![0u64; shards];
            for &r in rows {
                v[embedding_shard(r, shards)] += bytes_per_row;
            }
            v
        };
        let d = dim as u64;
        let mut updated = vec![false; pushed.iter().flat_map(|r| r.iter()).map(|&r| r as usize + 1).max().unwrap_or(0)];
        for &r in pushed.iter().flat_map(|r| r.iter()) {
            updated[r as usize] = true;
        }
        let mut embedding_updated = vec![0u64; shards];
        for (r, _) in updated.iter().enumerate().filter(|(_, &u)| u) {
            embedding_updated[embedding_shard(r as u32, shards)] += 1;
        }
        Self {
            shards,
            push_bytes: dense_bytes.clone(),
            pull_bytes: dense_bytes.clone(),
            dense_bytes,
            embedding_pull: pulled.iter().map(|rows| per_shard(rows, 4 * d)).collect(),
            embedding_push: pushed.iter().map(|rows| per_shard(rows, 4 * (d + 1))).collect(),
            embedding_updated,
        }
    }

    /// With compressed pushes or pulls: a worker's encoded gradient set (`push` bytes) and
    /// weight set (`pull`) split across the shards in proportion to the blocks they hold (an
    /// encoded message has no row blocks of its own; the shares are rounded so that they sum to
    /// the whole).
    pub fn encoded(mut self, push: u64, pull: u64) -> Self {
        self.push_bytes = proportional(&self.dense_bytes, push);
        self.pull_bytes = proportional(&self.dense_bytes, pull);
        self
    }

    /// One BSP round's bytes per shard: every worker pushes its gradient and embedding rows and
    /// pulls the weights and its embedding rows.
    pub fn round_traffic(&self, workers: usize) -> Vec<ShardTraffic> {
        (0..self.shards)
            .map(|s| ShardTraffic {
                bytes_in: workers as u64 * self.push_bytes[s] + self.embedding_push.iter().map(|w| w[s]).sum::<u64>(),
                bytes_out: workers as u64 * self.pull_bytes[s] + self.embedding_pull.iter().map(|w| w[s]).sum::<u64>(),
            })
            .collect()
    }

    /// The busiest shard's bytes (in + out) over the mean: 1 is perfect balance.
    pub fn imbalance(traffic: &[ShardTraffic]) -> f64 {
        let totals: Vec<f64> = traffic.iter().map(|t| (t.bytes_in + t.bytes_out) as f64).collect();
        let mean = totals.iter().sum::<f64>() / totals.len().max(1) as f64;
        if mean > 0.0 {
            totals.iter().copied().fold(0.0, f64::max) / mean
        } else {
            1.0
        }
    }
}

/// `total` split in proportion to `weights`: share s is ⌊total·W_{s+1}/W⌋ − ⌊total·W_s/W⌋ with
/// W_s the prefix sums, so the shares sum to `total` exactly.
fn proportional(weights: &[u64], total: u64) -> Vec<u64> {
    let whole: u128 = weights.iter().map(|&w| w as u128).sum();
    if whole == 0 {
        return vec![0; weights.len()];
    }
    let mut prefix = 0u128;
    let mut before = 0u128;
    weights
        .iter()
        .map(|&w| {
            prefix += w as u128;
            let upto = total as u128 * prefix / whole;
            let share = upto - before;
            before = upto;
            share as u64
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_bytes_split_in_proportion_and_sum_to_the_whole() {
        assert_eq!(proportional(&[10, 20, 10], 100), vec![25, 50, 25]);
        assert_eq!(proportional(&[1, 1, 1], 10), vec![3, 3, 4]);
        assert_eq!(proportional(&[0, 5], 7), vec![0, 7]);
        let plan = ShardPlan::new(3, &[(10, 4), (4, 2)], 0, &[&[], &[]], &[&[], &[]]);
        assert_eq!(plan.push_bytes, plan.dense_bytes);
        let encoded = plan.clone().encoded(101, 96);
        assert_eq!(encoded.push_bytes.iter().sum::<u64>(), 101);
        assert_eq!(encoded.pull_bytes.iter().sum::<u64>(), 96);
        let t = encoded.round_traffic(2);
        assert_eq!(t.iter().map(|s| s.bytes_in).sum::<u64>(), 202);
        assert_eq!(t.iter().map(|s| s.bytes_out).sum::<u64>(), 192);
    }

    /// Going from S to S + 1 shards moves about 1/(S + 1) of the rows, every one of them to the
    /// new shard; the shards stay balanced.
    #[test]
    fn adding_a_shard_moves_one_in_s_plus_one_rows() {
        let n = 200_000u32;
        for s in 1..=16usize {
            let (mut moved, mut per_shard) = (0usize, vec![0usize; s + 1]);
            for r in 0..n {
                let (before, after) = (embedding_shard(r, s), embedding_shard(r, s + 1));
                if before != after {
                    moved += 1;
                    assert_eq!(after, s, "row {r} moved from {before} to {after}, not to the new shard");
                }
                per_shard[after] += 1;
            }
            let fraction = moved as f64 / n as f64;
            let expected = 1.0 / (s + 1) as f64;
            assert!(
                (fraction - expected).abs() < 0.05 * expected,
                "S = {s} → {}: moved {fraction:.4}, expected {expected:.4}",
                s + 1
            );
            let mean = n as f64 / (s + 1) as f64;
            assert!(per_shard.iter().all(|&c| (c as f64 - mean).abs() < 0.05 * mean), "S = {}: {per_shard:?}", s + 1);
        }
    }

    #[test]
    fn jump_hash_matches_the_papers_reference_values() {
        // Values other implementations of the paper's code publish in their tests and docs.
        assert_eq!(jump_consistent_hash(256, 1024), 520);
        assert_eq!(jump_consistent_hash(1, 60), 55);
        assert_eq!(jump_consistent_hash(2, 60), 46);
        assert_eq!(jump_consistent_hash(42, 57), 43);
        assert_eq!(jump_consistent_hash(0xDEAD_10CC, 666), 361);
        assert_eq!(jump_consistent_hash(0xDEAD_10CC, 1), 0);
        assert!((0..1000u64).all(|k| jump_consistent_hash(k, 7) < 7));
    }

    #[test]
    fn row_blocks_cover_every_row_once() {
        for (rows, shards) in [(1433, 4), (16, 3), (7, 8), (5, 1)] {
            let blocks: Vec<_> = (0..shards).map(|s| row_block(rows, s, shards)).collect();
            assert_eq!(blocks[0].start, 0);
            assert_eq!(blocks[shards - 1].end, rows);
            assert!(blocks.windows(2).all(|w| w[0].end == w[1].start));
            assert!(blocks.iter().all(|b| b.len() == rows / shards || b.len() == rows.div_ceil(shards)));
        }
    }

    #[test]
    fn plan_bytes_add_up() {
        let layers = [(1433, 16), (16, 7)];
        let pulled: Vec<u32> = (0..2708).collect();
        let pushed: Vec<u32> = (0..2708).step_by(3).collect();
        let plan = ShardPlan::new(3, &layers, 8, &[&pulled[..1000], &pulled[1000..]], &[&pushed, &[]]);
        assert_eq!(plan.dense_bytes.iter().sum::<u64>(), 4 * (1433 * 16 + 16 * 7));
        let traffic = plan.round_traffic(2);
        let total: u64 = traffic.iter().map(|t| t.bytes_in + t.bytes_out).sum();
        let dense = 2 * 2 * 4 * (1433 * 16 + 16 * 7);
        assert_eq!(total, dense + 2708 * 8 * 4 + pushed.len() as u64 * 9 * 4);
        assert_eq!(plan.embedding_updated.iter().sum::<u64>(), pushed.len() as u64);
        let imbalance = ShardPlan::imbalance(&traffic);
        assert!((1.0..1.1).contains(&imbalance), "{imbalance}");
    }
}
