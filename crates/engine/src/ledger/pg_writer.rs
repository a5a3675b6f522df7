//! Group commit on PostgreSQL (issue 31), as the SQLite ledger's writer does it: one thread per
//! ledger owns a write connection, takes every write waiting in its queue, runs each inside its
//! own SAVEPOINT of one READ COMMITTED transaction — so each stays atomic on its own and a
//! failing one rolls back alone — COMMITs the group once (one WAL flush) and only then answers
//! each caller. An answer still means "durable"; concurrent dispatches share a commit, and the
//! credit balance's row is locked once per group instead of once per dispatch.
//!
//! Writes in a group run one after another on one connection, so each sees the ones before it:
//! an idempotency key repeated inside a group finds its first job, and a balance that runs out
//! mid-group refuses exactly the dispatches it cannot pay for.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;

use postgres::IsolationLevel;

use super::db::{Db, Statements};
use super::{LedgerError, LedgerResult};

/// One write: `run` does its work inside the group's transaction and says whether it succeeded
/// (else its savepoint is rolled back); `finish` answers its caller with the group's commit
/// outcome — also for a write that never ran, because the database was away.
pub(super) struct Op {
    pub run: Box<dyn FnOnce(&Db<'_>) -> bool + Send>,
    pub finish: Box<dyn FnOnce(Result<(), LedgerError>) + Send>,
}

/// Most writes committed together; bounds the time a caller waits behind others.
const MAX_GROUP: usize = 256;

/// How the writer reaches the database: a fresh connection with the realm's search path.
pub(super) type Connect = Box<dyn Fn() -> LedgerResult<postgres::Client> + Send>;

pub(super) fn run(connect: Connect, channel: String, clock: Arc<dyn crate::time::Clock>, queue: Receiver<Op>) {
    crate::time::use_on_this_thread(clock);
    let mut conn: Option<(postgres::Client, Statements)> = None;
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(op) => group.push(op),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        if conn.as_ref().is_none_or(|(c, _)| c.is_closed()) {
            conn = match connect() {
                Ok(client) => Some((client, Statements::new())),
                Err(e) => {
                    // The database is away: this group fails (callers retry on `busy`), the
                    // next one connects again.
                    fail_all(group, &e);
                    continue;
                }
            };
        }
        if let Some((client, statements)) = conn.as_mut() {
            let (ops, started) = (group.len(), std::time::Instant::now());
            commit_group(client, statements, &channel, group);
            tracing::debug!(ops, ms = started.elapsed().as_secs_f64() * 1000.0, "a group of ledger writes committed");
        }
    }
}

fn commit_group(client: &mut postgres::Client, statements: &mut Statements, channel: &str, group: Vec<Op>) {
    let mut tx = match client.build_transaction().isolation_level(IsolationLevel::ReadCommitted).start() {
        Ok(tx) => tx,
        Err(e) => return fail_all(group, &LedgerError::from(e)),
    };
    let mut ran = Vec::with_capacity(group.len());
    // The group's notifications, sent together just before its commit (delivered at it).
    let mut notes: Vec<String> = Vec::new();
    let mut broken: Option<LedgerError> = None;
    for op in group {
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
    if broken.is_none() && !notes.is_empty() {
        if let Err(e) = tx.execute("SELECT pg_notify($1, note) FROM unnest($2::text[]) AS note", &[&channel, &notes]) {
            broken = Some(LedgerError::from(e));
        }
    }
    let outcome = match broken {
        Some(e) => Err(e),
        None => tx.commit().map_err(LedgerError::from),
    };
    for finish in ran {
        finish(outcome.clone());
    }
}

/// Answers writes that never ran with `err`.
fn fail_all(group: Vec<Op>, err: &LedgerError) {
    for op in group {
        (op.finish)(Err(err.clone()));
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
