//! Shared links and the messages that cross them.
//!
//! A [`Link`] is one direction of one network port: FIFO, one message at a time, busy `bytes/β`
//! per message; the message arrives `α` after its last byte leaves. Every worker has an uplink
//! and a downlink; the server has one full-duplex port, modelled as two links (`server_rx` that
//! all pushes share, `server_tx` that all pulls and broadcasts share), so incast of P pushes of M
//! bytes takes about P·M/β.
//!
//! A message from `a` to `b` occupies `a`'s outgoing link and `b`'s incoming link **together**
//! (cut-through, no store-and-forward at a switch): it starts when it is ready and both links are
//! free, and keeps both busy for `bytes/β`. While it waits for the receiver, the sender's link
//! waits too (head-of-line blocking): a sender transmits its messages in a fixed order.
//!
//! [`Fabric::run`] executes a batch of [`Transfer`]s whose readiness may depend on the arrival of
//! others (a tree level waits for the level below): it always starts the message that can be
//! offered earliest, so every link serves messages in the order they reach it, ties broken by
//! the sender (workers by id, then the server). Across separate calls, links serve in call order.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use super::network::NetworkProfile;

/// An end point of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Node {
    Worker(usize),
    /// The parameter server; with sharded servers, shard 0.
    Server,
    /// Shard s ≥ 1 of a sharded parameter server (`--servers`), with its own links.
    Shard(usize),
}

impl Node {
    /// Shard `s` of the server (shard 0 is [`Node::Server`]).
    pub fn shard(s: usize) -> Node {
        if s == 0 {
            Node::Server
        } else {
            Node::Shard(s)
        }
    }

    fn shard_index(self) -> Option<usize> {
        match self {
            Node::Worker(_) => None,
            Node::Server => Some(0),
            Node::Shard(s) => Some(s),
        }
    }
}

/// One message as it happened.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Message {
    pub from: Node,
    pub to: Node,
    /// When the first byte left: the message was ready and both links were free.
    pub start: f64,
    /// When the last byte arrived: `start + bytes/β + α`.
    pub end: f64,
    pub bytes: u64,
}

/// One direction of a port, FIFO.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Link {
    /// When the link finishes the last byte it has accepted; `-∞` for a link never used.
    pub busy_until: f64,
}

impl Default for Link {
    fn default() -> Self {
        Self { busy_until: f64::NEG_INFINITY }
    }
}

impl Link {
    /// Sends `bytes` that are ready at `ready`: starts at `max(ready, busy_until)`, keeps the link
    /// busy for `bytes/β`, and returns `(start, arrival)` with `arrival = start + bytes/β + α`.
    pub fn transmit(&mut self, ready: f64, bytes: u64, net: &NetworkProfile) -> (f64, f64) {
        let start = ready.max(self.busy_until);
        let wire = net.wire_time(bytes);
        self.busy_until = start + wire;
        (start, start + wire + net.latency)
    }
}

/// A message to send in a batch: ready at `ready` and after every transfer in `after` has
/// arrived (indices into the same batch, all smaller than this one's).
#[derive(Clone, Debug, PartialEq)]
pub struct Transfer {
    pub from: Node,
    pub to: Node,
    pub bytes: u64,
    pub ready: f64,
    pub after: Vec<usize>,
}

/// The links of P workers and a server of S shards (one without sharding), and the network
/// they run on. Keeping one `Fabric` across calls makes later messages queue behind earlier ones
/// on shared links.
#[derive(Clone, Debug)]
pub struct Fabric {
    net: NetworkProfile,
    uplinks: Vec<Link>,
    downlinks: Vec<Link>,
    /// Per shard: its receive and send links.
    server_rx: Vec<Link>,
    server_tx: Vec<Link>,
}

impl Fabric {
    /// All links idle, one server.
    pub fn new(net: &NetworkProfile, workers: usize) -> Self {
        Self::sharded(net, workers, 1)
    }

    /// All links idle, a server of `shards` shards, each with its own links.
    pub fn sharded(net: &NetworkProfile, workers: usize, shards: usize) -> Self {
        assert!(shards >= 1, "a fabric needs a server");
        Self {
            net: net.clone(),
            uplinks: vec![Link::default(); workers],
            downlinks: vec![Link::default(); workers],
            server_rx: vec![Link::default(); shards],
            server_tx: vec![Link::default(); shards],
        }
    }

    pub fn workers(&self) -> usize {
        self.uplinks.len()
    }

    pub fn shards(&self) -> usize {
        self.server_rx.len()
    }

    /// When each link is free: uplinks, downlinks, then each shard's in and out (a checkpoint's copy).
    pub fn busy_until(&self) -> Vec<f64> {
        let server = self.server_rx.iter().zip(&self.server_tx).flat_map(|(rx, tx)| [rx, tx]);
        self.uplinks.iter().chain(&self.downlinks).chain(server).map(|l| l.busy_until).collect()
    }

    /// Sets every link's `busy_until` from [`Self::busy_until`]'s list; false if its length does not fit.
    pub fn restore_busy_until(&mut self, times: &[f64]) -> bool {
        let (p, s) = (self.workers(), self.shards());
        if times.len() != 2 * p + 2 * s {
            return false;
        }
        let server = self.server_rx.iter_mut().zip(self.server_tx.iter_mut()).flat_map(|(rx, tx)| [rx, tx]);
        for (l, &t) in self.uplinks.iter_mut().chain(self.downlinks.iter_mut()).chain(server).zip(times) {
            l.busy_until = t;
        }
        true
    }

    pub fn network(&self) -> &NetworkProfile {
        &self.net
    }

    /// Sends one message now, through `from`'s outgoing and `to`'s incoming link.
    pub fn send(&mut self, from: Node, to: Node, ready: f64, bytes: u64) -> Message {
        assert!(from != to, "send: {from:?} to itself");
        assert!(ready.is_finite(), "send: ready time {ready} is not finite");
        let out = self.outgoing(from).busy_until;
        let start = ready.max(out).max(self.incoming(to).busy_until);
        let net = self.net.clone();
        let (start, end) = self.outgoing_mut(from).transmit(start, bytes, &net);
        self.incoming_mut(to).transmit(start, bytes, &net);
        Message { from, to, start, end, bytes }
    }

    /// A worker sends `bytes` to the server (through `server_rx`).
    pub fn push(&mut self, worker: usize, ready: f64, bytes: u64) -> Message {
        self.send(Node::Worker(worker), Node::Server, ready, bytes)
    }

    /// A worker receives `bytes` from the server (through `server_tx`).
    pub fn pull(&mut self, worker: usize, ready: f64, bytes: u64) -> Message {
        self.send(Node::Server, Node::Worker(worker), ready, bytes)
    }

    /// Runs a batch of dependent transfers; returns their messages in batch order.
    ///
    /// Each sender sends its transfers in batch order. At every step the sender whose next
    /// transfer can be offered earliest — `max(ready, arrivals of its `after`s, its link free)` —
    /// sends it (ties: lower sender rank, workers by id then the server).
    pub fn run(&mut self, transfers: &[Transfer]) -> Vec<Message> {
        let (p, shards) = (self.workers(), self.shards());
        let rank = |n: Node| match n {
            Node::Worker(w) => {
                assert!(w < p, "transfer names worker {w} but the fabric has {p}");
                w
            }
            server => {
                let s = server.shard_index().expect("not a worker");
                assert!(s < shards, "transfer names shard {s} but the fabric has {shards}");
                p + s
            }
        };
        let mut queues: Vec<VecDeque<usize>> = vec![VecDeque::new(); p + shards];
        let mut waiting_on = vec![0usize; transfers.len()];
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); transfers.len()];
        let mut data_ready: Vec<f64> = Vec::with_capacity(transfers.len());
        for (i, t) in transfers.iter().enumerate() {
            assert!(t.ready.is_finite(), "transfer {i}: ready time {} is not finite", t.ready);
            queues[rank(t.from)].push_back(i);
            rank(t.to);
            for &d in &t.after {
                // Earlier-only dependencies make the batch acyclic and always runnable: the
                // unsent transfer with the smallest index has all it waits for sent.
                assert!(d < i, "transfer {i} waits for transfer {d}, which is not earlier in the batch");
                dependents[d].push(i);
            }
            waiting_on[i] = t.after.len();
            data_ready.push(t.ready);
        }
        let mut messages: Vec<Option<Message>> = vec![None; transfers.len()];
        let mut offered = vec![false; transfers.len()];
        let mut offers = BinaryHeap::new();
        let offer = |fabric: &Fabric, i: usize, data_ready: &[f64]| Offer {
            time: data_ready[i].max(fabric.outgoing(transfers[i].from).busy_until),
            sender: rank(transfers[i].from),
            transfer: i,
        };
        // A sender's head is offered once it waits for nothing; `offered` keeps it from being
        // offered twice (by its last dependency and by its predecessor in the queue).
        for queue in &queues {
            if let Some(&head) = queue.front() {
                if waiting_on[head] == 0 {
                    offered[head] = true;
                    offers.push(offer(self, head, &data_ready));
                }
            }
        }
        while let Some(Offer { time, sender, transfer: i }) = offers.pop() {
            let t = &transfers[i];
            let msg = self.send(t.from, t.to, time, t.bytes);
            messages[i] = Some(msg);
            queues[sender].pop_front();
            for &d in &dependents[i] {
                data_ready[d] = data_ready[d].max(msg.end);
                waiting_on[d] -= 1;
                let d_sender = rank(transfers[d].from);
                if waiting_on[d] == 0 && queues[d_sender].front() == Some(&d) && !offered[d] {
                    offered[d] = true;
                    offers.push(offer(self, d, &data_ready));
                }
            }
            if let Some(&next) = queues[sender].front() {
                if waiting_on[next] == 0 && !offered[next] {
                    offered[next] = true;
                    offers.push(offer(self, next, &data_ready));
                }
            }
        }
        messages.into_iter().map(|m| m.expect("every transfer of an acyclic batch is sent")).collect()
    }

    fn outgoing(&self, n: Node) -> &Link {
        match n {
            Node::Worker(w) => &self.uplinks[w],
            server => &self.server_tx[server.shard_index().expect("not a worker")],
        }
    }

    fn incoming(&self, n: Node) -> &Link {
        match n {
            Node::Worker(w) => &self.downlinks[w],
            server => &self.server_rx[server.shard_index().expect("not a worker")],
        }
    }

    fn outgoing_mut(&mut self, n: Node) -> &mut Link {
        match n {
            Node::Worker(w) => &mut self.uplinks[w],
            server => &mut self.server_tx[server.shard_index().expect("not a worker")],
        }
    }

    fn incoming_mut(&mut self, n: Node) -> &mut Link {
        match n {
            Node::Worker(w) => &mut self.downlinks[w],
            server => &mut self.server_rx[server.shard_index().expect("not a worker")],
        }
    }
}

/// A sender's next transfer and when it can start; the heap pops the earliest, then the lowest
/// sender rank.
#[derive(Clone, Copy, Debug)]
struct Offer {
    time: f64,
    sender: usize,
    transfer: usize,
}

impl PartialEq for Offer {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}

impl Eq for Offer {}

impl PartialOrd for Offer {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for Offer {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the smallest (time, sender).
    fn cmp(&self, o: &Self) -> Ordering {
        o.time.total_cmp(&self.time).then(o.sender.cmp(&self.sender))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// α = 3 s, β = 2 bytes/s: a 4-byte message is busy 2 s on its links and arrives 5 s after
    /// it starts. Small exact numbers keep hand schedules readable.
    fn toy() -> NetworkProfile {
        NetworkProfile { name: "toy".into(), latency: 3.0, bandwidth: 2.0 }
    }

    #[test]
    fn link_is_fifo_and_busy_for_the_wire_time_only() {
        let net = toy();
        let mut link = Link::default();
        assert_eq!(link.transmit(1.0, 4, &net), (1.0, 6.0));
        // Ready before the link is free: waits for it; α does not keep the link busy.
        assert_eq!(link.transmit(2.0, 4, &net), (3.0, 8.0));
        assert_eq!(link.transmit(10.0, 2, &net), (10.0, 14.0));
    }

    #[test]
    fn incast_of_p_pushes_takes_p_m_over_beta_plus_alpha() {
        let net = NetworkProfile { name: "dc".into(), latency: 5e-6, bandwidth: 12.5e9 };
        let (p, m) = (16usize, 4_000_000u64);
        let mut fabric = Fabric::new(&net, p);
        let last = (0..p).map(|w| fabric.push(w, 0.0, m).end).fold(f64::MIN, f64::max);
        let want = p as f64 * m as f64 / net.bandwidth + net.latency;
        assert!((last - want).abs() <= 1e-12 * want, "{last} vs {want}");
        // A pull right after uses the other direction of the server's port: no wait.
        assert_eq!(fabric.pull(0, 0.0, m).start, 0.0);
    }

    #[test]
    fn a_message_waits_for_the_receivers_link_and_holds_the_senders() {
        let mut f = Fabric::new(&toy(), 3);
        // 0 → 2 occupies worker 2's downlink until 2.
        assert_eq!(f.send(Node::Worker(0), Node::Worker(2), 0.0, 4).end, 5.0);
        // 1 → 2 waits until 2, and worker 1's uplink is busy until 4.
        let m = f.send(Node::Worker(1), Node::Worker(2), 0.0, 4);
        assert_eq!((m.start, m.end), (2.0, 7.0));
        assert_eq!(f.send(Node::Worker(1), Node::Worker(0), 0.0, 4).start, 4.0);
    }

    #[test]
    fn run_serves_each_link_in_offer_order_not_batch_order() {
        // Worker 0 first sends 8 bytes to 1, then 4 bytes to 2; worker 1 sends 4 bytes to 2 at
        // t=0. Worker 1's message reaches worker 2's downlink first (t=0 vs t=4), so it goes
        // first although it comes later in the batch.
        let t = |from, to, bytes| Transfer {
            from: Node::Worker(from),
            to: Node::Worker(to),
            bytes,
            ready: 0.0,
            after: vec![],
        };
        let mut f = Fabric::new(&toy(), 3);
        let m = f.run(&[t(0, 1, 8), t(0, 2, 4), t(1, 2, 4)]);
        assert_eq!((m[0].start, m[0].end), (0.0, 7.0));
        assert_eq!((m[2].start, m[2].end), (0.0, 5.0));
        assert_eq!((m[1].start, m[1].end), (4.0, 9.0));
    }

    #[test]
    fn run_waits_for_dependencies() {
        let mut f = Fabric::new(&toy(), 3);
        let m = f.run(&[
            Transfer { from: Node::Worker(1), to: Node::Worker(0), bytes: 4, ready: 0.0, after: vec![] },
            Transfer { from: Node::Worker(0), to: Node::Server, bytes: 4, ready: 1.0, after: vec![0] },
        ]);
        assert_eq!((m[1].start, m[1].end), (5.0, 10.0));
    }
}
