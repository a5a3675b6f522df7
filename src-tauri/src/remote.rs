//! Importing into a studio server's library (Settings → Studio server): the files are read
//! here, where the paths are, and each sent to the server's `POST /v1/uploads` as any client
//! would. The webview cannot read a path itself.

use std::path::PathBuf;
use std::time::Duration;

use figur_engine::domain::catalog::UploadAccepted;

use crate::errors::io_error;
use crate::{Imported, Res};

/// Photos and folders (walked, at most 1000 images) into the library of the server at `server`
/// with `key`; each path says what became of it.
#[tauri::command]
#[specta::specta]
pub async fn import_paths_to(server: String, key: String, paths: Vec<String>) -> Res<Vec<Imported>> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| io_error("cannot make an HTTP client", e))?;
    let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
    let url = format!("{}/v1/uploads", server.trim_end_matches('/'));
    let mut out = Vec::new();
    for path in figur_engine::files::images_in(&paths, 1000) {
        let shown = path.display().to_string();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("image").to_string();
        let sent = match tokio::fs::read(&path).await {
            Err(e) => Err(io_error("cannot read it", e).message),
            Ok(bytes) => upload(&client, &url, &key, name, bytes).await,
        };
        out.push(match sent {
            Ok(upload) => Imported { path: shown, upload: Some(upload), error: None },
            Err(error) => Imported { path: shown, upload: None, error: Some(error) },
        });
    }
    Ok(out)
}

async fn upload(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    name: String,
    bytes: Vec<u8>,
) -> Result<UploadAccepted, String> {
    let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(bytes).file_name(name));
    let answer = client
        .post(url)
        .bearer_auth(key)
        .multipart(form)
        .send()
        .await
        .map_err(|e| format!("the studio server does not answer: {e}"))?;
    let status = answer.status();
    let body: serde_json::Value = answer.json().await.map_err(|e| format!("the server's answer is unreadable: {e}"))?;
    if !status.is_success() {
        let message = body["error"]["message"].as_str().unwrap_or("no reason given");
        return Err(format!("the server refused it ({status}): {message}"));
    }
    let got: Answer = serde_json::from_value(body).map_err(|e| format!("the server's answer is not an upload: {e}"))?;
    Ok(UploadAccepted {
        upload_key: got.upload_key,
        image_url: got.image_url,
        mime: got.mime,
        width: got.width,
        height: got.height,
        bytes: got.bytes,
        sha256: got.sha256,
    })
}

/// `POST /v1/uploads`' answer as it arrives (the engine's type is only ever sent).
#[derive(serde::Deserialize)]
struct Answer {
    upload_key: String,
    image_url: String,
    mime: String,
    width: u32,
    height: u32,
    bytes: u64,
    sha256: String,
}
