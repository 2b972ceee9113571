//! Server-side sessions: one row per login, found by the SHA-256 of the id the browser
//! holds. A short in-memory cache keeps the gateway's per-request check off the database
//! (and off cookie decryption: it is keyed by the cookie as the browser sends it);
//! revocation through this store evicts the entry at once, and the cache's TTL bounds how
//! long a change made elsewhere (another process, a manual SQL delete) can go unnoticed.

use crate::events::{Events, Topic};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::allow_list::Account;
use crate::clock::unix_now;
use crate::db::{Database, DbError};

/// How long a cached lookup is trusted.
const CACHE_TTL: Duration = Duration::from_secs(5);
/// Cached sessions kept at most; beyond this the cache starts over.
const CACHE_CAPACITY: usize = 10_000;
/// `last_seen_at` is written at most this often per session.
const TOUCH_INTERVAL: u64 = 60;

/// Who a session belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    /// GitHub's numeric id: stable across login renames. 0 is the owner of an open local
    /// Luna, who is nobody on GitHub.
    pub id: i64,
    pub login: String,
    pub name: Option<String>,
    pub avatar_url: Option<String>,
    /// The allowed organizations the user belonged to at login (empty if the allow-list
    /// named the user, or has no organizations).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orgs: Vec<Account>,
}

impl SessionUser {
    pub fn account(&self) -> Account {
        Account { id: self.id, login: self.login.clone() }
    }

    /// The user an open local Luna (no GitHub login) acts for.
    pub fn local_owner() -> Self {
        Self { id: 0, login: "owner".into(), name: Some("Owner of this Luna".into()), avatar_url: None, orgs: vec![] }
    }

    pub fn is_local_owner(&self) -> bool {
        self.id == 0
    }
}

/// Organizations as a database column (JSON, `NULL` for none).
pub fn orgs_column(orgs: &[Account]) -> Option<String> {
    (!orgs.is_empty()).then(|| serde_json::to_string(orgs).unwrap_or_default())
}

/// The organizations of a database column; an unreadable value admits through none.
pub fn orgs_from_column(column: Option<String>) -> Vec<Account> {
    column.and_then(|text| serde_json::from_str(&text).ok()).unwrap_or_default()
}

/// A session as the API lists it. `id` is the stored hash, not the secret.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionInfo {
    pub id: String,
    pub login: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// The session of the browser asking.
    #[serde(default)]
    pub current: bool,
}

struct Cached {
    user: Arc<SessionUser>,
    /// The session's stored hash, so revoking it finds every cache entry.
    id_hash: String,
    fetched: Instant,
}

#[derive(Clone)]
pub struct SessionStore {
    db: Database,
    idle: Duration,
    max_age: Duration,
    cache: Arc<Mutex<HashMap<String, Cached>>>,
    /// Session cookies (as sent) whose session is gone, which never comes back: asked about
    /// once, so replaying an old cookie costs no database query.
    dead: Arc<Mutex<HashSet<String>>>,
    events: Events,
}

/// A new session's secret id, as the cookie carries it.
pub struct NewSession {
    pub id: String,
}

impl SessionStore {
    pub fn new(db: Database, idle: Duration, max_age: Duration, events: Events) -> Self {
        Self {
            db,
            idle,
            max_age,
            cache: Arc::new(Mutex::new(HashMap::new())),
            dead: Arc::new(Mutex::new(HashSet::new())),
            events,
        }
    }

    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    /// Starts a session for `user`.
    pub async fn create(
        &self,
        user: &SessionUser,
        user_agent: Option<String>,
        ip: Option<String>,
    ) -> Result<NewSession, DbError> {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let hash = hash_id(&id);
        let now = unix_now() as i64;
        let expires = now + self.max_age.as_secs() as i64;
        let user = user.clone();
        self.db
            .run(move |pool| async move {
                sqlx::query(
                    "INSERT INTO sessions (id_hash, user_id, login, name, avatar_url, orgs, created_at, last_seen_at, \
                     expires_at, user_agent, ip) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(hash)
                .bind(user.id)
                .bind(user.login)
                .bind(user.name)
                .bind(user.avatar_url)
                .bind(orgs_column(&user.orgs))
                .bind(now)
                .bind(now)
                .bind(expires)
                .bind(user_agent)
                .bind(ip)
                .execute(&pool)
                .await
                .map(drop)
            })
            .await?;
        self.events.publish(Topic::Sessions);
        Ok(NewSession { id })
    }

    /// The user of session `id`, if it exists and has not expired (from the database).
    pub async fn lookup(&self, id: &str) -> Result<Option<SessionUser>, DbError> {
        let hash = hash_id(id);
        let now = unix_now() as i64;
        let idle = self.idle.as_secs() as i64;
        let key = hash.clone();
        let found = self
            .db
            .run(move |pool| async move {
                let row = sqlx::query(
                    "SELECT user_id, login, name, avatar_url, orgs, last_seen_at, expires_at FROM sessions \
                     WHERE id_hash = $1",
                )
                .bind(&key)
                .fetch_optional(&pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                let last_seen: i64 = row.try_get("last_seen_at")?;
                let expires: i64 = row.try_get("expires_at")?;
                if now >= expires || now - last_seen >= idle {
                    sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(&key).execute(&pool).await?;
                    return Ok(None);
                }
                if now - last_seen >= TOUCH_INTERVAL as i64 {
                    sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
                        .bind(now)
                        .bind(&key)
                        .execute(&pool)
                        .await?;
                }
                Ok(Some(SessionUser {
                    id: row.try_get("user_id")?,
                    login: row.try_get("login")?,
                    name: row.try_get("name")?,
                    avatar_url: row.try_get("avatar_url")?,
                    orgs: orgs_from_column(row.try_get("orgs")?),
                }))
            })
            .await?;
        Ok(found)
    }

    /// Ends the session whose secret id is `id` (logout).
    pub async fn delete(&self, id: &str) -> Result<(), DbError> {
        self.revoke(&hash_id(id)).await.map(drop)
    }

    /// Ends the session with stored hash `hash`; false if there was none.
    pub async fn revoke(&self, hash: &str) -> Result<bool, DbError> {
        self.forget(hash);
        let key = hash.to_string();
        let deleted = self
            .db
            .run(move |pool| async move {
                let done = sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(key).execute(&pool).await?;
                Ok(done.rows_affected() > 0)
            })
            .await;
        // Again: a check may have cached the session while the row was being deleted.
        self.forget(hash);
        if matches!(deleted, Ok(true)) {
            self.events.publish(Topic::Sessions);
        }
        deleted
    }

    /// Ends every session whose user `keep` refuses; returns how many ended.
    pub async fn end_unless(&self, keep: impl Fn(&SessionUser) -> bool) -> Result<usize, DbError> {
        let rows = self
            .db
            .run(|pool| async move {
                let rows = sqlx::query("SELECT id_hash, user_id, login, orgs FROM sessions").fetch_all(&pool).await?;
                rows.iter()
                    .map(|row| {
                        let user = SessionUser {
                            id: row.try_get("user_id")?,
                            login: row.try_get("login")?,
                            name: None,
                            avatar_url: None,
                            orgs: orgs_from_column(row.try_get("orgs")?),
                        };
                        Ok((row.try_get::<String, _>("id_hash")?, user))
                    })
                    .collect::<Result<Vec<_>, sqlx::Error>>()
            })
            .await?;
        let mut ended = 0;
        for (hash, user) in rows {
            if !keep(&user) && self.revoke(&hash).await? {
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// Live sessions, newest first; only `login`'s when given.
    pub async fn list(&self, login: Option<String>) -> Result<Vec<SessionInfo>, DbError> {
        let now = unix_now() as i64;
        let oldest_seen = now - self.idle.as_secs() as i64;
        self.db
            .run(move |pool| async move {
                let rows = sqlx::query(
                    "SELECT id_hash, login, created_at, last_seen_at, expires_at, user_agent, ip FROM sessions \
                     WHERE expires_at > $1 AND last_seen_at > $2 ORDER BY created_at DESC, id_hash",
                )
                .bind(now)
                .bind(oldest_seen)
                .fetch_all(&pool)
                .await?;
                let mut sessions = Vec::new();
                for row in rows {
                    let info = SessionInfo {
                        id: row.try_get("id_hash")?,
                        login: row.try_get("login")?,
                        created_at: row.try_get("created_at")?,
                        last_seen_at: row.try_get("last_seen_at")?,
                        expires_at: row.try_get("expires_at")?,
                        user_agent: row.try_get("user_agent")?,
                        ip: row.try_get("ip")?,
                        current: false,
                    };
                    if login.as_deref().is_none_or(|login| login.eq_ignore_ascii_case(&info.login)) {
                        sessions.push(info);
                    }
                }
                Ok(sessions)
            })
            .await
    }

    /// The user cached under `key` (the session cookie as sent), if still fresh.
    pub fn cached(&self, key: &str) -> Option<Arc<SessionUser>> {
        let cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.get(key).filter(|entry| entry.fetched.elapsed() < CACHE_TTL).map(|entry| Arc::clone(&entry.user))
    }

    /// Caches `user` of session `id` under `key` for the next requests.
    pub fn remember(&self, key: String, id: &str, user: Arc<SessionUser>) {
        let mut cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if cache.len() >= CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(key, Cached { user, id_hash: hash_id(id), fetched: Instant::now() });
    }

    /// Whether `key` (a session cookie as sent) was found to have no session.
    pub fn is_dead(&self, key: &str) -> bool {
        self.dead.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).contains(key)
    }

    /// Remembers that `key` (a session cookie as sent) has no session.
    pub fn remember_dead(&self, key: &str) {
        let mut dead = self.dead.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if dead.len() >= CACHE_CAPACITY {
            dead.clear();
        }
        dead.insert(key.to_string());
    }

    fn forget(&self, hash: &str) {
        self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).retain(|_, entry| entry.id_hash != hash);
    }
}

/// The stored form of a session id: SHA-256, lower-case hex.
pub fn hash_id(id: &str) -> String {
    crate::hex::lower(&Sha256::digest(id.as_bytes()))
}
