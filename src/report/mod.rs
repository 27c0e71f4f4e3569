//! Reports: CSVs (one row type each), JSON summaries, plots and progress bars. Files are
//! written to a temporary name and renamed when complete, so an interrupted run leaves no
//! half-written file behind.

pub mod atomic;
pub mod compare;
pub mod html;
pub mod metrics;
pub mod nonfinite;
pub mod output;
pub mod plots;
pub mod progress;
pub mod provenance;
pub mod rows;
pub mod summary;
pub mod targets;

pub use atomic::{write_atomic, write_csv_atomic, ReportError};
