//! Communication schedules the event simulator asks for: gradient aggregation, weight broadcast
//! and pairwise (halo) exchange, from per-worker ready times so stragglers shift what depends on
//! them and nothing else.
//!
//! Closed forms with every worker ready at 0, M bytes, no update time (T = α + M/β); the tests
//! check each:
//! - flat: the aggregate is at the server at α + P·M/β (incast on the server's receive link);
//!   worker i (ascending) has the weights at 2α + (P + i + 1)·M/β, the last at 2(α + P·M/β).
//! - Spark tree with uniform fan-ins f_1 … f_k below a last level of n partials: reduce
//!   (k + 1)·α + (Σ(f_l − 1) + n)·M/β, and the broadcast takes as long again. Depth 1 is flat.
//! - binary tree, P a power of two: reduce log2(P)·T, broadcast log2(P)·T, total 2·log2(P)·T.
//!   For other P the asynchronous schedule beats the round-by-round ⌈log2 P⌉·T (odd partials
//!   travel early).
//! - ring: 2(P − 1)·α + 2(P − 1)/P · M/β at every worker when P divides M (otherwise chunks differ
//!   by a byte).
//!
//! Combining partials and the optimizer take no time here: the simulator adds compute times from
//! the roofline (`update` in [`Fabric::aggregate`]).

use super::link::{Fabric, Message, Node, Transfer};
use super::network::NetworkProfile;
use super::topology::{hosts, Levels, Root, Topology};

#[derive(Clone, Debug, PartialEq)]
pub struct AggregationSchedule {
    /// When the whole aggregate exists: at the server (flat, tree), at worker 0 (binary tree),
    /// at every worker (ring: the last worker's all-gather).
    pub reduced: f64,
    /// When each worker holds the new weights: after the broadcast (flat, trees), or after its
    /// own all-gather and update (ring).
    pub weights_at: Vec<f64>,
    /// Reduce messages, then broadcast messages.
    pub messages: Vec<Message>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BroadcastSchedule {
    /// When each worker has the weights.
    pub received: Vec<f64>,
    pub messages: Vec<Message>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ExchangeSchedule {
    /// When each worker is ready and has received all its incoming messages:
    /// `max(ready[j], last arrival at j)`.
    pub received: Vec<f64>,
    pub messages: Vec<Message>,
}

/// [`Fabric::aggregate`] on idle links with no update time.
pub fn aggregation_schedule(
    topology: Topology,
    ready: &[f64],
    bytes: u64,
    net: &NetworkProfile,
) -> AggregationSchedule {
    Fabric::new(net, ready.len()).aggregate(topology, ready, bytes, 0.0)
}

/// [`Fabric::broadcast`] on idle links.
pub fn broadcast_schedule(
    topology: Topology,
    start: f64,
    workers: usize,
    bytes: u64,
    net: &NetworkProfile,
) -> Option<BroadcastSchedule> {
    Fabric::new(net, workers).broadcast(topology, start, bytes)
}

/// [`Fabric::exchange`] on idle links: when each worker has all its incoming bytes.
pub fn exchange_schedule(volume: &[Vec<u64>], ready: &[f64], net: &NetworkProfile) -> Vec<f64> {
    Fabric::new(net, ready.len()).exchange(volume, ready).received
}

impl Fabric {
    /// Reduces the workers' `bytes`-byte gradients (worker i's ready at `ready[i]`), spends
    /// `update` seconds at the root (each worker for the ring) applying them, and brings the new
    /// weights (again `bytes`) to every worker.
    pub fn aggregate(&mut self, topology: Topology, ready: &[f64], bytes: u64, update: f64) -> AggregationSchedule {
        self.aggregate_encoded(topology, ready, bytes, bytes, update)
    }

    /// [`Self::aggregate`] with gradients of `push` bytes and weights of `pull` bytes on the
    /// wire (compressed pushes and pulls). The ring sends `push`-byte chunks both ways: it has
    /// no broadcast (the configuration refuses compression with a ring).
    pub fn aggregate_encoded(
        &mut self,
        topology: Topology,
        ready: &[f64],
        push: u64,
        pull: u64,
        update: f64,
    ) -> AggregationSchedule {
        let bytes = push;
        let p = self.workers();
        assert_eq!(ready.len(), p, "aggregate: one ready time per worker");
        assert!(update.is_finite() && update >= 0.0, "aggregate: update time {update}");
        let Some((levels, root)) = topology.levels(p) else {
            let (done, messages) = self.ring_allreduce(ready, bytes);
            let reduced = done.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            return AggregationSchedule { reduced, weights_at: done.iter().map(|t| t + update).collect(), messages };
        };
        let hosts = hosts(p, &levels, root);
        let (reduced, mut messages) = self.reduce_tree(&levels, root, &hosts, ready, bytes);
        let (weights_at, broadcast) = self.broadcast_tree(&levels, root, &hosts, reduced + update, pull);
        messages.extend(broadcast);
        AggregationSchedule { reduced, weights_at, messages }
    }

    /// Flat aggregation on a sharded server (`--servers`): every worker sends shard s its block
    /// of `bytes[s]` (ready at `ready[i]`, the blocks in shard order on its uplink); shard s
    /// spends `update[s]` seconds once all P blocks have arrived, then sends every worker its
    /// block of the new weights (in worker order on its own link). A worker holds the new
    /// weights when its last block arrives. Returns the schedule (`reduced`: when the last shard
    /// has its aggregate) and when the last shard has published. One shard is the flat topology.
    pub fn aggregate_sharded(&mut self, ready: &[f64], bytes: &[u64], update: &[f64]) -> (AggregationSchedule, f64) {
        self.aggregate_sharded_encoded(ready, bytes, bytes, update)
    }

    /// [`Self::aggregate_sharded`] with each shard's gradient block `push[s]` bytes and weight
    /// block `pull[s]` bytes on the wire (compressed pushes and pulls).
    pub fn aggregate_sharded_encoded(
        &mut self,
        ready: &[f64],
        push: &[u64],
        pull: &[u64],
        update: &[f64],
    ) -> (AggregationSchedule, f64) {
        let bytes = push;
        let (p, shards) = (self.workers(), self.shards());
        assert_eq!(ready.len(), p, "aggregate_sharded: one ready time per worker");
        assert!(
            bytes.len() == shards && pull.len() == shards && update.len() == shards,
            "aggregate_sharded: one block and update per shard"
        );
        let latest_ready = ready.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let pushes: Vec<Transfer> = (0..p)
            .flat_map(|i| {
                (0..shards).filter(|&s| bytes[s] > 0).map(move |s| Transfer {
                    from: Node::Worker(i),
                    to: Node::shard(s),
                    bytes: bytes[s],
                    ready: ready[i],
                    after: vec![],
                })
            })
            .collect();
        let mut messages = self.run(&pushes);
        let reduced_at: Vec<f64> = (0..shards)
            .map(|s| messages.iter().filter(|m| m.to == Node::shard(s)).map(|m| m.end).fold(latest_ready, f64::max))
            .collect();
        let published_at: Vec<f64> = reduced_at.iter().zip(update).map(|(r, u)| r + u).collect();
        let mut pulls = Vec::with_capacity(p * shards);
        for s in (0..shards).filter(|&s| pull[s] > 0) {
            for i in 0..p {
                let (from, to) = (Node::shard(s), Node::Worker(i));
                pulls.push(Transfer { from, to, bytes: pull[s], ready: published_at[s], after: vec![] });
            }
        }
        let broadcast = self.run(&pulls);
        let published = published_at.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let weights_at = (0..p)
            .map(|i| broadcast.iter().filter(|m| m.to == Node::Worker(i)).map(|m| m.end).fold(published, f64::max))
            .collect();
        messages.extend(broadcast);
        let reduced = reduced_at.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (AggregationSchedule { reduced, weights_at, messages }, published)
    }

    /// Sends `bytes` of weights from the root, ready at `start`, to every worker down the
    /// topology's tree (flat: the server to each worker in id order). `None` for the ring, which
    /// has no root to broadcast from. A single worker's pull is [`Fabric::pull`].
    pub fn broadcast(&mut self, topology: Topology, start: f64, bytes: u64) -> Option<BroadcastSchedule> {
        assert!(start.is_finite(), "broadcast: start time {start}");
        let p = self.workers();
        let (levels, root) = topology.levels(p)?;
        let hosts = hosts(p, &levels, root);
        let (received, messages) = self.broadcast_tree(&levels, root, &hosts, start, bytes);
        Some(BroadcastSchedule { received, messages })
    }

    /// Pairwise exchange: `volume[i][j]` bytes from worker i to worker j (the diagonal is local
    /// and ignored; zero sends nothing). Each uplink sends in ascending destination order, each
    /// downlink receives in arrival order, ties by sender id.
    pub fn exchange(&mut self, volume: &[Vec<u64>], ready: &[f64]) -> ExchangeSchedule {
        let p = self.workers();
        assert_eq!(ready.len(), p, "exchange: one ready time per worker");
        assert!(volume.len() == p && volume.iter().all(|row| row.len() == p), "exchange: volume must be {p}x{p}");
        let mut transfers = Vec::new();
        for (i, row) in volume.iter().enumerate() {
            for (j, &bytes) in row.iter().enumerate() {
                if i != j && bytes > 0 {
                    transfers.push(Transfer {
                        from: Node::Worker(i),
                        to: Node::Worker(j),
                        bytes,
                        ready: ready[i],
                        after: vec![],
                    });
                }
            }
        }
        let messages = self.run(&transfers);
        let mut received = ready.to_vec();
        for m in &messages {
            if let Node::Worker(j) = m.to {
                received[j] = received[j].max(m.end);
            }
        }
        ExchangeSchedule { received, messages }
    }

    /// The reduce up the tree; returns when the root has the aggregate, and the messages.
    fn reduce_tree(
        &mut self,
        levels: &Levels,
        root: Root,
        hosts: &[Vec<usize>],
        ready: &[f64],
        bytes: u64,
    ) -> (f64, Vec<Message>) {
        let mut transfers: Vec<Transfer> = Vec::new();
        // completes[g]: the transfers whose arrival (with its host's own gradient) completes
        // partial g of the current level.
        let mut completes: Vec<Vec<usize>> = vec![Vec::new(); ready.len()];
        for (l, level) in levels.iter().enumerate() {
            let at_server = root == Root::Server && l + 1 == levels.len();
            let mut next = Vec::with_capacity(level.len());
            for (g, group) in level.iter().enumerate() {
                let host = if at_server { Node::Server } else { Node::Worker(hosts[l + 1][g]) };
                let mut done: Vec<usize> = Vec::new();
                for &m in group {
                    let from = hosts[l][m];
                    if Node::Worker(from) == host {
                        done.extend(&completes[m]);
                    } else {
                        done.push(transfers.len());
                        transfers.push(Transfer {
                            from: Node::Worker(from),
                            to: host,
                            bytes,
                            ready: ready[from],
                            after: completes[m].clone(),
                        });
                    }
                }
                next.push(done);
            }
            completes = next;
        }
        let messages = self.run(&transfers);
        let root_ready = if root == Root::Server { f64::NEG_INFINITY } else { ready[0] };
        let reduced = completes[0].iter().map(|&t| messages[t].end).fold(root_ready, f64::max);
        (reduced, messages)
    }

    /// The broadcast down the same tree: each host forwards to the hosts of its groups' other
    /// members, the top level first (the largest subtrees), members in group order.
    fn broadcast_tree(
        &mut self,
        levels: &Levels,
        root: Root,
        hosts: &[Vec<usize>],
        start: f64,
        bytes: u64,
    ) -> (Vec<f64>, Vec<Message>) {
        let p = self.workers();
        let mut transfers: Vec<Transfer> = Vec::new();
        let mut delivered: Vec<Option<usize>> = vec![None; p];
        let mut worker_levels = levels.len();
        if root == Root::Server {
            worker_levels -= 1;
            for &m in &levels[worker_levels][0] {
                let to = hosts[worker_levels][m];
                delivered[to] = Some(transfers.len());
                transfers.push(Transfer {
                    from: Node::Server,
                    to: Node::Worker(to),
                    bytes,
                    ready: start,
                    after: vec![],
                });
            }
        }
        for l in (0..worker_levels).rev() {
            for (g, group) in levels[l].iter().enumerate() {
                let host = hosts[l + 1][g];
                for &m in group {
                    let to = hosts[l][m];
                    if to != host {
                        let after = delivered[host].into_iter().collect();
                        delivered[to] = Some(transfers.len());
                        transfers.push(Transfer {
                            from: Node::Worker(host),
                            to: Node::Worker(to),
                            bytes,
                            ready: start,
                            after,
                        });
                    }
                }
            }
        }
        let messages = self.run(&transfers);
        let received = delivered.iter().map(|d| d.map_or(start, |t| messages[t].end)).collect();
        (received, messages)
    }

    /// Ring all-reduce: reduce-scatter then all-gather, 2(P − 1) steps; at step s worker i sends
    /// one chunk to worker i + 1 once it has its gradient and step s − 1's chunk from i − 1.
    /// Chunk c has ⌊M/P⌋ bytes, plus one for c < M mod P. Returns when each worker has the whole
    /// aggregate.
    fn ring_allreduce(&mut self, ready: &[f64], bytes: u64) -> (Vec<f64>, Vec<Message>) {
        let p = ready.len();
        let chunk = |c: usize| bytes / p as u64 + u64::from((c as u64) < bytes % p as u64);
        let steps = 2 * (p - 1);
        let mut transfers = Vec::with_capacity(steps * p);
        for s in 0..steps {
            for (i, &ready_i) in ready.iter().enumerate() {
                // Reduce-scatter step s sends chunk i − s; all-gather step t sends chunk i + 1 − t.
                let c = if s < p - 1 { (i + p - s % p) % p } else { (i + 1 + p - (s - (p - 1))) % p };
                let after = if s == 0 { vec![] } else { vec![(s - 1) * p + (i + p - 1) % p] };
                transfers.push(Transfer {
                    from: Node::Worker(i),
                    to: Node::Worker((i + 1) % p),
                    bytes: chunk(c),
                    ready: ready_i,
                    after,
                });
            }
        }
        let messages = self.run(&transfers);
        let mut done = ready.to_vec();
        for m in &messages {
            if let Node::Worker(j) = m.to {
                done[j] = done[j].max(m.end);
            }
        }
        (done, messages)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Closed forms are evaluated in another order than the schedule adds them up: allow a few
    /// f64 roundings.
    const REL: f64 = 1e-12;

    fn assert_close(got: f64, want: f64, what: &str) {
        assert!((got - want).abs() <= REL * want.abs().max(got.abs()), "{what}: got {got}, want {want}");
    }

    fn last(v: &[f64]) -> f64 {
        v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    }

    /// α = 3 s, β = 2 bytes/s, M = 4 bytes: M/β = 2, T = α + M/β = 5. Exact in binary.
    fn toy() -> NetworkProfile {
        NetworkProfile { name: "toy".into(), latency: 3.0, bandwidth: 2.0 }
    }
    const M: u64 = 4;

    /// A realistic network too, where α and M/β are not round numbers.
    fn dc() -> NetworkProfile {
        NetworkProfile::dc_100g()
    }
    const MD: u64 = 1_234_567;

    /// One shard is the flat topology; more shards split the server's incast over their links:
    /// with equal blocks and every worker ready at 0, shard s receives P blocks of M/S, so the
    /// reduce takes about α + P·M/(S·β), and the broadcast as long again.
    #[test]
    fn sharded_aggregation() {
        let ready = [0.5e-3, 0.0, 2e-3, 1e-3, 0.25e-3];
        let flat = Fabric::new(&dc(), 5).aggregate(Topology::Flat, &ready, MD, 1e-4);
        let (one, published) = Fabric::sharded(&dc(), 5, 1).aggregate_sharded(&ready, &[MD], &[1e-4]);
        assert_eq!((one.reduced, &one.weights_at), (flat.reduced, &flat.weights_at));
        assert_close(published, flat.reduced + 1e-4, "one shard publishes after its update");
        let net = dc();
        let (a, w) = (net.latency, MD as f64 / net.bandwidth);
        let p = 16;
        let mut last = f64::INFINITY;
        for shards in [1usize, 2, 4, 8] {
            let bytes = vec![MD / shards as u64; shards];
            let (s, published) =
                Fabric::sharded(&net, p, shards).aggregate_sharded(&vec![0.0; p], &bytes, &vec![0.0; shards]);
            let incast = a + p as f64 * w / shards as f64;
            // Each worker's uplink carries its whole gradient (M/β) whatever S: a floor.
            assert!(
                s.reduced >= incast.max(a + w) - 1e-12 && s.reduced <= incast + w + 1e-9,
                "S={shards}: {}",
                s.reduced
            );
            assert!(s.reduced < last, "S={shards}: more shards, no faster");
            last = s.reduced;
            assert_close(published, s.reduced, "no update time");
            let moved: u64 = s.messages.iter().map(|m| m.bytes).sum();
            assert_eq!(moved, 2 * p as u64 * (MD / shards as u64) * shards as u64);
            assert!(s.weights_at.iter().all(|&t| t >= published + a));
        }
    }

    #[test]
    fn flat_closed_form() {
        for (net, m) in [(toy(), M), (dc(), MD)] {
            let (a, w) = (net.latency, m as f64 / net.bandwidth);
            for p in [1usize, 2, 5, 16] {
                let s = aggregation_schedule(Topology::Flat, &vec![0.0; p], m, &net);
                assert_close(s.reduced, a + p as f64 * w, "flat reduce");
                for (i, &t) in s.weights_at.iter().enumerate() {
                    assert_close(t, 2.0 * a + (p + i + 1) as f64 * w, "flat broadcast");
                }
                assert_close(last(&s.weights_at), 2.0 * (a + p as f64 * w), "flat total");
                assert_eq!(s.messages.len(), 2 * p);
            }
        }
    }

    /// Compressed pushes and pulls: the reduce moves P pushes of `push` bytes, the broadcast
    /// `pull` bytes per worker; sharded, each shard its blocks of each.
    #[test]
    fn flat_closed_form_with_encoded_sizes() {
        let net = toy();
        let (a, up, down) = (net.latency, 1.0 / net.bandwidth, 4.0 / net.bandwidth);
        for p in [1usize, 3] {
            let s = Fabric::new(&net, p).aggregate_encoded(Topology::Flat, &vec![0.0; p], 1, 4, 0.0);
            assert_close(s.reduced, a + p as f64 * up, "flat encoded reduce");
            for (i, &t) in s.weights_at.iter().enumerate() {
                assert_close(t, 2.0 * a + p as f64 * up + (i + 1) as f64 * down, "flat encoded broadcast");
            }
            let (one, _) = Fabric::sharded(&net, p, 1).aggregate_sharded_encoded(&vec![0.0; p], &[1], &[4], &[0.0]);
            assert_eq!(one.weights_at, s.weights_at);
        }
    }

    #[test]
    fn tree_of_depth_one_is_flat() {
        let ready = [0.5, 0.0, 2.0, 1.0, 0.25];
        assert_eq!(
            aggregation_schedule(Topology::Tree { depth: 1 }, &ready, MD, &dc()),
            aggregation_schedule(Topology::Flat, &ready, MD, &dc())
        );
    }

    #[test]
    fn spark_tree_closed_forms() {
        for (net, m) in [(toy(), M), (dc(), MD)] {
            let (a, w) = (net.latency, m as f64 / net.bandwidth);
            // P=8, depth 2: one level of fan-in 4 at workers 0 and 1, then 2 partials at the
            // server: reduce 2α + (3 + 2)·M/β.
            let s = aggregation_schedule(Topology::Tree { depth: 2 }, &[0.0; 8], m, &net);
            assert_close(s.reduced, 2.0 * a + 5.0 * w, "P=8 depth 2 reduce");
            assert_close(last(&s.weights_at), 2.0 * (2.0 * a + 5.0 * w), "P=8 depth 2 total");
            // P=64, depth 3: fan-ins 4, 4, then 4 at the server: 3α + (3 + 3 + 4)·M/β each way.
            let s = aggregation_schedule(Topology::Tree { depth: 3 }, &[0.0; 64], m, &net);
            assert_close(s.reduced, 3.0 * a + 10.0 * w, "P=64 depth 3 reduce");
            assert_close(last(&s.weights_at), 2.0 * (3.0 * a + 10.0 * w), "P=64 depth 3 total");
            // Depth log2 8 = 3 still ends with 4 partials at the server (Spark's stopping rule):
            // α + M/β, then α + 4·M/β.
            let s = aggregation_schedule(Topology::Tree { depth: 3 }, &[0.0; 8], m, &net);
            assert_close(s.reduced, 2.0 * a + 5.0 * w, "P=8 depth 3 reduce");
        }
    }

    #[test]
    fn binary_tree_closed_form_for_powers_of_two() {
        for (net, m) in [(toy(), M), (dc(), MD)] {
            let t = net.p2p_time(m);
            for k in 0..=6 {
                let p = 1usize << k;
                let s = aggregation_schedule(Topology::BinaryTree, &vec![0.0; p], m, &net);
                assert_close(s.reduced, k as f64 * t, "binary reduce");
                assert_close(last(&s.weights_at), 2.0 * k as f64 * t, "binary total");
                assert_eq!(s.messages.len(), 2 * (p - 1));
            }
        }
    }

    #[test]
    fn binary_tree_of_five_by_hand() {
        // Reduce: 1→0 [0,2] arrives 5; 3→2 [0,2] arrives 5; 4→0 is ready at 0 but waits for
        // worker 0's downlink: [2,4], arrives 7; 2→0 ready at 5: [5,7], arrives 10.
        // Broadcast from 10: 0→4 [10,12] → 15, 0→2 [12,14] → 17, 0→1 [14,16] → 19, 2→3 [17,19] → 22.
        let s = aggregation_schedule(Topology::BinaryTree, &[0.0; 5], M, &toy());
        assert_eq!(s.reduced, 10.0);
        assert_eq!(s.weights_at, vec![10.0, 19.0, 17.0, 22.0, 15.0]);
    }

    #[test]
    fn ring_closed_form() {
        for (net, m) in [(toy(), 60u64), (dc(), 60 * 20_011)] {
            let (a, w) = (net.latency, m as f64 / net.bandwidth);
            for p in [1usize, 2, 3, 4, 5, 6] {
                let s = aggregation_schedule(Topology::Ring, &vec![0.0; p], m, &net);
                let want = 2.0 * (p - 1) as f64 * a + 2.0 * (p - 1) as f64 / p as f64 * w;
                for &t in &s.weights_at {
                    assert_close(t, want, "ring");
                }
                assert_close(s.reduced, want, "ring reduced");
                assert_eq!(s.messages.len(), 2 * (p - 1) * p);
                assert_eq!(broadcast_schedule(Topology::Ring, 0.0, p, m, &net), None);
            }
        }
    }

    #[test]
    fn a_straggler_delays_only_its_path_up_the_tree() {
        // P=8, depth 2: groups {0,2,4,6} at worker 0 and {1,3,5,7} at worker 1, then the server.
        // On time: 2→0, 4→0, 6→0 arrive at 5, 7, 9 (worker 0's downlink serializes them);
        // likewise 3→1, 5→1, 7→1; 0→S [9,11] → 14; 1→S waits for the server link [11,13] → 16.
        let on_time = aggregation_schedule(Topology::Tree { depth: 2 }, &[0.0; 8], M, &toy());
        assert_eq!(on_time.reduced, 16.0);
        // Worker 5 ready at 100: 3→1 → 5 and 7→1 [2,4] → 7 (it no longer queues behind 5);
        // 5→1 [100,102] → 105; 1→S [105,107] → 110. Worker 0's group and its push are unchanged.
        let mut ready = [0.0; 8];
        ready[5] = 100.0;
        let late = aggregation_schedule(Topology::Tree { depth: 2 }, &ready, M, &toy());
        assert_eq!(late.reduced, 110.0);
        let reduce = |s: &AggregationSchedule| -> Vec<(Node, Node, f64, f64)> {
            s.messages[..8].iter().map(|m| (m.from, m.to, m.start, m.end)).collect()
        };
        let (w, srv) = (Node::Worker, Node::Server);
        assert_eq!(
            reduce(&late),
            vec![
                (w(2), w(0), 0.0, 5.0),
                (w(4), w(0), 2.0, 7.0),
                (w(6), w(0), 4.0, 9.0),
                (w(3), w(1), 0.0, 5.0),
                (w(5), w(1), 100.0, 105.0),
                (w(7), w(1), 2.0, 7.0),
                (w(0), srv, 9.0, 14.0),
                (w(1), srv, 105.0, 110.0),
            ]
        );
        let unchanged = |i: usize| reduce(&on_time)[i] == reduce(&late)[i];
        assert!([0, 1, 2, 3, 6].into_iter().all(unchanged));
    }

    #[test]
    fn broadcast_alone_and_update_time() {
        let b = broadcast_schedule(Topology::Flat, 1.0, 3, M, &toy()).unwrap();
        assert_eq!(b.received, vec![6.0, 8.0, 10.0]);
        let mut f = Fabric::new(&toy(), 3);
        let s = f.aggregate(Topology::Flat, &[0.0; 3], M, 100.0);
        assert_eq!(s.reduced, 9.0);
        assert_eq!(s.weights_at, vec![114.0, 116.0, 118.0]);
    }

    #[test]
    fn exchange_by_hand() {
        // 0→1: 4 bytes, 0→2: 8 bytes, 1→0: 2 bytes, 1→2: 2 bytes; ready [0, 1, 0].
        // Offers: 0→1 at 0 [0,2] → 5. Worker 0's next, 0→2, is offered at 2; worker 1's first,
        // 1→0, at 1: [1,2] → 5; then 1→2 is offered at 2 and ties with 0→2: worker 0 first,
        // [2,6] → 9; 1→2 waits for worker 2's downlink: [6,7] → 10.
        let volume = vec![vec![0, 4, 8], vec![2, 0, 2], vec![0, 0, 0]];
        let mut f = Fabric::new(&toy(), 3);
        let s = f.exchange(&volume, &[0.0, 1.0, 0.0]);
        let times: Vec<(f64, f64)> = s.messages.iter().map(|m| (m.start, m.end)).collect();
        assert_eq!(times, vec![(0.0, 5.0), (2.0, 9.0), (1.0, 5.0), (6.0, 10.0)]);
        assert_eq!(s.received, vec![5.0, 5.0, 10.0]);
        assert_eq!(exchange_schedule(&volume, &[0.0, 1.0, 0.0], &toy()), s.received);
    }
}
