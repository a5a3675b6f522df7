//! ULIDs for every public id. One process-wide monotonic generator keeps ids minted in the same
//! millisecond strictly increasing, so "oldest first" is simply "smallest id first".

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ulid::{Generator, Ulid};

static GENERATOR: Mutex<Option<Generator>> = Mutex::new(None);

/// A new ULID, strictly greater than every id this process minted before.
pub fn new_ulid() -> Ulid {
    let mut guard = GENERATOR.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let generator = guard.get_or_insert_with(Generator::new);
    // Overflow needs 2^80 ids in one millisecond; fall back to a fresh random id if it ever happens.
    generator.generate().unwrap_or_else(|_| Ulid::new())
}

/// A new ULID as its 26-character Crockford base32 string.
pub fn new_id() -> String {
    new_ulid().to_string()
}

/// Where a realm's job and catalog ids come from: [`Ulids`] in the studio, [`SequentialIds`] in
/// tests that want to know every id in advance.
pub trait IdSource: Send + Sync + std::fmt::Debug {
    fn next_id(&self) -> String;
}

/// Fresh monotonic ULIDs ([`new_id`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct Ulids;

impl IdSource for Ulids {
    fn next_id(&self) -> String {
        new_id()
    }
}

/// Ids 1, 2, 3… as valid, increasing ULIDs stamped with one fixed millisecond.
#[derive(Debug)]
pub struct SequentialIds {
    at_ms: u64,
    issued: AtomicU64,
}

impl SequentialIds {
    pub fn new(at_ms: u64) -> Arc<SequentialIds> {
        Arc::new(SequentialIds { at_ms, issued: AtomicU64::new(0) })
    }

    /// The `n`th id this source gives (1-based).
    pub fn nth(&self, n: u64) -> String {
        Ulid::from_parts(self.at_ms, n as u128).to_string()
    }
}

impl IdSource for SequentialIds {
    fn next_id(&self) -> String {
        self.nth(self.issued.fetch_add(1, Ordering::SeqCst) + 1)
    }
}

/// True when `s` is a well-formed 26-character ULID.
pub fn is_ulid(s: &str) -> bool {
    s.len() == 26 && Ulid::from_string(s).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase_within_a_millisecond() {
        let ids: Vec<String> = (0..1000).map(|_| new_id()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert!(ids.iter().all(|id| is_ulid(id)));
        assert!(!is_ulid("not-a-ulid"));
        assert!(!is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FA")); // 25 chars
    }

    #[test]
    fn sequential_ids_are_known_in_advance_and_valid() {
        let ids = SequentialIds::new(1_700_000_000_000);
        let (first, second) = (ids.nth(1), ids.nth(2));
        assert_eq!((ids.next_id(), ids.next_id()), (first.clone(), second.clone()));
        assert!(is_ulid(&first) && first < second);
    }
}
