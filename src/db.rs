//! The database: SQLite at `.luna/luna.db` by default, Postgres when `database.url` says
//! so, through one sqlx `Any` pool and one set of migrations (`migrations/`, embedded).
//!
//! The pool lives on a small runtime of its own. Its callers run on different pingora
//! runtimes (the gateway checks sessions, the core API writes them); a Postgres connection
//! is tied to the runtime that opened it, so every query is spawned onto the database
//! runtime and its result awaited from wherever the caller runs.

use std::future::Future;
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use tokio::runtime::{Handle, Runtime};

/// Longest wait for a connection from the pool before a query fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_CONNECTIONS: u32 = 8;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the database runtime is gone")]
    RuntimeGone,
}

#[derive(Clone)]
pub struct Database {
    pool: AnyPool,
    runtime: Handle,
}

/// Owns the database runtime; dropping it stops every connection.
pub struct DatabaseRuntime(Option<Runtime>);

impl Drop for DatabaseRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl Database {
    /// Connects (creating a SQLite file if needed) and applies pending migrations.
    pub fn open(url: &str) -> Result<(Self, DatabaseRuntime), DbError> {
        sqlx::any::install_default_drivers();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("luna-db")
            .enable_all()
            .build()
            .map_err(|error| DbError::Sqlx(sqlx::Error::Io(error)))?;
        let is_sqlite = url.starts_with("sqlite:");
        let pool = runtime.block_on(async {
            let pool = AnyPoolOptions::new()
                .max_connections(if is_sqlite { 1 } else { MAX_CONNECTIONS })
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect(url)
                .await?;
            if is_sqlite {
                // WAL lets readers and the one writer work at once; it persists in the file.
                sqlx::query("PRAGMA journal_mode = WAL").execute(&pool).await?;
            }
            sqlx::migrate!("./migrations").run(&pool).await?;
            Ok::<_, DbError>(pool)
        })?;
        let database = Self { pool, runtime: runtime.handle().clone() };
        Ok((database, DatabaseRuntime(Some(runtime))))
    }

    /// Runs `work` with the pool on the database runtime, from any runtime.
    pub async fn run<T, F, Fut>(&self, work: F) -> Result<T, DbError>
    where
        F: FnOnce(AnyPool) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, sqlx::Error>> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        match self.runtime.spawn(work(pool)).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(DbError::RuntimeGone),
        }
    }
}
