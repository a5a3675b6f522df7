//! The ledger's single writer: one thread owns the write connection and commits in groups.
//!
//! Callers on any thread submit an operation (a closure over the connection). The thread takes
//! every operation waiting in its queue, runs each inside its own SAVEPOINT — so each state change
//! is atomic on its own and a failing one rolls back alone — then COMMITs the group once and only
//! then answers each caller. An answer therefore always means "durable on disk"
//! (`synchronous=FULL`), while concurrent callers share one fsync: that is how dispatch stays
//! durable-before-202 and still outruns one-commit-per-insert.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{Receiver, TryRecvError};

use rusqlite::Connection;

use super::LedgerError;

/// Told the group's commit outcome once the group is on disk (or has failed).
pub(super) type Completion = Box<dyn FnOnce(Result<(), LedgerError>) + Send>;
/// Runs inside the group's transaction; says whether it succeeded (else its savepoint is rolled back).
pub(super) type Op = Box<dyn FnOnce(&Connection) -> (bool, Completion) + Send>;

/// Most operations committed together; bounds the time a caller waits behind others.
const MAX_GROUP: usize = 512;

pub(super) fn run(conn: Connection, queue: Receiver<Op>) {
    while let Some(group) = next_group(&queue, MAX_GROUP) {
        commit_group(&conn, group);
    }
    // Every sender is gone: the ledger is closing. Leave the WAL checkpointed for a clean file.
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);");
}

/// The next group: waits for one item, then takes whatever else is already waiting, up to
/// `max`; `None` once every sender is gone.
pub(super) fn next_group<T>(queue: &Receiver<T>, max: usize) -> Option<Vec<T>> {
    let mut group = vec![queue.recv().ok()?];
    while group.len() < max {
        match queue.try_recv() {
            Ok(item) => group.push(item),
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
        }
    }
    Some(group)
}

fn commit_group(conn: &Connection, group: Vec<Op>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let err = LedgerError::from(e);
        for op in group {
            // The op never ran: build its completion without touching the database.
            fail_unrun(op, conn, &err);
        }
        return;
    }
    let mut completions = Vec::with_capacity(group.len());
    for op in group {
        if conn.execute_batch("SAVEPOINT op").is_err() {
            completions.push(None);
            continue;
        }
        match catch_unwind(AssertUnwindSafe(|| op(conn))) {
            Ok((true, done)) => {
                let _ = conn.execute_batch("RELEASE op");
                completions.push(Some(done));
            }
            Ok((false, done)) => {
                let _ = conn.execute_batch("ROLLBACK TO op; RELEASE op");
                completions.push(Some(done));
            }
            Err(_) => {
                // A panicking op drops its own reply channel; its caller sees `Closed`.
                tracing::error!("a ledger operation panicked; its changes were rolled back");
                let _ = conn.execute_batch("ROLLBACK TO op; RELEASE op");
                completions.push(None);
            }
        }
    }
    let outcome = conn.execute_batch("COMMIT").map_err(LedgerError::from);
    if outcome.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    for done in completions.into_iter().flatten() {
        done(outcome.clone());
    }
}

/// Answers an operation that could not run because its group's transaction never began.
fn fail_unrun(op: Op, conn: &Connection, err: &LedgerError) {
    // Running the op outside a transaction would commit it piecemeal; instead run it in a
    // savepoint (which opens its own transaction) and roll it back unconditionally.
    if conn.execute_batch("SAVEPOINT unrun").is_ok() {
        if let Ok((_, done)) = catch_unwind(AssertUnwindSafe(|| op(conn))) {
            let _ = conn.execute_batch("ROLLBACK TO unrun; RELEASE unrun");
            done(Err(err.clone()));
            return;
        }
        let _ = conn.execute_batch("ROLLBACK TO unrun; RELEASE unrun");
    }
}
