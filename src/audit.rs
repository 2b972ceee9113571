//! The audit log: who did what, when, with what outcome — logins and refused logins, every
//! change made through the control API (and so the CLI and the Hub), OAuth approvals, every
//! MCP tool call. Stored in the database (`audit_log`), kept `audit.retention_days`.
//!
//! Recording never waits on the database: an entry goes into a bounded queue that one task
//! writes out; a full queue drops the entry with a warning rather than slow a request. Values
//! are never recorded: a key's name, not its value; a tool call's arguments only with
//! `audit.tool_arguments`.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use tokio::sync::mpsc;

use crate::db::{Database, DbError};
use crate::events::{Events, Topic};
use crate::settings::AuditSettings;

/// Entries waiting for the writer at most.
const QUEUE: usize = 10_000;
/// Entries one listing answers at most.
pub const MAX_LIMIT: u32 = 1000;
/// Longest `detail` kept (a tool call's arguments, an error).
const MAX_DETAIL: usize = 2048;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    /// Not allowed (a role, the allow-list, a bad credential).
    Refused,
    /// Allowed, and it did not work.
    Failed,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "ok" => Outcome::Ok,
            "refused" => Outcome::Refused,
            _ => Outcome::Failed,
        }
    }
}

/// One entry of the audit log.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Microseconds since the epoch, strictly increasing: orders and pages entries.
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    /// `@login`, or `owner` (the API socket, `MCP_AUTH_TOKEN`, an open local Luna).
    pub principal: String,
    /// The MCP client, for what one did (its OAuth client id).
    pub client: Option<String>,
    /// What was done: `login`, `enable_extension`, `set_key`, `tool_call`, ...
    pub action: String,
    /// What it was done to: an extension, process, service, key name, tool, session id.
    pub target: Option<String>,
    pub outcome: Outcome,
    pub detail: Option<String>,
    pub duration_ms: Option<i64>,
}

/// A listing's filters: newest first, `limit` at most, before `before`; or, with `after`,
/// the entries after it oldest first (to follow the log).
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this action.
    pub action: Option<String>,
    /// Only this principal (`@login` or `owner`).
    pub principal: Option<String>,
    /// Entries older than this id.
    pub before: Option<i64>,
    /// Entries newer than this id, oldest first.
    pub after: Option<i64>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// What a front-end records.
pub struct Record<'a> {
    pub principal: String,
    pub client: Option<&'a str>,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub outcome: Outcome,
    pub detail: Option<String>,
    pub duration: Option<Duration>,
}

impl<'a> Record<'a> {
    pub fn new(principal: String, action: &'a str, outcome: Outcome) -> Self {
        Self { principal, client: None, action, target: None, outcome, detail: None, duration: None }
    }
}

pub struct Audit {
    db: Database,
    queue: mpsc::Sender<AuditEntry>,
    last_id: AtomicI64,
    pub settings: AuditSettings,
}

impl Audit {
    /// The log, and the queue its writer ([`write_entries`]) reads.
    pub fn new(db: Database, settings: AuditSettings) -> (Arc<Self>, mpsc::Receiver<AuditEntry>) {
        let (queue, entries) = mpsc::channel(QUEUE);
        (Arc::new(Self { db, queue, last_id: AtomicI64::new(0), settings }), entries)
    }

    pub fn record(&self, record: Record<'_>) {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let micros = i64::try_from(now.as_micros()).unwrap_or(i64::MAX);
        let mut last = self.last_id.load(Ordering::Relaxed);
        let id = loop {
            let next = micros.max(last + 1);
            match self.last_id.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => break next,
                Err(current) => last = current,
            }
        };
        let entry = AuditEntry {
            id,
            at: i64::try_from(now.as_secs()).unwrap_or(i64::MAX),
            principal: record.principal,
            client: record.client.map(str::to_string),
            action: record.action.to_string(),
            target: record.target.map(str::to_string),
            outcome: record.outcome,
            detail: record.detail.map(|detail| truncate(detail, MAX_DETAIL)),
            duration_ms: record.duration.map(|took| i64::try_from(took.as_millis()).unwrap_or(i64::MAX)),
        };
        if self.queue.try_send(entry).is_err() {
            tracing::warn!(action = record.action, "the audit log's queue is full; an entry was dropped");
        }
    }

    pub async fn list(&self, query: AuditQuery) -> Result<Vec<AuditEntry>, DbError> {
        let limit = i64::from(query.limit.unwrap_or(100).clamp(1, MAX_LIMIT));
        let following = query.after.is_some();
        // Only the order differs, chosen from two constants; every value is bound.
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT id, at, principal, client, action, target, outcome, detail, duration_ms FROM audit_log \
             WHERE (CAST($1 AS TEXT) IS NULL OR action = $1) AND (CAST($2 AS TEXT) IS NULL OR principal = $2) \
             AND (CAST($3 AS BIGINT) IS NULL OR id < $3) AND (CAST($4 AS BIGINT) IS NULL OR id > $4) \
             ORDER BY id {} LIMIT $5",
            if following { "ASC" } else { "DESC" }
        ));
        self.db
            .run(move |pool| async move {
                let rows = sqlx::query(sql)
                    .bind(query.action)
                    .bind(query.principal)
                    .bind(query.before)
                    .bind(query.after)
                    .bind(limit)
                    .fetch_all(&pool)
                    .await?;
                rows.iter()
                    .map(|row| {
                        Ok(AuditEntry {
                            id: row.try_get("id")?,
                            at: row.try_get("at")?,
                            principal: row.try_get("principal")?,
                            client: row.try_get("client")?,
                            action: row.try_get("action")?,
                            target: row.try_get("target")?,
                            outcome: Outcome::parse(&row.try_get::<String, _>("outcome")?),
                            detail: row.try_get("detail")?,
                            duration_ms: row.try_get("duration_ms")?,
                        })
                    })
                    .collect()
            })
            .await
    }

    /// Deletes the entries older than the retention; how many.
    pub async fn forget_old_entries(&self) -> Result<u64, DbError> {
        let cutoff = crate::clock::unix_now() as i64 - (self.settings.retention_days as i64) * 86_400;
        self.db
            .run(move |pool| async move {
                let done = sqlx::query("DELETE FROM audit_log WHERE at < $1").bind(cutoff).execute(&pool).await?;
                Ok(done.rows_affected())
            })
            .await
    }

    async fn insert(&self, entry: AuditEntry) -> Result<(), DbError> {
        self.db
            .run(move |pool| async move {
                sqlx::query(
                    "INSERT INTO audit_log (id, at, principal, client, action, target, outcome, detail, duration_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(entry.id)
                .bind(entry.at)
                .bind(entry.principal)
                .bind(entry.client)
                .bind(entry.action)
                .bind(entry.target)
                .bind(entry.outcome.as_str())
                .bind(entry.detail)
                .bind(entry.duration_ms)
                .execute(&pool)
                .await?;
                Ok(())
            })
            .await
    }
}

/// The writer: every queued entry into the database, then the change feed told.
pub async fn write_entries(audit: Arc<Audit>, mut entries: mpsc::Receiver<AuditEntry>, events: Events) {
    while let Some(entry) = entries.recv().await {
        if let Err(error) = audit.insert(entry).await {
            tracing::error!(%error, "cannot write an audit entry");
        }
        if entries.is_empty() {
            events.publish(Topic::Audit);
        }
    }
}

/// Applies the retention every hour.
pub async fn apply_retention(audit: Arc<Audit>) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    loop {
        every.tick().await;
        match audit.forget_old_entries().await {
            Ok(0) => {}
            Ok(forgotten) => tracing::info!(forgotten, "audit entries past their retention deleted"),
            Err(error) => tracing::warn!(%error, "cannot apply the audit log's retention"),
        }
    }
}

fn truncate(mut text: String, limit: usize) -> String {
    if text.len() > limit {
        let mut cut = limit;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}
