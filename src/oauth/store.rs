//! The OAuth tables (`migrations/0002_oauth.sql`): registered clients, grants, codes and
//! refresh tokens. Secrets are stored as SHA-256 hashes only.

use crate::events::{Events, Topic};
use serde::Serialize;
use sqlx::Row;

use crate::allow_list::Account;
use crate::auth::sessions::{SessionUser, hash_id, orgs_column, orgs_from_column};
use crate::clock::unix_now;
use crate::db::{Database, DbError};

/// `SELECT <every grant column> FROM oauth_grants <rest>`, as one literal.
macro_rules! select_grants {
    ($rest:literal) => {
        concat!(
            "SELECT id, client_id, client_name, redirect_uri, user_id, login, orgs, scope, created_at, \
             last_used_at FROM oauth_grants ",
            $rest
        )
    };
}

/// The clients no live grant uses, as a `FROM ... WHERE` clause.
macro_rules! unused_clients {
    () => {
        "FROM oauth_clients WHERE client_id NOT IN (SELECT client_id FROM oauth_grants WHERE revoked_at IS NULL)"
    };
}

/// Codes are exchanged within this long.
pub const CODE_SECONDS: i64 = 300;
/// A refresh token not used for this long expires (each use rotates it).
pub const REFRESH_SECONDS: i64 = 30 * 24 * 3600;
/// A registered client that never got a grant is deleted after this long.
pub const UNUSED_CLIENT_SECONDS: i64 = 24 * 3600;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Client {
    pub client_id: String,
    pub client_name: Option<String>,
    pub redirect_uris: Vec<String>,
}

/// A user's approval of a client, as the Hub and `luna clients list` show it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Grant {
    pub id: String,
    pub client_id: String,
    pub client_name: Option<String>,
    pub redirect_uri: String,
    pub user_id: i64,
    pub login: String,
    /// The organizations that admitted the user when they approved (see `SessionUser`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orgs: Vec<Account>,
    pub scope: String,
    pub created_at: i64,
    pub last_used_at: i64,
}

impl Grant {
    /// Who approved the client, for the admission rule.
    pub fn user(&self) -> SessionUser {
        SessionUser {
            id: self.user_id,
            login: self.login.clone(),
            name: None,
            avatar_url: None,
            orgs: self.orgs.clone(),
        }
    }
}

/// What a code was issued for.
#[derive(Debug, Clone)]
pub struct CodeRecord {
    pub grant_id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub expires_at: i64,
}

/// A refresh token just used up.
#[derive(Debug, Clone)]
pub struct RefreshRecord {
    pub grant_id: String,
    pub client_id: String,
    pub expires_at: i64,
}

/// Registrations that no live grant uses yet.
#[derive(Debug, Clone, Copy)]
pub struct UnusedRegistrations {
    pub total: i64,
    /// Those made from the address asked about.
    pub from_address: i64,
}

/// The outcome of redeeming a code or a refresh token once.
pub enum Redeemed<T> {
    Fresh(T),
    /// Seen before: someone replays it (the grant has been revoked).
    Replayed,
    Unknown,
}

#[derive(Clone)]
pub struct OAuthStore {
    db: Database,
    /// Told when a grant is made or revoked (the Hub's connected clients).
    events: Events,
}

impl OAuthStore {
    pub fn new(db: Database, events: Events) -> Self {
        Self { db, events }
    }

    /// Stores a registration made from `from` (an address as rate limits count it).
    pub async fn register(&self, client: &Client, from: &str) -> Result<(), DbError> {
        let client = client.clone();
        let uris = serde_json::to_string(&client.redirect_uris).unwrap_or_default();
        let from = from.to_string();
        self.db
            .run(move |pool| async move {
                sqlx::query(
                    "INSERT INTO oauth_clients (client_id, client_name, redirect_uris, created_at, registered_from) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(client.client_id)
                .bind(client.client_name)
                .bind(uris)
                .bind(unix_now() as i64)
                .bind(from)
                .execute(&pool)
                .await
                .map(drop)
            })
            .await
    }

    /// Registrations that no live grant uses yet, in all and from `from`.
    pub async fn unused_registrations(&self, from: &str) -> Result<UnusedRegistrations, DbError> {
        let from = from.to_string();
        self.db
            .run(move |pool| async move {
                let total: i64 =
                    sqlx::query_scalar(concat!("SELECT COUNT(*) ", unused_clients!())).fetch_one(&pool).await?;
                let from_here: i64 =
                    sqlx::query_scalar(concat!("SELECT COUNT(*) ", unused_clients!(), " AND registered_from = $1"))
                        .bind(from)
                        .fetch_one(&pool)
                        .await?;
                Ok(UnusedRegistrations { total, from_address: from_here })
            })
            .await
    }

    /// Deletes the oldest registration that no live grant uses.
    pub async fn forget_oldest_unused_client(&self) -> Result<(), DbError> {
        self.db
            .run(|pool| async move {
                sqlx::query(concat!(
                    "DELETE FROM oauth_clients WHERE client_id = (SELECT client_id ",
                    unused_clients!(),
                    " ORDER BY created_at, client_id LIMIT 1)"
                ))
                .execute(&pool)
                .await
                .map(drop)
            })
            .await
    }

    pub async fn client(&self, client_id: &str) -> Result<Option<Client>, DbError> {
        let key = client_id.to_string();
        self.db
            .run(move |pool| async move {
                let row =
                    sqlx::query("SELECT client_id, client_name, redirect_uris FROM oauth_clients WHERE client_id = $1")
                        .bind(key)
                        .fetch_optional(&pool)
                        .await?;
                let Some(row) = row else { return Ok(None) };
                let uris: String = row.try_get("redirect_uris")?;
                Ok(Some(Client {
                    client_id: row.try_get("client_id")?,
                    client_name: row.try_get("client_name")?,
                    redirect_uris: serde_json::from_str(&uris).unwrap_or_default(),
                }))
            })
            .await
    }

    /// Records the user's approval and issues a code for it; returns the code.
    pub async fn approve(&self, grant: &Grant, code_challenge: &str) -> Result<String, DbError> {
        let code = crate::auth::random_token();
        let code_hash = hash_id(&code);
        let grant = grant.clone();
        let challenge = code_challenge.to_string();
        let now = unix_now() as i64;
        self.db
            .run(move |pool| async move {
                let mut transaction = pool.begin().await?;
                sqlx::query(
                    "INSERT INTO oauth_grants (id, client_id, client_name, redirect_uri, user_id, login, orgs, scope, \
                     created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(&grant.id)
                .bind(&grant.client_id)
                .bind(&grant.client_name)
                .bind(&grant.redirect_uri)
                .bind(grant.user_id)
                .bind(&grant.login)
                .bind(orgs_column(&grant.orgs))
                .bind(&grant.scope)
                .bind(now)
                .bind(now)
                .execute(&mut *transaction)
                .await?;
                sqlx::query(
                    "INSERT INTO oauth_codes (code_hash, grant_id, client_id, redirect_uri, code_challenge, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(code_hash)
                .bind(&grant.id)
                .bind(&grant.client_id)
                .bind(&grant.redirect_uri)
                .bind(challenge)
                .bind(now + CODE_SECONDS)
                .execute(&mut *transaction)
                .await?;
                sqlx::query("UPDATE oauth_clients SET last_used_at = $1 WHERE client_id = $2")
                    .bind(now)
                    .bind(&grant.client_id)
                    .execute(&mut *transaction)
                    .await?;
                transaction.commit().await
            })
            .await?;
        self.events.publish(Topic::Clients);
        Ok(code)
    }

    /// Marks a code used (once). A second redemption revokes the grant it belongs to:
    /// whoever replays a code may have stolen it (OAuth 2.1 §4.1.3).
    pub async fn redeem_code(&self, code: &str) -> Result<Redeemed<CodeRecord>, DbError> {
        let hash = hash_id(code);
        let now = unix_now() as i64;
        self.db
            .run(move |pool| async move {
                let row = sqlx::query(
                    "SELECT grant_id, client_id, redirect_uri, code_challenge, expires_at, used_at FROM oauth_codes \
                     WHERE code_hash = $1",
                )
                .bind(&hash)
                .fetch_optional(&pool)
                .await?;
                let Some(row) = row else { return Ok(Redeemed::Unknown) };
                let record = CodeRecord {
                    grant_id: row.try_get("grant_id")?,
                    client_id: row.try_get("client_id")?,
                    redirect_uri: row.try_get("redirect_uri")?,
                    code_challenge: row.try_get("code_challenge")?,
                    expires_at: row.try_get("expires_at")?,
                };
                let claimed =
                    sqlx::query("UPDATE oauth_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL")
                        .bind(now)
                        .bind(&hash)
                        .execute(&pool)
                        .await?;
                if claimed.rows_affected() == 1 {
                    return Ok(Redeemed::Fresh(record));
                }
                revoke_grant_in(&pool, &record.grant_id, now).await?;
                Ok(Redeemed::Replayed)
            })
            .await
    }

    /// A new refresh token for `grant_id`.
    pub async fn issue_refresh_token(&self, grant_id: &str, client_id: &str) -> Result<String, DbError> {
        let token = crate::auth::random_token();
        let hash = hash_id(&token);
        let (grant_id, client_id) = (grant_id.to_string(), client_id.to_string());
        let now = unix_now() as i64;
        self.db
            .run(move |pool| async move {
                sqlx::query(
                    "INSERT INTO oauth_refresh_tokens (token_hash, grant_id, client_id, expires_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(hash)
                .bind(grant_id)
                .bind(client_id)
                .bind(now + REFRESH_SECONDS)
                .execute(&pool)
                .await
                .map(drop)
            })
            .await?;
        Ok(token)
    }

    /// Uses a refresh token up (rotation). Returns its grant and client; a token used
    /// before revokes its whole grant (it was copied).
    pub async fn redeem_refresh_token(&self, token: &str) -> Result<Redeemed<RefreshRecord>, DbError> {
        let hash = hash_id(token);
        let now = unix_now() as i64;
        self.db
            .run(move |pool| async move {
                let row = sqlx::query(
                    "SELECT grant_id, client_id, expires_at FROM oauth_refresh_tokens WHERE token_hash = $1",
                )
                .bind(&hash)
                .fetch_optional(&pool)
                .await?;
                let Some(row) = row else { return Ok(Redeemed::Unknown) };
                let record = RefreshRecord {
                    grant_id: row.try_get("grant_id")?,
                    client_id: row.try_get("client_id")?,
                    expires_at: row.try_get("expires_at")?,
                };
                let claimed = sqlx::query(
                    "UPDATE oauth_refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
                )
                .bind(now)
                .bind(&hash)
                .execute(&pool)
                .await?;
                if claimed.rows_affected() == 1 {
                    return Ok(Redeemed::Fresh(record));
                }
                revoke_grant_in(&pool, &record.grant_id, now).await?;
                Ok(Redeemed::Replayed)
            })
            .await
    }

    /// The grant, if it exists and is not revoked; notes that it was used.
    pub async fn active_grant(&self, grant_id: &str) -> Result<Option<Grant>, DbError> {
        let key = grant_id.to_string();
        let now = unix_now() as i64;
        self.db
            .run(move |pool| async move {
                let row = sqlx::query(select_grants!("WHERE id = $1 AND revoked_at IS NULL"))
                    .bind(&key)
                    .fetch_optional(&pool)
                    .await?;
                let Some(row) = row else { return Ok(None) };
                let grant = grant_from(&row)?;
                if now - grant.last_used_at >= 60 {
                    sqlx::query("UPDATE oauth_grants SET last_used_at = $1 WHERE id = $2")
                        .bind(now)
                        .bind(&key)
                        .execute(&pool)
                        .await?;
                }
                Ok(Some(grant))
            })
            .await
    }

    /// Grants not revoked that got tokens, newest first: the connected clients. (An
    /// approval whose code was never exchanged connected nothing.)
    pub async fn active_grants(&self) -> Result<Vec<Grant>, DbError> {
        self.db
            .run(move |pool| async move {
                let rows = sqlx::query(select_grants!(
                    "WHERE revoked_at IS NULL AND EXISTS \
                     (SELECT 1 FROM oauth_refresh_tokens r WHERE r.grant_id = oauth_grants.id) \
                     ORDER BY created_at DESC, id"
                ))
                .fetch_all(&pool)
                .await?;
                rows.iter().map(grant_from).collect()
            })
            .await
    }

    /// Whether `user_id` has a live grant for `client_id` that got tokens: a client this user
    /// approved and connected before.
    pub async fn has_live_grant(&self, user_id: i64, client_id: &str) -> Result<bool, DbError> {
        let client_id = client_id.to_string();
        self.db
            .run(move |pool| async move {
                let found = sqlx::query(
                    "SELECT 1 FROM oauth_grants g WHERE g.user_id = $1 AND g.client_id = $2 AND g.revoked_at IS NULL \
                     AND EXISTS (SELECT 1 FROM oauth_refresh_tokens r WHERE r.grant_id = g.id)",
                )
                .bind(user_id)
                .bind(client_id)
                .fetch_optional(&pool)
                .await?;
                Ok(found.is_some())
            })
            .await
    }

    /// Every grant not revoked, whether or not it got tokens yet.
    pub async fn unrevoked_grants(&self) -> Result<Vec<Grant>, DbError> {
        self.db
            .run(move |pool| async move {
                let rows = sqlx::query(select_grants!("WHERE revoked_at IS NULL")).fetch_all(&pool).await?;
                rows.iter().map(grant_from).collect()
            })
            .await
    }

    /// Revokes a grant and everything issued under it; false if there was no live grant.
    pub async fn revoke_grant(&self, grant_id: &str) -> Result<bool, DbError> {
        let key = grant_id.to_string();
        let now = unix_now() as i64;
        let revoked = self.db.run(move |pool| async move { revoke_grant_in(&pool, &key, now).await }).await;
        if matches!(revoked, Ok(true)) {
            self.events.publish(Topic::Clients);
        }
        revoked
    }

    /// The grant and client a refresh token belongs to (for `/api/revoke`), if any.
    pub async fn grant_of_refresh_token(&self, token: &str) -> Result<Option<(String, String)>, DbError> {
        let hash = hash_id(token);
        self.db
            .run(move |pool| async move {
                let row = sqlx::query("SELECT grant_id, client_id FROM oauth_refresh_tokens WHERE token_hash = $1")
                    .bind(hash)
                    .fetch_optional(&pool)
                    .await?;
                row.map(|row| Ok((row.try_get("grant_id")?, row.try_get("client_id")?))).transpose()
            })
            .await
    }

    /// Deletes expired codes and refresh tokens, grants with nothing left to redeem, and
    /// clients that registered but never got a grant within a day.
    pub async fn clean_up(&self) -> Result<(), DbError> {
        let now = unix_now() as i64;
        self.db
            .run(move |pool| async move {
                sqlx::query("DELETE FROM oauth_codes WHERE expires_at < $1").bind(now).execute(&pool).await?;
                sqlx::query("DELETE FROM oauth_refresh_tokens WHERE expires_at < $1 OR used_at < $2")
                    .bind(now)
                    .bind(now - REFRESH_SECONDS)
                    .execute(&pool)
                    .await?;
                // Grants with nothing left to redeem: revoked, or approved but never exchanged.
                sqlx::query(
                    "DELETE FROM oauth_grants WHERE created_at < $1 \
                     AND NOT EXISTS (SELECT 1 FROM oauth_codes c WHERE c.grant_id = oauth_grants.id) \
                     AND NOT EXISTS (SELECT 1 FROM oauth_refresh_tokens r WHERE r.grant_id = oauth_grants.id)",
                )
                .bind(now - CODE_SECONDS)
                .execute(&pool)
                .await?;
                sqlx::query(
                    "DELETE FROM oauth_clients WHERE created_at < $1 AND client_id NOT IN \
                     (SELECT client_id FROM oauth_grants WHERE revoked_at IS NULL)",
                )
                .bind(now - UNUSED_CLIENT_SECONDS)
                .execute(&pool)
                .await
                .map(drop)
            })
            .await
    }
}

fn grant_from(row: &sqlx::any::AnyRow) -> Result<Grant, sqlx::Error> {
    Ok(Grant {
        id: row.try_get("id")?,
        client_id: row.try_get("client_id")?,
        client_name: row.try_get("client_name")?,
        redirect_uri: row.try_get("redirect_uri")?,
        user_id: row.try_get("user_id")?,
        login: row.try_get("login")?,
        orgs: orgs_from_column(row.try_get("orgs")?),
        scope: row.try_get("scope")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

async fn revoke_grant_in(pool: &sqlx::AnyPool, grant_id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let revoked = sqlx::query("UPDATE oauth_grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(grant_id)
        .execute(pool)
        .await?;
    sqlx::query("DELETE FROM oauth_refresh_tokens WHERE grant_id = $1").bind(grant_id).execute(pool).await?;
    sqlx::query("DELETE FROM oauth_codes WHERE grant_id = $1").bind(grant_id).execute(pool).await?;
    Ok(revoked.rows_affected() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(id: &str, client_id: &str) -> Grant {
        Grant {
            id: id.into(),
            client_id: client_id.into(),
            client_name: None,
            redirect_uri: "http://127.0.0.1/cb".into(),
            user_id: 1,
            login: "ada".into(),
            orgs: vec![],
            scope: "mcp".into(),
            created_at: 0,
            last_used_at: 0,
        }
    }

    #[test]
    fn clean_up_drops_stale_clients_abandoned_grants_and_dead_secrets_but_keeps_connected_ones() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _runtime) =
            Database::open(&format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display())).unwrap();
        let store = OAuthStore::new(db.clone(), Events::new());
        let block =
            |future| tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future);
        let client = |id: &str| Client {
            client_id: id.into(),
            client_name: None,
            redirect_uris: vec!["http://127.0.0.1/cb".into()],
        };
        block(async {
            for id in ["stale", "connected", "abandoned", "fresh"] {
                store.register(&client(id), "127.0.0.1").await.unwrap();
            }
            store.approve(&grant("g1", "connected"), "challenge").await.unwrap();
            store.issue_refresh_token("g1", "connected").await.unwrap();
            store.approve(&grant("g2", "abandoned"), "challenge").await.unwrap();
            // Two days pass for all but `fresh`; the codes expire unused.
            db.run(|pool| async move {
                let old = unix_now() as i64 - 2 * 24 * 3600;
                sqlx::query("UPDATE oauth_clients SET created_at = $1 WHERE client_id <> 'fresh'")
                    .bind(old)
                    .execute(&pool)
                    .await?;
                sqlx::query("UPDATE oauth_grants SET created_at = $1").bind(old).execute(&pool).await?;
                sqlx::query("UPDATE oauth_codes SET expires_at = $1").bind(old).execute(&pool).await.map(drop)
            })
            .await
            .unwrap();

            store.clean_up().await.unwrap();

            assert!(store.client("stale").await.unwrap().is_none(), "registered, never connected, a day old");
            assert!(store.client("connected").await.unwrap().is_some());
            assert!(store.active_grant("g1").await.unwrap().is_some());
            assert!(store.client("abandoned").await.unwrap().is_none(), "approved, never exchanged");
            assert!(store.client("fresh").await.unwrap().is_some(), "may still be connecting");
            let codes: i64 = db
                .run(
                    |pool| async move { sqlx::query_scalar("SELECT COUNT(*) FROM oauth_codes").fetch_one(&pool).await },
                )
                .await
                .unwrap();
            assert_eq!(codes, 0, "expired codes are deleted");
            assert!(store.active_grant("g2").await.unwrap().is_none(), "an approval never exchanged is gone");
            let listed: Vec<String> = store.active_grants().await.unwrap().into_iter().map(|grant| grant.id).collect();
            assert_eq!(listed, ["g1"]);
        });
    }
}
