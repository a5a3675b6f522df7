//! Uploaded images: the store key and what the upload check learned about the file.

use rusqlite::{params, Connection};

use super::{optional, LedgerResult};
use crate::time::now_rfc3339;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRow {
    pub key: String,
    pub mime: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub sha256: String,
    pub original_name: String,
}

pub fn insert(conn: &Connection, u: &UploadRow) -> LedgerResult<()> {
    conn.execute(
        "INSERT INTO uploads (key, mime, width, height, bytes, sha256, original_name, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![u.key, u.mime, u.width, u.height, u.bytes as i64, u.sha256, u.original_name, now_rfc3339()],
    )?;
    Ok(())
}

pub fn get(conn: &Connection, key: &str) -> LedgerResult<Option<UploadRow>> {
    optional(
        conn.prepare_cached(
            "SELECT key, mime, width, height, bytes, sha256, original_name FROM uploads WHERE key = ?1",
        )?
        .query_row([key], |r| {
            Ok(UploadRow {
                key: r.get(0)?,
                mime: r.get(1)?,
                width: r.get(2)?,
                height: r.get(3)?,
                bytes: r.get::<_, i64>(4)? as u64,
                sha256: r.get(5)?,
                original_name: r.get(6)?,
            })
        }),
    )
}
