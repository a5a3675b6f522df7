//! The studio server this desktop is connected to (Settings → Studio server): its address in
//! the data folder (`server.json`), its API key in the OS keyring — the Secret Service on Linux
//! (GNOME Keyring, KWallet), the Keychain on macOS, the Credential Manager on Windows. Where no
//! keyring answers (a bare window manager, a locked-down session), the key goes to a file in the
//! data folder that only this user can read, and the app says so where the connection is shown.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use specta::Type;

/// The keyring's service name; the entry's user is the server's address.
const SERVICE: &str = "figur-studio";

/// A saved connection, as the window sees it.
#[derive(Debug, Clone, Serialize, Type)]
pub struct ServerConnection {
    pub url: String,
    pub key: String,
    /// `keyring` or `file`.
    pub kept_in: String,
    /// Where the key is, in a sentence (the fallback's reason, when it is a file).
    pub note: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Saved {
    url: String,
    kept_in: String,
}

fn saved_path(data_dir: &Path) -> PathBuf {
    data_dir.join("server.json")
}

fn key_file(data_dir: &Path) -> PathBuf {
    data_dir.join("server-key")
}

fn entry(url: &str) -> keyring::Result<keyring::Entry> {
    keyring::Entry::new(SERVICE, url)
}

/// Keeps `key` for the server at `url`: in the keyring, else in a private file.
pub fn save(data_dir: &Path, url: &str, key: &str) -> Result<ServerConnection, String> {
    forget(data_dir);
    let (kept_in, note) = match entry(url).and_then(|e| e.set_password(key)) {
        Ok(()) => ("keyring", "The key is kept in the system keyring.".to_string()),
        Err(why) => {
            let path = key_file(data_dir);
            write_private(&path, key.as_bytes())
                .map_err(|e| format!("cannot keep the key in {}: {e}", path.display()))?;
            ("file", fallback_note(&path, &why))
        }
    };
    let saved = Saved { url: url.to_string(), kept_in: kept_in.to_string() };
    let text = serde_json::to_string_pretty(&saved).map_err(|e| e.to_string())?;
    write_private(&saved_path(data_dir), text.as_bytes()).map_err(|e| format!("cannot save the connection: {e}"))?;
    Ok(ServerConnection { url: url.to_string(), key: key.to_string(), kept_in: kept_in.to_string(), note })
}

/// The saved connection, if there is one and its key can be read (a keyring that is locked or
/// gone counts as no connection: the window asks for the key again).
pub fn load(data_dir: &Path) -> Option<ServerConnection> {
    let saved: Saved = serde_json::from_str(&std::fs::read_to_string(saved_path(data_dir)).ok()?).ok()?;
    let (key, note) = match saved.kept_in.as_str() {
        "keyring" => match entry(&saved.url).and_then(|e| e.get_password()) {
            Ok(key) => (key, "The key is kept in the system keyring.".to_string()),
            Err(why) => {
                tracing::warn!(error = %why, url = %saved.url, "the studio server's key is not in the keyring");
                return None;
            }
        },
        _ => {
            let path = key_file(data_dir);
            let key = std::fs::read_to_string(&path).ok()?;
            let why = match keyring::Entry::store_status() {
                Ok(()) => "none ran when it was saved".to_string(),
                Err(e) => e.to_string(),
            };
            (key.trim().to_string(), fallback_note(&path, &why))
        }
    };
    Some(ServerConnection { url: saved.url, key, kept_in: saved.kept_in, note })
}

/// Forgets the connection and its key, wherever it was kept.
pub fn forget(data_dir: &Path) {
    if let Some(saved) =
        std::fs::read_to_string(saved_path(data_dir)).ok().and_then(|t| serde_json::from_str::<Saved>(&t).ok())
    {
        if let Ok(e) = entry(&saved.url) {
            let _ = e.delete_credential();
        }
    }
    let _ = std::fs::remove_file(key_file(data_dir));
    let _ = std::fs::remove_file(saved_path(data_dir));
}

fn fallback_note(path: &Path, why: &dyn std::fmt::Display) -> String {
    format!(
        "No system keyring answered ({why}), so the key is kept in {}, readable by your user only. \
         Start a keyring (GNOME Keyring, KWallet) and connect again to move it there.",
        path.display()
    )
}

/// Writes a file only its owner can read (whole: a temporary file renamed into place).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}
