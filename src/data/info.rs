//! Summary statistics of a dataset, for `gcnsim info` and run reports.

use std::fmt;

use super::Dataset;
use crate::graph::Csr;

#[derive(Debug, Clone, serde::Serialize)]
pub struct DatasetInfo {
    pub name: String,
    pub nodes: usize,
    /// Unordered node pairs joined in either direction.
    pub undirected_edges: usize,
    /// Stored adjacency entries (twice the edges for a symmetric graph).
    pub directed_entries: usize,
    pub features: usize,
    pub classes: usize,
    pub train: usize,
    pub valid: usize,
    pub test: usize,
    /// Degrees are stored-entry counts per row (out-degrees for a directed graph).
    pub degree_min: usize,
    pub degree_max: usize,
    pub degree_mean: f64,
    pub degree_median: f64,
    pub isolated_nodes: usize,
    /// Fraction of feature entries that are exactly zero.
    pub feature_sparsity: f64,
    pub class_counts: Vec<usize>,
    /// Fraction of adjacency entries joining nodes of the same class; NaN without edges.
    pub edge_homophily: f64,
}

impl DatasetInfo {
    pub fn of(ds: &Dataset) -> DatasetInfo {
        let a = &ds.adjacency;
        let mut degrees: Vec<usize> = (0..a.rows).map(|r| a.degree(r)).collect();
        DatasetInfo {
            name: ds.name.clone(),
            nodes: ds.num_nodes(),
            undirected_edges: count_undirected(a),
            directed_entries: a.nnz(),
            features: ds.features.cols,
            classes: ds.num_classes,
            train: ds.split.train.len(),
            valid: ds.split.valid.len(),
            test: ds.split.test.len(),
            degree_min: degrees.iter().copied().min().unwrap_or(0),
            degree_max: degrees.iter().copied().max().unwrap_or(0),
            degree_mean: mean(&degrees),
            degree_median: median(&mut degrees),
            isolated_nodes: degrees.iter().filter(|&&d| d == 0).count(),
            feature_sparsity: ds.features.sparsity(),
            class_counts: class_counts(&ds.labels, ds.num_classes),
            edge_homophily: edge_homophily(a, &ds.labels),
        }
    }
}

/// Pairs {u, v} present in either direction; correct for directed patterns too.
fn count_undirected(a: &Csr) -> usize {
    let mut count = 0;
    for r in 0..a.rows {
        for &c in a.row(r) {
            let c = c as usize;
            // Count (r, c) with r <= c always, and r > c only when (c, r) is absent.
            if r <= c || a.row(c).binary_search(&(r as u32)).is_err() {
                count += 1;
            }
        }
    }
    count
}

fn mean(values: &[usize]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.iter().sum::<usize>() as f64 / values.len() as f64
}

/// Median (mean of the two middle values for an even count); reorders `values`.
fn median(values: &mut [usize]) -> f64 {
    let n = values.len();
    if n == 0 {
        return 0.0;
    }
    let upper = *values.select_nth_unstable(n / 2).1 as f64;
    if n % 2 == 1 {
        return upper;
    }
    // After the selection everything left of n/2 is <= it, so the lower middle is their max.
    let lower = values[..n / 2].iter().copied().max().unwrap_or(0) as f64;
    (lower + upper) / 2.0
}

fn class_counts(labels: &[u32], classes: usize) -> Vec<usize> {
    let mut counts = vec![0usize; classes];
    for &y in labels {
        if let Some(count) = counts.get_mut(y as usize) {
            *count += 1;
        }
    }
    counts
}

fn edge_homophily(a: &Csr, labels: &[u32]) -> f64 {
    if a.nnz() == 0 {
        return f64::NAN;
    }
    let same =
        (0..a.rows).map(|r| a.row(r).iter().filter(|&&c| labels[c as usize] == labels[r]).count()).sum::<usize>();
    same as f64 / a.nnz() as f64
}

impl fmt::Display for DatasetInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let homophily =
            if self.edge_homophily.is_nan() { "n/a".to_string() } else { format!("{:.4}", self.edge_homophily) };
        let counts: Vec<String> = self.class_counts.iter().map(usize::to_string).collect();
        let lines = [
            ("name", self.name.clone()),
            ("nodes", self.nodes.to_string()),
            ("undirected edges", self.undirected_edges.to_string()),
            ("directed entries", self.directed_entries.to_string()),
            ("features", self.features.to_string()),
            ("classes", self.classes.to_string()),
            ("split", format!("{} train / {} valid / {} test", self.train, self.valid, self.test)),
            (
                "degree",
                format!(
                    "min {} / median {} / mean {:.2} / max {}",
                    self.degree_min, self.degree_median, self.degree_mean, self.degree_max
                ),
            ),
            ("isolated nodes", self.isolated_nodes.to_string()),
            ("feature sparsity", format!("{:.4}", self.feature_sparsity)),
            ("class counts", format!("[{}]", counts.join(", "))),
            ("edge homophily", homophily),
        ];
        let width = lines.iter().map(|(key, _)| key.len()).max().unwrap_or(0);
        for (key, value) in lines {
            writeln!(f, "{:<width$} {value}", format!("{key}:"), width = width + 1)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Split;
    use crate::tensor::HostMatrix;

    /// Triangle 0-1-2 plus the pendant edge 2-3 and the isolated node 4.
    fn tiny() -> Dataset {
        let edges = [(0, 1), (1, 2), (0, 2), (2, 3)];
        let pairs = edges.iter().flat_map(|&(u, v)| [(u, v), (v, u)]).collect();
        let features = HostMatrix::from_vec(5, 2, vec![1.0, 0.0, 0.0, 0.0, 2.0, 3.0, 0.0, 1.0, 0.0, 0.0]);
        Dataset {
            name: "tiny".into(),
            adjacency: Csr::from_pairs(5, 5, pairs, true).unwrap(),
            features,
            labels: vec![0, 0, 1, 1, 2],
            num_classes: 3,
            split: Split { train: vec![0, 2], valid: vec![1], test: vec![3, 4] },
            warnings: Vec::new(),
        }
    }

    #[test]
    fn statistics_of_a_tiny_graph() {
        let info = DatasetInfo::of(&tiny());
        assert_eq!((info.nodes, info.undirected_edges, info.directed_entries), (5, 4, 8));
        assert_eq!((info.features, info.classes), (2, 3));
        assert_eq!((info.train, info.valid, info.test), (2, 1, 2));
        // Degrees 2, 2, 3, 1, 0.
        assert_eq!((info.degree_min, info.degree_max), (0, 3));
        assert_eq!(info.degree_mean, 1.6);
        assert_eq!(info.degree_median, 2.0);
        assert_eq!(info.isolated_nodes, 1);
        assert_eq!(info.feature_sparsity, 0.6);
        assert_eq!(info.class_counts, vec![2, 2, 1]);
        // Same-class edges 0-1 and 2-3 of 4.
        assert_eq!(info.edge_homophily, 0.5);
    }

    #[test]
    fn directed_graphs_count_each_pair_once() {
        let a = Csr::from_pairs(3, 3, vec![(0, 1), (1, 0), (1, 2)], true).unwrap();
        assert_eq!(count_undirected(&a), 2);
    }

    #[test]
    fn even_median_averages_the_middle() {
        assert_eq!(median(&mut [4, 1, 3, 2]), 2.5);
        assert_eq!(median(&mut []), 0.0);
    }

    #[test]
    fn display_is_aligned_and_json_works() {
        let info = DatasetInfo::of(&tiny());
        let text = info.to_string();
        assert!(text.contains("nodes:            5\n"), "{text}");
        assert!(text.contains("edge homophily:   0.5000\n"), "{text}");
        // Longest key "undirected edges:" is 17 characters; every value starts after one space.
        assert!(text.lines().all(|l| &l[17..18] == " " && &l[18..19] != " "), "{text}");
        let json = serde_json::to_value(&info).unwrap();
        assert_eq!(json["class_counts"], serde_json::json!([2, 2, 1]));
    }
}
