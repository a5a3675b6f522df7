//! A realm is one world of jobs: its ledger, its store and its wake-ups. `sk_live_` keys and the
//! desktop app use the live realm; `sk_test_` keys an isolated test realm beside it.

use std::path::Path;
use std::sync::Arc;

use tokio::sync::Notify;

use crate::auth::Mode;
use crate::bus::Bus;
use crate::ledger::{Ledger, LedgerError};
use crate::store::Store;

#[derive(Debug)]
pub struct Realm {
    pub mode: Mode,
    pub ledger: Arc<Ledger>,
    pub store: Arc<Store>,
    pub bus: Bus,
    /// Woken on every dispatch so the scheduler picks the job up at once.
    pub work: Notify,
}

impl Realm {
    /// `dir/ledger.db` and `dir/store/`.
    pub fn open(mode: Mode, dir: &Path) -> Result<Self, LedgerError> {
        let ledger = Arc::new(Ledger::open(&dir.join("ledger.db"))?);
        let store = Store::open(&dir.join("store")).map_err(|e| LedgerError::Sqlite {
            message: format!("cannot create the store in {}: {e}", dir.display()),
            disk_full: e.raw_os_error() == Some(28),
            busy: false,
        })?;
        Ok(Realm { mode, ledger, store: Arc::new(store), bus: Bus::default(), work: Notify::new() })
    }
}
