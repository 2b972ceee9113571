//! A process's output: appended to a size-capped, rotating file under `.luna/logs/`, kept
//! as an in-memory tail for the API, and broadcast to followers (`logs -f`).
//!
//! Writers are the two reader tasks of a child (stdout, stderr). A std `Mutex` is right
//! here: it is held for one short append, never across an `.await`.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::broadcast;

/// Longest line kept whole; longer output is cut and marked.
pub const MAX_LINE_BYTES: usize = 16 * 1024;
/// Lines a slow follower may fall behind before it skips ahead.
const FOLLOW_BUFFER: usize = 1024;

#[derive(Clone)]
pub struct LogSink {
    inner: Arc<Mutex<LogFile>>,
    followers: broadcast::Sender<String>,
}

struct LogFile {
    path: PathBuf,
    file: Option<File>,
    size: u64,
    max_bytes: u64,
    backups: u32,
    tail: VecDeque<String>,
    tail_lines: usize,
}

impl LogSink {
    pub fn new(path: PathBuf, max_bytes: u64, backups: u32, tail_lines: usize) -> Self {
        let size = std::fs::metadata(&path).map_or(0, |meta| meta.len());
        let (followers, _) = broadcast::channel(FOLLOW_BUFFER);
        let inner = LogFile { path, file: None, size, max_bytes, backups, tail: VecDeque::new(), tail_lines };
        Self { inner: Arc::new(Mutex::new(inner)), followers }
    }

    pub fn path(&self) -> PathBuf {
        self.lock().path.clone()
    }

    /// Appends one line (without its newline).
    pub fn push(&self, line: String) {
        {
            let mut log = self.lock();
            log.append(&line);
            if log.tail.len() == log.tail_lines {
                log.tail.pop_front();
            }
            log.tail.push_back(line.clone());
        }
        // No follower is not an error.
        let _ = self.followers.send(line);
    }

    /// The last `n` lines, oldest first.
    pub fn tail(&self, n: usize) -> Vec<String> {
        let log = self.lock();
        log.tail.iter().skip(log.tail.len().saturating_sub(n)).cloned().collect()
    }

    /// Lines pushed from now on.
    pub fn follow(&self) -> broadcast::Receiver<String> {
        self.followers.subscribe()
    }

    /// Copies `output` into the sink line by line until it closes. A line longer than
    /// [`MAX_LINE_BYTES`] is replaced by a marker; output after it continues normally.
    pub async fn copy_from(self, mut output: impl AsyncRead + Unpin) {
        let mut chunk = vec![0u8; 8192];
        let mut line: Vec<u8> = Vec::new();
        let mut overlong = false;
        loop {
            let read = match output.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            for piece in chunk[..read].split_inclusive(|byte| *byte == b'\n') {
                let complete = piece.ends_with(b"\n");
                let content = if complete { &piece[..piece.len() - 1] } else { piece };
                if !overlong {
                    line.extend_from_slice(content);
                    if line.len() > MAX_LINE_BYTES {
                        overlong = true;
                        line.clear();
                    }
                }
                if complete {
                    self.finish_line(&mut line, &mut overlong);
                }
            }
        }
        if !line.is_empty() || overlong {
            self.finish_line(&mut line, &mut overlong);
        }
    }

    fn finish_line(&self, line: &mut Vec<u8>, overlong: &mut bool) {
        if std::mem::take(overlong) {
            self.push(format!("[luna: line longer than {MAX_LINE_BYTES} bytes dropped]"));
        } else {
            let text = String::from_utf8_lossy(line);
            self.push(text.trim_end_matches('\r').to_string());
        }
        line.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogFile> {
        // A panic while holding the lock cannot leave the log inconsistent beyond one line.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl LogFile {
    fn append(&mut self, line: &str) {
        let bytes = line.len() as u64 + 1;
        if self.size + bytes > self.max_bytes && self.size > 0 {
            self.rotate();
        }
        if self.file.is_none() {
            // Owner-only: a log can hold whatever a process prints, secrets included.
            self.file = OpenOptions::new().create(true).append(true).mode(0o600).open(&self.path).ok();
        }
        if let Some(file) = &mut self.file
            && writeln!(file, "{line}").is_ok()
        {
            self.size += bytes;
        }
    }

    /// `x.log` → `x.log.1` → ... → `x.log.<backups>`, the oldest dropped.
    fn rotate(&mut self) {
        self.file = None;
        let numbered = |n: u32| {
            let mut name = self.path.clone().into_os_string();
            name.push(format!(".{n}"));
            PathBuf::from(name)
        };
        if self.backups == 0 {
            let _ = std::fs::remove_file(&self.path);
        } else {
            for n in (1..self.backups).rev() {
                let _ = std::fs::rename(numbered(n), numbered(n + 1));
            }
            let _ = std::fs::rename(&self.path, numbered(1));
        }
        self.size = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_a_bounded_tail_and_rotates_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let sink = LogSink::new(path.clone(), 4096, 2, 3);

        for index in 0..2000 {
            sink.push(format!("line {index:04}"));
        }

        assert_eq!(sink.tail(10), ["line 1997", "line 1998", "line 1999"]);
        assert!(std::fs::metadata(&path).unwrap().len() <= 4096);
        assert!(dir.path().join("x.log.1").exists() && dir.path().join("x.log.2").exists());
        assert!(!dir.path().join("x.log.3").exists(), "only two backups kept");
        let current = std::fs::read_to_string(&path).unwrap();
        assert!(current.ends_with("line 1999\n"));
    }

    #[tokio::test]
    async fn copies_lines_and_cuts_long_ones() {
        let dir = tempfile::tempdir().unwrap();
        let sink = LogSink::new(dir.path().join("y.log"), 1 << 20, 1, 10);
        let mut follower = sink.follow();
        let long = "x".repeat(MAX_LINE_BYTES + 1);
        let output = format!("hello\n{long}\nafter\n");

        sink.clone().copy_from(output.as_bytes()).await;

        assert_eq!(follower.recv().await.unwrap(), "hello");
        let tail = sink.tail(10);
        assert_eq!(tail.first().map(String::as_str), Some("hello"));
        assert!(tail[1].contains("dropped"), "{tail:?}");
        assert_eq!(tail.last().map(String::as_str), Some("after"));
    }
}
