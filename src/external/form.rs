//! `config-form.json`: the install form of a service, and the check of submitted values.
//!
//! Every problem is reported with its field name; all of them at once, so one correction
//! round is enough.

use std::collections::BTreeMap;

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest text value accepted.
const MAX_TEXT: usize = 4096;
/// Length of a generated secret.
const GENERATED_LENGTH: usize = 24;

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Form {
    #[serde(default)]
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub name: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(rename = "type")]
    pub kind: FieldKind,
    #[serde(default)]
    pub default: Option<Value>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub help: Option<String>,
    /// `select`: the allowed values.
    #[serde(default)]
    pub options: Vec<String>,
    /// text/password: a regular expression the whole value must match.
    #[serde(default)]
    pub pattern: Option<String>,
    /// number: inclusive bounds.
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    /// Masked in the API and the CLI unless asked for (passwords are secret by default).
    #[serde(default)]
    pub secret: Option<bool>,
    /// text/password: generated (random, 24 characters) when left empty.
    #[serde(default)]
    pub generate: bool,
    /// Fixed once installed (a database password lives in the data volume).
    #[serde(default)]
    pub immutable: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    Password,
    Number,
    Checkbox,
    Select,
}

impl Field {
    pub fn is_secret(&self) -> bool {
        self.secret.unwrap_or(self.kind == FieldKind::Password)
    }
}

impl Form {
    /// Problems of the form itself (a definition with any is listed as broken).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for field in &self.fields {
            let name = &field.name;
            if !is_identifier(name) {
                problems.push(format!("field `{name}`: names are letters, digits and `_`"));
            }
            if !seen.insert(name.as_str()) {
                problems.push(format!("field `{name}` appears twice"));
            }
            if let Some(pattern) = &field.pattern
                && let Err(error) = regex::Regex::new(pattern)
            {
                problems.push(format!("field `{name}`: pattern: {error}"));
            }
            if field.kind == FieldKind::Select && field.options.is_empty() {
                problems.push(format!("field `{name}`: a select needs options"));
            }
            if field.generate && !matches!(field.kind, FieldKind::Text | FieldKind::Password) {
                problems.push(format!("field `{name}`: only text and password fields can be generated"));
            }
            if let Some(default) = &field.default
                && let Err(problem) = field.check(default)
            {
                problems.push(format!("field `{name}`: default: {problem}"));
            }
        }
        problems
    }

    /// Checks `submitted` against the form: defaults filled in, generated values made,
    /// unknown fields refused. Returns the complete values or every problem found.
    pub fn validate(&self, submitted: &serde_json::Map<String, Value>) -> Result<BTreeMap<String, Value>, Vec<String>> {
        let mut problems: Vec<String> = submitted
            .keys()
            .filter(|name| !self.fields.iter().any(|field| &field.name == *name))
            .map(|name| format!("{name}: not a field of this form"))
            .collect();
        let mut values = BTreeMap::new();
        for field in &self.fields {
            let given = submitted.get(&field.name).filter(|value| !is_empty(value));
            let value = match (given, &field.default) {
                (Some(value), _) => value.clone(),
                (None, _) if field.generate => Value::String(generate()),
                (None, Some(default)) if !is_empty(default) => default.clone(),
                (None, _) if field.kind == FieldKind::Checkbox => Value::Bool(false),
                (None, _) if field.required => {
                    problems.push(format!("{}: required", field.name));
                    continue;
                }
                (None, _) => continue,
            };
            match field.check(&value) {
                Ok(value) => {
                    values.insert(field.name.clone(), value);
                }
                Err(problem) => problems.push(format!("{}: {problem}", field.name)),
            }
        }
        if problems.is_empty() { Ok(values) } else { Err(problems) }
    }

    /// `values` with secret fields replaced by `********`.
    pub fn masked(&self, values: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
        values
            .iter()
            .map(|(name, value)| {
                let secret = self.fields.iter().any(|field| &field.name == name && field.is_secret());
                (name.clone(), if secret { Value::String("********".into()) } else { value.clone() })
            })
            .collect()
    }
}

impl Field {
    /// The value, normalised (numbers from numeric strings), or why it does not fit.
    fn check(&self, value: &Value) -> Result<Value, String> {
        match self.kind {
            FieldKind::Text | FieldKind::Password => {
                let text = match value {
                    Value::String(text) => text.clone(),
                    Value::Number(number) => number.to_string(),
                    _ => return Err("must be text".into()),
                };
                if text.len() > MAX_TEXT {
                    return Err(format!("longer than {MAX_TEXT} bytes"));
                }
                if text.chars().any(char::is_control) {
                    return Err("contains control characters".into());
                }
                if let Some(pattern) = &self.pattern {
                    let anchored = format!("^(?:{pattern})$");
                    let matches = regex::Regex::new(&anchored).map(|re| re.is_match(&text)).unwrap_or(false);
                    if !matches {
                        return Err(format!("does not match the pattern {pattern}"));
                    }
                }
                Ok(Value::String(text))
            }
            FieldKind::Number => {
                let number = match value {
                    Value::Number(number) => number.as_f64(),
                    Value::String(text) => text.trim().parse::<f64>().ok(),
                    _ => None,
                }
                .filter(|number| number.is_finite())
                .ok_or("must be a number")?;
                if let Some(min) = self.min
                    && number < min
                {
                    return Err(format!("must be at least {min}"));
                }
                if let Some(max) = self.max
                    && number > max
                {
                    return Err(format!("must be at most {max}"));
                }
                Ok(serde_json::Number::from_f64(number)
                    .map(|n| if number.fract() == 0.0 { Value::from(number as i64) } else { Value::Number(n) })
                    .unwrap_or(Value::Null))
            }
            FieldKind::Checkbox => match value {
                Value::Bool(flag) => Ok(Value::Bool(*flag)),
                Value::String(text) if text == "true" || text == "false" => Ok(Value::Bool(text == "true")),
                _ => Err("must be true or false".into()),
            },
            FieldKind::Select => {
                let text = value.as_str().ok_or("must be one of the options")?;
                if self.options.iter().any(|option| option == text) {
                    Ok(Value::String(text.to_string()))
                } else {
                    Err(format!("must be one of {}", self.options.join(", ")))
                }
            }
        }
    }
}

/// A value as templates see it.
pub fn as_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn is_empty(value: &Value) -> bool {
    value.is_null() || value.as_str().is_some_and(str::is_empty)
}

fn is_identifier(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Letters and digits only: safe in URLs (`DATABASE_URL`) and config files without quoting.
fn generate() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..GENERATED_LENGTH).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn form() -> Form {
        serde_json::from_value(json!({"fields": [
            {"name": "database", "type": "text", "default": "luna", "pattern": "[a-z_]+", "required": true},
            {"name": "password", "type": "password", "generate": true},
            {"name": "port", "type": "number", "default": 5432, "min": 1024, "max": 65535, "required": true},
            {"name": "tls", "type": "checkbox"},
            {"name": "size", "type": "select", "options": ["small", "large"], "default": "small"}
        ]}))
        .unwrap()
    }

    #[test]
    fn defaults_and_generated_values_fill_the_gaps() {
        let values = form().validate(&serde_json::Map::new()).unwrap();
        assert_eq!(values["database"], "luna");
        assert_eq!(values["port"], 5432);
        assert_eq!(values["tls"], false);
        assert_eq!(values["password"].as_str().unwrap().len(), GENERATED_LENGTH);
        assert!(form().problems().is_empty());
        assert_eq!(form().masked(&values)["password"], "********");
    }

    #[test]
    fn every_problem_is_named() {
        let submitted = json!({"database": "Bad Name", "port": 80, "size": "huge", "tls": "maybe", "extra": 1});
        let problems = form().validate(submitted.as_object().unwrap()).unwrap_err();
        for expected in [
            "extra: not a field",
            "database: does not match",
            "port: must be at least 1024",
            "size: must be one of",
            "tls: must be true or false",
        ] {
            assert!(problems.iter().any(|problem| problem.starts_with(expected)), "{expected} missing in {problems:?}");
        }
        let ok = form().validate(json!({"port": "6000"}).as_object().unwrap()).unwrap();
        assert_eq!(ok["port"], 6000);
    }
}
