//! `dataset-info` and `partition-info`.

use anyhow::Context;

use crate::cli::{DatasetArgs, PartitionInfoArgs};
use crate::data::{info::DatasetInfo, Dataset, DatasetSpec};
use crate::graph::{halo, partition, Normalization};
use crate::model::InputFeatures;

pub fn load_dataset(spec: &str) -> anyhow::Result<Dataset> {
    let spec: DatasetSpec = spec.parse()?;
    let ds = spec.load().with_context(|| format!("loading dataset `{spec}`"))?;
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
    let global = halo::GlobalGraph {
        adjacency: &ds.adjacency,
        a_hat: &a_hat,
        features: &features,
        labels: &ds.labels,
        split_codes: &codes,
    };
    let (_, stats) = halo::build_local_graphs(&global, &assignment, args.partitions, args.boundary, args.layers);
    let summary = halo::summarize(&stats, ds.num_nodes(), ds.num_undirected_edges());
    println!(
        "{}: {} nodes, {} edges into {} partitions ({:?}, {:?} boundary, {} layers)",
        ds.name,
        ds.num_nodes(),
        ds.num_undirected_edges(),
        args.partitions,
        args.partitioner,
        args.boundary,
        args.layers
    );
    println!("{:>5} {:>8} {:>8} {:>10} {:>10} {:>16}", "part", "owned", "train", "cut_edges", "local", "halo per hop");
    for s in &stats {
        println!(
            "{:>5} {:>8} {:>8} {:>10} {:>10} {:>16}",
            s.part,
            s.owned,
            s.owned_train,
            s.cut_edges,
            s.local_nodes,
            format!("{:?}", s.halo_per_hop)
        );
    }
    println!(
        "edge cut {} ({:.1}% of edges), replication factor {:.3}, balance {:.3}, halo nodes {}",
        summary.edge_cut,
        100.0 * summary.edge_cut_fraction,
        summary.replication_factor,
        summary.balance,
        summary.halo_nodes
    );
    Ok(())
}
