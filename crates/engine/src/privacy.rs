//! A designer's data folder is private: an unreleased collection on a shared workstation must
//! not be readable by the other users of the machine. The process creates everything with a
//! umask of 077 (folders 0700, files 0600), and a data folder made by an earlier version (0755
//! folders, 0644 files) is tightened once at start, with a log line saying so.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Folders: owner only.
const PRIVATE_DIR: u32 = 0o700;

/// Makes every file and folder this process creates from now on private to its user.
/// Process-wide by nature (the umask is per process); idempotent.
pub fn private_umask() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Creates `dir` if needed and makes it, and everything under it, private. Returns how many
/// entries had to be tightened (0 for a folder already private).
pub fn make_private(dir: &Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let root = std::fs::metadata(dir)?;
    if root.permissions().mode() & 0o077 == 0 {
        // Made private by us; nothing under it was created with looser bits.
        return Ok(0);
    }
    let tightened = tighten(dir)?;
    tracing::info!(
        folder = %dir.display(),
        entries = tightened,
        "the data folder was readable by other users of this machine; made it private (folders 0700, files 0600)"
    );
    Ok(tightened)
}

/// Removes group and other bits below `path`; symbolic links are left alone (their targets may
/// be shared caches the user placed there on purpose).
fn tighten(path: &Path) -> std::io::Result<usize> {
    let meta = std::fs::symlink_metadata(path)?;
    let mut changed = 0;
    let mode = meta.permissions().mode();
    if meta.is_dir() {
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(PRIVATE_DIR))?;
            changed += 1;
        }
        for entry in std::fs::read_dir(path)? {
            changed += tighten(&entry?.path())?;
        }
    } else if meta.is_file() && mode & 0o077 != 0 {
        // The owner's own bits stay as they were (0644 becomes 0600, 0755 becomes 0700).
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
        changed += 1;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn an_open_data_folder_is_tightened_once_and_links_are_left_alone() {
        let outer = tempfile::tempdir().unwrap();
        let dir = outer.path().join("data");
        std::fs::create_dir_all(dir.join("live/uploads/01ABC")).unwrap();
        std::fs::write(dir.join("live/ledger.db"), b"x").unwrap();
        std::fs::write(dir.join("live/uploads/01ABC/photo.jpg"), b"x").unwrap();
        let shared = outer.path().join("shared.txt");
        std::fs::write(&shared, b"x").unwrap();
        std::os::unix::fs::symlink(&shared, dir.join("link")).unwrap();
        for p in ["", "live", "live/uploads", "live/uploads/01ABC"] {
            std::fs::set_permissions(dir.join(p), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        for p in ["live/ledger.db", "live/uploads/01ABC/photo.jpg"] {
            std::fs::set_permissions(dir.join(p), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o644)).unwrap();

        assert_eq!(make_private(&dir).unwrap(), 6);
        for p in ["", "live", "live/uploads", "live/uploads/01ABC"] {
            assert_eq!(mode(&dir.join(p)), 0o700, "{p}");
        }
        assert_eq!(mode(&dir.join("live/ledger.db")), 0o600);
        assert_eq!(mode(&dir.join("live/uploads/01ABC/photo.jpg")), 0o600);
        assert_eq!(mode(&shared), 0o644, "a link's target is not ours to change");
        assert_eq!(make_private(&dir).unwrap(), 0, "a private folder is not walked again");
    }

    #[test]
    fn files_made_after_the_umask_are_private() {
        private_umask();
        let outer = tempfile::tempdir().unwrap();
        let dir = outer.path().join("new/deeper");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("f"), b"x").unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("f")), 0o600);
    }
}
