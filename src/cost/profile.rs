//! What device and network profiles share: a profile is a preset name or a TOML file of positive
//! numbers, and appears in configs as the preset name or as an inline table.
//!
//! A spec string is resolved as: a preset name if it is one; else a file if it looks like a path
//! (contains `/` or `\`, ends in `.toml`) or names an existing file; else an unknown-preset error
//! that lists the presets.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

/// A profile that cannot be read. File errors carry the path, and the key and line where known.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("unknown {kind} profile `{name}`; presets: {presets}; or give a path to a .toml file")]
    UnknownPreset { kind: &'static str, name: String, presets: String },
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", located(.path, .line))]
    Syntax { path: PathBuf, line: Option<usize>, message: String },
    #[error("{}: key `{key}`: {message}", located(.path, .line))]
    Key { path: PathBuf, line: Option<usize>, key: String, message: String },
}

fn located(path: &Path, line: &Option<usize>) -> String {
    match line {
        Some(line) => format!("{}:{line}", path.display()),
        None => path.display().to_string(),
    }
}

/// One required number of a profile, with its unit for docs and error messages.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NumberKey {
    pub name: &'static str,
    pub unit: &'static str,
    /// The physically meaningful range, inclusive: outside it the simulated clock stops meaning
    /// anything (and far outside, becomes infinite).
    pub min: f64,
    pub max: f64,
}

/// A kind of profile: its presets and how its numbers map to keys.
pub(crate) trait Profile: Sized + Clone + PartialEq {
    /// "device" or "network", for messages.
    const KIND: &'static str;
    /// The required numeric keys, in the order of [`Profile::values`].
    const KEYS: &'static [NumberKey];
    fn presets() -> Vec<Self>;
    fn name(&self) -> &str;
    /// Builds from already validated values (positive, finite), in [`Profile::KEYS`] order.
    fn from_parts(name: String, values: &[f64]) -> Self;
    fn values(&self) -> Vec<f64>;
    /// Keys whose values are tables rather than numbers, each optional (none by default).
    const TABLES: &'static [&'static str] = &[];
    /// Takes table key `key` (one of [`Profile::TABLES`]); an error is (dotted key, message).
    fn set_table(&mut self, key: &str, _value: &toml::Value) -> Result<(), (String, String)> {
        Err((key.to_string(), "not a table key of this profile".into()))
    }
    /// The table keys this profile has, to serialize after the numbers.
    fn tables(&self) -> Vec<(&'static str, toml::Value)> {
        Vec::new()
    }
}

fn preset_names<P: Profile>() -> String {
    P::presets().iter().map(|p| p.name().to_string()).collect::<Vec<_>>().join(", ")
}

/// A preset name or a path to a TOML file.
pub(crate) fn parse_spec<P: Profile>(spec: &str) -> Result<P, ProfileError> {
    if let Some(preset) = P::presets().into_iter().find(|p| p.name() == spec) {
        return Ok(preset);
    }
    let path = Path::new(spec);
    let looks_like_path = spec.contains('/') || spec.contains('\\') || spec.ends_with(".toml");
    if looks_like_path || path.is_file() {
        return load_file(path);
    }
    Err(ProfileError::UnknownPreset { kind: P::KIND, name: spec.to_string(), presets: preset_names::<P>() })
}

pub(crate) fn load_file<P: Profile>(path: &Path) -> Result<P, ProfileError> {
    // Named by users and by checkpoints: `/dev/zero` must be an error, not a read without end.
    let text = crate::bounded::read_to_string(path, crate::bounded::CONFIG_FILE_LIMIT)
        .map_err(|source| ProfileError::Io { path: path.to_path_buf(), source })?;
    parse_toml(&text, path)
}

/// Parses the text of a profile file; `path` only labels errors, and its stem names a profile
/// whose file has no `name`.
pub(crate) fn parse_toml<P: Profile>(text: &str, path: &Path) -> Result<P, ProfileError> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let table: toml::Table = toml::from_str(text).map_err(|e| ProfileError::Syntax {
        path: path.to_path_buf(),
        line: e.span().map(|s| line_of(s.start)),
        message: e.message().trim_end().to_string(),
    })?;
    // A second parse that keeps spans, only to say on which line a key is.
    let key_lines: BTreeMap<String, usize> = match toml::de::DeTable::parse(text) {
        Ok(spanned) => {
            spanned.get_ref().iter().map(|(k, _)| (k.get_ref().to_string(), line_of(k.span().start))).collect()
        }
        Err(_) => BTreeMap::new(),
    };
    let key_err = |key: &str, message: String| ProfileError::Key {
        path: path.to_path_buf(),
        line: key_lines.get(key).copied(),
        key: key.to_string(),
        message,
    };
    for key in table.keys() {
        if key != "name" && !P::KEYS.iter().any(|k| k.name == key) && !P::TABLES.contains(&key.as_str()) {
            return Err(key_err(key, format!("unknown key; valid keys: {}", valid_keys::<P>())));
        }
    }
    let name = match table.get("name") {
        Some(toml::Value::String(s)) => s.clone(),
        Some(other) => return Err(key_err("name", format!("expected a string, got {}", other.type_str()))),
        None => path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| P::KIND.to_string()),
    };
    let mut values = Vec::with_capacity(P::KEYS.len());
    for key in P::KEYS {
        let number = match table.get(key.name) {
            None => return Err(key_err(key.name, format!("missing; give the value in {}", key.unit))),
            Some(toml::Value::Integer(i)) => *i as f64,
            Some(toml::Value::Float(f)) => *f,
            Some(other) => {
                return Err(key_err(key.name, format!("expected a number in {}, got {}", key.unit, other.type_str())))
            }
        };
        values.push(check_range(key, number).map_err(|m| key_err(key.name, m))?);
    }
    let mut profile = P::from_parts(name, &values);
    for key in P::TABLES {
        if let Some(value) = table.get(*key) {
            // A nested key has no line of its own here: the table's line locates it.
            profile.set_table(key, value).map_err(|(dotted, message)| ProfileError::Key {
                path: path.to_path_buf(),
                line: key_lines.get(*key).copied(),
                key: dotted,
                message,
            })?;
        }
    }
    Ok(profile)
}

fn valid_keys<P: Profile>() -> String {
    let numbers = P::KEYS.iter().map(|k| k.name);
    std::iter::once("name").chain(numbers).chain(P::TABLES.iter().copied()).collect::<Vec<_>>().join(", ")
}

/// Every number of a profile is a rate or a duration, bounded to what hardware can be: zero,
/// negative, NaN or infinite values make times meaningless, and extreme ones (a latency of 1e308 s,
/// a bandwidth of 1e-308 B/s) make the simulated clock overflow to infinity.
pub(crate) fn check_range(key: &NumberKey, value: f64) -> Result<f64, String> {
    if value.is_finite() && (key.min..=key.max).contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "must be between {} and {} {}, got {}",
            readable(key.min),
            readable(key.max),
            key.unit,
            readable(value)
        ))
    }
}

/// A number as people write it: plain in [1e-4, 1e6), else in exponent form (not 309 digits).
pub fn readable(value: f64) -> String {
    if value == 0.0 || !value.is_finite() || (1e-4..1e6).contains(&value.abs()) {
        format!("{value}")
    } else {
        format!("{value:e}")
    }
}

/// Serializes a preset as its name, anything else as the full table (so a config round-trips and
/// stays short for the common case).
pub(crate) fn serialize<P: Profile, S: serde::Serializer>(profile: &P, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    if P::presets().iter().any(|p| p == profile) {
        return s.serialize_str(profile.name());
    }
    let tables = profile.tables();
    let mut map = s.serialize_map(Some(P::KEYS.len() + 1 + tables.len()))?;
    map.serialize_entry("name", profile.name())?;
    for (key, value) in P::KEYS.iter().zip(profile.values()) {
        map.serialize_entry(key.name, &value)?;
    }
    for (key, value) in &tables {
        map.serialize_entry(key, value)?;
    }
    map.end()
}

/// Accepts a string (preset name or file path, as `FromStr`) or an inline table with the file's
/// keys (`name` optional, default "custom").
pub(crate) fn deserialize<'de, P: Profile, D: serde::Deserializer<'de>>(d: D) -> Result<P, D::Error> {
    d.deserialize_any(ProfileVisitor::<P>(PhantomData))
}

struct ProfileVisitor<P>(PhantomData<P>);

impl<'de, P: Profile> serde::de::Visitor<'de> for ProfileVisitor<P> {
    type Value = P;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {} preset name ({}), a path to a .toml file, or a table", P::KIND, preset_names::<P>())
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<P, E> {
        parse_spec(v).map_err(E::custom)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<P, A::Error> {
        use serde::de::Error;
        let mut name = None;
        let mut values: Vec<Option<f64>> = vec![None; P::KEYS.len()];
        let mut tables = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == "name" {
                name = Some(map.next_value::<String>()?);
            } else if let Some(table_key) = P::TABLES.iter().find(|t| **t == key) {
                tables.push((*table_key, map.next_value::<toml::Value>()?));
            } else if let Some(i) = P::KEYS.iter().position(|k| k.name == key) {
                let v = map.next_value::<f64>()?;
                values[i] =
                    Some(check_range(&P::KEYS[i], v).map_err(|m| A::Error::custom(format!("key `{key}`: {m}")))?);
            } else {
                return Err(A::Error::custom(format!("key `{key}`: unknown key; valid keys: {}", valid_keys::<P>())));
            }
        }
        let mut checked = Vec::with_capacity(values.len());
        for (key, v) in P::KEYS.iter().zip(values) {
            checked.push(v.ok_or_else(|| {
                A::Error::custom(format!("key `{}`: missing; give the value in {}", key.name, key.unit))
            })?);
        }
        let mut profile = P::from_parts(name.unwrap_or_else(|| "custom".to_string()), &checked);
        for (key, value) in tables {
            profile.set_table(key, &value).map_err(|(k, m)| A::Error::custom(format!("key `{k}`: {m}")))?;
        }
        Ok(profile)
    }
}
