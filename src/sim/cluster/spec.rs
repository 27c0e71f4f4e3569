//! `key=value,key=value` fields of the straggler and failure specs.

use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{spec}`: {message}")]
pub struct SpecError {
    pub spec: String,
    pub message: String,
}

impl SpecError {
    pub fn new(spec: &str, message: impl Into<String>) -> Self {
        Self { spec: spec.to_string(), message: message.into() }
    }
}

pub struct Fields<'a> {
    spec: &'a str,
    values: BTreeMap<&'a str, &'a str>,
}

/// Splits `text` into fields; every key must be in `allowed`, every key in `required` present,
/// none twice. `spec` (the whole string) is what errors quote.
pub fn parse_fields<'a>(
    spec: &'a str,
    text: &'a str,
    allowed: &[&str],
    required: &[&str],
) -> Result<Fields<'a>, SpecError> {
    let mut values = BTreeMap::new();
    for field in text.split(',').filter(|f| !f.is_empty()) {
        let (k, v) = field.split_once('=').ok_or_else(|| {
            SpecError::new(spec, format!("`{field}` is not key=value (keys: {})", allowed.join(", ")))
        })?;
        if !allowed.contains(&k) {
            return Err(SpecError::new(spec, format!("unknown key `{k}` (keys: {})", allowed.join(", "))));
        }
        if values.insert(k, v).is_some() {
            return Err(SpecError::new(spec, format!("`{k}` given twice")));
        }
    }
    if let Some(missing) = required.iter().find(|k| !values.contains_key(*k)) {
        return Err(SpecError::new(spec, format!("`{missing}` is missing (keys: {})", allowed.join(", "))));
    }
    Ok(Fields { spec, values })
}

impl Fields<'_> {
    pub fn has(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    fn number(&self, key: &str) -> Result<f64, SpecError> {
        let v = self.values[key];
        v.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| SpecError::new(self.spec, format!("`{key}` must be a number, got `{v}`")))
    }

    pub fn non_negative(&self, key: &str) -> Result<f64, SpecError> {
        let x = self.number(key)?;
        if x < 0.0 {
            return Err(SpecError::new(self.spec, format!("`{key}` must be ≥ 0, got {x}")));
        }
        Ok(x)
    }

    pub fn positive(&self, key: &str) -> Result<f64, SpecError> {
        let x = self.number(key)?;
        if x <= 0.0 {
            return Err(SpecError::new(self.spec, format!("`{key}` must be > 0, got {x}")));
        }
        Ok(x)
    }

    /// A number in `[0, max]`, or in `(0, max]` when `positive`: the bounds keep the simulated
    /// clock finite, and the message names them.
    pub fn at_most(&self, key: &str, max: f64, positive: bool) -> Result<f64, SpecError> {
        let x = if positive { self.positive(key)? } else { self.non_negative(key)? };
        if x > max {
            let got = crate::cost::readable(x);
            return Err(SpecError::new(
                self.spec,
                format!("`{key}` must be at most {}, got {got}", crate::cost::readable(max)),
            ));
        }
        Ok(x)
    }

    pub fn index(&self, key: &str) -> Result<usize, SpecError> {
        let v = self.values[key];
        v.parse::<usize>()
            .map_err(|_| SpecError::new(self.spec, format!("`{key}` must be a worker index (0, 1, …), got `{v}`")))
    }
}
