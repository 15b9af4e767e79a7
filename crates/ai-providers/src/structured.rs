//! Structured output helpers: the offline provider's sample answer for a JSON Schema.
//!
//! [`sample`] builds a value valid against the subset of JSON Schema the project's result
//! schemas use (objects with `properties`/`required`, arrays with `items`/`minItems`, strings
//! with `enum`/`minLength`/`maxLength`/`format: date|date-time`, numbers and integers with
//! `minimum`/`maximum`, booleans, `const`, type unions with `null`). Every string it invents says
//! it is sample output, and a number property named `confidence` is high (0.9, within its
//! bounds), so an offline run of any analysis ends COMPLETED and is never taken for a real one.

use serde_json::{Map, Value, json};

/// What every invented string starts with.
pub const SAMPLE_LABEL: &str = "(local-echo sample output, not a real analysis)";

/// A value valid against `schema` (see the module docs).
pub fn sample(schema: &Value) -> Value {
    sample_named(schema, "value")
}

fn type_of(schema: &Value) -> Option<&str> {
    match &schema["type"] {
        Value::String(t) => Some(t.as_str()),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .or(Some("null")),
        _ if schema.get("properties").is_some() => Some("object"),
        _ if schema.get("items").is_some() => Some("array"),
        _ => None,
    }
}

fn sample_named(schema: &Value, name: &str) -> Value {
    if let Some(value) = schema.get("const") {
        return value.clone();
    }
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    match type_of(schema) {
        Some("object") => {
            let mut out = Map::new();
            if let Some(properties) = schema["properties"].as_object() {
                for (key, property) in properties {
                    out.insert(key.clone(), sample_named(property, key));
                }
            }
            Value::Object(out)
        }
        Some("array") => {
            let n = schema["minItems"].as_u64().unwrap_or(1).max(1);
            let item = sample_named(&schema["items"], name);
            Value::Array((0..n).map(|_| item.clone()).collect())
        }
        Some("string") => {
            match schema["format"].as_str() {
                Some("date") => return json!("2030-01-01"),
                Some("date-time") => return json!("2030-01-01T00:00:00Z"),
                _ => {}
            }
            let mut text = format!("{SAMPLE_LABEL} {name}");
            if let Some(min) = schema["minLength"].as_u64() {
                while (text.chars().count() as u64) < min {
                    text.push('.');
                }
            }
            if let Some(max) = schema["maxLength"].as_u64() {
                text = text
                    .chars()
                    .take(usize::try_from(max).unwrap_or(usize::MAX))
                    .collect();
            }
            Value::String(text)
        }
        Some("number") => {
            let min = schema["minimum"].as_f64();
            let max = schema["maximum"].as_f64();
            let wanted = if name == "confidence" {
                0.9
            } else {
                match (min, max) {
                    (Some(lo), Some(hi)) => lo + (hi - lo) * 0.25,
                    (Some(lo), None) => lo,
                    (None, Some(hi)) => hi.min(0.0),
                    (None, None) => 0.5,
                }
            };
            let clamped = wanted
                .max(min.unwrap_or(f64::MIN))
                .min(max.unwrap_or(f64::MAX));
            json!(clamped)
        }
        Some("integer") => {
            let min = schema["minimum"].as_i64();
            let max = schema["maximum"].as_i64();
            json!(min.unwrap_or(1).min(max.unwrap_or(i64::MAX)))
        }
        Some("boolean") => json!(true),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_follow_the_schema() {
        let schema = json!({
            "type": "object",
            "required": ["summary", "confidence", "risk", "items", "level", "due"],
            "properties": {
                "summary": {"type": "string", "minLength": 3},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                "risk": {"type": "number", "minimum": 0, "maximum": 1},
                "items": {"type": "array", "minItems": 2, "items": {"type": "string"}},
                "level": {"type": "string", "enum": ["LOW", "HIGH"]},
                "due": {"type": ["string", "null"], "format": "date"},
            }
        });
        let value = sample(&schema);
        assert!(value["summary"].as_str().unwrap().starts_with(SAMPLE_LABEL));
        assert_eq!(value["confidence"], json!(0.9));
        assert_eq!(value["risk"], json!(0.25));
        assert_eq!(value["items"].as_array().unwrap().len(), 2);
        assert_eq!(value["level"], "LOW");
        assert_eq!(value["due"], "2030-01-01");
    }
}
