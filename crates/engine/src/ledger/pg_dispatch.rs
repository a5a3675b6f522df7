//! A group's new jobs and their credits (issue 31): the set-wise statements the PostgreSQL
//! writer ([`super::pg_writer`]) runs for dispatches, and the per-server credit reserve they
//! are paid from.
//!
//! A group's plain dispatches debit this writer's own credit reserve (`credit_reserves`, one row
//! per writer, its slot held with an advisory lock), not the balance row: every API server's
//! groups would otherwise take turns on that one row, each holding it through its commit's WAL
//! flush, so two servers committed no faster than one. The reserve is refilled from the row
//! now and then (see [`take_credit`]); when the row and the reserve are short together, every
//! reserve is swept back, so a 402 is as exact as on one machine.

use super::db::Statements;
use super::jobs::OwnedJob;
use super::pg_sql::{begin, exec, row_one, row_opt, rows};
use super::{LedgerError, LedgerResult};

/// A dispatch's new job, inserted with the others of its group set-wise (see [`commit_jobs`]);
/// `finish` hears its own outcome (a 402 when the balance ran out before it) or the commit's.
pub(super) struct JobOp {
    pub job: OwnedJob,
    pub finish: Box<dyn FnOnce(LedgerResult<()>) + Send>,
}

/// Reserve slots a ledger's writers can hold at once (more share the last).
const SLOTS: i32 = 64;

/// The reserve this writer debits: the lowest slot no live writer of this ledger holds, claimed
/// with a session advisory lock on its connection (gone with the connection, so a dead
/// server's slot — and the credits in its reserve — pass to the next writer that starts), its
/// row made if new.
pub(super) fn claim_slot(client: &mut postgres::Client, channel: &str) -> LedgerResult<i64> {
    let mut claimed = SLOTS - 1;
    for slot in 0..SLOTS {
        let free: bool = client.query_one("SELECT pg_try_advisory_lock(hashtext($1), $2)", &[&channel, &slot])?.get(0);
        if free {
            claimed = slot;
            break;
        }
    }
    let slot = i64::from(claimed);
    client.execute(
        "INSERT INTO credit_reserves (slot, credits) VALUES ($1, 0) ON CONFLICT (slot) DO NOTHING",
        &[&slot],
    )?;
    Ok(slot)
}

/// A group of new jobs alone. Usually one statement, its own transaction ([`paid_from_reserve`]);
/// when this server's reserve is short, one transaction of a few ([`insert_jobs_with`]) — no
/// savepoint, as the transaction is theirs: if a statement fails, they fail together, as they
/// would in their savepoint.
pub(super) fn commit_jobs(
    client: &mut postgres::Client,
    statements: &mut Statements,
    slot: i64,
    jobs: Vec<JobOp>,
) -> Vec<String> {
    let columns = Columns::of(&jobs);
    let committed = paid_from_reserve(client, statements, slot, &columns).and_then(|paid| {
        if paid {
            return Ok((vec![None; jobs.len()], vec![NEW_JOBS.to_string()]));
        }
        let mut tx = begin(client)?;
        let inserted = insert_jobs_with(&mut tx, statements, slot, &columns)?;
        tx.commit()?;
        Ok(inserted)
    });
    match committed {
        Ok((refused, notes)) => {
            for (job, refused) in jobs.into_iter().zip(refused) {
                (job.finish)(refused.map_or(Ok(()), Err));
            }
            notes
        }
        Err(e) => {
            let e = LedgerError::from(e);
            jobs.into_iter().for_each(|job| (job.finish)(Err(e.clone())));
            Vec::new()
        }
    }
}

/// A group's new jobs as the columns its statements take (one array per column).
struct Columns {
    ids: Vec<String>,
    kinds: Vec<String>,
    requests: Vec<String>,
    costs: Vec<i64>,
    request_ids: Vec<String>,
    keys: Vec<Option<String>>,
    versions: Vec<i64>,
    /// Each `queued` event's `extra_json`.
    extras: Vec<String>,
    now: String,
}

impl Columns {
    fn of(jobs: &[JobOp]) -> Columns {
        let all = || jobs.iter().map(|j| &j.job);
        let costs: Vec<i64> = all().map(|j| j.credits_cost).collect();
        Columns {
            ids: all().map(|j| j.public_id.clone()).collect(),
            kinds: all().map(|j| j.job_type.clone()).collect(),
            requests: all().map(|j| j.request.to_string()).collect(),
            request_ids: all().map(|j| j.request_id.clone()).collect(),
            keys: all().map(|j| j.api_key_id.clone()).collect(),
            versions: all().map(|j| i64::from(j.request_version)).collect(),
            extras: costs.iter().map(|c| serde_json::json!({ "credits_cost": c }).to_string()).collect(),
            costs,
            now: crate::time::now_rfc3339(),
        }
    }
}

/// The insert of a group's new jobs, from the columns `$1`–`$7` of [`Columns`] and the time
/// `$8`, with `$guard` (a `WHERE`, or nothing) after it: one text for both of the statements
/// that write them.
macro_rules! insert_new_jobs {
    ($guard:literal) => {
        concat!(
            "INSERT INTO jobs (public_id, job_type, status, request_json, credits_cost, request_id, api_key_id, \
             created_at, latest_seq, request_version) \
             SELECT id, kind, 'NOT_STARTED', request, cost, request_id, key_id, $8, 1, version \
             FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::bigint[]) \
             AS j(id, kind, request, cost, request_id, key_id, version)",
            $guard
        )
    };
}

/// The insert of their `queued` events (ids `$1`, time `$8`, extras `$9`), as [`insert_new_jobs`].
/// With the jobs in one statement: PostgreSQL checks the events' references at its end.
macro_rules! insert_queued_events {
    ($guard:literal) => {
        concat!(
            "INSERT INTO job_events (job_id, seq, event_type, stage, message, artifacts_json, extra_json, created_at) \
             SELECT id, 1, 'queued', NULL, 'queued', '[]', extra, $8 FROM unnest($1::text[], $9::text[]) AS e(id, extra)",
            $guard
        )
    };
}

/// The common case in one round trip: one statement, committed on its own, that takes the
/// group's credits from this server's reserve — only if the reserve holds them all — and only
/// then inserts every job, its `queued` event and its debit (`balance_after` counted down in
/// the jobs' order, as [`insert_jobs_with`] counts it). Says whether it did; if not, nothing
/// was written.
fn paid_from_reserve(
    client: &mut postgres::Client,
    statements: &mut Statements,
    slot: i64,
    c: &Columns,
) -> Result<bool, postgres::Error> {
    let need: i64 = c.costs.iter().sum();
    let debited = exec(
        client,
        statements,
        concat!(
            "WITH spent AS (\
               UPDATE credit_reserves SET credits = credits - $10 WHERE slot = $11 AND credits >= $10 \
               RETURNING credits, (SELECT COALESCE(MAX(credits), 0) FROM credit_balance WHERE id = 1) \
               + (SELECT CAST(COALESCE(SUM(credits), 0) AS BIGINT) FROM credit_reserves WHERE slot <> $11) \
               AS elsewhere), \
             new_jobs AS (",
            insert_new_jobs!(" WHERE EXISTS (SELECT 1 FROM spent)"),
            "), new_events AS (",
            insert_queued_events!(" WHERE EXISTS (SELECT 1 FROM spent)"),
            ") \
             INSERT INTO credit_ledger (request_id, job_id, credits, kind, balance_after, created_at) \
             SELECT d.request_id, d.id, -d.cost, 'debit', \
               CAST(s.credits + $10 + s.elsewhere - SUM(d.cost) OVER (ORDER BY d.n) AS BIGINT), $8 \
             FROM spent AS s, unnest($1::text[], $5::text[], $4::bigint[]) WITH ORDINALITY AS d(id, request_id, cost, n)"
        ),
        &[
            &c.ids,
            &c.kinds,
            &c.requests,
            &c.costs,
            &c.request_ids,
            &c.keys,
            &c.versions,
            &c.now,
            &c.extras,
            &need,
            &slot,
        ],
    )?;
    Ok(debited > 0)
}

/// The new jobs of a mixed group, in its savepoint; see [`insert_jobs_with`].
pub(super) fn insert_jobs(
    tx: &mut postgres::Transaction<'_>,
    statements: &mut Statements,
    slot: i64,
    jobs: &[JobOp],
) -> Result<(Vec<Option<LedgerError>>, Vec<String>), postgres::Error> {
    insert_jobs_with(tx, statements, slot, &Columns::of(jobs))
}

/// The new jobs of a group in a few statements, whatever their number: every job and its
/// `queued` event inserted first (one multi-row statement, before any lock), then the credits
/// taken (the writer's reserve, else the balance row: [`take_credit`]) — each job in order
/// while they last (the rest refused with the 402 their dispatch alone would have had, and
/// their rows removed), one multi-row insert for the debits and the credits written back once.
/// Returns each job's refusal (or none) and the notifications to send.
fn insert_jobs_with(
    tx: &mut postgres::Transaction<'_>,
    statements: &mut Statements,
    slot: i64,
    c: &Columns,
) -> Result<(Vec<Option<LedgerError>>, Vec<String>), postgres::Error> {
    exec(
        tx,
        statements,
        concat!("WITH new_jobs AS (", insert_new_jobs!(""), ") ", insert_queued_events!("")),
        &[&c.ids, &c.kinds, &c.requests, &c.costs, &c.request_ids, &c.keys, &c.versions, &c.now, &c.extras],
    )?;

    let need: i64 = c.costs.iter().sum();
    let credit = take_credit(tx, statements, slot, need)?;
    let mut have = credit.pool;
    let (mut refused, mut gone) = (Vec::with_capacity(c.ids.len()), Vec::new());
    let (mut taken_ids, mut taken_requests, mut debits, mut after) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for ((id, request_id), &cost) in c.ids.iter().zip(&c.request_ids).zip(&c.costs) {
        if have < cost {
            refused.push(Some(super::credits::short(cost, have + credit.elsewhere)));
            gone.push(id.clone());
        } else {
            have -= cost;
            refused.push(None);
            taken_ids.push(id.clone());
            taken_requests.push(request_id.clone());
            debits.push(-cost);
            after.push(have + credit.elsewhere);
        }
    }
    if !gone.is_empty() {
        exec(tx, statements, "DELETE FROM job_events WHERE job_id = ANY($1)", &[&gone])?;
        exec(tx, statements, "DELETE FROM jobs WHERE public_id = ANY($1)", &[&gone])?;
    }
    if !taken_ids.is_empty() {
        exec(
            tx,
            statements,
            "INSERT INTO credit_ledger (request_id, job_id, credits, kind, balance_after, created_at) \
             SELECT request_id, id, credits, 'debit', after, $5 \
             FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS d(request_id, id, credits, after)",
            &[&taken_requests, &taken_ids, &debits, &after, &c.now],
        )?;
    }
    put_credit(tx, statements, slot, &credit, have)?;
    let notes = if taken_ids.is_empty() { Vec::new() } else { vec![NEW_JOBS.to_string()] };
    Ok((refused, notes))
}

/// A group's one notification for all its new jobs (not one per job, as
/// `jobs::insert_event_row` sends for later events): every listening process wakes its
/// schedulers once, and a woken scheduler claims while it has room. Nobody waits on a new job's
/// `queued` event — its id is first known from the 202, sent after the commit, and a waiter
/// reads the ledger after subscribing — so no per-job wake-up is lost, and every server's
/// listener no longer hears every dispatch of the farm.
const NEW_JOBS: &str = "new-jobs";

/// Credits a group holds back from the balance row when it refills its server's reserve: a
/// few hundred dispatches' worth, so a refill (which waits on the row) is rare, yet little
/// enough that a near-empty balance is swept back together quickly.
const RESERVE_GROUPS: i64 = 32;

/// What a group may spend, and from where (see [`take_credit`]).
struct Credit {
    /// Credits this group holds, locked: its reserve alone, or the balance row's pool.
    pool: i64,
    /// The rest of the balance (other reserves, read unlocked), for each debit's
    /// `balance_after` and a 402's sentence.
    elsewhere: i64,
    /// Whether `pool` is the balance row's (the row and this reserve, or every reserve swept
    /// into it) rather than this server's reserve alone.
    from_row: bool,
}

/// The credits for a group that needs `need`, locked until the commit. First this server's
/// reserve alone: one conditional update of its own row (no other server waits on it; a
/// reserve too small is neither changed nor locked). When that is short, the balance row is
/// locked, then the reserve — the order every path takes them in — and if those two are still
/// short, every reserve is swept into the row (locked in slot order), so a refusal is exact:
/// the whole balance is short.
fn take_credit(
    tx: &mut postgres::Transaction<'_>,
    statements: &mut Statements,
    slot: i64,
    need: i64,
) -> Result<Credit, postgres::Error> {
    let spent = row_opt(
        tx,
        statements,
        "UPDATE credit_reserves SET credits = credits - $2 WHERE slot = $1 AND credits >= $2 \
         RETURNING credits, (SELECT COALESCE(MAX(credits), 0) FROM credit_balance WHERE id = 1) \
         + (SELECT CAST(COALESCE(SUM(credits), 0) AS BIGINT) FROM credit_reserves WHERE slot <> $1)",
        &[&slot, &need],
    )?;
    if let Some(row) = spent {
        let (left, elsewhere): (i64, i64) = (row.get(0), row.get(1));
        return Ok(Credit { pool: left + need, elsewhere, from_row: false });
    }
    let row: i64 = row_opt(tx, statements, "SELECT credits FROM credit_balance WHERE id = 1 FOR UPDATE", &[])?
        .map(|r| r.get(0))
        .unwrap_or(0);
    let mine: i64 =
        row_one(tx, statements, "SELECT credits FROM credit_reserves WHERE slot = $1 FOR UPDATE", &[&slot])?.get(0);
    if row + mine >= need {
        let others = "SELECT CAST(COALESCE(SUM(credits), 0) AS BIGINT) FROM credit_reserves WHERE slot <> $1";
        let others: i64 = row_one(tx, statements, others, &[&slot])?.get(0);
        exec(tx, statements, "UPDATE credit_reserves SET credits = 0 WHERE slot = $1", &[&slot])?;
        return Ok(Credit { pool: row + mine, elsewhere: others, from_row: true });
    }
    let swept: i64 = rows(tx, statements, "SELECT credits FROM credit_reserves ORDER BY slot FOR UPDATE", &[])?
        .iter()
        .map(|r| r.get::<_, i64>(0))
        .sum();
    exec(tx, statements, "UPDATE credit_reserves SET credits = 0 WHERE credits <> 0", &[])?;
    Ok(Credit { pool: row + swept, elsewhere: 0, from_row: true })
}

/// Writes back what the group left of the balance row's pool: a refill of this server's
/// reserve (what the next [`RESERVE_GROUPS`] groups like this one would need) and the rest to
/// the row. (A group paid from its reserve alone has written it already.)
fn put_credit(
    tx: &mut postgres::Transaction<'_>,
    statements: &mut Statements,
    slot: i64,
    credit: &Credit,
    left: i64,
) -> Result<(), postgres::Error> {
    if !credit.from_row {
        return Ok(());
    }
    let spent = credit.pool - left;
    let refill = left.min(spent.max(1).saturating_mul(RESERVE_GROUPS));
    exec(tx, statements, "UPDATE credit_reserves SET credits = $2 WHERE slot = $1", &[&slot, &refill])?;
    exec(tx, statements, "UPDATE credit_balance SET credits = $1 WHERE id = 1", &[&(left - refill)])?;
    Ok(())
}
