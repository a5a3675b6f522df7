//! Files under the data dir, addressed by keys such as `uploads/<ULID>/<name>`,
//! `artifacts/<job>/<n>-<kind>.png` and `catalog/<resource>/<id>.png`.
//!
//! A key is checked before it touches the filesystem: relative, `/`-separated, plain characters,
//! no `.`/`..` segments, under a known top folder; and no component on disk may be a symlink.
//! So no key can resolve outside the store. Writes are atomic (temp file, fsync, rename).

use std::io::Write;
use std::path::{Path, PathBuf};

/// `cache/` holds what jobs may make again (the swaps' rendered backdrops): safe to delete.
const ROOTS: [&str; 4] = ["uploads", "artifacts", "catalog", "cache"];
const MAX_KEY_LEN: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the key is not a valid store key: {0}")]
    Invalid(&'static str),
    #[error("the key points through a symbolic link")]
    Symlink,
    #[error("no file has this key")]
    Missing,
}

/// Checks a key's shape (no filesystem access).
pub fn validate_key(key: &str) -> Result<(), KeyError> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(KeyError::Invalid("empty or longer than 512 characters"));
    }
    if key.starts_with('/') || key.contains('\\') || key.contains(':') {
        return Err(KeyError::Invalid("absolute paths are not keys"));
    }
    let mut segments = key.split('/');
    if !segments.next().is_some_and(|root| ROOTS.contains(&root)) {
        return Err(KeyError::Invalid("a key starts with uploads/, artifacts/, catalog/ or cache/"));
    }
    for segment in key.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." {
            return Err(KeyError::Invalid("empty, `.` and `..` segments are not allowed"));
        }
        if !segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
            return Err(KeyError::Invalid("only letters, digits, `.`, `_` and `-` are allowed"));
        }
        if segment.starts_with('.') {
            return Err(KeyError::Invalid("hidden names are not allowed"));
        }
    }
    Ok(())
}

/// A file name safe to put in a key: the base name with odd characters replaced, at most 80
/// characters, ending in `ext`.
pub fn safe_file_name(original: &str, ext: &str) -> String {
    let base = original.rsplit(['/', '\\']).next().unwrap_or("");
    let stem = base.rsplit_once('.').map(|(s, _)| s).unwrap_or(base);
    let mut clean: String =
        stem.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
    while clean.contains("--") {
        clean = clean.replace("--", "-");
    }
    let clean = clean.trim_matches(['-', '_']);
    let clean: String = clean.chars().take(80).collect();
    let clean = if clean.is_empty() { "image".to_string() } else { clean };
    format!("{clean}.{ext}")
}

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    pub fn open(root: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(root)?;
        Ok(Store { root: root.to_path_buf() })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path of an existing file, refusing anything that could leave the store.
    pub fn resolve(&self, key: &str) -> Result<PathBuf, KeyError> {
        validate_key(key)?;
        let mut path = self.root.clone();
        for segment in key.split('/') {
            path.push(segment);
            match std::fs::symlink_metadata(&path) {
                Ok(meta) if meta.file_type().is_symlink() => return Err(KeyError::Symlink),
                Ok(_) => {}
                Err(_) => return Err(KeyError::Missing),
            }
        }
        if !path.is_file() {
            return Err(KeyError::Missing);
        }
        Ok(path)
    }

    pub fn read(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.resolve(key)?;
        Ok(std::fs::read(path)?)
    }

    /// Writes `bytes` under `key` atomically and durably, replacing what was there: for files
    /// made again from their recipe (cached backdrops, built-ins), where a damaged copy is
    /// repaired by writing it anew.
    pub fn put(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let (tmp, path) = self.write_temp(key, bytes)?;
        let placed = std::fs::rename(&tmp, &path);
        if placed.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        Ok(placed?)
    }

    /// Writes `bytes` under a key that must be new — uploads and job artifacts are never
    /// overwritten, even by a late process on another machine of a farm. The file is written
    /// whole under a temporary name and hard-linked into place, which fails if the key exists
    /// (atomic on a local disk and on NFS); on a share without hard links (some SMB servers) the
    /// key is checked, then the file renamed into place.
    pub fn put_new(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let (tmp, path) = self.write_temp(key, bytes)?;
        let placed = match std::fs::hard_link(&tmp, &path) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(StoreError::Exists(key.to_string())),
            Err(e) if matches!(e.raw_os_error(), Some(1 | 95)) => {
                // EPERM / EOPNOTSUPP: no hard links here.
                if std::fs::symlink_metadata(&path).is_ok() {
                    Err(StoreError::Exists(key.to_string()))
                } else {
                    std::fs::rename(&tmp, &path).map_err(StoreError::from)
                }
            }
            other => other.map_err(StoreError::from),
        };
        let _ = std::fs::remove_file(&tmp);
        placed
    }

    /// `bytes` written and synced under a temporary name in the key's folder: (that name, the
    /// key's path).
    fn write_temp(&self, key: &str, bytes: &[u8]) -> Result<(PathBuf, PathBuf), StoreError> {
        validate_key(key)?;
        let path = self.root.join(key);
        let dir = path.parent().ok_or(KeyError::Invalid("no folder"))?;
        std::fs::create_dir_all(dir)?;
        // Refuse to write through a symlinked folder planted inside the store.
        let mut walk = self.root.clone();
        for segment in key.split('/').take(key.split('/').count() - 1) {
            walk.push(segment);
            if std::fs::symlink_metadata(&walk).map(|m| m.file_type().is_symlink()).unwrap_or(false) {
                return Err(KeyError::Symlink.into());
            }
        }
        let tmp = dir.join(format!(".tmp-{}", crate::ids::new_id()));
        let written = (|| {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e.into());
        }
        Ok((tmp, path))
    }

    pub fn exists(&self, key: &str) -> bool {
        self.resolve(key).is_ok()
    }

    /// Removes the files directly in `folder` (not its subfolders, which belong to someone
    /// else: a job's later runs), then the folder if that left it empty; missing is fine.
    pub fn remove_files(&self, folder: &str) {
        if validate_key(folder).is_err() {
            return;
        }
        let dir = self.root.join(folder);
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        let _ = std::fs::remove_dir(&dir);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("{0} is already in the store; stored files are never overwritten")]
    Exists(String),
}

impl StoreError {
    pub fn is_disk_full(&self) -> bool {
        matches!(self, StoreError::Io(e) if e.raw_os_error() == Some(28))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_shapes() {
        assert!(validate_key("uploads/01J/photo.jpg").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "uploads/../secret",
            "uploads/./a.png",
            "uploads//a.png",
            "elsewhere/a.png",
            "uploads/a b.png",
            "uploads/.hidden",
            "uploads\\a.png",
            "C:/x",
        ] {
            assert!(validate_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn safe_names() {
        assert_eq!(safe_file_name("../../My Photo (1).JPG", "jpg"), "My-Photo-1.jpg");
        assert_eq!(safe_file_name("", "png"), "image.png");
        assert_eq!(safe_file_name("évé.webp", "webp"), "v.webp");
        assert_eq!(safe_file_name("ééé.webp", "webp"), "image.webp");
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_inside_the_store_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.png"), b"x").unwrap();
        let store = Store::open(dir.path()).unwrap();
        std::fs::create_dir_all(dir.path().join("uploads")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("uploads/evil")).unwrap();
        assert_eq!(store.resolve("uploads/evil/secret.png"), Err(KeyError::Symlink));
        assert!(store.put("uploads/evil/new.png", b"x").is_err());
        store.put("uploads/ok/a.png", b"abc").unwrap();
        // A new key is written once; a second write to it is refused and changes nothing.
        store.put_new("artifacts/j/1-render.png", b"first").unwrap();
        let again = store.put_new("artifacts/j/1-render.png", b"second").unwrap_err();
        assert!(matches!(again, StoreError::Exists(_)), "{again}");
        assert_eq!(store.read("artifacts/j/1-render.png").unwrap(), b"first");
        let left: Vec<_> = std::fs::read_dir(store.root().join("artifacts/j")).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind");
        // A cancelled first run's files go; a later run's folder beside them stays.
        store.put_new("artifacts/j/run-2/1-render.png", b"later").unwrap();
        store.remove_files("artifacts/j");
        assert!(!store.exists("artifacts/j/1-render.png"));
        assert_eq!(store.read("artifacts/j/run-2/1-render.png").unwrap(), b"later");
        store.remove_files("artifacts/j/run-2");
        assert!(!store.root().join("artifacts/j/run-2").exists());
        assert_eq!(store.read("uploads/ok/a.png").unwrap(), b"abc");
        assert_eq!(store.resolve("uploads/ok/b.png"), Err(KeyError::Missing));
    }
}
