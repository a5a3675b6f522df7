//! API keys: `sk_live_…` works on the live ledger and store, `sk_test_…` on an isolated test
//! realm. Keys carry capabilities (`jobs:create`, `jobs:read`). Only SHA-256 hashes are stored;
//! a presented key is hashed, found by its hash, and the hashes compared in constant time.

use rand::distributions::{Alphanumeric, DistString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Live,
    Test,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Live => "live",
            Mode::Test => "test",
        }
    }
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "live" => Some(Mode::Live),
            "test" => Some(Mode::Test),
            _ => None,
        }
    }
    pub fn key_prefix(self) -> &'static str {
        match self {
            Mode::Live => "sk_live_",
            Mode::Test => "sk_test_",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Capability {
    #[serde(rename = "jobs:create")]
    JobsCreate,
    #[serde(rename = "jobs:read")]
    JobsRead,
}

impl Capability {
    pub const ALL: [Capability; 2] = [Capability::JobsCreate, Capability::JobsRead];
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::JobsCreate => "jobs:create",
            Capability::JobsRead => "jobs:read",
        }
    }
    pub fn parse(s: &str) -> Option<Capability> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Who is calling: the key's id, its realm and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub key_id: String,
    pub mode: Mode,
    pub capabilities: Vec<Capability>,
}

impl Caller {
    pub fn can(&self, capability: Capability) -> bool {
        self.capabilities.contains(&capability)
    }

    /// The desktop app and the CLI act as the owner: both capabilities, no key.
    pub fn owner(mode: Mode) -> Self {
        Caller { key_id: "owner".into(), mode, capabilities: Capability::ALL.to_vec() }
    }
}

/// A new random key for `mode`: its prefix and 40 alphanumerics (~238 bits).
pub fn generate_key(mode: Mode) -> String {
    format!("{}{}", mode.key_prefix(), Alphanumeric.sample_string(&mut rand::thread_rng(), 40))
}

pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The mode a key's prefix claims, if it has a known one.
pub fn mode_of(key: &str) -> Option<Mode> {
    [Mode::Live, Mode::Test].into_iter().find(|m| key.starts_with(m.key_prefix()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_prefixed_and_hash_stably() {
        let a = generate_key(Mode::Live);
        let b = generate_key(Mode::Test);
        assert!(a.starts_with("sk_live_") && a.len() == 48);
        assert_eq!(mode_of(&b), Some(Mode::Test));
        assert_eq!(mode_of("sk_prod_x"), None);
        assert_ne!(a, generate_key(Mode::Live));
        assert_eq!(hash_key(&a), hash_key(&a));
        assert_ne!(hash_key(&a), hash_key(&b));
    }
}
