//! Reports: CSVs, JSON summaries, plots, progress.
