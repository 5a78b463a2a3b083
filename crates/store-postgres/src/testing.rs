//! Test support: fresh, empty databases on a PostgreSQL server, for this crate's conformance
//! tests and for other crates' tests that run on PostgreSQL (the HTTP API tests).
//!
//! The server is named by `HEALTHCODE_TEST_PG_URL` (default: the local one, user `postgres`),
//! whose user must be allowed to `CREATE DATABASE`. Test databases are called `hc_test_*`, so
//! that whatever a test leaves behind can be swept by name.
//!
//! These helpers panic instead of returning errors: they run only in tests, where an
//! unreachable server must fail the run (with instructions) rather than skip it. Nothing here
//! is used by the store itself.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection, Executor};

pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The URL tests create their databases through.
pub fn admin_url() -> String {
    std::env::var("HEALTHCODE_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_string())
}

/// Creates an empty database no other test (in this or a parallel process) uses and returns
/// its URL. Panics, saying how to start PostgreSQL, when the server cannot be reached.
pub async fn fresh_database() -> String {
    let name = unique_name();
    let mut admin = admin().await;
    // The name is generated above (letters, digits, underscores), so quoting is enough.
    // Through `Executor`, so the future stays `Send` (see `migrate`).
    (&mut admin)
        .execute(sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\"")))
        .await
        .unwrap_or_else(|e| panic!("cannot create test database {name} on {}: {e}", redacted(&admin_url())));
    admin.close().await.ok();
    url_for(&admin_url(), &name)
}

/// Drops a database made by [`fresh_database`], ending any connection still open to it.
pub async fn drop_database(url: &str) -> Result<(), String> {
    let options = PgConnectOptions::from_str(url).map_err(|e| e.to_string())?;
    let name = options.get_database().ok_or("the URL names no database")?;
    if !name.starts_with("hc_test_") || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("{name} is not a test database"));
    }
    let mut admin = admin().await;
    let dropped =
        (&mut admin).execute(sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))).await;
    admin.close().await.ok();
    dropped.map(|_| ()).map_err(|e| e.to_string())
}

/// A connection to the admin database. A plain connection rather than a pool: a pool retries
/// until its timeout and then reports only that, hiding "connection refused".
async fn admin() -> PgConnection {
    let url = admin_url();
    PgConnection::connect(&url).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is not reachable at {} ({e}).\n\
             These tests need a running PostgreSQL whose user may create databases. Start the \
             local cluster with\n    \
             pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n\
             or point HEALTHCODE_TEST_PG_URL at another server (default {DEFAULT_ADMIN_URL}).",
            redacted(&url)
        )
    })
}

fn unique_name() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("hc_test_{}_{}_{nanos}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed))
}

/// The URL without its user part, so a password in it is not printed.
fn redacted(url: &str) -> &str {
    url.rsplit_once('@').map_or(url, |(_, host)| host)
}

/// `url` with its database replaced by `database`, query parameters kept.
fn url_for(url: &str, database: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_get_the_test_database() {
        let cases = [
            ("postgres://postgres@127.0.0.1:5432/postgres", "postgres://postgres@127.0.0.1:5432/hc_test_1"),
            ("postgres://u:p@db/admin?sslmode=disable", "postgres://u:p@db/hc_test_1?sslmode=disable"),
            ("postgresql://localhost", "postgresql://localhost/hc_test_1"),
            ("postgres://localhost?application_name=x", "postgres://localhost/hc_test_1?application_name=x"),
        ];
        for (admin, expected) in cases {
            assert_eq!(url_for(admin, "hc_test_1"), expected);
        }
        assert_eq!(redacted("postgres://u:secret@db/x"), "db/x");
    }
}
