//! A real PostgreSQL for the tests that need one. `scripts/test.sh` starts the server and
//! exports `LUNA_TEST_POSTGRES_URL` (a role allowed to create databases); each test gets a
//! database of its own.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;

fn admin_url() -> String {
    std::env::var("LUNA_TEST_POSTGRES_URL")
        .expect("LUNA_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh, which starts PostgreSQL")
}

/// Creates an empty database and returns its URL.
pub fn fresh_database() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!("luna_test_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let admin = admin_url();
    super::runtime().block_on(async {
        sqlx::any::install_default_drivers();
        let mut connection = sqlx::AnyConnection::connect(&admin).await.expect("connect to the test PostgreSQL");
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
            .execute(&mut connection)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut connection).await.unwrap();
    });
    let (base, _) = admin.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

/// The single integer a query returns.
pub fn count(url: &str, query: &str) -> i64 {
    super::runtime().block_on(async {
        let mut connection = sqlx::AnyConnection::connect(url).await.unwrap();
        let row: (i64,) =
            sqlx::query_as(sqlx::AssertSqlSafe(query.to_string())).fetch_one(&mut connection).await.unwrap();
        row.0
    })
}

/// Runs one statement (to set up what a test needs).
pub fn execute(url: &str, statement: &str) {
    super::runtime().block_on(async {
        let mut connection = sqlx::AnyConnection::connect(url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(statement.to_string())).execute(&mut connection).await.unwrap();
    });
}
