//! `dataset-info` and `partition-info`.

use anyhow::Context;

use crate::cli::{DatasetArgs, PartitionInfoArgs};
use crate::data::{info::DatasetInfo, Dataset, DatasetSpec};
use crate::graph::{local, partition, Normalization};
use crate::model::InputFeatures;
use crate::report::progress::{self, ProgressMode};

/// Loads (or generates) the dataset `spec` names, with progress when it is large, and prints
/// its warnings.
pub fn load_dataset(spec: &str) -> anyhow::Result<Dataset> {
    let spec: DatasetSpec = spec.parse()?;
    let ds = progress::stage(ProgressMode::detect(), spec.looks_large(), &format!("loading dataset `{spec}`"), || {
        spec.load()
    })
    .with_context(|| format!("loading dataset `{spec}`"))?;
    for w in &ds.warnings {
        eprintln!("warning: {w}");
    }
    Ok(ds)
}

pub fn dataset_info(args: &DatasetArgs) -> anyhow::Result<()> {
    let ds = load_dataset(&args.dataset)?;
    println!("{}", DatasetInfo::of(&ds));
    Ok(())
}

pub fn partition_info(args: &PartitionInfoArgs) -> anyhow::Result<()> {
    let ds = load_dataset(&args.dataset)?;
    anyhow::ensure!(args.partitions >= 1, "--partitions must be at least 1");
    anyhow::ensure!(args.layers >= 1, "--layers must be at least 1");
    let assignment = partition::assign(&ds.adjacency, args.partitions, args.partitioner, args.seed)?;
    let a_hat = Normalization::Symmetric.apply(&ds.adjacency)?;
    let features = InputFeatures::auto(ds.features.clone())?;
    let codes = ds.split.codes(ds.num_nodes());
    let global = local::GlobalGraph {
        normalization: Normalization::Symmetric,
        adjacency: &ds.adjacency,
        a_hat: &a_hat,
        features: &features,
        labels: &ds.labels,
        split_codes: &codes,
    };
    let built = local::build(&global, &assignment, args.partitions, args.boundary, args.layers);
    let stats = &built.stats;
    let summary = local::summarize(stats, ds.num_nodes(), ds.num_undirected_edges());
    // Exchange widths: H·W of each layer (hidden, …, classes).
    let widths: Vec<usize> =
        (0..args.layers).map(|l| if l + 1 == args.layers { ds.num_classes } else { args.hidden }).collect();
    println!(
        "{}: {} nodes, {} edges into {} partitions ({:?}, {} boundary, {} layers)",
        ds.name,
        ds.num_nodes(),
        ds.num_undirected_edges(),
        args.partitions,
        args.partitioner,
        args.boundary.name(),
        args.layers
    );
    let per_layer = |boundary: usize| -> String {
        widths.iter().map(|w| crate::sim::budget::human(4 * (boundary * w) as u128)).collect::<Vec<_>>().join(" / ")
    };
    println!(
        "{:>5} {:>8} {:>8} {:>10} {:>9} {:>10} {:>16}  exchange per layer and direction (widths {:?})",
        "part", "owned", "train", "cut_edges", "boundary", "held", "halo per hop", widths
    );
    for s in stats {
        println!(
            "{:>5} {:>8} {:>8} {:>10} {:>9} {:>10} {:>16}  {}",
            s.part,
            s.owned,
            s.owned_train,
            s.cut_edges,
            s.boundary_nodes,
            s.local_nodes,
            format!("{:?}", s.halo_per_hop),
            per_layer(s.boundary_nodes)
        );
    }
    let total_boundary: usize = stats.iter().map(|s| s.boundary_nodes).sum();
    println!(
        "edge cut {} ({:.1}% of edges), replication factor {:.3}, balance {:.3}, nodes held but owned elsewhere {}",
        summary.edge_cut,
        100.0 * summary.edge_cut_fraction,
        summary.replication_factor,
        summary.balance,
        summary.halo_nodes
    );
    println!(
        "boundary nodes in all {total_boundary}: an exchange moves {} per layer and direction",
        per_layer(total_boundary)
    );
    Ok(())
}
