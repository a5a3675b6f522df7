//! The request log: one row per API request, written in the background with the next commit
//! group so it never slows the request it records.

use super::db::{args, Db};

use super::LedgerResult;
use crate::time::now_rfc3339;

pub use crate::domain::job::RequestLogRow;

pub fn insert(conn: &Db<'_>, r: &RequestLogRow) -> LedgerResult<()> {
    conn.execute(
        "INSERT INTO request_log (request_id, api_key_id, method, path, status, duration_us, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (request_id) DO NOTHING",
        args![r.request_id, r.api_key_id, r.method, r.path, r.status, r.duration_us as i64, now_rfc3339()],
    )?;
    Ok(())
}
