//! Finding extensions and their services on disk.

use std::path::Path;

use super::manifest::problem;
use super::{ConfigProblem, Extension, Manifest, ServiceConfig, ServiceDef, check_name};

/// Every extension folder under `dir`, by name. A missing `dir` has none.
pub fn discover(dir: &Path) -> Vec<Extension> {
    subfolders(dir).into_iter().map(|(name, path)| read_extension(name, &path)).collect()
}

/// The extension in `dir` under `name`, read as discovery reads it (a staged install too).
pub fn read_extension(name: String, dir: &Path) -> Extension {
    let manifest = match check_name(&name) {
        Err(message) => Err(problem(dir, None, &message)),
        Ok(()) => {
            let path = dir.join("config.json");
            if path.exists() { Manifest::read(&path) } else { Err(problem(&path, None, "file is missing")) }
        }
    };
    let ui_dir = dir.join("ui");
    let services = subfolders(&dir.join("services"))
        .into_iter()
        .filter(|(_, path)| path.join("start.sh").exists() || path.join("service_config.json").exists())
        .map(|(service, path)| ServiceDef {
            config: check_name(&service)
                .map_err(|message| problem(&path, None, &message))
                .and_then(|()| ServiceConfig::read(&path.join("service_config.json"))),
            start_script: path.join("start.sh"),
            name: service,
            dir: path,
        })
        .collect();
    Extension {
        ui: ui_dir.is_dir().then(|| ui_dir.join("start.sh")),
        tool_names: read_tool_names(&dir.join("tools").join("tool_config.json")),
        services,
        manifest,
        dir: dir.to_path_buf(),
        name,
    }
}

fn read_tool_names(path: &Path) -> Result<Vec<String>, ConfigProblem> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(path).map_err(|error| problem(path, None, &error.to_string()))?;
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(tools)) => Ok(tools.keys().cloned().collect()),
        Ok(_) => Err(problem(path, None, "must be a JSON object of tool names")),
        Err(error) => Err(problem(path, None, &format!("invalid JSON: {error}"))),
    }
}

/// Visible subfolders of `dir`, sorted by name.
fn subfolders(dir: &Path) -> Vec<(String, std::path::PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut found: Vec<_> = entries
        .flatten()
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_dir()))
        .filter_map(|entry| Some((entry.file_name().into_string().ok()?, entry.path())))
        .filter(|(name, _)| !name.starts_with('.'))
        .collect();
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn finds_ui_services_and_tools() {
        let root = tempfile::tempdir().unwrap();
        let hello = root.path().join("hello");
        write(&hello.join("config.json"), r#"{"name": "hello"}"#);
        write(&hello.join("ui/start.sh"), "");
        write(&hello.join("services/api/start.sh"), "");
        write(&hello.join("services/api/service_config.json"), r#"{"requires_port": true, "api": true}"#);
        write(&hello.join("services/worker/start.sh"), "");
        write(&hello.join("services/notes/README.md"), "not a service");
        write(&hello.join("tools/tool_config.json"), r#"{"HELLO_GET_greeting": {"enabled_in_mcp": true}}"#);
        write(&root.path().join("README.md"), "a file, not an extension");
        write(&root.path().join(".hidden/config.json"), "{}");

        let found = discover(root.path());

        assert_eq!(found.len(), 1);
        let hello = &found[0];
        assert!(hello.manifest.is_ok());
        assert!(hello.ui.is_some());
        let names: Vec<_> = hello.services.iter().map(|service| service.name.as_str()).collect();
        assert_eq!(names, ["api", "worker"]);
        assert_eq!(hello.api_service().unwrap().name, "api");
        assert_eq!(hello.tool_names.as_ref().unwrap(), &["HELLO_GET_greeting"]);
    }

    #[test]
    fn problems_stay_with_their_extension() {
        let root = tempfile::tempdir().unwrap();
        write(&root.path().join("broken/config.json"), "{ nope");
        write(&root.path().join("mcp/config.json"), "{}");
        write(&root.path().join("bare/ui/start.sh"), "");
        write(&root.path().join("good/config.json"), "{}");

        let found = discover(root.path());

        let problem_of = |name: &str| found.iter().find(|e| e.name == name).unwrap().manifest.clone().err();
        assert!(problem_of("broken").unwrap().message.contains("invalid JSON"));
        assert!(problem_of("mcp").unwrap().message.contains("reserved"));
        assert!(problem_of("bare").unwrap().file.ends_with("bare/config.json"));
        assert!(problem_of("good").is_none());
    }
}
