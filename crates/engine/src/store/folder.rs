//! The store in a folder: the data folder of one machine, or the mount every machine of a farm
//! shares (NAS, NFS, SMB). No component on disk may be a symlink, so no key resolves outside
//! it; writes are whole (temporary file, fsync, then linked or renamed into place).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{validate_key, KeyError, StoreError};

#[derive(Debug, Clone)]
pub struct Folder {
    root: PathBuf,
}

impl Folder {
    pub fn open(root: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(root)?;
        Ok(Folder { root: root.to_path_buf() })
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
