//! Wall-clock helpers: RFC 3339 UTC strings for the API, Unix milliseconds for arithmetic — and
//! the clock they read. The studio runs on the system's; a test gives a realm a [`ManualClock`]
//! and moves it, so what depends on time (the idempotency window, a running job's poll of the
//! ledger for a cancel, every timestamp the ledger writes) is tested without waiting.
//!
//! A realm's ledger writer thread reads its realm's clock (`Ledger::open_with_clock`), so the
//! ledger's own timestamps need no clock argument; other code asks its realm's clock directly.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where "now" comes from.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> SystemTime;
}

/// The system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that stands still until a test moves it.
#[derive(Debug)]
pub struct ManualClock(Mutex<SystemTime>);

impl ManualClock {
    pub fn at(t: SystemTime) -> Arc<ManualClock> {
        Arc::new(ManualClock(Mutex::new(t)))
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

thread_local! {
    static THREAD_CLOCK: RefCell<Option<Arc<dyn Clock>>> = const { RefCell::new(None) };
}

/// Makes [`now`] on this thread read `clock` (a ledger's writer thread, its realm's clock).
pub fn use_on_this_thread(clock: Arc<dyn Clock>) {
    THREAD_CLOCK.with(|c| *c.borrow_mut() = Some(clock));
}

/// Runs `f` with [`now`] on this thread reading `clock`, then restores what it read before (a
/// PostgreSQL ledger's writes run on the caller's thread, in their realm's time).
pub fn with_clock<T>(clock: &Arc<dyn Clock>, f: impl FnOnce() -> T) -> T {
    let before = THREAD_CLOCK.with(|c| c.borrow_mut().replace(clock.clone()));
    struct Restore(Option<Arc<dyn Clock>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let before = self.0.take();
            THREAD_CLOCK.with(|c| *c.borrow_mut() = before);
        }
    }
    let _restore = Restore(before);
    f()
}

/// This thread's clock's time (the system's, unless [`use_on_this_thread`] said otherwise).
pub fn now() -> SystemTime {
    THREAD_CLOCK.with(|c| c.borrow().as_ref().map(|c| c.now())).unwrap_or_else(SystemTime::now)
}

/// `2026-11-25T20:18:37.123Z`.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

pub fn now_rfc3339() -> String {
    rfc3339(now())
}

pub fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_millis() as i64
}

pub fn now_unix_ms() -> i64 {
    unix_ms(now())
}
