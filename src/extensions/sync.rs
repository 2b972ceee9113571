//! Config sync (reference behaviour): the owner's choices in `master_config.json` are
//! written back into each extension's own files.
//!
//! For `config.json`: every key that `master_config.extensions.<name>.config` also has is
//! overwritten from it, except `version` (the extension's own version is authoritative;
//! today's date `MM-DD-YY` is filled in when it has none); `enabled` and `source` are added
//! from the master entry. For `tools/tool_config.json`: each tool that
//! `master_config.tool_configs` names gets its settings from there. Files are rewritten
//! (atomically) only when something changed, so a synced checkout stays clean.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::manifest::problem;
use super::{ConfigProblem, Extension};
use crate::master_config::ExtensionEntry;
use crate::state_file::write_atomic;

/// Syncs one extension whose `config.json` was readable.
pub fn sync_extension(
    extension: &Extension,
    entry: &ExtensionEntry,
    tool_configs: &BTreeMap<String, Map<String, Value>>,
    today: &str,
) -> Result<(), ConfigProblem> {
    let Ok(manifest) = &extension.manifest else { return Ok(()) };
    let mut config = manifest.raw.clone();
    for (key, value) in config.iter_mut() {
        if key != "version"
            && let Some(chosen) = entry.config.get(key)
        {
            *value = chosen.clone();
        }
    }
    if !config.contains_key("version") {
        config.insert("version".into(), Value::from(today));
    }
    config.insert("enabled".into(), Value::from(entry.enabled));
    config.insert("source".into(), Value::from(entry.source.clone()));
    if config != manifest.raw {
        write_json(&extension.dir.join("config.json"), &Value::Object(config))?;
    }

    let tools_path = extension.dir.join("tools").join("tool_config.json");
    if let Ok(names) = &extension.tool_names
        && names.iter().any(|name| tool_configs.contains_key(name))
    {
        let text =
            std::fs::read_to_string(&tools_path).map_err(|error| problem(&tools_path, None, &error.to_string()))?;
        let mut tools: Map<String, Value> = serde_json::from_str(&text)
            .map_err(|error| problem(&tools_path, None, &format!("invalid JSON: {error}")))?;
        let before = tools.clone();
        for (name, settings) in tools.iter_mut() {
            if let (Some(chosen), Value::Object(current)) = (tool_configs.get(name), settings) {
                for (key, value) in chosen {
                    current.insert(key.clone(), value.clone());
                }
            }
        }
        if tools != before {
            write_json(&tools_path, &Value::Object(tools))?;
        }
    }
    Ok(())
}

/// Today's date as `MM-DD-YY`, the reference's version format.
pub fn today_version() -> String {
    let today = time::OffsetDateTime::now_utc().date();
    format!("{:02}-{:02}-{:02}", u8::from(today.month()), today.day(), today.year() % 100)
}

fn write_json(path: &Path, value: &Value) -> Result<(), ConfigProblem> {
    let mut text = serde_json::to_string_pretty(value).map_err(|error| problem(path, None, &error.to_string()))?;
    text.push('\n');
    write_atomic(path, text.as_bytes(), 0o644).map_err(|error| problem(path, None, &format!("cannot write: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extensions::discover;

    #[test]
    fn follows_the_reference_example() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("notes");
        std::fs::create_dir_all(dir.join("tools")).unwrap();
        std::fs::write(
            dir.join("config.json"),
            r#"{"version": "10-17-25", "max_notes": 100, "auto_save": true, "theme": "light", "required_secrets": ["OPENAI_API_KEY"]}"#,
        )
        .unwrap();
        std::fs::write(
            dir.join("tools/tool_config.json"),
            r#"{"NOTES_GET_x": {"enabled_in_mcp": true, "passthrough": false}, "NOTES_GET_y": {"enabled_in_mcp": true}}"#,
        )
        .unwrap();
        let entry: ExtensionEntry = serde_json::from_value(serde_json::json!({
            "enabled": true, "source": "github:user/notes", "config": {"max_notes": 1000, "theme": "dark", "version": "99"}
        }))
        .unwrap();
        let tool_configs = BTreeMap::from([(
            "NOTES_GET_x".to_string(),
            serde_json::from_value(serde_json::json!({"enabled_in_mcp": false})).unwrap(),
        )]);

        let extension = discover(root.path()).remove(0);
        sync_extension(&extension, &entry, &tool_configs, "01-02-26").unwrap();

        let config: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
        assert_eq!(
            config,
            serde_json::json!({
                "version": "10-17-25", "max_notes": 1000, "auto_save": true, "theme": "dark",
                "required_secrets": ["OPENAI_API_KEY"], "enabled": true, "source": "github:user/notes"
            })
        );
        let tools: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("tools/tool_config.json")).unwrap()).unwrap();
        assert_eq!(tools["NOTES_GET_x"], serde_json::json!({"enabled_in_mcp": false, "passthrough": false}));
        assert_eq!(tools["NOTES_GET_y"], serde_json::json!({"enabled_in_mcp": true}));
    }

    #[test]
    fn fills_a_missing_version_and_leaves_synced_files_untouched() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("plain");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.json"), r#"{"name": "plain"}"#).unwrap();
        let entry = ExtensionEntry::default();

        sync_extension(&discover(root.path()).remove(0), &entry, &BTreeMap::new(), "03-04-26").unwrap();
        let synced = std::fs::read_to_string(dir.join("config.json")).unwrap();
        assert!(synced.contains("\"version\": \"03-04-26\""), "{synced}");
        let modified = std::fs::metadata(dir.join("config.json")).unwrap().modified().unwrap();

        sync_extension(&discover(root.path()).remove(0), &entry, &BTreeMap::new(), "05-06-27").unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("config.json")).unwrap(), synced);
        assert_eq!(std::fs::metadata(dir.join("config.json")).unwrap().modified().unwrap(), modified);
    }
}
