use clap::Parser;

fn main() {
    let cli = gcnsim::cli::Cli::parse();
    if let Err(e) = gcnsim::app::run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
