//! The ledger: the single source of truth, one SQLite database in WAL mode per realm.
//!
//! Writes go through one writer thread that commits in groups (see [`writer`]); every write
//! closure is one atomic state change. Reads use a small pool of query-only connections, which
//! WAL lets run beside the writer. Nothing else writes the database.

mod schema;
mod writer;

pub mod catalog;
pub mod credits;
pub mod idempotency;
pub mod jobs;
pub mod keys;
pub mod queue;
pub mod renders;
pub mod requests;
pub mod uploads;

use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::{Connection, OpenFlags};

use crate::error::ApiError;
pub use schema::SCHEMA_VERSION;

#[derive(Debug, Clone, thiserror::Error)]
pub enum LedgerError {
    #[error("sqlite: {message}")]
    Sqlite { message: String, disk_full: bool, busy: bool },
    #[error("the ledger is closed")]
    Closed,
    #[error("the database is at schema version {found}, newer than this figur knows ({supported}); use a newer figur")]
    TooNew { found: i64, supported: i64 },
    #[error("corrupt ledger row: {0}")]
    Corrupt(String),
    /// A domain rule refused the change (e.g. an empty balance); nothing was written.
    #[error("{0}")]
    Rejected(ApiError),
}

impl LedgerError {
    pub fn is_disk_full(&self) -> bool {
        matches!(self, LedgerError::Sqlite { disk_full: true, .. })
    }
}

impl From<rusqlite::Error> for LedgerError {
    fn from(e: rusqlite::Error) -> Self {
        let code = e.sqlite_error_code();
        LedgerError::Sqlite {
            message: e.to_string(),
            disk_full: code == Some(rusqlite::ErrorCode::DiskFull),
            busy: matches!(code, Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)),
        }
    }
}

impl From<serde_json::Error> for LedgerError {
    fn from(e: serde_json::Error) -> Self {
        LedgerError::Corrupt(e.to_string())
    }
}

pub type LedgerResult<T> = Result<T, LedgerError>;

/// Read connections kept open for reuse; more are opened on demand under load.
const IDLE_READERS: usize = 8;

pub struct Ledger {
    path: PathBuf,
    queue: Mutex<Option<SyncSender<writer::Op>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("path", &self.path).finish()
    }
}

impl Ledger {
    /// Opens (creating if needed) and migrates the database at `path`, on the system's clock.
    pub fn open(path: &Path) -> LedgerResult<Self> {
        Self::open_with_clock(path, Arc::new(crate::time::SystemClock))
    }

    /// Like [`Ledger::open`]; the writer's timestamps (events, jobs, credits) read `clock`.
    pub fn open_with_clock(path: &Path, clock: Arc<dyn crate::time::Clock>) -> LedgerResult<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| LedgerError::Sqlite {
                message: format!("cannot create {}: {e}", dir.display()),
                disk_full: e.raw_os_error() == Some(28),
                busy: false,
            })?;
        }
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")?;
        schema::migrate(&mut conn)?;
        let (tx, rx) = sync_channel::<writer::Op>(4096);
        let handle = std::thread::Builder::new()
            .name("figur-ledger-writer".into())
            .spawn(move || {
                crate::time::use_on_this_thread(clock);
                writer::run(conn, rx)
            })
            .map_err(|e| LedgerError::Corrupt(format!("cannot start the writer thread: {e}")))?;
        Ok(Ledger {
            path: path.to_path_buf(),
            queue: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(handle)),
            readers: Mutex::new(Vec::new()),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn submit<T, F, R>(&self, f: F, reply: R)
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> LedgerResult<T> + Send + 'static,
        R: FnOnce(LedgerResult<T>) + Send + 'static,
    {
        let op: writer::Op = Box::new(move |conn| {
            let result = f(conn);
            let ok = result.is_ok();
            let done: writer::Completion = Box::new(move |commit| reply(commit.and(result)));
            (ok, done)
        });
        let sender = self.queue.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(sender) = sender {
            // A send error means the writer is gone; the dropped op's reply reports `Closed`.
            let _ = sender.send(op);
        }
    }

    /// Runs `f` as one atomic state change; resolves once it is durable on disk.
    pub async fn write<T, F>(&self, f: F) -> LedgerResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> LedgerResult<T> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(f, move |r| {
            let _ = tx.send(r);
        });
        rx.await.unwrap_or(Err(LedgerError::Closed))
    }

    /// [`Ledger::write`] for threads outside the async runtime (workers, the CLI).
    pub fn write_blocking<T, F>(&self, f: F) -> LedgerResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> LedgerResult<T> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.submit(f, move |r| {
            let _ = tx.send(r);
        });
        rx.recv().unwrap_or(Err(LedgerError::Closed))
    }

    /// Queues a write nobody waits for (the request log); it commits with the next group.
    pub fn write_detached<F>(&self, f: F)
    where
        F: FnOnce(&Connection) -> LedgerResult<()> + Send + 'static,
    {
        self.submit(f, |r| {
            if let Err(e) = r {
                tracing::warn!(error = %e, "a background ledger write failed");
            }
        });
    }

    /// Runs `f` on a query-only connection (blocking; use [`Ledger::read`] from async code).
    ///
    /// `f` runs inside one read transaction, so every statement it makes sees the same snapshot:
    /// a job row and its events read one after the other agree even while the writer commits
    /// between them (without it, `latest_seq` could trail the events returned with it).
    pub fn read_blocking<T>(&self, f: impl FnOnce(&Connection) -> LedgerResult<T>) -> LedgerResult<T> {
        let conn = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match conn {
            Some(c) => c,
            None => self.open_reader()?,
        };
        let result = match conn.unchecked_transaction() {
            // Dropping the transaction rolls it back, which for a reader only ends the snapshot.
            Ok(snapshot) => f(&snapshot),
            Err(e) => Err(e.into()),
        };
        let mut pool = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < IDLE_READERS {
            pool.push(conn);
        }
        result
    }

    /// Async read: runs on the blocking pool so the runtime never waits on SQLite.
    pub async fn read<T, F>(self: &std::sync::Arc<Self>, f: F) -> LedgerResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> LedgerResult<T> + Send + 'static,
    {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.read_blocking(f))
            .await
            .unwrap_or_else(|_| Err(LedgerError::Corrupt("a ledger read panicked".into())))
    }

    fn open_reader(&self) -> LedgerResult<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch("PRAGMA query_only=1;")?;
        Ok(conn)
    }

    /// Stops accepting writes, lets the writer finish what is queued, and waits for it.
    pub fn close(&self) {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(handle) = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = handle.join();
        }
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        self.close();
    }
}

/// Maps an optional row; `QueryReturnedNoRows` becomes `None`.
pub(crate) fn optional<T>(r: rusqlite::Result<T>) -> LedgerResult<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn ledger() -> (tempfile::TempDir, Arc<Ledger>) {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Arc::new(Ledger::open(&dir.path().join("ledger.db")).unwrap());
        (dir, ledger)
    }

    #[test]
    fn failed_operation_rolls_back_alone_in_its_group() {
        let (_dir, ledger) = ledger();
        ledger.write_blocking(|c| Ok(c.execute("CREATE TABLE t(v INTEGER NOT NULL)", []).map(|_| ())?)).unwrap();
        let threads: Vec<_> = (0..16)
            .map(|i| {
                let ledger = ledger.clone();
                std::thread::spawn(move || {
                    ledger.write_blocking(move |c| {
                        c.execute("INSERT INTO t(v) VALUES (?1)", [i])?;
                        if i % 2 == 1 {
                            return Err(LedgerError::Corrupt("odd".into()));
                        }
                        Ok(())
                    })
                })
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 8);
        let rows: Vec<i64> = ledger
            .read_blocking(|c| {
                let mut st = c.prepare("SELECT v FROM t ORDER BY v")?;
                let rows = st.query_map([], |r| r.get(0))?.collect::<Result<Vec<i64>, _>>()?;
                Ok(rows)
            })
            .unwrap();
        assert_eq!(rows, vec![0, 2, 4, 6, 8, 10, 12, 14]);
    }

    #[test]
    fn a_panicking_operation_does_not_poison_the_writer() {
        let (_dir, ledger) = ledger();
        let r: LedgerResult<()> = ledger.write_blocking(|_| panic!("boom"));
        assert!(matches!(r, Err(LedgerError::Closed)));
        assert_eq!(
            ledger.write_blocking(|c| Ok(c.query_row("SELECT 41 + 1", [], |r| r.get::<_, i64>(0))?)).unwrap(),
            42
        );
    }

    #[test]
    fn one_read_sees_one_snapshot_while_the_writer_commits() {
        let (_dir, ledger) = ledger();
        ledger
            .write_blocking(|c| Ok(c.execute_batch("CREATE TABLE t(v INTEGER NOT NULL); INSERT INTO t VALUES (0);")?))
            .unwrap();
        let (first, second) = ledger
            .read_blocking(|c| {
                let first: i64 = c.query_row("SELECT max(v) FROM t", [], |r| r.get(0))?;
                // A commit lands between the two statements of this one read.
                let other = ledger.clone();
                std::thread::spawn(move || other.write_blocking(|c| Ok(c.execute("INSERT INTO t VALUES (1)", [])?)))
                    .join()
                    .unwrap()?;
                let second: i64 = c.query_row("SELECT max(v) FROM t", [], |r| r.get(0))?;
                Ok((first, second))
            })
            .unwrap();
        assert_eq!((first, second), (0, 0), "the second statement must not see a later commit");
        assert_eq!(
            ledger.read_blocking(|c| Ok(c.query_row("SELECT max(v) FROM t", [], |r| r.get::<_, i64>(0))?)).unwrap(),
            1
        );
    }

    #[test]
    fn reads_are_query_only() {
        let (_dir, ledger) = ledger();
        assert!(ledger.read_blocking(|c| Ok(c.execute("CREATE TABLE x(a)", [])?)).is_err());
    }

    #[test]
    fn an_older_binary_refuses_a_newer_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        drop(Ledger::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(&format!("PRAGMA user_version = {}", SCHEMA_VERSION + 1)).unwrap();
        drop(conn);
        assert!(matches!(Ledger::open(&path), Err(LedgerError::TooNew { .. })));
    }
}
