fn main() {
    // Before any thread exists: it may set an environment variable (see its docs).
    gcnsim::backend::gpu::context::quiet_headless_runtime_dir();
    // Before any thread exists too: threads inherit the blocked signals.
    gcnsim::app::signals::install();
    let cli = gcnsim::cli::Cli::parse_tracked();
    if let Err(e) = gcnsim::app::run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
