//! Checking tool arguments against the tool's `inputSchema` before the call.
//!
//! Schemas are compiled once, when the catalog is built. Remote `$ref`s are not fetched
//! (the validator is built without network access), so a schema that needs one is
//! reported as unusable instead of making every call wait on the network.

use jsonschema::Validator;
use rmcp::model::JsonObject;
use serde_json::Value;

/// At most this many problems are listed in one answer; the caller fixes them and retries.
const MAX_LISTED: usize = 5;

pub fn compile(schema: &JsonObject) -> Result<Validator, String> {
    jsonschema::validator_for(&Value::Object(schema.clone())).map_err(|error| error.to_string())
}

/// `None` when `arguments` are valid, else the problems, each naming its field.
pub fn check(validator: &Validator, arguments: &JsonObject) -> Option<String> {
    let instance = Value::Object(arguments.clone());
    let problems: Vec<String> = validator
        .iter_errors(&instance)
        .take(MAX_LISTED)
        .map(|error| {
            let path = error.instance_path().to_string();
            let at =
                if path.is_empty() { "arguments".to_string() } else { format!("`{}`", path.trim_start_matches('/')) };
            format!("{at}: {error}")
        })
        .collect();
    (!problems.is_empty()).then(|| problems.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(value: Value) -> JsonObject {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn names_the_missing_and_the_mistyped_field() {
        let schema = object(serde_json::json!({
            "type": "object",
            "properties": {"name": {"type": "string"}, "count": {"type": "integer"}},
            "required": ["name"]
        }));
        let validator = compile(&schema).unwrap();
        assert_eq!(check(&validator, &object(serde_json::json!({"name": "Ada"}))), None);
        let missing = check(&validator, &object(serde_json::json!({}))).unwrap();
        assert!(missing.contains("\"name\" is a required property"), "{missing}");
        let mistyped = check(&validator, &object(serde_json::json!({"name": "Ada", "count": "x"}))).unwrap();
        assert!(mistyped.starts_with("`count`:"), "{mistyped}");
    }

    #[test]
    fn an_unresolvable_remote_ref_is_reported_not_fetched() {
        let schema = object(serde_json::json!({"$ref": "https://example.invalid/schema.json"}));
        assert!(compile(&schema).is_err());
    }
}
