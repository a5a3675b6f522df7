//! Migrations, applied in one transaction and tracked by `PRAGMA user_version` (SQLite) or the
//! `schema_version` table of the realm's schema (PostgreSQL). A database newer than the binary is
//! refused rather than misread. Append migrations; never edit a shipped one.
//!
//! Each migration is written twice, once per database, in `migrations/sqlite/` and
//! `migrations/postgres/` (the same file name: number, then what it is for): each dialect says
//! it in its own words (BIGINT and BYTEA, identity keys, no `WITHOUT ROWID`), and a test checks
//! that both lists reach the same logical schema — tables, columns, types, keys and indexes.

use rusqlite::Connection;

use super::{LedgerError, LedgerResult};

/// One migration in both dialects.
struct Migration {
    sqlite: &'static str,
    postgres: &'static str,
}

macro_rules! migration {
    ($name:literal) => {
        Migration {
            sqlite: include_str!(concat!("migrations/sqlite/", $name, ".sql")),
            postgres: include_str!(concat!("migrations/postgres/", $name, ".sql")),
        }
    };
}

/// Every migration, in order; the files' comments say what each is for.
const MIGRATIONS: &[Migration] = &[
    migration!("0001_jobs_library_keys"),
    migration!("0002_library_sources"),
    migration!("0003_typed_requests"),
    migration!("0004_queue_steering"),
    migration!("0005_leases_workers"),
    migration!("0006_webhooks"),
    migration!("0007_rate_windows"),
    migration!("0008_credit_reserves"),
    migration!("0009_lease_index_partial"),
];

pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub(super) fn migrate(conn: &mut Connection) -> LedgerResult<()> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(LedgerError::TooNew { found, supported: SCHEMA_VERSION });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // Re-read under the write lock: another process may have migrated meanwhile.
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for migration in &MIGRATIONS[found.clamp(0, SCHEMA_VERSION) as usize..] {
        tx.execute_batch(migration.sqlite)?;
    }
    tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
    tx.commit()?;
    Ok(())
}

/// Creates the realm's schema if needed and brings it to [`SCHEMA_VERSION`]. Processes starting
/// together take turns (an advisory lock per schema); a schema newer than this binary is refused.
pub(super) fn migrate_postgres(client: &mut postgres::Client, schema: &str) -> LedgerResult<()> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&format!("figur-migrate-{schema}")])?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema}; SET LOCAL search_path TO {schema}; \
         CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL);"
    ))?;
    let found: i64 = match tx.query_opt("SELECT version FROM schema_version", &[])? {
        Some(row) => row.get(0),
        None => {
            tx.execute("INSERT INTO schema_version (version) VALUES (0)", &[])?;
            0
        }
    };
    if found > SCHEMA_VERSION {
        return Err(LedgerError::TooNew { found, supported: SCHEMA_VERSION });
    }
    for migration in &MIGRATIONS[found.clamp(0, SCHEMA_VERSION) as usize..] {
        tx.batch_execute(migration.postgres)?;
    }
    tx.execute("UPDATE schema_version SET version = $1", &[&SCHEMA_VERSION])?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
#[path = "schema_tests.rs"]
mod tests;
