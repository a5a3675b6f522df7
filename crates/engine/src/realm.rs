//! A realm is one world of jobs: its ledger, its store and its wake-ups. `sk_live_` keys and the
//! desktop app use the live realm; `sk_test_` keys an isolated test realm beside it.

use std::path::Path;
use std::sync::Arc;

use tokio::sync::Notify;

use crate::auth::Mode;
use crate::bus::Bus;
use crate::ids::{IdSource, Ulids};
use crate::ledger::{Ledger, LedgerError, LedgerLocation};
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
        let store = Self::folder_store(dir)?;
        Self::open_at(mode, dir, &LedgerLocation::Sqlite, store, clock, ids)
    }

    /// The store in `dir/store/`, the realm's folder.
    pub fn folder_store(dir: &Path) -> Result<Store, LedgerError> {
        Store::open(&dir.join("store"))
            .map_err(|e| LedgerError::io(format!("cannot create the store in {}", dir.display()), &e))
    }

    /// The realm with `store` and its ledger at `ledger`: `dir/ledger.db`, or the schema
    /// `figur_<mode>` of a shared PostgreSQL database.
    pub fn open_at(
        mode: Mode,
        dir: &Path,
        ledger: &LedgerLocation,
        store: Store,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdSource>,
    ) -> Result<Self, LedgerError> {
        let ledger = Arc::new(match ledger {
            LedgerLocation::Sqlite => Ledger::open_with_clock(&dir.join("ledger.db"), clock.clone())?,
            LedgerLocation::Postgres { url } => {
                Ledger::open_postgres(url, &format!("figur_{}", mode.as_str()), clock.clone())?
            }
        });
        Ok(Realm { mode, ledger, store: Arc::new(store), bus: Bus::default(), work: Notify::new(), clock, ids })
    }
}
