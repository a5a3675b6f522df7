//! A realm's files, addressed by keys such as `uploads/<ULID>/<name>`,
//! `artifacts/<job>/<n>-<kind>.png` and `catalog/<resource>/<id>.png`: in a folder
//! ([`folder`]: the data folder, or a farm's mount) or in an S3-compatible bucket ([`objects`]).
//!
//! A key is checked before it reaches either: relative, `/`-separated, plain characters, no
//! `.`/`..` segments, under a known top folder. Uploads and artifacts are written whole under a
//! key that must be new and are never overwritten; files made again from their recipe (cached
//! backdrops, built-ins) are replaced whole.

use std::path::Path;

mod folder;
pub mod objects;

pub use folder::Folder;
pub use objects::{Bucket, BucketError, BucketUrl, Objects};

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
    #[error("the store did not answer: {0}")]
    Unavailable(String),
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

/// Where the realms keep their files: each realm's folder in the data folder (`live/store/`,
/// `test/store/`), or a bucket (`--store s3://bucket/prefix`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StoreLocation {
    #[default]
    Folder,
    Bucket(BucketUrl),
}

/// One realm's store.
#[derive(Debug, Clone)]
pub struct Store(Backend);

#[derive(Debug, Clone)]
enum Backend {
    Folder(Folder),
    Bucket(Objects),
}

impl Store {
    /// The store in the folder `root` (made if missing).
    pub fn open(root: &Path) -> std::io::Result<Self> {
        Folder::open(root).map(|f| Store(Backend::Folder(f)))
    }

    pub fn in_bucket(objects: Objects) -> Self {
        Store(Backend::Bucket(objects))
    }

    /// The folder, for a store in one.
    pub fn folder(&self) -> Option<&Path> {
        match &self.0 {
            Backend::Folder(f) => Some(f.root()),
            Backend::Bucket(_) => None,
        }
    }

    /// Where it is, for messages and for memos that must not mix two stores.
    pub fn describe(&self) -> String {
        match &self.0 {
            Backend::Folder(f) => f.root().display().to_string(),
            Backend::Bucket(o) => o.label().to_string(),
        }
    }

    /// Whether `key` names a file that is there (`Missing` if not).
    pub fn check(&self, key: &str) -> Result<(), KeyError> {
        match &self.0 {
            Backend::Folder(f) => f.resolve(key).map(|_| ()),
            Backend::Bucket(o) => o.check(key),
        }
    }

    pub fn read(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        match &self.0 {
            Backend::Folder(f) => f.read(key),
            Backend::Bucket(o) => o.read(key),
        }
    }

    /// Writes `bytes` under `key` whole, replacing what was there: for files made again from
    /// their recipe (cached backdrops, built-ins), where a damaged copy is repaired by writing
    /// it anew.
    pub fn put(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        match &self.0 {
            Backend::Folder(f) => f.put(key, bytes),
            Backend::Bucket(o) => o.put(key, bytes),
        }
    }

    /// Writes `bytes` whole under a key that must be new — uploads and job artifacts are never
    /// overwritten, even by a late process on another machine of a farm.
    pub fn put_new(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        match &self.0 {
            Backend::Folder(f) => f.put_new(key, bytes),
            Backend::Bucket(o) => o.put_new(key, bytes),
        }
    }

    pub fn exists(&self, key: &str) -> bool {
        self.check(key).is_ok()
    }

    /// Removes the files directly in `folder` (not its subfolders, which belong to someone
    /// else: a job's later runs); missing is fine.
    pub fn remove_files(&self, folder: &str) {
        match &self.0 {
            Backend::Folder(f) => f.remove_files(folder),
            Backend::Bucket(o) => o.remove_files(folder),
        }
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
    /// A bucket refused the request or did not answer (after its retries).
    #[error("the store did not take it: {0}")]
    Remote(String),
}

impl StoreError {
    pub fn is_disk_full(&self) -> bool {
        matches!(self, StoreError::Io(e) if e.raw_os_error() == Some(28))
    }

    /// A bucket refused the write or did not answer.
    pub fn is_remote(&self) -> bool {
        matches!(self, StoreError::Remote(_))
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
        assert_eq!(store.check("uploads/evil/secret.png"), Err(KeyError::Symlink));
        assert!(store.put("uploads/evil/new.png", b"x").is_err());
        store.put("uploads/ok/a.png", b"abc").unwrap();
        // A new key is written once; a second write to it is refused and changes nothing.
        store.put_new("artifacts/j/1-render.png", b"first").unwrap();
        let again = store.put_new("artifacts/j/1-render.png", b"second").unwrap_err();
        assert!(matches!(again, StoreError::Exists(_)), "{again}");
        assert_eq!(store.read("artifacts/j/1-render.png").unwrap(), b"first");
        let left: Vec<_> = std::fs::read_dir(store.folder().unwrap().join("artifacts/j")).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind");
        // A cancelled first run's files go; a later run's folder beside them stays.
        store.put_new("artifacts/j/run-2/1-render.png", b"later").unwrap();
        store.remove_files("artifacts/j");
        assert!(!store.exists("artifacts/j/1-render.png"));
        assert_eq!(store.read("artifacts/j/run-2/1-render.png").unwrap(), b"later");
        store.remove_files("artifacts/j/run-2");
        assert!(!store.folder().unwrap().join("artifacts/j/run-2").exists());
        assert_eq!(store.read("uploads/ok/a.png").unwrap(), b"abc");
        assert_eq!(store.check("uploads/ok/b.png"), Err(KeyError::Missing));
    }
}
