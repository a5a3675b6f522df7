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

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::pg_sql::Connect;
use crate::domain::job::RequestLogRow;

/// What wakes the announcer.
enum Announcement {
    /// A committed group's notification payloads.
    Notes(Vec<String>),
    /// A statement's worth of request-log rows is waiting.
    RowsWaiting,
}

/// Notifications and rows taken into one statement at most; bounds one statement's arrays.
const MAX_BATCH: usize = 1024;

/// Request-log rows kept waiting at most (the database away): more are dropped, and said, so
/// that no request is ever held up by its log row.
const MAX_WAITING_ROWS: usize = 16 * MAX_BATCH;

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

/// Request-log rows waiting for the announcer. A row is put here without waking it — a
/// wake-up a request cost more than writing the row — and taken with the next notifications,
/// after [`LOG_LINGER`], or when a statement's worth is waiting.
#[derive(Default)]
struct WaitingRows {
    rows: Mutex<Vec<RequestLogRow>>,
    /// Rows dropped since the last were taken (the database away).
    dropped: AtomicUsize,
}

impl WaitingRows {
    fn len(&self) -> usize {
        self.rows.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Up to a statement's worth, oldest first.
    fn take(&self) -> Vec<RequestLogRow> {
        let taken = {
            let mut rows = self.rows.lock().unwrap_or_else(|p| p.into_inner());
            let statement = rows.len().min(MAX_BATCH);
            let rest = rows.split_off(statement);
            std::mem::replace(&mut *rows, rest)
        };
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(dropped, "request-log rows were dropped while the announcer could not keep up");
        }
        taken
    }
}

/// What the ledger and its writer hold of the announcer: they hand it notifications and
/// request-log rows and never wait for it.
#[derive(Clone)]
pub(super) struct Herald {
    queue: SyncSender<Announcement>,
    rows: Arc<WaitingRows>,
}

/// What the announcer's thread takes (see [`run`]).
pub(super) struct Heard {
    queue: Receiver<Announcement>,
    rows: Arc<WaitingRows>,
}

/// A herald and what its announcer hears; the announcer ends once every herald is dropped.
pub(super) fn herald() -> (Herald, Heard) {
    let (queue, heard) = sync_channel(4096);
    let rows = Arc::new(WaitingRows::default());
    (Herald { queue, rows: rows.clone() }, Heard { queue: heard, rows })
}

impl Herald {
    /// Queues a committed group's notifications. Never waits: with the queue full (the
    /// database away), they are dropped and said — listeners catch up on their next look.
    pub(super) fn notify(&self, notes: Vec<String>) {
        if notes.is_empty() {
            return;
        }
        match self.queue.try_send(Announcement::Notes(notes)) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => {
                tracing::warn!("the announcer is behind; a group's notifications were dropped")
            }
        }
    }

    /// Queues a request-log row (nobody waits for it). Never waits either: past
    /// [`MAX_WAITING_ROWS`] the row is dropped, and the announcer says how many were.
    pub(super) fn log(&self, row: RequestLogRow) {
        let waiting = {
            let mut rows = self.rows.rows.lock().unwrap_or_else(|p| p.into_inner());
            if rows.len() >= MAX_WAITING_ROWS {
                self.rows.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            rows.push(row);
            rows.len()
        };
        if waiting == MAX_BATCH {
            let _ = self.queue.try_send(Announcement::RowsWaiting);
        }
    }
}

/// The next statement's notifications and rows; `None` once every herald is gone and nothing
/// is left. Waits up to [`LOG_LINGER`] for a notification (not at all when a statement's worth
/// of rows is waiting); notifications go at once unless the last went out less than
/// [`NOTE_SPACING`] ago (`notes_from`) — then they wait for it, gathering what comes meanwhile.
/// A note repeated in the batch ("new jobs") is sent once. The batch may be empty (nothing
/// came).
fn next_batch(heard: &Heard, notes_from: Instant) -> Option<(Vec<String>, Vec<RequestLogRow>)> {
    let mut notes = Vec::new();
    let mut gone = false;
    if heard.rows.len() < MAX_BATCH {
        match heard.queue.recv_timeout(LOG_LINGER) {
            Ok(Announcement::Notes(n)) => notes = n,
            Ok(Announcement::RowsWaiting) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => gone = true,
        }
    }
    if !notes.is_empty() && !gone {
        // Asleep, not waiting on the queue: every group's note would wake it again.
        std::thread::sleep(notes_from.saturating_duration_since(Instant::now()));
        while notes.len() < MAX_BATCH {
            match heard.queue.try_recv() {
                Ok(Announcement::Notes(n)) => notes.extend(n),
                Ok(Announcement::RowsWaiting) => {}
                Err(_) => break,
            }
        }
    }
    let logs = heard.rows.take();
    if gone && notes.is_empty() && logs.is_empty() {
        return None;
    }
    let mut seen = std::collections::HashSet::new();
    notes.retain(|note| seen.insert(note.clone()));
    Some((notes, logs))
}

pub(super) fn run(connect: Connect, channel: String, clock: Arc<dyn crate::time::Clock>, heard: Heard) {
    crate::time::use_on_this_thread(clock);
    let mut conn: Option<(postgres::Client, postgres::Statement)> = None;
    let mut notes_from = Instant::now();
    while let Some((notes, logs)) = next_batch(&heard, notes_from) {
        if notes.is_empty() && logs.is_empty() {
            continue;
        }
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

    fn notes(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    fn row(id: usize) -> RequestLogRow {
        RequestLogRow {
            request_id: format!("req{id}"),
            api_key_id: None,
            method: "POST".into(),
            path: "/v1/background-generator".into(),
            status: 202,
            duration_us: 1,
        }
    }

    #[test]
    fn a_lone_note_goes_at_once_and_notes_within_the_spacing_go_together_once_each() {
        let (herald, heard) = herald();
        // Nothing sent lately: the note is not held back.
        herald.notify(notes(&["new-jobs"]));
        let started = Instant::now();
        let (first, _) = next_batch(&heard, started).unwrap();
        assert_eq!(first, ["new-jobs"]);
        assert!(started.elapsed() < LOG_LINGER, "a lone note waited for company");

        // One just went out: what comes within the spacing joins the next statement, a
        // repeated note once, the others in the order they came.
        let notes_from = Instant::now() + Duration::from_millis(200);
        let later = herald.clone();
        let sender = std::thread::spawn(move || {
            later.notify(notes(&["new-jobs", "job1 2 0"]));
            std::thread::sleep(Duration::from_millis(50));
            later.notify(notes(&["new-jobs", "job2 3 1"]));
        });
        let (gathered, _) = next_batch(&heard, notes_from).unwrap();
        sender.join().unwrap();
        assert_eq!(gathered, ["new-jobs", "job1 2 0", "job2 3 1"]);
        assert!(Instant::now() >= notes_from, "the notes went out before the spacing had passed");
    }

    #[test]
    fn request_log_rows_wait_without_waking_it_never_block_and_are_all_written_at_the_end() {
        let (herald, heard) = herald();
        // A few rows alone go after the linger, not one statement each.
        for id in 0..3 {
            herald.log(row(id));
        }
        let started = Instant::now();
        let (none, rows) = next_batch(&heard, started).unwrap();
        assert!(none.is_empty());
        assert_eq!(rows.iter().map(|r| r.request_id.as_str()).collect::<Vec<_>>(), ["req0", "req1", "req2"]);
        assert!(started.elapsed() >= LOG_LINGER, "rows alone went without waiting for company");

        // The database away: logging never waits, rows past the cap are dropped.
        for id in 0..MAX_WAITING_ROWS + 10 {
            herald.log(row(id));
        }
        assert_eq!(heard.rows.len(), MAX_WAITING_ROWS);
        assert_eq!(heard.rows.dropped.load(Ordering::Relaxed), 10);

        // With a statement's worth waiting nothing lingers; at the end every waiting row is
        // taken, a statement's worth at a time, and only then does the announcer stop.
        drop(herald);
        let started = Instant::now();
        let mut written = 0;
        while let Some((_, rows)) = next_batch(&heard, started) {
            assert!(rows.len() <= MAX_BATCH);
            written += rows.len();
        }
        assert_eq!(written, MAX_WAITING_ROWS);
        assert!(started.elapsed() < LOG_LINGER, "the last rows lingered after the ledger closed");
    }
}
