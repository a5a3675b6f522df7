//! A full disk: jobs end in a clear `DISK_FULL` failure with a refund, uploads answer 503, the
//! ledger stays intact, and freeing space brings everything back. Runs on a real, small tmpfs
//! (needs root to mount, as CI and the development machines run).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use serde_json::json;

use crate::support::{assert_timeline, noisy_png, Server};

struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap().keep();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(ok.success(), "mounting a tmpfs needs root (the test command runs as root in CI)");
        Tmpfs(dir)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn free_bytes(path: &Path) -> u64 {
    let out = Command::new("df").args(["--output=avail", "-B1"]).arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().nth(1).unwrap().trim().parse().unwrap()
}

/// Fills the filesystem until only about `leave` bytes are free.
fn fill(path: &Path, leave: u64) -> PathBuf {
    let filler = path.join("filler.bin");
    let size = free_bytes(path).saturating_sub(leave);
    std::fs::write(&filler, vec![0u8; size as usize]).unwrap();
    filler
}

#[tokio::test]
async fn a_full_disk_fails_jobs_cleanly_and_the_ledger_survives() {
    let disk = Tmpfs::mount("64m");
    let data = tempfile::tempdir_in(&disk.0).unwrap();
    let server = Server::start_in(Arc::new(data), &["--concurrency", "1"], &[]).await;
    // Let the built-in catalog land first, so it does not compete for the space.
    for _ in 0..300 {
        if server.get("/v1/catalog/backgrounds").await.body.as_array().map(|a| a.len()) == Some(6) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let before = server.balance().await;
    let filler = fill(&disk.0, 400 * 1024);

    // A 2K backdrop (several MB) cannot be stored: the job fails with DISK_FULL and a refund.
    let r = server.dispatch_backdrop(json!({"resolution": "2K"})).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let job = r.body["job_id"].as_str().unwrap().to_string();
    let timeline = server.wait_terminal(&job).await;
    assert_timeline(&timeline);
    let last = timeline.last().unwrap();
    assert_eq!(last["event_type"], "failed");
    assert_eq!(last["extra"]["error"]["code"], "DISK_FULL", "{last}");
    assert!(last["extra"]["error"]["message"].as_str().unwrap().contains("disk is full"));
    assert_eq!(server.balance().await, before);

    // An upload that does not fit is refused with 503, nothing half-stored.
    let r = server.upload("big.png", noisy_png(600, 600)).await;
    assert_eq!((r.status.as_u16(), r.code()), (503, "UNAVAILABLE"), "{:?}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("disk is full"));

    // Free the space: the same work succeeds.
    std::fs::remove_file(filler).unwrap();
    let r = server.dispatch_backdrop(json!({"resolution": "2K"})).await;
    let timeline = server.wait_terminal(r.body["job_id"].as_str().unwrap()).await;
    assert_eq!(timeline.last().unwrap()["event_type"], "succeeded");
    assert_eq!(server.upload("big.png", noisy_png(600, 600)).await.status, 200);

    let conn = rusqlite::Connection::open(server.data_dir().join("live/ledger.db")).unwrap();
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    drop(conn);
    drop(server);
}
