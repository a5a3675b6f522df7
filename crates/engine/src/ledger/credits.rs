//! The credit balance and its ledger of debits, refunds and adjustments. The balance row and the
//! ledger row of a change are written together, so the balance always equals the ledger's sum.
//! A change locks the balance row first: dispatches on several API servers take turns on it.
//!
//! On a farm, each API server's writer also holds credits back in a reserve of its own
//! (`credit_reserves`, see `pg_writer`), so its groups of dispatches debit a row no other server
//! waits on. The balance is the row plus every reserve; a change the row alone cannot pay for
//! first sweeps every reserve back into it (locked, in slot order), so a 402 still means the
//! whole balance is short.

use super::db::{args, Db};
use super::{LedgerError, LedgerResult};
use crate::domain::catalog::{UsageEntry, UsageKind};
use crate::error::{ApiError, ErrorCode};
use crate::time::now_rfc3339;

pub fn balance(conn: &Db<'_>) -> LedgerResult<i64> {
    let row: i64 =
        conn.query_opt("SELECT credits FROM credit_balance WHERE id = 1", args![], |r| r.get(0))?.unwrap_or(0);
    Ok(row + reserved(conn)?)
}

/// The credits the servers' reserves hold.
pub(super) fn reserved(conn: &Db<'_>) -> LedgerResult<i64> {
    conn.query_one("SELECT CAST(COALESCE(SUM(credits), 0) AS BIGINT) FROM credit_reserves", args![], |r| r.get(0))
}

/// The balance row, locked, holding at least `need` if the whole balance does: when the row
/// alone is short, every reserve is swept back into it first (each locked, in slot order).
fn pool_for_update(conn: &Db<'_>, need: i64) -> LedgerResult<i64> {
    let have = balance_for_update(conn)?;
    if have >= need {
        return Ok(have);
    }
    let sql = format!("SELECT slot, credits FROM credit_reserves ORDER BY slot{}", conn.for_update());
    let swept: i64 = conn.query(&sql, args![], |r| r.get::<i64>(1))?.into_iter().sum();
    if swept == 0 {
        return Ok(have);
    }
    conn.execute("UPDATE credit_reserves SET credits = 0 WHERE credits <> 0", args![])?;
    conn.execute("UPDATE credit_balance SET credits = ?1 WHERE id = 1", args![have + swept])?;
    Ok(have + swept)
}

/// The balance, locked until the transaction ends (the change that follows depends on it).
fn balance_for_update(conn: &Db<'_>) -> LedgerResult<i64> {
    let sql = format!("SELECT credits FROM credit_balance WHERE id = 1{}", conn.for_update());
    Ok(conn.query_opt(&sql, args![], |r| r.get(0))?.unwrap_or(0))
}

fn record(conn: &Db<'_>, request_id: Option<&str>, job_id: Option<&str>, delta: i64, kind: &str) -> LedgerResult<i64> {
    let have = balance_for_update(conn)?;
    record_from(conn, have, request_id, job_id, delta, kind)
}

/// [`record`] from the balance row's `have`, already read and locked by this transaction; the
/// ledger row's `balance_after` is the whole balance (reserves included).
fn record_from(
    conn: &Db<'_>,
    have: i64,
    request_id: Option<&str>,
    job_id: Option<&str>,
    delta: i64,
    kind: &str,
) -> LedgerResult<i64> {
    let row_after = have + delta;
    conn.execute(
        "INSERT INTO credit_balance (id, credits) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET credits = excluded.credits",
        args![row_after],
    )?;
    let after = row_after + reserved(conn)?;
    conn.execute(
        "INSERT INTO credit_ledger (request_id, job_id, credits, kind, balance_after, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        args![request_id, job_id, delta, kind, after, now_rfc3339()],
    )?;
    Ok(after)
}

/// Takes `amount` for a job, or refuses with 402 and changes nothing.
pub fn debit(conn: &Db<'_>, job_id: &str, request_id: &str, amount: i64) -> LedgerResult<i64> {
    let have = pool_for_update(conn, amount)?;
    if have < amount {
        return Err(short(amount, have));
    }
    record_from(conn, have, Some(request_id), Some(job_id), -amount, "debit")
}

/// The 402 of a job that costs `amount` when the balance is `have`.
pub(super) fn short(amount: i64, have: i64) -> LedgerError {
    LedgerError::Rejected(ApiError::new(
        ErrorCode::InsufficientBalance,
        format!("this job costs {amount} credits and the balance is {have}"),
    ))
}

pub fn refund(conn: &Db<'_>, job_id: &str, request_id: &str, amount: i64) -> LedgerResult<i64> {
    record(conn, Some(request_id), Some(job_id), amount, "refund")
}

/// Sets the balance (an `adjustment` row records the difference).
pub fn set(conn: &Db<'_>, credits: i64) -> LedgerResult<()> {
    // Every reserve swept back: the difference is from the whole balance.
    let delta = credits - pool_for_update(conn, i64::MAX)?;
    record(conn, None, None, delta, "adjustment").map(|_| ())
}

/// Sets the starting balance once, on a new ledger.
pub fn ensure_initial(conn: &Db<'_>, credits: i64) -> LedgerResult<()> {
    // Two processes opening a new shared ledger at once: the first row wins, the second is a no-op.
    let inserted =
        conn.execute("INSERT INTO credit_balance (id, credits) VALUES (1, 0) ON CONFLICT (id) DO NOTHING", args![])?;
    if inserted == 1 {
        set(conn, credits)?;
    }
    Ok(())
}

/// The sum of every change in the credit ledger (equal to the balance, always).
pub fn ledger_sum(conn: &Db<'_>) -> LedgerResult<i64> {
    conn.query_one("SELECT CAST(COALESCE(SUM(credits), 0) AS BIGINT) FROM credit_ledger", args![], |r| r.get(0))
}

/// Newest first.
pub fn usage(conn: &Db<'_>, limit: u32, offset: u32) -> LedgerResult<Vec<UsageEntry>> {
    conn.query(
        "SELECT request_id, job_id, credits, kind, balance_after, created_at FROM credit_ledger \
         ORDER BY id DESC LIMIT ?1 OFFSET ?2",
        args![limit, offset],
        |r| {
            let kind: String = r.get(3)?;
            Ok(UsageEntry {
                request_id: r.get(0)?,
                job_id: r.get(1)?,
                credits: r.get(2)?,
                kind: match kind.as_str() {
                    "debit" => UsageKind::Debit,
                    "refund" => UsageKind::Refund,
                    _ => UsageKind::Adjustment,
                },
                balance_after: r.get(4)?,
                created_at: r.get(5)?,
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Ledger;

    #[test]
    fn balance_equals_the_ledger_sum() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("l.db")).unwrap();
        ledger
            .write_blocking(|c| {
                ensure_initial(c, 50)?;
                ensure_initial(c, 999)?; // only once
                debit(c, "J1", "R1", 20)?;
                refund(c, "J1", "R1", 20)?;
                debit(c, "J2", "R2", 45)?;
                assert!(debit(c, "J3", "R3", 6).is_err());
                Ok(())
            })
            .unwrap();
        assert_eq!(ledger.read_blocking(balance).unwrap(), 5);
        assert_eq!(ledger.read_blocking(ledger_sum).unwrap(), 5);
        let usage = ledger.read_blocking(|c| usage(c, 10, 0)).unwrap();
        assert_eq!(usage[0].kind, UsageKind::Debit);
        assert_eq!(usage[0].credits, -45);
        assert_eq!(usage.len(), 4);
    }
}
