//! Keys, authentication, credits, usage and the request log.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use subtle::ConstantTimeEq;

use super::{Engine, SHARED_RATE_WINDOW};
use crate::auth::{self, Caller, Capability, Mode};
use crate::domain::catalog::{Credits, UsageList};
use crate::error::{ApiError, ErrorCode};
use crate::ids::new_id;
use crate::ledger::credits;
use crate::ledger::keys::{self, KeyRow};
use crate::ledger::requests::RequestLogRow;

/// How long a verified key is trusted without re-reading the ledger (so a revocation from the
/// CLI takes effect within this time).
const KEY_CACHE_TTL: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
pub(super) struct KeyCache(Mutex<HashMap<[u8; 32], (Caller, Instant)>>);

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(ErrorCode::Unauthorized, message)
}

impl Engine {
    /// Resolves a bearer key to its caller. The key is hashed; the stored hash is found and
    /// compared in constant time. Unknown, malformed and revoked keys all answer 401.
    /// Farm mode: spends one request of `key_id` from the allowance all the farm's API servers
    /// share — `per_second` sustained, twice that in any [`SHARED_RATE_WINDOW`] — and says how
    /// long to wait once it is spent. On one machine the server's own limiter is the whole
    /// story and this does nothing. A database that cannot answer lets the request through:
    /// whatever the request needs from it then fails with its own clear error.
    pub async fn spend_shared_rate(&self, key_id: &str, per_second: u32) -> Result<(), Duration> {
        if per_second == 0 || !self.config.ledger.is_shared() {
            return Ok(());
        }
        let subject = format!("key:{key_id}");
        let window_ms = SHARED_RATE_WINDOW.as_millis() as i64;
        let allowance = i64::from(per_second) * window_ms / 1000;
        match self.live.ledger.write(move |c| crate::ledger::rates::spend(c, &subject, window_ms)).await {
            Ok((spent, left_ms)) if spent > allowance => Err(Duration::from_millis(left_ms.max(1) as u64)),
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::warn!(error = %e, "cannot count this request against the farm's rate limit");
                Ok(())
            }
        }
    }

    pub async fn authenticate(&self, presented: &str) -> Result<Caller, ApiError> {
        let Some(claimed_mode) = auth::mode_of(presented) else {
            return Err(unauthorized("the API key is missing or malformed (expected sk_live_… or sk_test_…)"));
        };
        let hash = auth::hash_key(presented);
        if let Some((caller, at)) = self.key_cache.0.lock().unwrap_or_else(|p| p.into_inner()).get(&hash) {
            if at.elapsed() < KEY_CACHE_TTL {
                return Ok(caller.clone());
            }
        }
        let row = self.live.ledger.read(move |c| keys::find_by_hash(c, &hash)).await?;
        let row = row.filter(|r| bool::from(r.hash.as_slice().ct_eq(&hash)));
        let caller = match row {
            Some(r) if r.revoked_at.is_none() && Mode::parse(&r.mode) == Some(claimed_mode) => Caller {
                key_id: r.id,
                mode: claimed_mode,
                capabilities: r.capabilities.iter().filter_map(|c| Capability::parse(c)).collect(),
            },
            Some(r) if r.revoked_at.is_some() => return Err(unauthorized("this API key has been revoked")),
            _ => return Err(unauthorized("the API key is not known to this studio")),
        };
        let mut cache = self.key_cache.0.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(hash, (caller.clone(), Instant::now()));
        Ok(caller)
    }

    /// Makes a key; returns its record and the plain key, which is never stored.
    pub async fn create_key(
        &self,
        mode: Mode,
        capabilities: &[Capability],
        name: &str,
    ) -> Result<(KeyRow, String), ApiError> {
        let plain = auth::generate_key(mode);
        let row = KeyRow {
            id: new_id(),
            prefix: plain.chars().take(12).collect(),
            hash: auth::hash_key(&plain).to_vec(),
            mode: mode.as_str().into(),
            capabilities: capabilities.iter().map(|c| c.as_str().to_string()).collect(),
            name: name.into(),
            created_at: crate::time::now_rfc3339(),
            revoked_at: None,
        };
        let stored = row.clone();
        self.live.ledger.write(move |c| keys::insert(c, &stored)).await?;
        Ok((row, plain))
    }

    pub async fn list_keys(&self) -> Result<Vec<KeyRow>, ApiError> {
        Ok(self.live.ledger.read(keys::list).await?)
    }

    /// Revokes by id or printed prefix; 404 if nothing matched.
    pub async fn revoke_key(&self, id_or_prefix: &str) -> Result<usize, ApiError> {
        let target = id_or_prefix.to_string();
        let n = self.live.ledger.write(move |c| keys::revoke(c, &target)).await?;
        self.key_cache.0.lock().unwrap_or_else(|p| p.into_inner()).clear();
        if n == 0 {
            return Err(ApiError::not_found("active API key", id_or_prefix));
        }
        Ok(n)
    }

    /// On a studio with no active key, makes one live key with every capability and writes it
    /// to `<data dir>/first-key.txt` (owner-only). Says where the first key is, whether it was
    /// made now or earlier (`None`: there is no such file, e.g. the user removed it).
    pub async fn ensure_first_key(&self) -> Result<Option<FirstKey>, ApiError> {
        let path = self.data_dir().join("first-key.txt");
        if self.live.ledger.read(keys::count_active).await? > 0 {
            return Ok(path.exists().then_some(FirstKey { path, created: false }));
        }
        let (_, plain) = self.create_key(Mode::Live, &Capability::ALL, "first key").await?;
        super::write_private(&path, format!("{plain}\n").as_bytes())
            .map_err(|e| ApiError::internal(format!("could not write {}: {e}", path.display())))?;
        Ok(Some(FirstKey { path, created: true }))
    }

    pub async fn credits(&self, caller: &Caller) -> Result<Credits, ApiError> {
        let balance = self.realm(caller.mode).ledger.read(credits::balance).await?;
        Ok(Credits { balance, currency: "credits".into() })
    }

    pub async fn set_credits(&self, mode: Mode, balance: i64) -> Result<Credits, ApiError> {
        if balance < 0 {
            return Err(ApiError::field("body", "balance", "cannot be negative", "range"));
        }
        self.realm(mode).ledger.write(move |c| credits::set(c, balance)).await?;
        Ok(Credits { balance, currency: "credits".into() })
    }

    pub async fn usage(&self, caller: &Caller, limit: u32, offset: u32) -> Result<UsageList, ApiError> {
        let usage = self.realm(caller.mode).ledger.read(move |c| credits::usage(c, limit, offset)).await?;
        Ok(UsageList { count: usage.len(), usage, limit, offset })
    }

    /// Records a request; committed with the next write group, never waited for.
    pub fn log_request(&self, mode: Mode, row: RequestLogRow) {
        self.realm(mode).ledger.log_request(row);
    }
}

/// Where the first API key is kept, and whether this start made it.
#[derive(Debug, Clone)]
pub struct FirstKey {
    pub path: std::path::PathBuf,
    pub created: bool,
}

impl std::fmt::Display for FirstKey {
    /// The line both doors print at start.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.created {
            write!(f, "created your first API key (live, jobs:create + jobs:read); it is in {}", self.path.display())
        } else {
            write!(f, "your first API key is in {}", self.path.display())
        }
    }
}
