//! The edge of the program: each subcommand as a function returning `anyhow::Result`.

pub mod backend;
pub mod bench;
pub mod calibrate;
pub mod compare;
pub mod data;
pub mod docs;
pub mod experiment;
pub mod info;
pub mod signals;
pub mod train;
pub mod validate;

use crate::cli::{Cli, Command};

pub fn run(cli: Cli) -> anyhow::Result<()> {
    if let Some(n) = cli.threads {
        anyhow::ensure!(n >= 1, "--threads: at least 1 thread");
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .map_err(|e| anyhow::anyhow!("--threads {n}: {e}"))?;
    }
    // Like --threads, one setting for every GPU backend this process creates.
    crate::data::fetch::set_offline(cli.offline);
    crate::backend::gpu::Residency { set: cli.resident, budget: cli.gpu_memory }.set_process_default();
    match cli.command {
        Command::Train(args) => train::train_command(&args),
        Command::Resume(args) => train::resume_command(&args),
        Command::DatasetInfo(args) => info::dataset_info(&args),
        Command::PartitionInfo(args) => info::partition_info(&args),
        Command::Data(command) => data::data_command(&command),
        Command::Devices => backend::devices(),
        Command::Run(args) => experiment::run_command(&args, cli.threads),
        Command::Merge(args) => experiment::merge_command(&args),
        Command::Bench(args) => bench::bench_command(&args),
        Command::Validate(args) => validate::validate_command(&args),
        Command::Calibrate(args) => calibrate::calibrate_command(&args, cli.threads),
        Command::Plot(args) => experiment::plot_command(&args),
        Command::Compare(args) => compare::compare_command(&args),
        Command::Report(args) => experiment::report_command(&args),
        Command::Completions(args) => docs::completions(&args),
        Command::GenerateDocs(args) => docs::generate_docs(&args),
    }
}
