//! Non-finite numbers in JSON. serde_json writes inf and NaN as `null`, which then reads back as
//! "invalid type: null, expected f64": a folder whose run had an infinite metric could not be
//! plotted. With `#[serde(with = "crate::report::nonfinite")]` a field is written as a number
//! when finite and as the string `"inf"`, `"-inf"` or `"NaN"` otherwise; it reads back either
//! form, and `null` (what earlier versions wrote for any of them) as NaN.

use std::fmt;

use serde::{de, Deserializer, Serializer};

pub fn serialize<S: Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
    if value.is_finite() {
        s.serialize_f64(*value)
    } else {
        s.serialize_str(name(*value))
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    d.deserialize_any(Number)
}

fn name(value: f64) -> &'static str {
    if value.is_nan() {
        "NaN"
    } else if value > 0.0 {
        "inf"
    } else {
        "-inf"
    }
}

struct Number;

impl de::Visitor<'_> for Number {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number, or \"inf\", \"-inf\" or \"NaN\"")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
        match v {
            "inf" | "+inf" | "Infinity" => Ok(f64::INFINITY),
            "-inf" | "-Infinity" => Ok(f64::NEG_INFINITY),
            "NaN" | "nan" => Ok(f64::NAN),
            _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<f64, E> {
        Ok(f64::NAN)
    }

    fn visit_none<E: de::Error>(self) -> Result<f64, E> {
        Ok(f64::NAN)
    }
}

#[cfg(test)]
mod tests {
    #[derive(serde::Serialize, serde::Deserialize, Debug)]
    struct Row {
        #[serde(with = "super")]
        x: f64,
    }

    fn round_trip(x: f64) -> (String, f64) {
        let text = serde_json::to_string(&Row { x }).unwrap();
        let back: Row = serde_json::from_str(&text).unwrap();
        (text, back.x)
    }

    #[test]
    fn non_finite_values_round_trip_as_strings() {
        assert_eq!(round_trip(0.25), (r#"{"x":0.25}"#.to_string(), 0.25));
        assert_eq!(round_trip(f64::INFINITY), (r#"{"x":"inf"}"#.to_string(), f64::INFINITY));
        assert_eq!(round_trip(f64::NEG_INFINITY), (r#"{"x":"-inf"}"#.to_string(), f64::NEG_INFINITY));
        let (text, back) = round_trip(f64::NAN);
        assert!(text == r#"{"x":"NaN"}"# && back.is_nan(), "{text}");
        // What earlier versions wrote for a non-finite value, and integers.
        assert!(serde_json::from_str::<Row>(r#"{"x":null}"#).unwrap().x.is_nan());
        assert_eq!(serde_json::from_str::<Row>(r#"{"x":3}"#).unwrap().x, 3.0);
        let e = serde_json::from_str::<Row>(r#"{"x":"fast"}"#).unwrap_err().to_string();
        assert!(e.contains("\"inf\""), "{e}");
    }
}
