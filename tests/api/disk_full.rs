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

/// Fills the filesystem completely, then frees about `leave` bytes. Writing until the disk
/// refuses (rather than measuring first) holds even if something else writes meanwhile.
fn fill(path: &Path, leave: u64) -> PathBuf {
    use std::io::Write;
    let filler = path.join("filler.bin");
    let mut file = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 256 * 1024];
    while let Ok(n) = file.write(&chunk) {
        if n == 0 {
            break;
        }
    }
    let len = file.metadata().unwrap().len();
    file.set_len(len.saturating_sub(leave)).unwrap();
    filler
}

#[tokio::test]
async fn a_full_disk_fails_jobs_cleanly_and_the_ledger_survives() {
    let disk = Tmpfs::mount("64m");
    let data = tempfile::tempdir_in(&disk.0).unwrap();
    let server = Server::start_in(Arc::new(data), &["--concurrency", "1"], &[]).await;
    // Let the built-in catalog land in both realms first, so it does not compete for the space.
    let test_key = server.create_key(&["--test"]);
    for key in [server.key.clone(), test_key] {
        for _ in 0..300 {
            if server.get_as("/v1/catalog/backgrounds", &key).await.body.as_array().map(|a| a.len()) == Some(6) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
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
