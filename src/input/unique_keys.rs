//! JSON parsing that refuses an object naming a field twice.
//!
//! `serde_json` keeps the last of two equal keys and drops the first without
//! a word, so `{"url": A, "url": B}` would quietly run B. An item is the
//! user's instructions: two values for one field is bad input, named by its
//! path (`url`, `headers.X-Api-Key`, `json.a[0].b`) like every other field
//! error. Parsing goes through the same `serde_json` reader, with a visitor
//! that builds the same [`Value`] and notices the collision when it inserts.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};
use std::cell::RefCell;
use std::fmt;

/// Parses `bytes` as one JSON value. On a duplicate key the error comes with
/// the field's path; other errors are `serde_json`'s own, with no path.
pub(super) fn from_slice(bytes: &[u8]) -> Result<Value, (serde_json::Error, Option<String>)> {
    let path = RefCell::new(None);
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    let value = UniqueKeys { path: &path }
        .deserialize(&mut reader)
        .and_then(|value| reader.end().map(|()| value));
    value.map_err(|error| (error, path.into_inner().map(|steps| render(&steps))))
}

/// One step of the path to a duplicate, innermost first.
enum Step {
    Field(String),
    Index(usize),
}

fn render(steps: &[Step]) -> String {
    let mut path = String::new();
    for step in steps.iter().rev() {
        match step {
            Step::Field(name) if path.is_empty() => path.push_str(name),
            Step::Field(name) => {
                path.push('.');
                path.push_str(name);
            }
            Step::Index(at) => path.push_str(&format!("[{at}]")),
        }
    }
    path
}

/// A [`Value`] seed that fails on a duplicate key. `path` is set where the
/// duplicate is found, and each enclosing object or array adds its step as
/// the error passes through it.
#[derive(Clone, Copy)]
struct UniqueKeys<'a> {
    path: &'a RefCell<Option<Vec<Step>>>,
}

impl UniqueKeys<'_> {
    fn step_out(&self, step: impl FnOnce() -> Step) {
        if let Some(steps) = self.path.borrow_mut().as_mut() {
            steps.push(step());
        }
    }
}

impl<'de> DeserializeSeed<'de> for UniqueKeys<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueKeys<'_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_string()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Value, A::Error> {
        let mut array = Vec::new();
        loop {
            match items.next_element_seed(self) {
                Ok(Some(item)) => array.push(item),
                Ok(None) => return Ok(Value::Array(array)),
                Err(error) => {
                    self.step_out(|| Step::Index(array.len()));
                    return Err(error);
                }
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = entries.next_key::<String>()? {
            let item = match entries.next_value_seed(self) {
                Ok(item) => item,
                Err(error) => {
                    self.step_out(|| Step::Field(key));
                    return Err(error);
                }
            };
            match map.entry(key) {
                Entry::Vacant(slot) => {
                    slot.insert(item);
                }
                Entry::Occupied(taken) => {
                    let name = taken.key().clone();
                    let error = de::Error::custom(format_args!("duplicate field `{name}`"));
                    *self.path.borrow_mut() = Some(vec![Step::Field(name)]);
                    return Err(error);
                }
            }
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path_of(text: &str) -> Option<String> {
        from_slice(text.as_bytes()).unwrap_err().1
    }

    #[test]
    fn parses_what_serde_json_parses() {
        let text = r#"{"a": [1, -2, 3.5, "x", null, true, {"b": {}}], "c": 18446744073709551615}"#;
        assert_eq!(
            from_slice(text.as_bytes()).ok(),
            serde_json::from_str::<Value>(text).ok()
        );
        assert_eq!(from_slice(b"\"s\"").ok(), Some(json!("s")));
        // Same-named fields in different objects are fine.
        assert!(from_slice(br#"{"a": {"x": 1}, "b": {"x": 2}}"#).is_ok());
    }

    #[test]
    fn a_duplicate_is_named_by_its_path() {
        assert_eq!(
            path_of(r#"{"url": "a", "url": "b"}"#).as_deref(),
            Some("url")
        );
        assert_eq!(
            path_of(r#"{"headers": {"X-A": "1", "X-A": "2"}}"#).as_deref(),
            Some("headers.X-A")
        );
        assert_eq!(
            path_of(r#"{"json": {"a": [0, {"b": 1, "b": 2}]}}"#).as_deref(),
            Some("json.a[1].b")
        );
        let (error, _) = from_slice(b"{\n\"url\": 1,\n\"url\": 2}").unwrap_err();
        assert_eq!(error.line(), 3);
        assert!(
            error.to_string().contains("duplicate field `url`"),
            "{error}"
        );
    }

    #[test]
    fn other_errors_have_no_path() {
        assert_eq!(path_of(r#"{"a": [1, }"#), None);
        assert_eq!(path_of(r#"{"a": 1} x"#), None);
        // serde_json's nesting limit still holds: an error, not a stack overflow.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let (error, path) = from_slice(deep.as_bytes()).unwrap_err();
        assert!(error.to_string().contains("recursion limit"), "{error}");
        assert_eq!(path, None);
    }
}
