//! Rate limits shared by the API servers of a farm: each key's requests counted per fixed
//! window on the database's clock, so a key gets its allowance once across all the servers,
//! not once per server. (One machine needs none of this: its server keeps the count itself.)

use super::db::{args, Db};
use super::LedgerResult;

/// Counts one request of `subject` in the current window of `window_ms`; returns how many it
/// has made in this window (this one included) and the milliseconds left until the next.
pub fn spend(conn: &Db<'_>, subject: &str, window_ms: i64) -> LedgerResult<(i64, i64)> {
    let now = conn.now_ms_sql();
    conn.query_one(
        &format!(
            "INSERT INTO rate_windows (subject, window_no, n) VALUES (?1, {now} / ?2, 1) \
             ON CONFLICT (subject, window_no) DO UPDATE SET n = rate_windows.n + 1 \
             RETURNING n, ?2 - {now} % ?2"
        ),
        args![subject, window_ms],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Drops the counts of windows that ended more than a minute ago.
pub fn forget_old(conn: &Db<'_>, window_ms: i64) -> LedgerResult<usize> {
    conn.execute(
        &format!("DELETE FROM rate_windows WHERE window_no < ({} - 60000) / ?1", conn.now_ms_sql()),
        args![window_ms],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Ledger;

    #[test]
    fn each_request_is_counted_once_in_its_window_and_old_windows_go() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("ledger.db")).unwrap();
        // A window long enough that the test stays inside it.
        const WINDOW: i64 = 3_600_000;
        let counts: Vec<(i64, i64)> =
            (0..3).map(|_| ledger.write_blocking(|c| spend(c, "key:a", WINDOW)).unwrap()).collect();
        assert_eq!(counts.iter().map(|c| c.0).collect::<Vec<_>>(), [1, 2, 3]);
        assert!(counts.iter().all(|c| (1..=WINDOW).contains(&c.1)), "{counts:?}");
        assert_eq!(ledger.write_blocking(|c| spend(c, "key:b", WINDOW)).unwrap().0, 1, "keys count apart");
        // The current hour's window stays; one ten hours old goes.
        assert_eq!(ledger.write_blocking(|c| forget_old(c, WINDOW)).unwrap(), 0);
        ledger
            .write_blocking(|c| {
                c.execute("UPDATE rate_windows SET window_no = window_no - 10 WHERE subject = 'key:a'", args![])
            })
            .unwrap();
        assert_eq!(ledger.write_blocking(|c| forget_old(c, WINDOW)).unwrap(), 1);
        assert_eq!(ledger.write_blocking(|c| spend(c, "key:a", WINDOW)).unwrap().0, 1, "a new window starts at one");
    }
}
