//! Spec strings: `name` or `name:key=value,…`, in the style of the dataset's `csbm:…` specs
//! (aggregators, attacks, learning-rate schedules, optimizers). Errors name the offending key or
//! value and list the valid ones; `Display`s write the keys that differ from the defaults in the
//! grammar's order, so a spec round-trips.

use std::fmt;
use std::str::FromStr;

/// serde goes through the spec string (TOML: `robust = "krum:f=2"`): `TryFrom<String>` by
/// `FromStr` (with its error type) and `From<T> for String` by `Display`, for
/// `#[serde(try_from = "String", into = "String")]`.
#[macro_export]
macro_rules! spec_serde {
    ($t:ty, $err:ty) => {
        impl TryFrom<String> for $t {
            type Error = $err;
            fn try_from(s: String) -> Result<Self, $err> {
                s.parse()
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.to_string()
            }
        }
    };
}

/// A spec that does not parse, naming what it was meant to be.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{what} `{spec}`: {message}")]
pub struct SpecError {
    pub what: &'static str,
    pub spec: String,
    pub message: String,
}

/// A spec split into its name and key=value pairs, each key checked against the grammar.
pub struct Parsed<'a> {
    what: &'static str,
    spec: &'a str,
    /// The spec's name (one of the grammar's).
    pub name: &'a str,
    pairs: Vec<(&'a str, &'a str)>,
}

impl<'a> Parsed<'a> {
    pub fn new(what: &'static str, spec: &'a str, grammar: &[(&str, &[&str])]) -> Result<Self, SpecError> {
        let fail = |message: String| SpecError { what, spec: spec.to_string(), message };
        let (name, rest) = spec.split_once(':').unwrap_or((spec, ""));
        let name = name.trim();
        let Some((_, keys)) = grammar.iter().find(|(n, _)| *n == name) else {
            let names: Vec<&str> = grammar.iter().map(|(n, _)| *n).collect();
            return Err(fail(format!("unknown {what} `{name}`; valid: {}", names.join(", "))));
        };
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        for item in rest.split(',').filter(|item| !item.trim().is_empty()) {
            let (key, value) = item.split_once('=').ok_or_else(|| fail(format!("`{item}` is not key=value")))?;
            let key = key.trim();
            if !keys.contains(&key) {
                let valid = if keys.is_empty() {
                    format!("`{name}` takes no keys")
                } else {
                    format!("valid keys for `{name}`: {}", keys.join(", "))
                };
                return Err(fail(format!("unknown key `{key}`; {valid}")));
            }
            if pairs.iter().any(|(k, _)| *k == key) {
                return Err(fail(format!("key `{key}` given twice")));
            }
            pairs.push((key, value.trim()));
        }
        Ok(Self { what, spec, name, pairs })
    }

    pub fn fail(&self, message: String) -> SpecError {
        SpecError { what: self.what, spec: self.spec.to_string(), message }
    }

    /// The raw value of `key`, for values that are words.
    pub fn raw(&self, key: &str) -> Option<&'a str> {
        self.pairs.iter().find(|(k, _)| *k == key).map(|&(_, v)| v)
    }

    /// The value of `key`, parsed, checked by `valid` (which describes the accepted range).
    pub fn get<T: FromStr + Copy>(
        &self,
        key: &str,
        range: &str,
        valid: impl Fn(T) -> bool,
    ) -> Result<Option<T>, SpecError> {
        let Some(&(_, raw)) = self.pairs.iter().find(|(k, _)| *k == key) else {
            return Ok(None);
        };
        match raw.parse::<T>() {
            Ok(v) if valid(v) => Ok(Some(v)),
            _ => Err(self.fail(format!("key `{key}`: invalid value `{raw}`; expected {range}"))),
        }
    }

    pub fn count(&self, key: &str) -> Result<Option<usize>, SpecError> {
        self.get(key, "an integer ≥ 0", |_: usize| true)
    }

    pub fn positive_count<T: FromStr + Copy + PartialOrd + Default>(&self, key: &str) -> Result<Option<T>, SpecError> {
        self.get(key, "an integer ≥ 1", |v: T| v > T::default())
    }

    pub fn finite(&self, key: &str) -> Result<Option<f32>, SpecError> {
        self.get(key, "a finite number", |v: f32| v.is_finite())
    }

    pub fn positive(&self, key: &str) -> Result<Option<f32>, SpecError> {
        self.get(key, "a finite number > 0", |v: f32| v.is_finite() && v > 0.0)
    }

    pub fn non_negative(&self, key: &str) -> Result<Option<f32>, SpecError> {
        self.get(key, "a finite number ≥ 0", |v: f32| v.is_finite() && v >= 0.0)
    }
}

/// Writes `name` or `name:k=v,…` for the keys that are set.
pub fn write_spec(f: &mut fmt::Formatter<'_>, name: &str, keys: &[(&str, Option<String>)]) -> fmt::Result {
    let set: Vec<String> = keys.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}"))).collect();
    if set.is_empty() {
        write!(f, "{name}")
    } else {
        write!(f, "{name}:{}", set.join(","))
    }
}

/// `Some(v)` unless v is the default (compared bitwise, as the value was parsed).
pub fn non_default<T: fmt::Display + PartialEq>(v: T, default: T) -> Option<String> {
    (v != default).then(|| v.to_string())
}
