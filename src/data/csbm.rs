//! Contextual stochastic block model: a synthetic node-classification graph of any size.
//!
//! Labels are balanced over `classes`. Each of the `round(nodes · avg_degree / 2)` undirected
//! edge draws picks a uniform endpoint `u`, then with probability `homophily` a uniform node of
//! the same class, else a uniform node of another class (self-loops are skipped, duplicates
//! merged). Features are `x_i = μ_{y_i} + N(0, I)`, with `μ_c` a random direction of length
//! `signal`. Splits are Planetoid-like: `train_per_class` per class, then `valid` and `test`
//! drawn from the rest.
//!
//! Labels, edges, features and splits use separate random streams, so e.g. changing
//! `homophily` leaves labels, features and splits as they were.

use super::{DataError, Dataset, Split};
use crate::graph::Csr;
use crate::rng::SplitMix64;
use crate::tensor::HostMatrix;

/// Parameters of [`generate`]. The default is gcnsim's built-in graph.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CsbmParams {
    pub nodes: usize,
    pub classes: usize,
    /// Mean degree of the undirected graph (before duplicate edges are merged).
    pub avg_degree: f64,
    /// Probability that an edge joins two nodes of the same class.
    pub homophily: f64,
    pub features: usize,
    /// Length of each class-mean vector, in units of the per-dimension noise deviation.
    pub signal: f64,
    pub seed: u64,
    pub train_per_class: usize,
    pub valid: usize,
    pub test: usize,
}

impl Default for CsbmParams {
    /// Cora-sized. `signal` 1.0 puts class means √2 noise deviations apart: a nearest-class-mean
    /// classifier on the raw features gets about 38% of test nodes (chance 20%), the same
    /// classifier after one round of GCN propagation about 72% and after two about 90%, so a
    /// model has to use the graph to do well.
    fn default() -> Self {
        Self {
            nodes: 3000,
            classes: 5,
            avg_degree: 8.0,
            homophily: 0.75,
            features: 32,
            signal: 1.0,
            seed: 0,
            train_per_class: 20,
            valid: 500,
            test: 1000,
        }
    }
}

/// The stream tags; fixed so each part of the model keeps its own randomness.
const LABEL_STREAM: u64 = 1;
const EDGE_STREAM: u64 = 2;
const FEATURE_STREAM: u64 = 3;
const SPLIT_STREAM: u64 = 4;

impl CsbmParams {
    /// Checks every parameter; the error names the offending key.
    pub fn validate(&self) -> Result<(), DataError> {
        let fail = |message: String| Err(DataError::Spec { spec: "csbm".to_string(), message });
        let labelled =
            self.classes.saturating_mul(self.train_per_class).saturating_add(self.valid).saturating_add(self.test);
        if self.classes < 2 {
            return fail(format!("classes = {} must be at least 2", self.classes));
        }
        if self.train_per_class == 0 || self.valid == 0 || self.test == 0 {
            return fail("train_per_class, valid and test must each be at least 1".to_string());
        }
        if self.nodes < labelled {
            let (c, t, v, e) = (self.classes, self.train_per_class, self.valid, self.test);
            return fail(format!(
                "nodes = {} is less than classes * train_per_class + valid + test = {c} * {t} + {v} + {e} = {labelled}",
                self.nodes
            ));
        }
        if self.nodes > u32::MAX as usize {
            return fail(format!("nodes = {} does not fit u32 node ids", self.nodes));
        }
        if !(0.0..=1.0).contains(&self.homophily) {
            return fail(format!("homophily = {} must be in [0, 1]", self.homophily));
        }
        if !(self.avg_degree >= 0.0 && self.avg_degree < self.nodes as f64) {
            return fail(format!("avg_degree = {} must be in [0, nodes)", self.avg_degree));
        }
        // Both directions are stored with u32 offsets.
        if self.edge_draws() > (u32::MAX / 2) as usize {
            return fail(format!(
                "avg_degree = {} gives {} edges, more than u32 adjacency offsets can hold",
                self.avg_degree,
                self.edge_draws()
            ));
        }
        if self.features == 0 {
            return fail("features must be at least 1".to_string());
        }
        if !(self.signal.is_finite() && self.signal >= 0.0) {
            return fail(format!("signal = {} must be finite and non-negative", self.signal));
        }
        Ok(())
    }

    /// Peak bytes [`generate`] holds: per node its label, class member entry, the CSR's fill,
    /// bounds and row offsets and the split's flags (33 B); per edge draw the pair and both
    /// directions of the adjacency (16 B); and the features (4 B a value). An upper bound of the
    /// peak to within a small factor, checked before anything is allocated.
    pub fn generation_bytes(&self) -> u128 {
        let nodes = self.nodes as u128;
        33 * nodes + 16 * self.edge_draws() as u128 + 4 * nodes * self.features as u128
    }

    /// Refuses a graph that cannot fit in `available` bytes (the host's available memory where it
    /// is known), naming what it needs and the keys that make it smaller.
    pub fn check_fits(&self, available: Option<u64>) -> Result<(), DataError> {
        let needed = self.generation_bytes();
        match available {
            Some(available) if needed > available as u128 => Err(DataError::Spec {
                spec: "csbm".to_string(),
                message: format!(
                    "generating {} nodes, {} edge draws and {} features needs about {} of memory but {} is \
                     available: lower `nodes`, `avg_degree` or `features`",
                    self.nodes,
                    self.edge_draws(),
                    self.features,
                    crate::host::human(needed),
                    crate::host::human(available as u128)
                ),
            }),
            _ => Ok(()),
        }
    }

    /// Undirected edge draws: `round(nodes · avg_degree / 2)`.
    pub fn edge_draws(&self) -> usize {
        (self.nodes as f64 * self.avg_degree / 2.0).round() as usize
    }
}

/// Generates the dataset described by `p`. Deterministic in `p`.
pub fn generate(p: &CsbmParams) -> Result<Dataset, DataError> {
    p.validate()?;
    p.check_fits(crate::host::available_bytes())?;
    let mut root = SplitMix64::new(p.seed);
    let mut label_rng = root.fork(LABEL_STREAM);
    let mut edge_rng = root.fork(EDGE_STREAM);
    let mut feature_rng = root.fork(FEATURE_STREAM);
    let mut split_rng = root.fork(SPLIT_STREAM);

    let labels = balanced_labels(p.nodes, p.classes, &mut label_rng);
    let groups = ClassGroups::new(&labels, p.classes);
    let edges = sample_edges(&labels, &groups, p.edge_draws(), p.homophily, &mut edge_rng);
    // CSBM draws no self-loops; every edge in both directions, duplicates merged.
    let adjacency = Csr::from_pairs_bucketed(p.nodes, &edges, true);
    let features = gaussian_features(&labels, p.classes, p.features, p.signal, &mut feature_rng);
    let split = planetoid_split(&groups, p, &mut split_rng);

    Ok(Dataset {
        name: "csbm".to_string(),
        adjacency,
        features,
        labels,
        num_classes: p.classes,
        split,
        warnings: Vec::new(),
    })
}

/// Node i gets class i mod C, then the labels are shuffled: exactly balanced, randomly placed.
fn balanced_labels(nodes: usize, classes: usize, rng: &mut SplitMix64) -> Vec<u32> {
    let mut labels: Vec<u32> = (0..nodes).map(|i| (i % classes) as u32).collect();
    rng.shuffle(&mut labels);
    labels
}

/// Nodes grouped by class: class `c` owns `members[start[c]..start[c + 1]]`, in id order.
struct ClassGroups {
    members: Vec<u32>,
    start: Vec<usize>,
}

impl ClassGroups {
    fn new(labels: &[u32], classes: usize) -> Self {
        let mut start = vec![0usize; classes + 1];
        for &y in labels {
            start[y as usize + 1] += 1;
        }
        for c in 0..classes {
            start[c + 1] += start[c];
        }
        let mut next = start.clone();
        let mut members = vec![0u32; labels.len()];
        for (node, &y) in labels.iter().enumerate() {
            members[next[y as usize]] = node as u32;
            next[y as usize] += 1;
        }
        Self { members, start }
    }

    fn of(&self, class: usize) -> &[u32] {
        &self.members[self.start[class]..self.start[class + 1]]
    }

    fn same_class(&self, class: usize, rng: &mut SplitMix64) -> u32 {
        let own = self.of(class);
        own[rng.below(own.len() as u64) as usize]
    }

    /// Uniform over all nodes outside `class`: draw a position in the members list with the
    /// class's own block cut out.
    fn other_class(&self, class: usize, rng: &mut SplitMix64) -> u32 {
        let (lo, hi) = (self.start[class], self.start[class + 1]);
        let mut pos = rng.below((self.members.len() - (hi - lo)) as u64) as usize;
        if pos >= lo {
            pos += hi - lo;
        }
        self.members[pos]
    }
}

fn sample_edges(
    labels: &[u32],
    groups: &ClassGroups,
    draws: usize,
    homophily: f64,
    rng: &mut SplitMix64,
) -> Vec<(u32, u32)> {
    let mut edges = Vec::with_capacity(draws);
    for _ in 0..draws {
        let u = rng.below(labels.len() as u64) as u32;
        let class = labels[u as usize] as usize;
        let v = if rng.next_f64() < homophily { groups.same_class(class, rng) } else { groups.other_class(class, rng) };
        if u != v {
            edges.push((u, v));
        }
    }
    edges
}

/// Class means are random Gaussian directions scaled to length `signal`; each row is its class
/// mean plus standard normal noise.
fn gaussian_features(labels: &[u32], classes: usize, width: usize, signal: f64, rng: &mut SplitMix64) -> HostMatrix {
    let means: Vec<Vec<f64>> = (0..classes).map(|_| random_direction(width, signal, rng)).collect();
    let mut data = Vec::with_capacity(labels.len() * width);
    for &y in labels {
        data.extend(means[y as usize].iter().map(|&m| (m + rng.normal()) as f32));
    }
    HostMatrix::from_vec(labels.len(), width, data)
}

fn random_direction(width: usize, length: f64, rng: &mut SplitMix64) -> Vec<f64> {
    let v: Vec<f64> = (0..width).map(|_| rng.normal()).collect();
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
    v.into_iter().map(|x| x * length / norm).collect()
}

/// `train_per_class` nodes of each class, then `valid` and `test` from the remaining nodes.
fn planetoid_split(groups: &ClassGroups, p: &CsbmParams, rng: &mut SplitMix64) -> Split {
    let mut in_train = vec![false; p.nodes];
    let mut train = Vec::with_capacity(p.classes * p.train_per_class);
    for class in 0..p.classes {
        let mut members = groups.of(class).to_vec();
        for &node in choose(&mut members, p.train_per_class, rng) {
            in_train[node as usize] = true;
            train.push(node);
        }
    }
    let mut rest: Vec<u32> = (0..p.nodes as u32).filter(|&n| !in_train[n as usize]).collect();
    let chosen = choose(&mut rest, p.valid + p.test, rng);
    let mut valid = chosen[..p.valid].to_vec();
    let mut test = chosen[p.valid..].to_vec();
    for ids in [&mut train, &mut valid, &mut test] {
        ids.sort_unstable();
    }
    Split { train, valid, test }
}

/// A uniform random `k`-subset of `items` (partial Fisher-Yates; `k` is capped at the length).
fn choose<'a>(items: &'a mut [u32], k: usize, rng: &mut SplitMix64) -> &'a [u32] {
    let k = k.min(items.len());
    for i in 0..k {
        let j = i + rng.below((items.len() - i) as u64) as usize;
        items.swap(i, j);
    }
    &items[..k]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> CsbmParams {
        CsbmParams {
            nodes: 400,
            classes: 4,
            avg_degree: 6.0,
            train_per_class: 5,
            valid: 50,
            test: 100,
            ..CsbmParams::default()
        }
    }

    fn intra_class_fraction(ds: &Dataset) -> f64 {
        let a = &ds.adjacency;
        let intra = (0..a.rows)
            .flat_map(|r| a.row(r).iter().map(move |&c| (r, c as usize)))
            .filter(|&(r, c)| ds.labels[r] == ds.labels[c])
            .count();
        intra as f64 / a.nnz() as f64
    }

    #[test]
    fn generation_bytes_bound_what_the_graph_holds() {
        let p = CsbmParams { nodes: 20_000, ..CsbmParams::default() };
        let ds = generate(&p).unwrap();
        let held = 4 * ds.labels.len()
            + 4 * ds.adjacency.row_ptr.len()
            + 4 * ds.adjacency.col_idx.len()
            + 4 * ds.features.data.len()
            + 4 * (ds.split.train.len() + ds.split.valid.len() + ds.split.test.len());
        let estimate = p.generation_bytes();
        assert!(estimate >= held as u128 && estimate <= 3 * held as u128, "estimate {estimate}, held {held}");
    }

    #[test]
    fn a_graph_larger_than_memory_is_refused_before_generation() {
        let p = CsbmParams { nodes: 200_000_000, ..CsbmParams::default() };
        let message = p.check_fits(Some(24 << 30)).unwrap_err().to_string();
        for part in ["nodes", "avg_degree", "features", "GiB", "available"] {
            assert!(message.contains(part), "{message}");
        }
        assert!(p.check_fits(None).is_ok(), "unknown memory: nothing to compare against");
        assert!(small().check_fits(Some(1 << 30)).is_ok());
        let started = std::time::Instant::now();
        if crate::host::available_bytes().is_some_and(|b| (b as u128) < p.generation_bytes()) {
            assert!(generate(&p).is_err());
            assert!(started.elapsed().as_secs() < 5, "refused before allocating");
        }
    }

    fn assert_same(a: &Dataset, b: &Dataset) {
        assert_eq!(a.adjacency, b.adjacency);
        assert_eq!(a.features, b.features);
        assert_eq!(a.labels, b.labels);
        assert_eq!(a.split, b.split);
    }

    /// Test accuracy of classifying each node by the nearest training-class mean of `x`.
    fn nearest_mean_accuracy(x: &HostMatrix, ds: &Dataset) -> f64 {
        let mut means = vec![vec![0.0f64; x.cols]; ds.num_classes];
        let mut counts = vec![0usize; ds.num_classes];
        for &n in &ds.split.train {
            let y = ds.labels[n as usize] as usize;
            counts[y] += 1;
            means[y].iter_mut().zip(x.row(n as usize)).for_each(|(m, &v)| *m += v as f64);
        }
        means.iter_mut().zip(&counts).for_each(|(m, &c)| m.iter_mut().for_each(|v| *v /= c as f64));
        let distance =
            |n: usize, m: &[f64]| x.row(n).iter().zip(m).map(|(&v, &mu)| (v as f64 - mu).powi(2)).sum::<f64>();
        let predict = |n: usize| {
            (0..means.len()).min_by(|&a, &b| distance(n, &means[a]).total_cmp(&distance(n, &means[b]))).unwrap()
        };
        let correct = ds.split.test.iter().filter(|&&n| predict(n as usize) == ds.labels[n as usize] as usize).count();
        correct as f64 / ds.split.test.len() as f64
    }

    /// Â x with Â = D^-1/2 (A+I) D^-1/2, as a GCN layer propagates.
    fn propagate(ds: &Dataset, x: &HostMatrix) -> HostMatrix {
        let a = &ds.adjacency;
        let scale: Vec<f64> = (0..a.rows).map(|r| 1.0 / ((a.degree(r) + 1) as f64).sqrt()).collect();
        let mut out = HostMatrix::zeros(x.rows, x.cols);
        for r in 0..a.rows {
            let neighbours = a.row(r).iter().map(|&c| c as usize).chain(std::iter::once(r));
            for c in neighbours {
                let w = (scale[r] * scale[c]) as f32;
                out.row_mut(r).iter_mut().zip(x.row(c)).for_each(|(o, &v)| *o += w * v);
            }
        }
        out
    }

    #[test]
    fn small_graph_is_well_formed() {
        let p = small();
        let ds = generate(&p).unwrap();
        assert_eq!(ds.num_nodes(), 400);
        assert_eq!(ds.name, "csbm");
        assert!(ds.adjacency.is_symmetric());
        assert!((0..ds.num_nodes()).all(|r| !ds.adjacency.row(r).contains(&(r as u32))));
        assert!(ds.adjacency.row_ptr.windows(2).all(|w| w[0] <= w[1]));
        assert!((0..ds.num_nodes()).all(|r| ds.adjacency.row(r).windows(2).all(|w| w[0] < w[1])));
        assert!(ds.num_undirected_edges() <= p.edge_draws() && ds.num_undirected_edges() > p.edge_draws() * 9 / 10);
        assert_eq!(ds.features.rows, 400);
        assert_eq!(ds.features.cols, p.features);
        for c in 0..4u32 {
            assert_eq!(ds.labels.iter().filter(|&&y| y == c).count(), 100);
            assert_eq!(ds.split.train.iter().filter(|&&n| ds.labels[n as usize] == c).count(), 5);
        }
        let split = &ds.split;
        assert_eq!((split.train.len(), split.valid.len(), split.test.len()), (20, 50, 100));
        let codes = split.codes(400);
        assert_eq!(codes.iter().filter(|&&c| c != 0).count(), 170, "splits must be disjoint");
        assert!([&split.train, &split.valid, &split.test].iter().all(|s| s.windows(2).all(|w| w[0] < w[1])));
    }

    #[test]
    fn fast_csr_matches_from_pairs() {
        let edges = vec![(0, 1), (1, 0), (2, 1), (3, 0), (0, 3), (1, 2), (4, 2)];
        let both: Vec<(u32, u32)> = edges.iter().flat_map(|&(u, v)| [(u, v), (v, u)]).collect();
        assert_eq!(Csr::from_pairs_bucketed(6, &edges, true), Csr::from_pairs(6, 6, both, true).unwrap());
    }

    #[test]
    fn streams_are_independent() {
        let a = generate(&small()).unwrap();
        let b = generate(&CsbmParams { homophily: 0.2, ..small() }).unwrap();
        assert_eq!(a.labels, b.labels);
        assert_eq!(a.features, b.features);
        assert_eq!(a.split, b.split);
        assert_ne!(a.adjacency, b.adjacency);
        let c = generate(&CsbmParams { seed: 1, ..small() }).unwrap();
        assert_ne!(a.labels, c.labels);
    }

    #[test]
    fn invalid_params_name_the_key() {
        let cases = [
            (CsbmParams { classes: 1, ..small() }, "classes"),
            (CsbmParams { nodes: 100, ..small() }, "nodes"),
            (CsbmParams { homophily: 1.5, ..small() }, "homophily"),
            (CsbmParams { homophily: f64::NAN, ..small() }, "homophily"),
            (CsbmParams { avg_degree: -1.0, ..small() }, "avg_degree"),
            (CsbmParams { avg_degree: 400.0, ..small() }, "avg_degree"),
            (CsbmParams { features: 0, ..small() }, "features"),
            (CsbmParams { signal: f64::INFINITY, ..small() }, "signal"),
            (CsbmParams { test: 0, ..small() }, "test"),
        ];
        for (p, key) in cases {
            let message = generate(&p).unwrap_err().to_string();
            assert!(message.contains(key) && message.contains("csbm"), "{message} should name {key}");
        }
    }

    #[test]
    fn extreme_homophily_and_empty_graph() {
        let all_intra = generate(&CsbmParams { homophily: 1.0, ..small() }).unwrap();
        assert_eq!(intra_class_fraction(&all_intra), 1.0);
        let all_inter = generate(&CsbmParams { homophily: 0.0, ..small() }).unwrap();
        assert_eq!(intra_class_fraction(&all_inter), 0.0);
        let empty = generate(&CsbmParams { avg_degree: 0.0, ..small() }).unwrap();
        assert_eq!(empty.adjacency.nnz(), 0);
    }

    #[test]
    fn default_is_learnable_but_needs_the_graph() {
        let ds = generate(&CsbmParams::default()).unwrap();
        let raw = nearest_mean_accuracy(&ds.features, &ds);
        let smoothed = nearest_mean_accuracy(&propagate(&ds, &propagate(&ds, &ds.features)), &ds);
        assert!((0.30..=0.50).contains(&raw), "raw-feature accuracy {raw}");
        assert!((0.80..=0.97).contains(&smoothed), "propagated accuracy {smoothed} (raw {raw})");
    }

    #[test]
    fn large_graph_has_expected_size_homophily_and_is_deterministic() {
        let p = CsbmParams {
            nodes: 200_000,
            avg_degree: 8.0,
            homophily: 0.7,
            features: 4,
            seed: 11,
            ..CsbmParams::default()
        };
        let ds = generate(&p).unwrap();
        let draws = p.edge_draws();
        assert_eq!(draws, 800_000);
        let edges = ds.num_undirected_edges();
        // Self-loops and repeated pairs are rare (well under 0.1%) at this size.
        assert!(edges <= draws && edges as f64 >= draws as f64 * 0.999, "{edges} edges");
        let h = intra_class_fraction(&ds);
        assert!((h - p.homophily).abs() <= 0.02, "homophily {h}");
        assert_same(&ds, &generate(&p).unwrap());
    }
}
