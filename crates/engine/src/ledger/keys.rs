//! API keys, stored as SHA-256 hashes only. The plain key is shown once, when it is made.

use super::db::{args, Db, DbRow};
use super::LedgerResult;
use crate::time::now_rfc3339;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    pub id: String,
    /// The first characters of the key, for recognising it in lists (`sk_live_3f9a…`).
    pub prefix: String,
    pub hash: Vec<u8>,
    pub mode: String,
    pub capabilities: Vec<String>,
    pub name: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

fn key_row(r: &DbRow) -> LedgerResult<KeyRow> {
    let caps: String = r.get(4)?;
    Ok(KeyRow {
        id: r.get(0)?,
        prefix: r.get(1)?,
        hash: r.get(2)?,
        mode: r.get(3)?,
        capabilities: caps.split(',').filter(|c| !c.is_empty()).map(str::to_string).collect(),
        name: r.get(5)?,
        created_at: r.get(6)?,
        revoked_at: r.get(7)?,
    })
}

const COLUMNS: &str = "id, prefix, hash, mode, capabilities, name, created_at, revoked_at";

pub fn insert(conn: &Db<'_>, key: &KeyRow) -> LedgerResult<()> {
    conn.execute(
        "INSERT INTO api_keys (id, prefix, hash, mode, capabilities, name, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        args![key.id, key.prefix, key.hash, key.mode, key.capabilities.join(","), key.name, now_rfc3339()],
    )?;
    Ok(())
}

pub fn find_by_hash(conn: &Db<'_>, hash: &[u8]) -> LedgerResult<Option<KeyRow>> {
    conn.query_opt(&format!("SELECT {COLUMNS} FROM api_keys WHERE hash = ?1"), args![hash], key_row)
}

pub fn list(conn: &Db<'_>) -> LedgerResult<Vec<KeyRow>> {
    conn.query(&format!("SELECT {COLUMNS} FROM api_keys ORDER BY id"), args![], key_row)
}

/// Revokes by id or by the printed prefix; returns how many keys it revoked.
pub fn revoke(conn: &Db<'_>, id_or_prefix: &str) -> LedgerResult<usize> {
    conn.execute(
        "UPDATE api_keys SET revoked_at = ?2 WHERE (id = ?1 OR prefix = ?1) AND revoked_at IS NULL",
        args![id_or_prefix, now_rfc3339()],
    )
}

pub fn count_active(conn: &Db<'_>) -> LedgerResult<i64> {
    conn.query_one("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL", args![], |r| r.get(0))
}
