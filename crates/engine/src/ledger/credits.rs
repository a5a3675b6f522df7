//! The credit balance and its ledger of debits, refunds and adjustments. The balance row and the
//! ledger row of a change are written together, so the balance always equals the ledger's sum.

use rusqlite::{params, Connection};

use super::{optional, LedgerError, LedgerResult};
use crate::domain::catalog::{UsageEntry, UsageKind};
use crate::error::{ApiError, ErrorCode};
use crate::time::now_rfc3339;

pub fn balance(conn: &Connection) -> LedgerResult<i64> {
    Ok(optional(conn.query_row("SELECT credits FROM credit_balance WHERE id = 1", [], |r| r.get(0)))?.unwrap_or(0))
}

fn record(
    conn: &Connection,
    request_id: Option<&str>,
    job_id: Option<&str>,
    delta: i64,
    kind: &str,
) -> LedgerResult<i64> {
    let after = balance(conn)? + delta;
    conn.prepare_cached(
        "INSERT INTO credit_balance (id, credits) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET credits = excluded.credits",
    )?
    .execute([after])?;
    conn.prepare_cached(
        "INSERT INTO credit_ledger (request_id, job_id, credits, kind, balance_after, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![request_id, job_id, delta, kind, after, now_rfc3339()])?;
    Ok(after)
}

/// Takes `amount` for a job, or refuses with 402 and changes nothing.
pub fn debit(conn: &Connection, job_id: &str, request_id: &str, amount: i64) -> LedgerResult<i64> {
    let have = balance(conn)?;
    if have < amount {
        return Err(LedgerError::Rejected(ApiError::new(
            ErrorCode::InsufficientBalance,
            format!("this job costs {amount} credits and the balance is {have}"),
        )));
    }
    record(conn, Some(request_id), Some(job_id), -amount, "debit")
}

pub fn refund(conn: &Connection, job_id: &str, request_id: &str, amount: i64) -> LedgerResult<i64> {
    record(conn, Some(request_id), Some(job_id), amount, "refund")
}

/// Sets the balance (an `adjustment` row records the difference).
pub fn set(conn: &Connection, credits: i64) -> LedgerResult<()> {
    let delta = credits - balance(conn)?;
    record(conn, None, None, delta, "adjustment").map(|_| ())
}

/// Sets the starting balance once, on a new ledger.
pub fn ensure_initial(conn: &Connection, credits: i64) -> LedgerResult<()> {
    let exists: i64 = conn.query_row("SELECT COUNT(*) FROM credit_balance", [], |r| r.get(0))?;
    if exists == 0 {
        set(conn, credits)?;
    }
    Ok(())
}

/// Newest first.
pub fn usage(conn: &Connection, limit: u32, offset: u32) -> LedgerResult<Vec<UsageEntry>> {
    let rows = conn
        .prepare_cached(
            "SELECT request_id, job_id, credits, kind, balance_after, created_at FROM credit_ledger \
             ORDER BY id DESC LIMIT ?1 OFFSET ?2",
        )?
        .query_map(params![limit, offset], |r| {
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
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balance_equals_the_ledger_sum() {
        let conn = Connection::open_in_memory().unwrap();
        let mut conn = conn;
        super::super::schema::migrate(&mut conn).unwrap();
        ensure_initial(&conn, 50).unwrap();
        ensure_initial(&conn, 999).unwrap(); // only once
        debit(&conn, "J1", "R1", 20).unwrap();
        refund(&conn, "J1", "R1", 20).unwrap();
        debit(&conn, "J2", "R2", 45).unwrap();
        assert!(debit(&conn, "J3", "R3", 6).is_err());
        assert_eq!(balance(&conn).unwrap(), 5);
        let sum: i64 = conn.query_row("SELECT SUM(credits) FROM credit_ledger", [], |r| r.get(0)).unwrap();
        assert_eq!(sum, 5);
        let usage = usage(&conn, 10, 0).unwrap();
        assert_eq!(usage[0].kind, UsageKind::Debit);
        assert_eq!(usage[0].credits, -45);
        assert_eq!(usage.len(), 4);
    }
}
