//! `.luna/update_queue.json`: the Hub's saved draft, as the reference shapes it — the
//! operations to run (`delete`, `install`, `update`) and the whole `master_config` as the
//! user wants it afterwards. Written atomically; applied in phases by
//! [`Packages::apply_queue`](super::Packages::apply_queue). An apply that fails three times
//! moves the file to `update_queue_failed.json`, where the Hub shows it and its error.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::source::Source;
use crate::extensions::check_name;
use crate::master_config::MasterConfig;

/// Applies of one queue before it is set aside.
pub const MAX_ATTEMPTS: u32 = 3;
/// Operations in one queue.
pub const MAX_OPERATIONS: usize = 100;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UpdateQueue {
    pub operations: Vec<Operation>,
    /// The `master_config.json` the user drafted: its `extensions` (enabled, config),
    /// `tool_configs` and `luna` sections take effect; ports stay Luna's.
    pub master_config: MasterConfig,
    /// Applies started so far.
    #[serde(default)]
    pub attempts: u32,
    /// An apply is under way (or was, when Luna stopped): the next start resumes it.
    #[serde(default)]
    pub applying: bool,
    /// Why the last apply failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Operation {
    Delete { target: String },
    Install { source: String, target: String },
    Update { source: Option<String>, target: String },
}

impl Operation {
    pub fn target(&self) -> &str {
        match self {
            Operation::Delete { target } | Operation::Install { target, .. } | Operation::Update { target, .. } => {
                target
            }
        }
    }

    /// The phase it runs in: deletions, then installs, then updates.
    pub fn phase(&self) -> u8 {
        match self {
            Operation::Delete { .. } => 0,
            Operation::Install { .. } => 1,
            Operation::Update { .. } => 2,
        }
    }

    pub fn source(&self) -> Option<&str> {
        match self {
            Operation::Delete { .. } => None,
            Operation::Install { source, .. } => Some(source),
            Operation::Update { source, .. } => source.as_deref(),
        }
    }
}

impl UpdateQueue {
    /// Every problem of a queue the user saves, each naming its operation.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.operations.len() > MAX_OPERATIONS {
            problems.push(format!("operations: more than {MAX_OPERATIONS}"));
        }
        let mut targets = std::collections::BTreeSet::new();
        for (index, operation) in self.operations.iter().enumerate() {
            let target = operation.target();
            if let Err(problem) = check_name(target) {
                problems.push(format!("operations[{index}].target: {problem}"));
            }
            if !targets.insert(target) {
                problems.push(format!("operations[{index}]: `{target}` has another operation already"));
            }
            if let Some(Err(problem)) = operation.source().map(Source::parse) {
                problems.push(format!("operations[{index}].source: {problem}"));
            }
        }
        problems
    }

    pub fn load(path: &Path) -> Result<Option<Self>, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).map(Some).map_err(|error| format!("{}: {error}", path.display())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(format!("{}: {error}", path.display())),
        }
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        crate::state_file::write_json_atomic(path, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_shape_reads_and_problems_name_the_operation() {
        let text = r#"{
            "operations": [
                {"type": "delete", "target": "old_extension"},
                {"type": "install", "source": "github:user/luna-extensions:embedded/notes", "target": "notes"},
                {"type": "update", "source": "github:user/github-sync", "target": "github_sync"},
                {"type": "install", "source": "ftp://nope", "target": "notes"}
            ],
            "master_config": {"luna": {}, "extensions": {}, "tool_configs": {}, "port_assignments": {}}
        }"#;
        let queue: UpdateQueue = serde_json::from_str(text).unwrap();

        assert_eq!(queue.operations[1].phase(), 1);
        let problems = queue.problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("operations[3]: `notes` has another operation"), "{problems:?}");
        assert!(problems[1].starts_with("operations[3].source:"), "{problems:?}");
    }
}
