//! Importing into a studio server's library (Settings → Studio server): the files are read
//! here, where the paths are, and each sent to the server's `POST /v1/uploads` through the
//! `/v1` client the CLI uses. The webview cannot read a path itself.

use std::path::PathBuf;

use crate::errors::io_error;
use crate::{Imported, Res};

/// Photos and folders (walked, at most 1000 images) into the library of the server at `server`
/// with `key`; each path says what became of it.
#[tauri::command]
#[specta::specta]
pub async fn import_paths_to(server: String, key: String, paths: Vec<String>) -> Res<Vec<Imported>> {
    let studio = figur_client::Client::new(&server, &key).map_err(|e| io_error("cannot make an HTTP client", e))?;
    let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
    let mut out = Vec::new();
    for path in figur_engine::files::images_in(&paths, 1000) {
        let shown = path.display().to_string();
        let sent = studio.upload_file(&path).await.map_err(|e| match e {
            figur_client::Error::Refused { status, message, .. } => {
                format!("the server refused it ({status}): {message}")
            }
            other => other.to_string(),
        });
        out.push(match sent {
            Ok(upload) => Imported { path: shown, upload: Some(upload), error: None },
            Err(error) => Imported { path: shown, upload: None, error: Some(error) },
        });
    }
    Ok(out)
}
