//! ULIDs for every public id. One process-wide monotonic generator keeps ids minted in the same
//! millisecond strictly increasing, so "oldest first" is simply "smallest id first".

use std::sync::Mutex;
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
}
