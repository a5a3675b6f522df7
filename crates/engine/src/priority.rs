//! Render work yields to the API. Jobs run on threads of their own at a lower CPU priority
//! (Linux nice, per thread, inherited by the threads a job starts — ONNX Runtime's pools
//! included), so when 4K renders fill every core the HTTP runtime and the ledger writer are
//! still scheduled first and a dispatch is answered at once (`cargo bench --bench
//! dispatch_under_load` measures it both ways).

use std::sync::OnceLock;

/// The nice value of job threads: `FIGUR_WORKER_NICE` (0–19; 0 keeps the process's own), else 10.
pub fn worker_nice() -> i32 {
    static NICE: OnceLock<i32> = OnceLock::new();
    *NICE.get_or_init(|| {
        std::env::var("FIGUR_WORKER_NICE")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .map(|n: i32| n.clamp(0, 19))
            .unwrap_or(10)
    })
}

/// Lowers the calling thread's priority by [`worker_nice`]. Raising it back would need a
/// privilege, so call it only on a thread that does nothing else afterwards.
pub fn lower_this_thread() {
    let nice = worker_nice();
    if nice == 0 {
        return;
    }
    let me = rustix::thread::gettid();
    let current = rustix::process::getpriority_process(Some(me)).unwrap_or(0);
    if let Err(e) = rustix::process::setpriority_process(Some(me), (current + nice).min(19)) {
        tracing::debug!(error = %e, "could not lower a job thread's priority");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_lowered_thread_is_nicer_and_others_are_not() {
        let before = rustix::process::getpriority_process(None).unwrap();
        let lowered = std::thread::spawn(|| {
            super::lower_this_thread();
            rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(lowered, (before + super::worker_nice()).min(19));
        assert_eq!(rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap(), before);
    }
}
