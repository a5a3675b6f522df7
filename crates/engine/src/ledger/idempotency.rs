//! `Idempotency-Key`: the same key and body within 24 h returns the first answer and creates
//! nothing; the same key with another body is refused.

use rusqlite::{params, Connection};

use super::{optional, LedgerResult};

pub const WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    pub operation: String,
    pub body_sha256: String,
    pub response_json: String,
}

/// The answer remembered for this key, if one was stored within the window before `now_ms`.
pub fn find(conn: &Connection, api_key_id: &str, key: &str, now_ms: i64) -> LedgerResult<Option<Remembered>> {
    optional(
        conn.prepare_cached(
            "SELECT operation, body_sha256, response_json FROM idempotency_keys \
             WHERE api_key_id = ?1 AND key = ?2 AND created_ms > ?3",
        )?
        .query_row(params![api_key_id, key, now_ms - WINDOW_MS], |r| {
            Ok(Remembered { operation: r.get(0)?, body_sha256: r.get(1)?, response_json: r.get(2)? })
        }),
    )
}

/// Remembers an answer, replacing an expired one under the same key.
pub fn remember(conn: &Connection, api_key_id: &str, key: &str, r: &Remembered, now_ms: i64) -> LedgerResult<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO idempotency_keys (api_key_id, key, operation, body_sha256, response_json, created_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![api_key_id, key, r.operation, r.body_sha256, r.response_json, now_ms])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_expire_after_the_window() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        let r = Remembered { operation: "x".into(), body_sha256: "h".into(), response_json: "{}".into() };
        remember(&conn, "K", "abc", &r, 1_000).unwrap();
        assert_eq!(find(&conn, "K", "abc", 2_000).unwrap(), Some(r.clone()));
        assert_eq!(find(&conn, "K", "abc", 1_000 + WINDOW_MS).unwrap(), None);
        assert_eq!(find(&conn, "other-key", "abc", 2_000).unwrap(), None);
    }
}
