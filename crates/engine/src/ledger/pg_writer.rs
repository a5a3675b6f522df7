//! Group commit on PostgreSQL (issue 31), as the SQLite ledger's writer does it: one thread per
//! ledger owns a write connection, takes every write waiting in its queue, runs each inside its
//! own SAVEPOINT of one READ COMMITTED transaction — so each stays atomic on its own and a
//! failing one rolls back alone — COMMITs the group once (one WAL flush) and only then answers
//! each caller. An answer still means "durable"; concurrent dispatches share a commit.
//!
//! A dispatch without an idempotency key or webhook joins the group as a row: the group's new
//! jobs are written set-wise and paid from this server's credit reserve ([`super::pg_dispatch`]);
//! a group of them alone — the common case under load — needs no savepoint, and is usually one
//! statement. A committed group's notifications, and the request-log rows, are written after
//! the commit by [`super::pg_announce`], off this thread.
//!
//! Writes in a group run one after another on one connection, so each sees the ones before it:
//! an idempotency key repeated inside a group finds its first job, and a balance that runs out
//! mid-group refuses exactly the dispatches it cannot pay for.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::Receiver;
use std::sync::Arc;

use super::db::{Db, Statements};
use super::pg_announce::Herald;
use super::pg_dispatch::{claim_slot, commit_jobs, insert_jobs, JobOp};
use super::pg_sql::{begin, Connect};
use super::{LedgerError, LedgerResult};

/// One write: `run` does its work inside the group's transaction and says whether it succeeded
/// (else its savepoint is rolled back); `finish` answers its caller with the group's commit
/// outcome — also for a write that never ran, because the database was away.
pub(super) struct Op {
    pub run: Box<dyn FnOnce(&Db<'_>) -> bool + Send>,
    pub finish: Box<dyn FnOnce(Result<(), LedgerError>) + Send>,
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

pub(super) fn run(
    connect: Connect,
    channel: String,
    clock: Arc<dyn crate::time::Clock>,
    queue: Receiver<Work>,
    announce: Herald,
) {
    crate::time::use_on_this_thread(clock);
    let mut conn: Option<(postgres::Client, Statements, i64)> = None;
    while let Some(group) = super::writer::next_group(&queue, MAX_GROUP) {
        if conn.as_ref().is_none_or(|(c, _, _)| c.is_closed()) {
            conn = match connect().and_then(|mut client| {
                // A group of dispatches alone is often one statement outside a transaction
                // block: it runs READ COMMITTED too, whatever the database's default.
                client.batch_execute("SET default_transaction_isolation TO 'read committed'")?;
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
            announce.notify(notes);
            tracing::debug!(ops, ms = started.elapsed().as_secs_f64() * 1000.0, "a group of ledger writes committed");
        }
    }
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
