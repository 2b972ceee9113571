//! `state.json`: the processes this run manages, mirrored on every change (atomically),
//! and read once at the next start to clean up after a crash of Luna itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::process::{ProcessRecord, stop_group_remnants};
use crate::sys::{GroupSignal, group_exists, process_group, process_start_time, signal_group};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServicesState {
    pub services: BTreeMap<String, ProcessRecord>,
}

/// How long Luna's stop waits for the last `state.json` to be written.
const FINAL_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// `state.json`'s writer. The extensions supervisor hands it every new state and goes on;
/// a task of its own writes the latest one, so a burst of changes is one write and no actor
/// handler waits on the disk (an atomic write is two fsyncs).
pub struct StateWriter {
    latest: watch::Sender<Option<ServicesState>>,
    task: tokio::task::JoinHandle<()>,
}

impl StateWriter {
    pub fn start(path: PathBuf) -> Self {
        let (latest, mut changes) = watch::channel(None::<ServicesState>);
        let task = tokio::spawn(async move {
            // Ends once the supervisor is gone and the last state it handed over is written.
            while changes.changed().await.is_ok() {
                let Some(state) = changes.borrow_and_update().clone() else { continue };
                let path = path.clone();
                let written = tokio::task::spawn_blocking(move || crate::state_file::write_json_atomic(&path, &state));
                match written.await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => tracing::error!(%error, "cannot write state.json"),
                    Err(error) => tracing::error!(%error, "writing state.json failed"),
                }
            }
        });
        Self { latest, task }
    }

    /// Hands over the state to write (replacing one not written yet).
    pub fn write(&self, state: &ServicesState) {
        self.latest.send_replace(Some(state.clone()));
    }

    /// Writes what is pending and stops.
    pub async fn finish(self) {
        drop(self.latest);
        if tokio::time::timeout(FINAL_WRITE_TIMEOUT, self.task).await.is_err() {
            tracing::warn!("the last state.json was not written in time");
        }
    }
}

/// The identity of a process a previous run recorded.
#[derive(Debug, Deserialize)]
struct Survivor {
    pid: Option<u32>,
    pgid: Option<i32>,
    start_time: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct PreviousState {
    #[serde(default)]
    services: BTreeMap<String, Survivor>,
}

/// Stops processes that a previous, crashed run left behind: the process groups in
/// `state.json` whose leader is alive with the same start time (so it is the same process,
/// not a reused pid), or whose leader is gone while members remain.
/// Returns the keys of the processes it stopped.
pub async fn stop_survivors(path: &Path, stop_timeout: Duration) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(path) else { return Vec::new() };
    let previous: PreviousState = match serde_json::from_str(&text) {
        Ok(previous) => previous,
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "ignoring unreadable state file from the previous run");
            return Vec::new();
        }
    };
    let mut groups = Vec::new();
    for (key, survivor) in previous.services {
        let (Some(pid), Some(pgid), Some(start_time)) = (survivor.pid, survivor.pgid, survivor.start_time) else {
            continue;
        };
        let leader_lives_on = process_start_time(pid) == Some(start_time) && process_group(pid) == Some(pgid);
        // The leader may have died while Luna was down (e.g. of SIGPIPE on its closed output)
        // and left a worker behind. A process group is named after the pid of its creator; while
        // no process has that pid, a group of that name can only be the one recorded here.
        let orphaned_group = pid as i32 == pgid && process_start_time(pid).is_none() && group_exists(pgid);
        if leader_lives_on || orphaned_group {
            tracing::warn!(process = %key, pid, pgid, "stopping processes left running by a previous luna");
            signal_group(pgid, GroupSignal::Terminate);
            groups.push((key, pgid));
        }
    }
    let stops = groups.iter().map(|(_, pgid)| stop_group_remnants(*pgid, stop_timeout));
    futures_util::future::join_all(stops).await;
    groups.into_iter().map(|(key, _)| key).collect()
}
