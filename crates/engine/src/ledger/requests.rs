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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Ledger;

    fn row(id: &str) -> RequestLogRow {
        RequestLogRow {
            request_id: id.into(),
            api_key_id: Some("key".into()),
            method: "POST".into(),
            path: "/v1/extract".into(),
            status: 202,
            duration_us: 1500,
        }
    }

    /// Logged rows are written soon after, once each: on SQLite with the writer's next group;
    /// on PostgreSQL by the announcer, which lets rows alone wait a moment for company.
    #[test]
    fn logged_requests_are_written_once_soon_after() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("l.db")).unwrap();
        for id in ["a", "b", "c", "a"] {
            ledger.log_request(row(id));
        }
        let read = || {
            ledger
                .read_blocking(|c| {
                    c.query(
                        "SELECT request_id, status, duration_us FROM request_log ORDER BY request_id",
                        args![],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                })
                .unwrap()
        };
        let written: [(String, i64, i64); 3] =
            [("a".into(), 202, 1500), ("b".into(), 202, 1500), ("c".into(), 202, 1500)];
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut rows: Vec<(String, i64, i64)> = read();
        while rows.len() < written.len() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
            rows = read();
        }
        assert_eq!(rows, written);
    }
}
