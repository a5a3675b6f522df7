//! `Idempotency-Key`: the same key and body within 24 h returns the first answer and creates
//! nothing; the same key with another body is refused.

use super::db::{args, Db};
use super::LedgerResult;

pub const WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    pub operation: String,
    pub body_sha256: String,
    pub response_json: String,
}

/// The answer remembered for this key, if one was stored within the window before `now_ms`.
pub fn find(conn: &Db<'_>, api_key_id: &str, key: &str, now_ms: i64) -> LedgerResult<Option<Remembered>> {
    conn.query_opt(
        "SELECT operation, body_sha256, response_json FROM idempotency_keys \
         WHERE api_key_id = ?1 AND key = ?2 AND created_ms > ?3",
        args![api_key_id, key, now_ms - WINDOW_MS],
        |r| Ok(Remembered { operation: r.get(0)?, body_sha256: r.get(1)?, response_json: r.get(2)? }),
    )
}

/// Remembers an answer, replacing an expired one under the same key.
pub fn remember(conn: &Db<'_>, api_key_id: &str, key: &str, r: &Remembered, now_ms: i64) -> LedgerResult<()> {
    conn.execute(
        "INSERT INTO idempotency_keys (api_key_id, key, operation, body_sha256, response_json, created_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (api_key_id, key) DO UPDATE SET operation = excluded.operation, \
         body_sha256 = excluded.body_sha256, response_json = excluded.response_json, created_ms = excluded.created_ms",
        args![api_key_id, key, r.operation, r.body_sha256, r.response_json, now_ms],
    )?;
    Ok(())
}

/// Locks the key against a second server answering the same key at the same moment: the second
/// waits for the first's commit and then finds its answer (PostgreSQL; SQLite has one writer).
pub fn lock(conn: &Db<'_>, api_key_id: &str, key: &str) -> LedgerResult<()> {
    conn.lock_for_transaction(&format!("figur-idempotency {api_key_id} {key}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Ledger;

    #[test]
    fn answers_expire_after_the_window() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("l.db")).unwrap();
        let r = Remembered { operation: "x".into(), body_sha256: "h".into(), response_json: "{}".into() };
        let stored = r.clone();
        ledger.write_blocking(move |c| remember(c, "K", "abc", &stored, 1_000)).unwrap();
        assert_eq!(ledger.read_blocking(|c| find(c, "K", "abc", 2_000)).unwrap(), Some(r.clone()));
        assert_eq!(ledger.read_blocking(|c| find(c, "K", "abc", 1_000 + WINDOW_MS)).unwrap(), None);
        assert_eq!(ledger.read_blocking(|c| find(c, "other-key", "abc", 2_000)).unwrap(), None);
    }
}
