//! The shared ledger: one PostgreSQL database for a studio's machines (farm mode), each realm a
//! schema of its own (`figur_live`, `figur_test`).
//!
//! Writes go through one writer thread per ledger that commits them in groups, each in its own
//! savepoint of one READ COMMITTED transaction ([`super::pg_writer`]); the ledger functions
//! lock the rows they read before changing them (`Db::for_update`), so API servers and workers
//! change one job, or the one credit balance, in turn. A read is one REPEATABLE READ, READ ONLY
//! transaction on a pooled connection: one snapshot, as on SQLite.
//!
//! The driver is `postgres`, the blocking face of `tokio-postgres`: ledger operations are
//! synchronous closures, run on the caller's thread (workers) or the blocking pool (async code),
//! never on a runtime thread. Every commit that changes a job announces it with `NOTIFY` on the
//! realm's channel; [`listen`] turns those into wake-ups in every process.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use postgres::{Client, IsolationLevel, NoTls};

use super::db::{Db, Statements};
use super::pg_announce::{self, Herald};
use super::{pg_dispatch, pg_sql, pg_writer, schema, LedgerError, LedgerResult};

/// Connections kept open for reuse; more are opened on demand under load.
const IDLE_CONNECTIONS: usize = 8;

/// A connection and the statements prepared on it.
struct Pooled {
    client: Client,
    statements: Statements,
}

thread_local! {
    /// Set on the blocking-pool threads this ledger's async methods run on: the driver may
    /// block there (see [`off_the_runtime`]).
    static MAY_BLOCK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks this thread (a `spawn_blocking` one) as free to block on the driver.
pub(super) fn may_block_here() {
    MAY_BLOCK.with(|b| b.set(true));
}

pub(super) struct PgLedger {
    url: String,
    schema: String,
    channel: String,
    pool: Mutex<Vec<Pooled>>,
    clock: Arc<dyn crate::time::Clock>,
    closed: AtomicBool,
    /// Writes waiting for the writer's next group.
    queue: Mutex<Option<SyncSender<pg_writer::Work>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// Notifications and request-log rows waiting for the announcer ([`pg_announce`]).
    announce: Mutex<Option<Herald>>,
    announcer: Mutex<Option<JoinHandle<()>>>,
}

impl PgLedger {
    /// Connects, creates the realm's schema if needed and migrates it.
    pub(super) fn open(url: &str, schema_name: &str, clock: Arc<dyn crate::time::Clock>) -> LedgerResult<Self> {
        off_the_runtime(|| Self::open_here(url, schema_name, clock))
    }

    fn open_here(url: &str, schema_name: &str, clock: Arc<dyn crate::time::Clock>) -> LedgerResult<Self> {
        if !schema_name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || schema_name.is_empty() {
            return Err(LedgerError::Corrupt(format!("{schema_name:?} is not a schema name")));
        }
        let ledger = PgLedger {
            url: url.to_string(),
            schema: schema_name.to_string(),
            channel: channel_of(schema_name),
            pool: Mutex::new(Vec::new()),
            clock: clock.clone(),
            closed: AtomicBool::new(false),
            queue: Mutex::new(None),
            writer: Mutex::new(None),
            announce: Mutex::new(None),
            announcer: Mutex::new(None),
        };
        let mut client = ledger.connect()?;
        schema::migrate_postgres(&mut client.client, schema_name)?;
        ledger.give_back(client);
        let (url, schema, channel) = (url.to_string(), schema_name.to_string(), ledger.channel.clone());
        let connector = move || -> pg_sql::Connect {
            let (url, schema) = (url.clone(), schema.clone());
            Box::new(move || {
                let mut client = connect(&url)?;
                client.batch_execute(&format!("SET search_path TO {schema}"))?;
                Ok(client)
            })
        };
        let spawn = |name: &str, run: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(run)
                .map_err(|e| LedgerError::Corrupt(format!("cannot start the {name} thread: {e}")))
        };
        let (announce, heard) = pg_announce::herald();
        let (writer_connect, told, writer_clock) = (connector(), announce.clone(), clock.clone());
        let announcer = {
            let (connect, channel) = (connector(), channel.clone());
            spawn("figur-pg-announcer", Box::new(move || pg_announce::run(connect, channel, clock, heard)))?
        };
        *ledger.announce.lock().unwrap_or_else(|p| p.into_inner()) = Some(announce);
        *ledger.announcer.lock().unwrap_or_else(|p| p.into_inner()) = Some(announcer);
        let (tx, rx) = sync_channel::<pg_writer::Work>(4096);
        let writer = spawn(
            "figur-pg-writer",
            Box::new(move || pg_writer::run(writer_connect, channel, writer_clock, rx, told)),
        )?;
        *ledger.queue.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
        *ledger.writer.lock().unwrap_or_else(|p| p.into_inner()) = Some(writer);
        Ok(ledger)
    }

    pub(super) fn schema(&self) -> &str {
        &self.schema
    }

    pub(super) fn url(&self) -> &str {
        &self.url
    }

    pub(super) fn channel(&self) -> &str {
        &self.channel
    }

    fn connect(&self) -> LedgerResult<Pooled> {
        let mut client = connect(&self.url)?;
        client.batch_execute(&format!("SET search_path TO {}", self.schema))?;
        Ok(Pooled { client, statements: Statements::new() })
    }

    fn take(&self) -> LedgerResult<Pooled> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(LedgerError::Closed);
        }
        loop {
            let pooled = self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
            match pooled {
                Some(c) if c.client.is_closed() => continue,
                Some(c) => return Ok(c),
                None => return self.connect(),
            }
        }
    }

    fn give_back(&self, client: Pooled) {
        if client.client.is_closed() {
            return;
        }
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < IDLE_CONNECTIONS {
            pool.push(client);
        }
    }

    /// Queues `f` for the writer's next group; `reply` hears the outcome once it is durable.
    pub(super) fn submit<T, F, R>(&self, f: F, reply: R)
    where
        T: Send + 'static,
        F: FnOnce(&Db<'_>) -> LedgerResult<T> + Send + 'static,
        R: FnOnce(LedgerResult<T>) + Send + 'static,
    {
        self.send(pg_writer::Work::Write(pg_writer::op(f, reply)));
    }

    /// Queues a dispatch's new job for the writer's next group, where the group's new jobs are
    /// inserted together; `reply` hears the outcome once it is durable (or its 402).
    pub(super) fn submit_job(&self, job: super::jobs::OwnedJob, reply: impl FnOnce(LedgerResult<()>) + Send + 'static) {
        self.send(pg_writer::Work::Job(pg_dispatch::JobOp { job, finish: Box::new(reply) }));
    }

    /// Queues a request-log row for the announcer, which writes it soon after (nobody waits
    /// for it).
    pub(super) fn submit_log(&self, row: crate::domain::job::RequestLogRow) {
        match self.announce.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some(herald) => herald.log(row),
            None => tracing::warn!("the ledger is closed; a request-log row was not written"),
        }
    }

    fn send(&self, work: pg_writer::Work) {
        let sender = self.queue.lock().unwrap_or_else(|p| p.into_inner()).clone();
        match sender {
            Some(sender) => {
                if let Err(unsent) = sender.send(work) {
                    unsent.0.fail(&LedgerError::Closed);
                }
            }
            None => work.fail(&LedgerError::Closed),
        }
    }

    /// Runs `f` as one atomic state change and waits until it is durable. Blocking.
    pub(super) fn write_blocking<T, F>(&self, f: F) -> LedgerResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Db<'_>) -> LedgerResult<T> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.submit(f, move |r| {
            let _ = tx.send(r);
        });
        rx.recv().unwrap_or(Err(LedgerError::Closed))
    }

    /// Runs `f` in one REPEATABLE READ, READ ONLY transaction on a pooled connection. Blocking.
    pub(super) fn read_blocking<T: Send>(&self, f: impl FnOnce(&Db<'_>) -> LedgerResult<T> + Send) -> LedgerResult<T> {
        off_the_runtime(|| self.read_here(f))
    }

    fn read_here<T>(&self, f: impl FnOnce(&Db<'_>) -> LedgerResult<T>) -> LedgerResult<T> {
        let mut pooled = self.take()?;
        let result = crate::time::with_clock(&self.clock, || {
            let Pooled { client, statements } = &mut pooled;
            let tx =
                client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start()?;
            let db = Db::postgres(tx, statements, &self.channel);
            match catch_unwind(AssertUnwindSafe(|| f(&db))) {
                // A reader's commit only ends its snapshot.
                Ok(Ok(value)) => {
                    if let Some(tx) = db.into_postgres() {
                        tx.commit()?;
                    }
                    Ok(value)
                }
                Ok(Err(e)) => Err(e),
                Err(_) => {
                    tracing::error!("a ledger read panicked");
                    Err(LedgerError::Closed)
                }
            }
        });
        self.give_back(pooled);
        result
    }

    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        // The writer finishes what is queued, then its thread ends with its connection.
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(handle) = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = handle.join();
        }
        // Then the announcer says what the writer's last groups committed, and ends.
        self.announce.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(handle) = self.announcer.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = handle.join();
        }
        let idle = std::mem::take(&mut *self.pool.lock().unwrap_or_else(|p| p.into_inner()));
        // A connection's own runtime cannot be dropped inside another runtime either.
        off_the_runtime(move || drop(idle));
    }
}

/// Runs `work` where the blocking driver may block: here, unless this thread is inside a Tokio
/// runtime (the driver's own runtime cannot start inside another), else on a short-lived
/// thread of its own. Async code reaches the ledger through `spawn_blocking` (see
/// `Ledger::write`); this covers the few synchronous callers that run inside the runtime
/// (opening an engine, a blocking read from a request handler).
fn off_the_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    if MAY_BLOCK.with(|b| b.get()) || tokio::runtime::Handle::try_current().is_err() {
        return work();
    }
    std::thread::scope(|scope| match scope.spawn(work).join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// The NOTIFY channel of a realm's schema.
fn channel_of(schema: &str) -> String {
    format!("{schema}_changes")
}

/// A connection that gives up on an unreachable server after a few seconds rather than
/// hanging a request on it.
pub(crate) fn connect(url: &str) -> LedgerResult<Client> {
    let mut config: postgres::Config = url.parse().map_err(|e: postgres::Error| LedgerError::Database {
        message: format!("postgres: the ledger address is not valid: {e}"),
        disk_full: false,
        busy: false,
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    config.application_name("figur");
    // Migrations' "already exists, skipping" notices are not news.
    config.options("-c client_min_messages=warning");
    Ok(config.connect(NoTls)?)
}

/// Listens on the given channels over one connection and calls `changed(channel, payload)`
/// for every notification until `stop` is set, reconnecting after the server goes away.
/// Blocking: run it on a thread of its own. After each (re)connection it calls
/// `changed(channel, "")` once per channel, since what was committed while it was away was
/// not announced to it.
///
/// One connection for all of a process's channels, not one per realm: PostgreSQL signals every
/// backend listening in the database on each commit that notifies, whatever its channels, so
/// each extra listening connection costs the database a wake-up per dispatch group.
pub(crate) fn listen(url: &str, channels: &[String], stop: &AtomicBool, changed: &dyn Fn(&str, &str)) {
    let statements: String = channels.iter().map(|c| format!("LISTEN {c};")).collect();
    while !stop.load(Ordering::SeqCst) {
        let mut client = match connect(url).and_then(|mut c| {
            c.batch_execute(&statements)?;
            Ok(c)
        }) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for ledger changes; retrying");
                std::thread::sleep(Duration::from_millis(500));
                continue;
            }
        };
        for channel in channels {
            changed(channel, "");
        }
        while !stop.load(Ordering::SeqCst) {
            use postgres::fallible_iterator::FallibleIterator;
            let next = client.notifications().timeout_iter(Duration::from_millis(250)).next();
            match next {
                Ok(Some(n)) => changed(n.channel(), n.payload()),
                Ok(None) if client.is_closed() => break,
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "lost the ledger's change feed; reconnecting");
                    break;
                }
            }
        }
    }
}
