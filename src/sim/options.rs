//! What every part of the run's options shares (`config`, `cluster`, `byzantine`): the error
//! that names the offending key, and defaults taken from the command line.

/// Defaults are the command line's: parsing no arguments.
pub(crate) fn defaults_from_clap<T: clap::Args + clap::FromArgMatches>() -> T {
    let cmd = T::augment_args(clap::Command::new("defaults"));
    let matches = cmd.try_get_matches_from(["defaults"]).expect("no arguments parse into the defaults");
    T::from_arg_matches(&matches).expect("the defaults are valid")
}

/// An impossible configuration, naming the key.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("config key `{key}`: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

pub(crate) fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError { key: key.to_string(), message: message.into() }
}
