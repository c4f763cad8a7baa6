//! Validates real tool output against the JSON Schemas in `assets/schemas/`.
//! `$ref`s to sibling files resolve from that folder, never from the network.

use jsonschema::{Retrieve, Uri, Validator};
use serde_json::Value;
use std::path::PathBuf;

const SCHEMA_BASE: &str = "https://async-patterns.invalid/schemas/";

fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/schemas")
}

/// Serves `https://async-patterns.invalid/schemas/<file>` from `assets/schemas/<file>`.
struct LocalSchemas;

impl Retrieve for LocalSchemas {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let name = uri
            .as_str()
            .strip_prefix(SCHEMA_BASE)
            .ok_or_else(|| format!("refusing to fetch {uri}: only local schemas"))?;
        let text = std::fs::read_to_string(schema_dir().join(name))?;
        Ok(serde_json::from_str(&text)?)
    }
}

/// The validator for one schema file, or for one of its `$defs`.
pub fn validator(file: &str, definition: Option<&str>) -> Validator {
    let text = std::fs::read_to_string(schema_dir().join(file)).unwrap();
    let mut schema: Value = serde_json::from_str(&text).unwrap();
    if let Some(definition) = definition {
        schema = serde_json::json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": format!("{SCHEMA_BASE}{file}#/$defs/{definition}")
        });
    }
    jsonschema::options()
        .with_retriever(LocalSchemas)
        .build(&schema)
        .unwrap_or_else(|error| panic!("{file} is not a valid schema: {error}"))
}

/// Asserts `instance` is valid, listing every violation otherwise.
pub fn assert_valid(validator: &Validator, instance: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match its schema:\n{}\n{instance}",
        errors.join("\n")
    );
}
