//! `figur models add NAME --from-hub OWNER/REPO` against a local server in a Hugging Face
//! hub's URL layout (`/api/models/{repo}/revision/{rev}?blobs=true`, `/{repo}/resolve/{sha}/
//! {file}` with ranges), serving the tiny export: the real download code, interrupted and
//! resumed, and refusing a corrupted file.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::json;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::support::{default_set_view, FIGUR};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

#[derive(Default)]
struct Behaviour {
    /// Send only half of this file's body, once, then drop the connection.
    interrupt_once: Option<String>,
    /// Flip a byte of this file's body, every time.
    corrupt: Option<String>,
    /// Answer 401 unless this bearer token is sent.
    token: Option<String>,
    /// Each request: its path and Range header.
    seen: Vec<(String, Option<String>)>,
}

struct Hub {
    base: String,
    behaviour: Arc<Mutex<Behaviour>>,
}

/// Serves `files` (repository path → bytes) as repository `figur/tiny-sd`.
fn serve(files: BTreeMap<String, Vec<u8>>) -> Hub {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let behaviour = Arc::new(Mutex::new(Behaviour::default()));
    let shared = behaviour.clone();
    let files = Arc::new(files);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (files, behaviour) = (files.clone(), shared.clone());
            std::thread::spawn(move || answer(stream, &files, &behaviour));
        }
    });
    Hub { base, behaviour }
}

fn answer(mut stream: TcpStream, files: &BTreeMap<String, Vec<u8>>, behaviour: &Mutex<Behaviour>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (mut range, mut auth) = (None, None);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap() <= 2 {
            break;
        }
        let (name, value) = header.split_once(':').unwrap();
        match name.to_ascii_lowercase().as_str() {
            "range" => range = Some(value.trim().to_string()),
            "authorization" => auth = Some(value.trim().to_string()),
            _ => {}
        }
    }
    let mut b = behaviour.lock().unwrap();
    b.seen.push((path.clone(), range.clone()));
    let reply = |stream: &mut TcpStream, status: &str, body: &[u8], length: usize| {
        let head = format!("HTTP/1.1 {status}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        let _ = stream.write_all(body);
    };
    if let Some(token) = &b.token {
        if auth.as_deref() != Some(&format!("Bearer {token}")) {
            return reply(&mut stream, "401 Unauthorized", b"", 0);
        }
    }
    if path == "/api/models/figur/tiny-sd/revision/main?blobs=true" {
        let siblings: Vec<_> = files
            .iter()
            .map(|(name, bytes)| {
                if name.ends_with(".onnx") || name.ends_with(".onnx_data") {
                    let sha = hex::encode(Sha256::digest(bytes));
                    json!({"rfilename": name, "size": bytes.len(), "blobId": "x", "lfs": {"sha256": sha, "size": bytes.len(), "pointerSize": 134}})
                } else {
                    let mut h = Sha1::new();
                    h.update(format!("blob {}\0", bytes.len()));
                    h.update(bytes);
                    json!({"rfilename": name, "size": bytes.len(), "blobId": hex::encode(h.finalize())})
                }
            })
            .collect();
        let body = json!({"id": "figur/tiny-sd", "sha": COMMIT, "siblings": siblings, "cardData": {"license": "mit"}})
            .to_string();
        return reply(&mut stream, "200 OK", body.as_bytes(), body.len());
    }
    let Some(name) = path.strip_prefix(&format!("/figur/tiny-sd/resolve/{COMMIT}/")) else {
        return reply(&mut stream, "404 Not Found", b"", 0);
    };
    let Some(bytes) = files.get(name) else { return reply(&mut stream, "404 Not Found", b"", 0) };
    let mut bytes = bytes.clone();
    if b.corrupt.as_deref() == Some(name) {
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x55;
    }
    let start = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.trim_end_matches('-').parse::<usize>().ok())
        .unwrap_or(0);
    let status = if start > 0 { "206 Partial Content" } else { "200 OK" };
    let body = &bytes[start..];
    if b.interrupt_once.as_deref() == Some(name) {
        b.interrupt_once = None;
        // The whole length promised, half sent, the connection dropped.
        return reply(&mut stream, status, &body[..body.len() / 2], body.len());
    }
    reply(&mut stream, status, body, body.len())
}

/// The tiny export's files under `onnx/`, plus files a hub repository also holds that are not
/// the export's (a README, a safety checker): those must not be downloaded.
fn repository() -> BTreeMap<String, Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    figur_models::tiny::diffusion::tiny_sd(dir.path(), 8);
    let mut files = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, files);
            } else {
                let name = path.strip_prefix(root).unwrap().display().to_string();
                files.insert(format!("onnx/{name}"), std::fs::read(&path).unwrap());
            }
        }
    }
    walk(dir.path(), dir.path(), &mut files);
    files.insert("README.md".into(), b"# tiny".to_vec());
    files.insert("onnx/safety_checker/model.onnx".into(), vec![1; 10]);
    files
}

fn figur(args: &[&str], cache: &Path, hub: &Hub, token: Option<&str>) -> (bool, String) {
    let mut cmd = Command::new(FIGUR);
    cmd.args(args).env("FIGUR_CACHE_DIR", cache).env("FIGUR_LOG", "warn").env("FIGUR_HUB_URL", &hub.base);
    match token {
        Some(t) => cmd.env("HF_TOKEN", t),
        None => cmd.env_remove("HF_TOKEN"),
    };
    let out = cmd.output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

const ADD: &[&str] = &["models", "add", "tiny", "--from-hub", "figur/tiny-sd", "--subfolder", "onnx"];

#[test]
fn an_interrupted_download_resumes_where_it_stopped() {
    let cache = default_set_view("hub-resume");
    let _ = std::fs::remove_dir_all(cache.join("brought"));
    let _ = std::fs::remove_dir_all(cache.join("downloads"));
    let files = repository();
    let weights_len = files["onnx/unet/model.onnx_data"].len();
    let hub = serve(files);
    hub.behaviour.lock().unwrap().interrupt_once = Some("onnx/unet/model.onnx_data".into());

    let (ok, out) = figur(ADD, &cache, &hub, None);
    assert!(!ok && out.contains("broke off") && out.contains("run the same command again"), "{out}");
    let (ok, out) = figur(ADD, &cache, &hub, None);
    assert!(ok && out.contains("resuming at") && out.contains("added tiny: text-to-image"), "{out}");

    let seen = hub.behaviour.lock().unwrap().seen.clone();
    let weights: Vec<_> = seen.iter().filter(|(p, _)| p.ends_with("unet/model.onnx_data")).collect();
    assert_eq!(weights.len(), 2, "{seen:?}");
    assert_eq!(
        weights[1].1.as_deref(),
        Some(format!("bytes={}-", weights_len / 2).as_str()),
        "the rest, not the whole"
    );
    assert!(!seen.iter().any(|(p, _)| p.contains("README") || p.contains("safety_checker")), "{seen:?}");
    // Small files downloaded on the first run were not fetched again.
    assert_eq!(seen.iter().filter(|(p, _)| p.ends_with("tokenizer/vocab.json")).count(), 1);

    let (_, list) = figur(&["models", "list"], &cache, &hub, None);
    assert!(list.lines().any(|l| l.starts_with("tiny") && l.contains("mit")), "the card's licence: {list}");
    let (ok, out) = figur(&["models", "verify", "tiny"], &cache, &hub, None);
    assert!(ok, "{out}");
    assert!(!cache.join("downloads/hub").read_dir().unwrap().any(|_| true), "the download folder was emptied");
}

#[test]
fn a_corrupted_file_is_refused_and_a_token_is_sent() {
    let cache = default_set_view("hub-corrupt");
    let _ = std::fs::remove_dir_all(cache.join("brought"));
    let _ = std::fs::remove_dir_all(cache.join("downloads"));
    let hub = serve(repository());
    {
        let mut b = hub.behaviour.lock().unwrap();
        b.token = Some("hf_secret".into());
        b.corrupt = Some("onnx/unet/model.onnx_data".into());
    }
    let (ok, out) = figur(ADD, &cache, &hub, None);
    assert!(!ok && out.contains("HF_TOKEN"), "without the token: {out}");
    let (ok, out) = figur(ADD, &cache, &hub, Some("hf_secret"));
    assert!(!ok && out.contains("unet/model.onnx_data does not match the hub's sha256"), "{out}");
    let (_, list) = figur(&["models", "list"], &cache, &hub, None);
    assert!(!list.contains("tiny "), "{list}");

    // A small file is checked by its git blob id.
    hub.behaviour.lock().unwrap().corrupt = Some("onnx/tokenizer/merges.txt".into());
    let _ = std::fs::remove_dir_all(cache.join("downloads"));
    let (ok, out) = figur(ADD, &cache, &hub, Some("hf_secret"));
    assert!(!ok && out.contains("merges.txt does not match the hub's git blob id"), "{out}");

    hub.behaviour.lock().unwrap().corrupt = None;
    let (ok, out) = figur(ADD, &cache, &hub, Some("hf_secret"));
    assert!(ok, "{out}");
    // Not an export where it was asked for: the layout's missing file is named.
    let (ok, out) = figur(&["models", "add", "other", "--from-hub", "figur/tiny-sd"], &cache, &hub, Some("hf_secret"));
    assert!(!ok && out.contains("no model_index.json") && out.contains("--subfolder"), "{out}");
}
