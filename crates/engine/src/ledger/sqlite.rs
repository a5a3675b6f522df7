//! The embedded ledger: one SQLite database in WAL mode per realm, for a studio on one machine.
//!
//! Writes go through one writer thread that commits in groups (see [`super::writer`]); every
//! write closure is one atomic state change. Reads use a small pool of query-only connections,
//! which WAL lets run beside the writer. Nothing else writes the database.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::{Connection, OpenFlags};

use super::db::Db;
use super::{schema, writer, LedgerError, LedgerResult};

/// Read connections kept open for reuse; more are opened on demand under load.
const IDLE_READERS: usize = 8;

pub(super) struct SqliteLedger {
    path: PathBuf,
    queue: Mutex<Option<SyncSender<writer::Op>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
}

impl SqliteLedger {
    pub(super) fn open(path: &Path, clock: Arc<dyn crate::time::Clock>) -> LedgerResult<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| LedgerError::io(format!("cannot create {}", dir.display()), &e))?;
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
        Ok(SqliteLedger {
            path: path.to_path_buf(),
            queue: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(handle)),
            readers: Mutex::new(Vec::new()),
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Queues `f` for the writer's next group; `reply` hears the outcome once it is durable.
    pub(super) fn submit<T, F, R>(&self, f: F, reply: R)
    where
        T: Send + 'static,
        F: FnOnce(&Db<'_>) -> LedgerResult<T> + Send + 'static,
        R: FnOnce(LedgerResult<T>) + Send + 'static,
    {
        let op: writer::Op = Box::new(move |conn| {
            let result = f(&Db::sqlite(conn));
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

    /// Runs `f` on a query-only connection inside one read transaction, so every statement it
    /// makes sees the same snapshot.
    pub(super) fn read_blocking<T>(&self, f: impl FnOnce(&Db<'_>) -> LedgerResult<T>) -> LedgerResult<T> {
        let conn = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match conn {
            Some(c) => c,
            None => self.open_reader()?,
        };
        let result = match conn.unchecked_transaction() {
            // Dropping the transaction rolls it back, which for a reader only ends the snapshot.
            Ok(snapshot) => f(&Db::sqlite(&snapshot)),
            Err(e) => Err(e.into()),
        };
        let mut pool = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < IDLE_READERS {
            pool.push(conn);
        }
        result
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
    pub(super) fn close(&self) {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(handle) = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = handle.join();
        }
    }
}

impl From<rusqlite::Error> for LedgerError {
    fn from(e: rusqlite::Error) -> Self {
        let code = e.sqlite_error_code();
        LedgerError::Database {
            message: format!("sqlite: {e}"),
            disk_full: code == Some(rusqlite::ErrorCode::DiskFull),
            busy: matches!(code, Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)),
        }
    }
}
