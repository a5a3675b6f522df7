//! A realm is one world of jobs: its ledger, its store and its wake-ups. `sk_live_` keys and the
//! desktop app use the live realm; `sk_test_` keys an isolated test realm beside it.

use std::path::Path;
use std::sync::Arc;

use tokio::sync::Notify;

use crate::auth::Mode;
use crate::bus::Bus;
use crate::ids::{IdSource, Ulids};
use crate::ledger::{Ledger, LedgerError};
use crate::store::Store;
use crate::time::{Clock, SystemClock};

#[derive(Debug)]
pub struct Realm {
    pub mode: Mode,
    pub ledger: Arc<Ledger>,
    pub store: Arc<Store>,
    pub bus: Bus,
    /// Woken on every dispatch so the scheduler picks the job up at once.
    pub work: Notify,
    /// The realm's time (its ledger's writer reads it too) and where its ids come from.
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdSource>,
}

impl Realm {
    /// `dir/ledger.db` and `dir/store/`, on the system's clock and fresh ULIDs.
    pub fn open(mode: Mode, dir: &Path) -> Result<Self, LedgerError> {
        Self::open_with(mode, dir, Arc::new(SystemClock), Arc::new(Ulids))
    }

    pub fn open_with(
        mode: Mode,
        dir: &Path,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdSource>,
    ) -> Result<Self, LedgerError> {
        let ledger = Arc::new(Ledger::open_with_clock(&dir.join("ledger.db"), clock.clone())?);
        let store = Store::open(&dir.join("store")).map_err(|e| LedgerError::Sqlite {
            message: format!("cannot create the store in {}: {e}", dir.display()),
            disk_full: e.raw_os_error() == Some(28),
            busy: false,
        })?;
        Ok(Realm { mode, ledger, store: Arc::new(store), bus: Bus::default(), work: Notify::new(), clock, ids })
    }
}
