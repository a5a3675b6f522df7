//! The memory budget: heavy stages (full-resolution mattes, warps, composites) reserve their
//! working set before they allocate it, so several jobs running at once cannot together exhaust
//! RAM. A reservation larger than the whole budget is clamped to it: that job then runs alone
//! instead of never running. Reservations are released when dropped, also on error or panic.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Working bytes a full-resolution vision stage needs per pixel: the photo, its float copy,
/// the alpha, the guided filter's planes (about ten f32 planes), the output.
pub const VISION_BYTES_PER_PIXEL: u64 = 64;

#[derive(Debug)]
pub struct MemoryBudget {
    capacity: u64,
    used: Mutex<u64>,
    freed: Condvar,
}

/// Held memory; given back on drop.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<MemoryBudget>,
    pub bytes: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut used = self.budget.used.lock().unwrap_or_else(|p| p.into_inner());
        *used = used.saturating_sub(self.bytes);
        self.budget.freed.notify_all();
    }
}

impl MemoryBudget {
    pub fn new(capacity: u64) -> Arc<Self> {
        Arc::new(MemoryBudget { capacity: capacity.max(1), used: Mutex::new(0), freed: Condvar::new() })
    }

    /// `FIGUR_MEMORY_BUDGET_MB` when set, else 60 % of the memory available at start-up
    /// (`/proc/meminfo`), else 4 GiB.
    pub fn from_env() -> Arc<Self> {
        let configured = std::env::var("FIGUR_MEMORY_BUDGET_MB").ok().and_then(|v| v.trim().parse::<u64>().ok());
        let capacity =
            configured.map(|mb| mb << 20).or_else(|| available_memory().map(|bytes| bytes / 10 * 6)).unwrap_or(4 << 30);
        Self::new(capacity)
    }

    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    pub fn in_use(&self) -> u64 {
        *self.used.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserves `bytes` (clamped to the capacity) if it fits now, waiting at most `wait` for
    /// other reservations to be released.
    pub fn reserve(self: &Arc<Self>, bytes: u64, wait: Duration) -> Option<Reservation> {
        let bytes = bytes.min(self.capacity);
        let used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        let (mut used, _) = self
            .freed
            .wait_timeout_while(used, wait, |used| *used + bytes > self.capacity)
            .unwrap_or_else(|p| p.into_inner());
        if *used + bytes > self.capacity {
            return None;
        }
        *used += bytes;
        Some(Reservation { budget: self.clone(), bytes })
    }
}

fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib << 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_wait_for_room_and_give_it_back_on_drop() {
        let budget = MemoryBudget::new(100);
        let a = budget.reserve(60, Duration::ZERO).expect("fits");
        assert!(budget.reserve(60, Duration::from_millis(20)).is_none(), "would exceed the budget");
        let b = budget.reserve(40, Duration::ZERO).expect("exactly fills it");
        assert_eq!(budget.in_use(), 100);
        drop(b);
        // A waiter is woken by a release on another thread.
        let waiter = {
            let budget = budget.clone();
            std::thread::spawn(move || budget.reserve(70, Duration::from_secs(10)).map(|r| r.bytes))
        };
        std::thread::sleep(Duration::from_millis(50));
        drop(a);
        assert_eq!(waiter.join().unwrap(), Some(70));
        assert_eq!(budget.in_use(), 0, "the waiter's reservation was dropped with its thread");
    }

    #[test]
    fn a_reservation_larger_than_the_budget_runs_alone() {
        let budget = MemoryBudget::new(100);
        let big = budget.reserve(10_000, Duration::ZERO).expect("clamped to the capacity");
        assert_eq!(big.bytes, 100);
        assert!(budget.reserve(1, Duration::ZERO).is_none());
        drop(big);
        assert!(budget.reserve(1, Duration::ZERO).is_some());
    }
}
