//! The ledger: the single source of truth, behind one interface with two databases.
//!
//! - **SQLite** ([`sqlite`]): the default, one file per realm on one machine, zero setup; one
//!   writer thread commits in groups.
//! - **PostgreSQL** ([`pg`]): farm mode, one database for every machine of a studio (API servers
//!   and workers), each realm a schema.
//!
//! Every ledger function is written once against [`Db`]: one closure passed to
//! [`Ledger::write`] is one atomic state change, resolved only once it is durable; one passed to
//! [`Ledger::read`] sees one snapshot.

mod db;
mod pg;
mod pg_announce;
mod pg_dispatch;
mod pg_sql;
mod pg_writer;
mod schema;
mod sqlite;
mod writer;

pub mod catalog;
pub mod credits;
pub mod idempotency;
pub mod jobs;
pub mod keys;
pub mod leases;
pub mod queue;
pub mod rates;
pub mod renders;
pub mod requests;
pub mod uploads;
pub mod webhooks;

use std::path::Path;
use std::sync::Arc;

pub use db::{args, Db, DbRow, Dialect, SqlValue, ToSqlValue};
pub(crate) use pg::listen;
pub use schema::SCHEMA_VERSION;

use crate::error::{ApiError, ErrorCode};

#[derive(Debug, Clone, thiserror::Error)]
pub enum LedgerError {
    /// The database refused or could not be reached. `busy`: a retry later can succeed (a locked
    /// SQLite file, a PostgreSQL server restarting or out of connections).
    #[error("{message}")]
    Database { message: String, disk_full: bool, busy: bool },
    #[error("the ledger is closed")]
    Closed,
    #[error("the database is at schema version {found}, newer than this figur knows ({supported}); use a newer figur")]
    TooNew { found: i64, supported: i64 },
    #[error("corrupt ledger row: {0}")]
    Corrupt(String),
    /// A domain rule refused the change (e.g. an empty balance); nothing was written.
    #[error("{0}")]
    Rejected(ApiError),
    /// A worker wrote for a job whose lease it no longer holds (it was too late: the job was
    /// requeued and another worker took it). Nothing was written.
    #[error("job {job} is no longer leased to this worker; its write was refused")]
    Fenced { job: String },
}

impl LedgerError {
    pub fn is_disk_full(&self) -> bool {
        matches!(self, LedgerError::Database { disk_full: true, .. })
    }

    pub(crate) fn io(what: String, e: &std::io::Error) -> Self {
        LedgerError::Database { message: format!("{what}: {e}"), disk_full: e.raw_os_error() == Some(28), busy: false }
    }
}

impl From<serde_json::Error> for LedgerError {
    fn from(e: serde_json::Error) -> Self {
        LedgerError::Corrupt(e.to_string())
    }
}

pub type LedgerResult<T> = Result<T, LedgerError>;

/// Where a realm's ledger lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerLocation {
    /// `<realm folder>/ledger.db`.
    Sqlite,
    /// A PostgreSQL database (`postgres://…`); the realm is a schema in it.
    Postgres { url: String },
}

impl LedgerLocation {
    /// `sqlite` (or empty) for the embedded ledger; a `postgres://` or `postgresql://` URL.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() || s == "sqlite" {
            return Ok(LedgerLocation::Sqlite);
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            s.parse::<postgres::Config>().map_err(|e| format!("not a PostgreSQL address: {e}"))?;
            return Ok(LedgerLocation::Postgres { url: s.to_string() });
        }
        Err(format!("{s:?}: a ledger is `sqlite` or a postgres://user@host:port/database address"))
    }

    pub fn is_shared(&self) -> bool {
        matches!(self, LedgerLocation::Postgres { .. })
    }
}

enum Backend {
    Sqlite(sqlite::SqliteLedger),
    Postgres(Arc<pg::PgLedger>),
}

pub struct Ledger {
    backend: Backend,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.backend {
            Backend::Sqlite(s) => f.debug_struct("Ledger").field("path", &s.path()).finish(),
            Backend::Postgres(p) => f.debug_struct("Ledger").field("schema", &p.schema()).finish(),
        }
    }
}

impl Ledger {
    /// Opens (creating if needed) and migrates the SQLite database at `path`, on the system's clock.
    pub fn open(path: &Path) -> LedgerResult<Self> {
        Self::open_with_clock(path, Arc::new(crate::time::SystemClock))
    }

    /// Like [`Ledger::open`]; the ledger's timestamps (events, jobs, credits) read `clock`.
    ///
    /// The engine's own tests run twice in `./studio test`: once as they are, once with
    /// `FIGUR_TEST_POSTGRES` naming the harness's PostgreSQL, where every ledger a test opens
    /// is a fresh schema there instead of a file.
    pub fn open_with_clock(path: &Path, clock: Arc<dyn crate::time::Clock>) -> LedgerResult<Self> {
        #[cfg(test)]
        if let Ok(url) = std::env::var("FIGUR_TEST_POSTGRES") {
            return Self::open_postgres(&url, &testing::schema_for(path), clock);
        }
        Self::open_sqlite(path, clock)
    }

    /// The SQLite ledger at `path`, whatever the tests' environment says.
    pub fn open_sqlite(path: &Path, clock: Arc<dyn crate::time::Clock>) -> LedgerResult<Self> {
        Ok(Ledger { backend: Backend::Sqlite(sqlite::SqliteLedger::open(path, clock)?) })
    }

    /// Opens the realm `schema` of a PostgreSQL database, creating and migrating it if needed.
    pub fn open_postgres(url: &str, schema: &str, clock: Arc<dyn crate::time::Clock>) -> LedgerResult<Self> {
        Ok(Ledger { backend: Backend::Postgres(Arc::new(pg::PgLedger::open(url, schema, clock)?)) })
    }

    /// Whether other processes share this ledger (farm mode): the question the engine asks of
    /// its [`LedgerLocation`], asked of the open ledger.
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    pub fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::Sqlite(_) => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    /// For a PostgreSQL ledger, its address and the channel its commits are announced on.
    pub(crate) fn change_feed(&self) -> Option<(String, String)> {
        match &self.backend {
            Backend::Sqlite(_) => None,
            Backend::Postgres(p) => Some((p.url().to_string(), p.channel().to_string())),
        }
    }

    /// Runs `f` as one atomic state change; resolves once it is durable.
    pub async fn write<T, F>(&self, f: F) -> LedgerResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Db<'_>) -> LedgerResult<T> + Send + 'static,
    {
        match &self.backend {
            Backend::Sqlite(s) => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                s.submit(f, move |r| {
                    let _ = tx.send(r);
                });
                rx.await.unwrap_or(Err(LedgerError::Closed))
            }
            Backend::Postgres(p) => {
                // The writer thread commits it with the group it joins.
                let (tx, rx) = tokio::sync::oneshot::channel();
                p.submit(f, move |r| {
                    let _ = tx.send(r);
                });
                rx.await.unwrap_or(Err(LedgerError::Closed))
            }
        }
    }

    /// A dispatch's new job, its `queued` event and its debit (or the 402 when the balance is
    /// short), as [`jobs::insert`] writes them; resolves once durable. On PostgreSQL it waits
    /// for the writer's next group, whose new jobs are inserted together (a few statements per
    /// group instead of several per job).
    pub async fn insert_job(&self, job: jobs::OwnedJob) -> LedgerResult<()> {
        match &self.backend {
            Backend::Sqlite(_) => self.write(move |c| jobs::insert(c, &job.as_new())).await,
            Backend::Postgres(p) => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                p.submit_job(job, move |r| {
                    let _ = tx.send(r);
                });
                rx.await.unwrap_or(Err(LedgerError::Closed))
            }
        }
    }

    /// Records an API request, never waited for: with the next commit group (on PostgreSQL, by
    /// the announcer, many rows a statement, after the commits they follow).
    pub fn log_request(&self, row: crate::domain::job::RequestLogRow) {
        match &self.backend {
            Backend::Sqlite(_) => self.write_detached(move |c| requests::insert(c, &row)),
            Backend::Postgres(p) => p.submit_log(row),
        }
    }

    /// [`Ledger::write`] for threads outside the async runtime (workers, the CLI).
    pub fn write_blocking<T, F>(&self, f: F) -> LedgerResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Db<'_>) -> LedgerResult<T> + Send + 'static,
    {
        match &self.backend {
            Backend::Sqlite(s) => {
                let (tx, rx) = std::sync::mpsc::sync_channel(1);
                s.submit(f, move |r| {
                    let _ = tx.send(r);
                });
                rx.recv().unwrap_or(Err(LedgerError::Closed))
            }
            Backend::Postgres(p) => p.write_blocking(f),
        }
    }

    /// Queues a write nobody waits for (the request log); on SQLite it commits with the next group.
    pub fn write_detached<F>(&self, f: F)
    where
        F: FnOnce(&Db<'_>) -> LedgerResult<()> + Send + 'static,
    {
        let report = |r: LedgerResult<()>| {
            if let Err(e) = r {
                tracing::warn!(error = %e, "a background ledger write failed");
            }
        };
        match &self.backend {
            Backend::Sqlite(s) => s.submit(f, report),
            Backend::Postgres(p) => p.submit(f, report),
        }
    }

    /// Runs `f` inside one read transaction (blocking; use [`Ledger::read`] from async code), so
    /// every statement it makes sees the same snapshot: a job row and its events read one after
    /// the other agree even while writers commit between them.
    pub fn read_blocking<T: Send>(&self, f: impl FnOnce(&Db<'_>) -> LedgerResult<T> + Send) -> LedgerResult<T> {
        match &self.backend {
            Backend::Sqlite(s) => s.read_blocking(f),
            Backend::Postgres(p) => p.read_blocking(f),
        }
    }

    /// Async read: runs on the blocking pool so the runtime never waits on the database.
    pub async fn read<T, F>(self: &Arc<Self>, f: F) -> LedgerResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Db<'_>) -> LedgerResult<T> + Send + 'static,
    {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            pg::may_block_here();
            me.read_blocking(f)
        })
        .await
        .unwrap_or_else(|_| Err(LedgerError::Corrupt("a ledger read panicked".into())))
    }

    /// Stops accepting writes, lets queued ones finish, and waits for them.
    pub fn close(&self) {
        match &self.backend {
            Backend::Sqlite(s) => s.close(),
            Backend::Postgres(p) => p.close(),
        }
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use sha2::{Digest, Sha256};

    /// The schema standing for the SQLite file a test names: the same file is the same schema
    /// (a test that reopens its studio finds its jobs), each test's temporary folder its own.
    pub(crate) fn schema_for(path: &std::path::Path) -> String {
        let digest = Sha256::digest(path.to_string_lossy().as_bytes());
        format!("t_{}", &hex::encode(digest)[..24])
    }
}

/// A ledger failure as a caller sees it: a rejection as itself, a busy database as a retry,
/// anything else as an internal error (the ledger is unchanged: every write is one transaction).
impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        if let LedgerError::Rejected(api) = e {
            return api;
        }
        if let LedgerError::Database { busy: true, .. } = e {
            let mut err = ApiError::new(ErrorCode::Unavailable, "the ledger is busy; retry shortly");
            err.retry_after = Some(1);
            return err;
        }
        if e.is_disk_full() {
            tracing::error!(error = %e, "ledger write failed: disk full");
            let mut err = ApiError::new(ErrorCode::Unavailable, "the studio's disk is full; free some space and retry");
            err.retry_after = Some(30);
            return err;
        }
        tracing::error!(error = %e, "ledger error");
        ApiError::internal("an internal storage error occurred; the ledger is unchanged")
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

    fn max_v(c: &Db<'_>) -> LedgerResult<i64> {
        c.query_one("SELECT max(v) FROM t", args![], |r| r.get(0))
    }

    #[test]
    fn failed_operation_rolls_back_alone_in_its_group() {
        let (_dir, ledger) = ledger();
        ledger.write_blocking(|c| c.batch("CREATE TABLE t(v INTEGER NOT NULL)")).unwrap();
        let threads: Vec<_> = (0..16)
            .map(|i| {
                let ledger = ledger.clone();
                std::thread::spawn(move || {
                    ledger.write_blocking(move |c| {
                        c.execute("INSERT INTO t(v) VALUES (?1)", args![i])?;
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
        let rows: Vec<i64> =
            ledger.read_blocking(|c| c.query("SELECT v FROM t ORDER BY v", args![], |r| r.get(0))).unwrap();
        assert_eq!(rows, vec![0, 2, 4, 6, 8, 10, 12, 14]);
    }

    #[test]
    fn a_panicking_operation_does_not_poison_the_writer() {
        let (_dir, ledger) = ledger();
        let r: LedgerResult<()> = ledger.write_blocking(|_| panic!("boom"));
        assert!(matches!(r, Err(LedgerError::Closed)));
        assert_eq!(ledger.write_blocking(|c| c.query_one("SELECT 41 + 1", args![], |r| r.get::<i64>(0))).unwrap(), 42);
    }

    #[test]
    fn one_read_sees_one_snapshot_while_the_writer_commits() {
        let (_dir, ledger) = ledger();
        ledger.write_blocking(|c| c.batch("CREATE TABLE t(v INTEGER NOT NULL); INSERT INTO t VALUES (0);")).unwrap();
        let (first, second) = ledger
            .read_blocking(|c| {
                let first = max_v(c)?;
                // A commit lands between the two statements of this one read.
                let other = ledger.clone();
                std::thread::spawn(move || other.write_blocking(|c| c.execute("INSERT INTO t VALUES (1)", args![])))
                    .join()
                    .unwrap()?;
                Ok((first, max_v(c)?))
            })
            .unwrap();
        assert_eq!((first, second), (0, 0), "the second statement must not see a later commit");
        assert_eq!(ledger.read_blocking(max_v).unwrap(), 1);
    }

    #[test]
    fn reads_are_query_only() {
        let (_dir, ledger) = ledger();
        assert!(ledger.read_blocking(|c| c.batch("CREATE TABLE x(a INTEGER)")).is_err());
    }

    #[test]
    fn values_cross_both_databases_as_they_were_written() {
        let (_dir, ledger) = ledger();
        let table = match ledger.dialect() {
            Dialect::Sqlite => "CREATE TABLE v(i INTEGER, t TEXT, b BLOB, n TEXT)",
            Dialect::Postgres => "CREATE TABLE v(i BIGINT, t TEXT, b BYTEA, n TEXT)",
        };
        ledger.write_blocking(move |c| c.batch(table)).unwrap();
        ledger
            .write_blocking(|c| {
                let blob: &[u8] = &[0, 1, 255];
                c.execute("INSERT INTO v VALUES (?1, ?2, ?3, ?4)", args![i64::MAX, "é ' ?", blob, None::<String>])
            })
            .unwrap();
        let row = ledger
            .read_blocking(|c| {
                c.query_one("SELECT i, t, b, n FROM v WHERE t = ?", args!["é ' ?"], |r| {
                    Ok((r.get::<i64>(0)?, r.get::<String>(1)?, r.get::<Vec<u8>>(2)?, r.get::<Option<String>>(3)?))
                })
            })
            .unwrap();
        assert_eq!(row, (i64::MAX, "é ' ?".to_string(), vec![0, 1, 255], None));
        let err = ledger.read_blocking(|c| c.query_one("SELECT t FROM v", args![], |r| r.get::<i64>(0))).unwrap_err();
        assert!(matches!(err, LedgerError::Corrupt(_)), "a text read as a number is refused: {err}");
    }

    #[test]
    fn an_older_binary_refuses_a_newer_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        drop(Ledger::open_sqlite(&path, Arc::new(crate::time::SystemClock)).unwrap());
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(&format!("PRAGMA user_version = {}", SCHEMA_VERSION + 1)).unwrap();
        drop(conn);
        let reopened = Ledger::open_sqlite(&path, Arc::new(crate::time::SystemClock));
        assert!(matches!(reopened, Err(LedgerError::TooNew { .. })));
    }

    #[test]
    fn ledger_addresses_are_checked() {
        assert_eq!(LedgerLocation::parse("sqlite"), Ok(LedgerLocation::Sqlite));
        assert!(LedgerLocation::parse("postgres://figur@db.studio:5432/figur").unwrap().is_shared());
        assert!(LedgerLocation::parse("mysql://x").is_err());
        assert!(LedgerLocation::parse("postgres://figur@db:notaport/x").is_err());
    }
}
