//! Group commit on PostgreSQL (issue 31), as the SQLite ledger's writer does it: one thread per
//! ledger owns a write connection, takes every write waiting in its queue, runs each inside its
//! own SAVEPOINT of one READ COMMITTED transaction — so each stays atomic on its own and a
//! failing one rolls back alone — COMMITs the group once (one WAL flush) and only then answers
//! each caller. An answer still means "durable"; concurrent dispatches share a commit.
//!
//! A group's plain dispatches debit this writer's own credit reserve (`credit_reserves`, one row
//! per writer, its slot held with an advisory lock), not the balance row: every API server's
//! groups would otherwise take turns on that one row, each holding it through its commit's WAL
//! flush, so two servers committed no faster than one. The reserve is refilled from the row
//! now and then (see [`take_credit`]); when the row and the reserve are short together, every
//! reserve is swept back, so a 402 is as exact as on one machine.
//!
//! A group of plain dispatches alone — the common case under load — needs no savepoint: its
//! transaction is theirs, five statements whatever their number (BEGIN, the jobs with their
//! `queued` events, the credits, the debits, COMMIT). Its notifications, and the request-log
//! rows, are written after the commit by [`super::pg_announce`], off this thread.
//!
//! Writes in a group run one after another on one connection, so each sees the ones before it:
//! an idempotency key repeated inside a group finds its first job, and a balance that runs out
//! mid-group refuses exactly the dispatches it cannot pay for.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;

use postgres::IsolationLevel;

use super::db::{Db, Statements};
use super::jobs::OwnedJob;
use super::pg_announce::{self, Announcement};
use super::{LedgerError, LedgerResult};

/// One write: `run` does its work inside the group's transaction and says whether it succeeded
/// (else its savepoint is rolled back); `finish` answers its caller with the group's commit
/// outcome — also for a write that never ran, because the database was away.
pub(super) struct Op {
    pub run: Box<dyn FnOnce(&Db<'_>) -> bool + Send>,
    pub finish: Box<dyn FnOnce(Result<(), LedgerError>) + Send>,
}

/// A dispatch's new job, inserted with the others of its group set-wise (see [`insert_jobs`]);
/// `finish` hears its own outcome (a 402 when the balance ran out before it) or the commit's.
pub(super) struct JobOp {
    pub job: OwnedJob,
    pub finish: Box<dyn FnOnce(LedgerResult<()>) + Send>,
}

/// What the writer is sent.
pub(super) enum Work {
    Write(Op),
    Job(JobOp),
}

impl Work {
    pub(super) fn fail(self, err: &LedgerError) {
        match self {
            Work::Write(op) => (op.finish)(Err(err.clone())),
            Work::Job(job) => (job.finish)(Err(err.clone())),
        }
    }
}

/// Most writes committed together; bounds the time a caller waits behind others.
const MAX_GROUP: usize = 256;

/// How the writer reaches the database: a fresh connection with the realm's search path.
pub(super) type Connect = Box<dyn Fn() -> LedgerResult<postgres::Client> + Send>;

pub(super) fn run(
    connect: Connect,
    channel: String,
    clock: Arc<dyn crate::time::Clock>,
    queue: Receiver<Work>,
    announce: SyncSender<Announcement>,
) {
    crate::time::use_on_this_thread(clock);
    let mut conn: Option<(postgres::Client, Statements, i64)> = None;
    while let Some(group) = super::writer::next_group(&queue, MAX_GROUP) {
        if conn.as_ref().is_none_or(|(c, _, _)| c.is_closed()) {
            conn = match connect().and_then(|mut client| {
                let slot = claim_slot(&mut client, &channel)?;
                Ok((client, slot))
            }) {
                Ok((client, slot)) => Some((client, Statements::new(), slot)),
                Err(e) => {
                    // The database is away: this group fails (callers retry on `busy`), the
                    // next one connects again.
                    fail_all(group, &e);
                    continue;
                }
            };
        }
        if let Some((client, statements, slot)) = conn.as_mut() {
            let (ops, started) = (group.len(), std::time::Instant::now());
            let notes = commit_group(client, statements, &channel, *slot, group);
            pg_announce::notify(&announce, notes);
            tracing::debug!(ops, ms = started.elapsed().as_secs_f64() * 1000.0, "a group of ledger writes committed");
        }
    }
}

/// Reserve slots a ledger's writers can hold at once (more share the last).
const SLOTS: i32 = 64;

/// The reserve this writer debits: the lowest slot no live writer of this ledger holds, claimed
/// with a session advisory lock on its connection (gone with the connection, so a dead
/// server's slot — and the credits in its reserve — pass to the next writer that starts), its
/// row made if new.
fn claim_slot(client: &mut postgres::Client, channel: &str) -> LedgerResult<i64> {
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

/// Commits one group and answers each of its callers; returns the notifications to send.
fn commit_group(
    client: &mut postgres::Client,
    statements: &mut Statements,
    channel: &str,
    slot: i64,
    group: Vec<Work>,
) -> Vec<String> {
    let (mut writes, mut jobs) = (Vec::new(), Vec::new());
    for work in group {
        match work {
            Work::Write(op) => writes.push(op),
            Work::Job(job) => jobs.push(job),
        }
    }
    if writes.is_empty() {
        return commit_jobs(client, statements, slot, jobs);
    }
    let mut tx = match begin(client) {
        Ok(tx) => tx,
        Err(e) => {
            let e = LedgerError::from(e);
            writes.into_iter().for_each(|op| (op.finish)(Err(e.clone())));
            jobs.into_iter().for_each(|job| (job.finish)(Err(e.clone())));
            return Vec::new();
        }
    };
    let mut ran = Vec::with_capacity(writes.len());
    // The group's notifications, sent once it has committed.
    let mut notes: Vec<String> = Vec::new();
    let mut broken: Option<LedgerError> = None;
    for op in writes {
        if let Some(e) = &broken {
            (op.finish)(Err(e.clone()));
            continue;
        }
        let savepoint = match tx.savepoint("op") {
            Ok(sp) => sp,
            Err(e) => {
                // The transaction itself is gone (the connection dropped): the rest fail too.
                let e = LedgerError::from(e);
                (op.finish)(Err(e.clone()));
                broken = Some(e);
                continue;
            }
        };
        let db = Db::postgres_in_group(savepoint, statements, channel);
        let ok = catch_unwind(AssertUnwindSafe(|| (op.run)(&db))).unwrap_or_else(|_| {
            tracing::error!("a ledger operation panicked; its changes were rolled back");
            false
        });
        // Released into the group's transaction, or (dropped) rolled back to.
        let (savepoint, kept) = db.into_postgres_and_notes();
        let released = match savepoint {
            Some(sp) if ok => sp.commit().map_err(LedgerError::from),
            _ => Ok(()),
        };
        match released {
            Ok(()) => {
                if ok {
                    notes.extend(kept);
                }
                ran.push(op.finish)
            }
            Err(e) => {
                (op.finish)(Err(e.clone()));
                broken = Some(e);
            }
        }
    }
    // The group's new jobs, set-wise, in a savepoint of their own: if their statements fail,
    // they fail together and the group's other writes still commit.
    let mut job_outcomes: Vec<(JobOp, Option<LedgerError>)> = Vec::new();
    if !jobs.is_empty() {
        match &broken {
            Some(e) => jobs.into_iter().for_each(|job| (job.finish)(Err(e.clone()))),
            None => match tx.savepoint("jobs") {
                Err(e) => {
                    let e = LedgerError::from(e);
                    jobs.into_iter().for_each(|job| (job.finish)(Err(e.clone())));
                    broken = Some(e);
                }
                Ok(mut sp) => {
                    let inserted = insert_jobs(&mut sp, statements, slot, &jobs).and_then(|(refused, kept)| {
                        sp.commit()?;
                        Ok((refused, kept))
                    });
                    match inserted {
                        Ok((refused, kept)) => {
                            notes.extend(kept);
                            job_outcomes = jobs.into_iter().zip(refused).collect();
                        }
                        Err(e) => {
                            let e = LedgerError::from(e);
                            jobs.into_iter().for_each(|job| (job.finish)(Err(e.clone())));
                        }
                    }
                }
            },
        }
    }
    let outcome = match broken {
        Some(e) => {
            drop(tx); // rolled back
            Err(e)
        }
        None => tx.commit().map_err(LedgerError::from),
    };
    for finish in ran {
        finish(outcome.clone());
    }
    for (job, refused) in job_outcomes {
        (job.finish)(match refused {
            Some(e) => Err(e),
            None => outcome.clone(),
        });
    }
    if outcome.is_ok() {
        notes
    } else {
        Vec::new()
    }
}

/// A group of new jobs alone: the transaction is theirs, so no savepoint — if a statement
/// fails, they fail together, as they would in their savepoint.
fn commit_jobs(client: &mut postgres::Client, statements: &mut Statements, slot: i64, jobs: Vec<JobOp>) -> Vec<String> {
    let committed = begin(client).and_then(|mut tx| {
        let inserted = insert_jobs(&mut tx, statements, slot, &jobs)?;
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

/// A group's transaction: READ COMMITTED whatever the database's default (the ledger's row
/// locks, not snapshots, order its writers).
fn begin(client: &mut postgres::Client) -> Result<postgres::Transaction<'_>, postgres::Error> {
    client.build_transaction().isolation_level(IsolationLevel::ReadCommitted).start()
}

/// `sql` prepared once per connection: the set-wise statements run every group, and a prepare
/// is a round trip of its own.
fn prepared<C: postgres::GenericClient>(
    client: &mut C,
    statements: &mut Statements,
    sql: &str,
) -> Result<postgres::Statement, postgres::Error> {
    if let Some(st) = statements.get(sql) {
        return Ok(st.clone());
    }
    let st = client.prepare(sql)?;
    statements.insert(sql.to_string(), st.clone());
    Ok(st)
}

type Params<'p> = [&'p (dyn postgres::types::ToSql + Sync)];

fn exec(
    tx: &mut postgres::Transaction<'_>,
    statements: &mut Statements,
    sql: &str,
    params: &Params<'_>,
) -> Result<u64, postgres::Error> {
    let st = prepared(tx, statements, sql)?;
    tx.execute(&st, params)
}

fn rows(
    tx: &mut postgres::Transaction<'_>,
    statements: &mut Statements,
    sql: &str,
    params: &Params<'_>,
) -> Result<Vec<postgres::Row>, postgres::Error> {
    let st = prepared(tx, statements, sql)?;
    tx.query(&st, params)
}

fn row_opt(
    tx: &mut postgres::Transaction<'_>,
    statements: &mut Statements,
    sql: &str,
    params: &Params<'_>,
) -> Result<Option<postgres::Row>, postgres::Error> {
    let st = prepared(tx, statements, sql)?;
    tx.query_opt(&st, params)
}

fn row_one(
    tx: &mut postgres::Transaction<'_>,
    statements: &mut Statements,
    sql: &str,
    params: &Params<'_>,
) -> Result<postgres::Row, postgres::Error> {
    let st = prepared(tx, statements, sql)?;
    tx.query_one(&st, params)
}

/// The new jobs of a group in a few statements, whatever their number: every job and its
/// `queued` event inserted first (one multi-row statement, before any lock), then the credits taken (the
/// writer's reserve, else the balance row: [`take_credit`]) — each job in order while they
/// last (the rest refused with the 402 their dispatch alone would have had, and their rows
/// removed), one multi-row insert for the debits and the credits written back once. Returns
/// each job's refusal (or none) and the notifications to send.
fn insert_jobs(
    tx: &mut postgres::Transaction<'_>,
    statements: &mut Statements,
    slot: i64,
    jobs: &[JobOp],
) -> Result<(Vec<Option<LedgerError>>, Vec<String>), postgres::Error> {
    let now = crate::time::now_rfc3339();
    let all: Vec<&OwnedJob> = jobs.iter().map(|j| &j.job).collect();
    let text = |f: &dyn Fn(&OwnedJob) -> String| all.iter().map(|j| f(j)).collect::<Vec<String>>();
    let ids = text(&|j| j.public_id.clone());
    let costs: Vec<i64> = all.iter().map(|j| j.credits_cost).collect();
    let versions: Vec<i64> = all.iter().map(|j| i64::from(j.request_version)).collect();
    let keys: Vec<Option<String>> = all.iter().map(|j| j.api_key_id.clone()).collect();
    let extras: Vec<String> = costs.iter().map(|c| serde_json::json!({ "credits_cost": c }).to_string()).collect();
    // One statement: PostgreSQL checks the events' references to the jobs at its end.
    exec(
        tx,
        statements,
        "WITH new_jobs AS (\
           INSERT INTO jobs (public_id, job_type, status, request_json, credits_cost, request_id, api_key_id, \
           created_at, latest_seq, request_version) \
           SELECT id, kind, 'NOT_STARTED', request, cost, request_id, key_id, $8, 1, version \
           FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::bigint[]) \
           AS j(id, kind, request, cost, request_id, key_id, version)) \
         INSERT INTO job_events (job_id, seq, event_type, stage, message, artifacts_json, extra_json, created_at) \
         SELECT id, 1, 'queued', NULL, 'queued', '[]', extra, $8 FROM unnest($1::text[], $9::text[]) AS e(id, extra)",
        &[
            &ids,
            &text(&|j| j.job_type.clone()),
            &text(&|j| j.request.to_string()),
            &costs,
            &text(&|j| j.request_id.clone()),
            &keys,
            &versions,
            &now,
            &extras,
        ],
    )?;

    let need: i64 = costs.iter().sum();
    let credit = take_credit(tx, statements, slot, need)?;
    let mut have = credit.pool;
    let (mut refused, mut gone) = (Vec::with_capacity(all.len()), Vec::new());
    let (mut taken_ids, mut taken_requests, mut debits, mut after) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for job in &all {
        if have < job.credits_cost {
            refused.push(Some(super::credits::short(job.credits_cost, have + credit.elsewhere)));
            gone.push(job.public_id.clone());
        } else {
            have -= job.credits_cost;
            refused.push(None);
            taken_ids.push(job.public_id.clone());
            taken_requests.push(job.request_id.clone());
            debits.push(-job.credits_cost);
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
            &[&taken_requests, &taken_ids, &debits, &after, &now],
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

/// Answers writes that never ran with `err`.
fn fail_all(group: Vec<Work>, err: &LedgerError) {
    for work in group {
        work.fail(err);
    }
}

/// A write as an [`Op`]: `f`'s result is kept until the commit says whether it stands, then
/// `reply` hears it (or the commit's error).
pub(super) fn op<T, F, R>(f: F, reply: R) -> Op
where
    T: Send + 'static,
    F: FnOnce(&Db<'_>) -> LedgerResult<T> + Send + 'static,
    R: FnOnce(LedgerResult<T>) + Send + 'static,
{
    let result = Arc::new(std::sync::Mutex::new(None::<LedgerResult<T>>));
    let kept = result.clone();
    Op {
        run: Box::new(move |db| {
            let r = f(db);
            let ok = r.is_ok();
            *kept.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
            ok
        }),
        finish: Box::new(move |commit| {
            let own = result.lock().unwrap_or_else(|p| p.into_inner()).take();
            reply(match (commit, own) {
                (Ok(()), Some(r)) => r,
                // It failed on its own: its error, whatever became of the others.
                (_, Some(Err(e))) => Err(e),
                (Err(e), _) => Err(e),
                // It panicked (as on SQLite, its caller hears `Closed`).
                (Ok(()), None) => Err(LedgerError::Closed),
            })
        }),
    }
}
