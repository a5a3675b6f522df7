//! What a PostgreSQL ledger says after its commits, off the writer's path: the notifications
//! of committed groups and the request-log rows (issue 31).
//!
//! Both are written by one thread per ledger on a connection of its own whose transactions do
//! not wait for their WAL flush (`synchronous_commit = off`), as one statement for whatever is
//! waiting. Not in the group's transaction: PostgreSQL commits notifying transactions one at a
//! time (a lock on the notification queue, held through the commit), so every API server's
//! groups would take turns through their flushes again; and not after it on the writer's
//! connection either, where each group paid four more round trips before the next could begin.
//!
//! What a crash takes from here is small and said: a notification lost only delays a wake-up
//! (schedulers look for work every half second and long-polls end at their timeout), and a
//! request-log row is a record of a request already answered, never what a job's durability
//! rests on.

use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::pg_sql::Connect;
use crate::domain::job::RequestLogRow;

/// What the announcer is sent.
pub(super) enum Announcement {
    /// A committed group's notification payloads.
    Notes(Vec<String>),
    /// A request-log row (nobody waits for it).
    Log(RequestLogRow),
}

/// Announcements taken into one statement at most; bounds one statement's arrays.
const MAX_BATCH: usize = 1024;

/// How long request-log rows wait for company when no notification is going out: each
/// statement is a transaction of its own, and a row per request would cost PostgreSQL more
/// than the dispatch it records.
const LOG_LINGER: Duration = Duration::from_millis(100);

/// How often notifications go out at most, from one ledger's announcer. Under load every
/// group has its note; sent one statement each, they cost PostgreSQL a transaction per group
/// and wake every listening process of the farm each time (PostgreSQL signals every backend
/// that listens in the database, whatever its channel). Gathered over this long they cost a
/// fraction of that; a lone note (nothing sent within this time) still goes at once, so a
/// quiet farm's wake-ups are not delayed.
const NOTE_SPACING: Duration = Duration::from_millis(3);

/// The next statement's notifications and rows; `None` once every sender is gone. Waits for
/// one announcement, takes whatever else is waiting; notifications go at once (they are
/// wake-ups) unless the last went out less than [`NOTE_SPACING`] ago (`notes_from`) — then
/// they wait for it, gathering what comes meanwhile —, rows alone linger up to [`LOG_LINGER`]
/// — or until a notification or a full batch. A note repeated in the batch ("new jobs") is
/// sent once.
fn next_batch(queue: &Receiver<Announcement>, notes_from: Instant) -> Option<(Vec<String>, Vec<RequestLogRow>)> {
    let (mut notes, mut logs) = (Vec::new(), Vec::new());
    let mut next = Some(queue.recv().ok()?);
    let until = Instant::now() + LOG_LINGER;
    let mut taken = 0;
    while let Some(item) = next.take() {
        match item {
            Announcement::Notes(n) => notes.extend(n),
            Announcement::Log(row) => logs.push(row),
        }
        taken += 1;
        if taken == MAX_BATCH {
            break;
        }
        let wait_until = if notes.is_empty() { until } else { notes_from };
        next = match queue.try_recv() {
            Ok(item) => Some(item),
            Err(TryRecvError::Empty) => queue.recv_timeout(wait_until.saturating_duration_since(Instant::now())).ok(),
            Err(TryRecvError::Disconnected) => None,
        };
    }
    let mut seen = std::collections::HashSet::new();
    notes.retain(|note| seen.insert(note.clone()));
    Some((notes, logs))
}

/// Queues a committed group's notifications. Never waits: with the queue full (the database
/// away), they are dropped and said — listeners catch up on their next look.
pub(super) fn notify(queue: &SyncSender<Announcement>, notes: Vec<String>) {
    if notes.is_empty() {
        return;
    }
    match queue.try_send(Announcement::Notes(notes)) {
        Ok(()) | Err(TrySendError::Disconnected(_)) => {}
        Err(TrySendError::Full(_)) => tracing::warn!("the announcer is behind; a group's notifications were dropped"),
    }
}

pub(super) fn run(
    connect: Connect,
    channel: String,
    clock: Arc<dyn crate::time::Clock>,
    queue: Receiver<Announcement>,
) {
    crate::time::use_on_this_thread(clock);
    let mut conn: Option<(postgres::Client, postgres::Statement)> = None;
    let mut notes_from = Instant::now();
    while let Some((notes, logs)) = next_batch(&queue, notes_from) {
        if !notes.is_empty() {
            notes_from = Instant::now() + NOTE_SPACING;
        }
        if conn.as_ref().is_none_or(|(c, _)| c.is_closed()) {
            conn = open(&connect)
                .inspect_err(|e| tracing::warn!(error = %e, "cannot reach the ledger to announce changes"))
                .ok();
        }
        let sent = match conn.as_mut() {
            Some((client, statement)) => send(client, statement, &channel, &notes, &logs),
            None => continue,
        };
        if let Err(e) = sent {
            tracing::warn!(
                error = %e,
                notes = notes.len(),
                logs = logs.len(),
                "committed changes were not announced (listeners catch up on their next look) \
                 and request-log rows were not written"
            );
        }
    }
}

/// The announcer's connection: commits without waiting for their flush, the one statement
/// prepared.
fn open(connect: &Connect) -> super::LedgerResult<(postgres::Client, postgres::Statement)> {
    let mut client = connect()?;
    client.batch_execute("SET synchronous_commit TO off")?;
    let statement = client.prepare(
        "WITH logged AS (\
           INSERT INTO request_log (request_id, api_key_id, method, path, status, duration_us, created_at) \
           SELECT *, $7 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[]) \
           ON CONFLICT (request_id) DO NOTHING) \
         SELECT pg_notify($8, note) FROM unnest($9::text[]) AS note",
    )?;
    Ok((client, statement))
}

/// One statement, its own transaction: the rows inserted, the notifications sent at its commit.
fn send(
    client: &mut postgres::Client,
    statement: &postgres::Statement,
    channel: &str,
    notes: &[String],
    logs: &[RequestLogRow],
) -> Result<(), postgres::Error> {
    let text = |f: &dyn Fn(&RequestLogRow) -> String| logs.iter().map(f).collect::<Vec<String>>();
    let keys: Vec<Option<String>> = logs.iter().map(|r| r.api_key_id.clone()).collect();
    let statuses: Vec<i64> = logs.iter().map(|r| i64::from(r.status)).collect();
    let durations: Vec<i64> = logs.iter().map(|r| r.duration_us as i64).collect();
    client.execute(
        statement,
        &[
            &text(&|r| r.request_id.clone()),
            &keys,
            &text(&|r| r.method.clone()),
            &text(&|r| r.path.clone()),
            &statuses,
            &durations,
            &crate::time::now_rfc3339(),
            &channel,
            &notes,
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notes(n: &[&str]) -> Announcement {
        Announcement::Notes(n.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn a_lone_note_goes_at_once_and_notes_within_the_spacing_go_together_once_each() {
        let (send, queue) = std::sync::mpsc::sync_channel(16);
        // Nothing sent lately: the note is not held back.
        send.send(notes(&["new-jobs"])).unwrap();
        let started = Instant::now();
        let (first, _) = next_batch(&queue, started).unwrap();
        assert_eq!(first, ["new-jobs"]);
        assert!(started.elapsed() < LOG_LINGER, "a lone note waited for company");

        // One just went out: what comes within the spacing joins the next statement, a
        // repeated note once, the others in the order they came.
        let notes_from = Instant::now() + Duration::from_millis(200);
        let later = send.clone();
        let sender = std::thread::spawn(move || {
            later.send(notes(&["new-jobs", "job1 2 0"])).unwrap();
            std::thread::sleep(Duration::from_millis(50));
            later.send(notes(&["new-jobs", "job2 3 1"])).unwrap();
        });
        let (gathered, _) = next_batch(&queue, notes_from).unwrap();
        sender.join().unwrap();
        assert_eq!(gathered, ["new-jobs", "job1 2 0", "job2 3 1"]);
        assert!(Instant::now() >= notes_from, "the notes went out before the spacing had passed");

        drop(send);
        assert!(next_batch(&queue, Instant::now()).is_none(), "the announcer outlived its senders");
    }
}
