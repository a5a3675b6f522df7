//! `figur models add NAME --from-hub OWNER/REPO[@REV] [--subfolder S]`: downloads an export in
//! Optimum's layout from a Hugging Face-compatible hub (`FIGUR_HUB_URL`, default the public
//! hub; a token from `HF_TOKEN`), then adds it as `--from DIR` does. Resumable: a file's bytes
//! so far are kept in the cache's download folder and the next run asks for the rest (an HTTP
//! range). Each file is checked against what the hub lists for it: its size, and the sha256 of
//! a large (LFS) file or the git blob id of a small one; a file that does not match is
//! refused and deleted.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The public hub.
const DEFAULT_HUB: &str = "https://huggingface.co";

/// The folders (and file) of the layout; other files of a repository are not downloaded.
const LAYOUT: &[&str] =
    &["model_index.json", "scheduler/", "tokenizer/", "text_encoder/", "unet/", "vae_decoder/", "vae_encoder/"];

#[derive(Debug, Deserialize)]
struct Listing {
    /// The commit the revision points at: every file is fetched from it.
    sha: String,
    siblings: Vec<Sibling>,
    #[serde(default, rename = "cardData")]
    card: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Sibling {
    rfilename: String,
    size: Option<u64>,
    #[serde(rename = "blobId")]
    blob_id: Option<String>,
    lfs: Option<Lfs>,
}

#[derive(Debug, Deserialize)]
struct Lfs {
    sha256: String,
    size: u64,
}

/// What a downloaded file must match.
#[derive(Debug)]
enum Check {
    Sha256(String),
    GitBlob(String),
}

/// `OWNER/REPO[@REV]` → (repo, revision).
pub fn parse_repo(spec: &str) -> Result<(String, String)> {
    let (repo, rev) = spec.split_once('@').unwrap_or((spec, "main"));
    let valid = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    match repo.split_once('/') {
        Some((owner, name)) if valid(owner) && valid(name) && !rev.is_empty() => {
            Ok((repo.to_string(), rev.to_string()))
        }
        _ => bail!("--from-hub takes OWNER/REPO or OWNER/REPO@REVISION, e.g. stabilityai/sd-turbo@main"),
    }
}

/// Downloads the export into the cache's download folder; its local folder and the licence the
/// hub's model card names, if any.
pub async fn download(cache_root: &Path, spec: &str, subfolder: Option<&str>) -> Result<(PathBuf, Option<String>)> {
    let (repo, rev) = parse_repo(spec)?;
    let base = std::env::var("FIGUR_HUB_URL").unwrap_or_else(|_| DEFAULT_HUB.to_string());
    let base = base.trim_end_matches('/');
    let client = reqwest::Client::builder().user_agent(concat!("figur-studio/", env!("CARGO_PKG_VERSION"))).build()?;
    let token = std::env::var("HF_TOKEN").ok().filter(|t| !t.is_empty());
    let get = |url: String| {
        let request = client.get(url);
        match &token {
            Some(t) => request.bearer_auth(t),
            None => request,
        }
    };

    let url = format!("{base}/api/models/{repo}/revision/{}?blobs=true", encode(&rev));
    let response = get(url.clone()).send().await.with_context(|| format!("cannot reach the hub at {base}"))?;
    match response.status().as_u16() {
        200 => {}
        401 | 403 => {
            bail!("the hub refused {repo}@{rev} ({}); set HF_TOKEN to a token that may read it", response.status())
        }
        404 => bail!("the hub has no {repo} at revision {rev}"),
        _ => bail!("the hub answered {} for {url}", response.status()),
    }
    let listing: Listing = response.json().await.context("the hub's file list is not what a hub sends")?;

    let prefix = subfolder.map(|s| format!("{}/", s.trim_matches('/'))).unwrap_or_default();
    let mut files = Vec::new();
    for sibling in &listing.siblings {
        let Some(local) = sibling.rfilename.strip_prefix(&prefix) else { continue };
        if !LAYOUT.iter().any(|l| local == *l || (l.ends_with('/') && local.starts_with(l))) {
            continue;
        }
        if local.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
            bail!("the hub lists a file named `{}`; refusing it", sibling.rfilename);
        }
        let (size, check) = match (&sibling.lfs, &sibling.blob_id, sibling.size) {
            (Some(lfs), _, _) => (lfs.size, Check::Sha256(lfs.sha256.clone())),
            (None, Some(blob), Some(size)) => (size, Check::GitBlob(blob.clone())),
            _ => bail!("the hub lists no size and hash for {}; it cannot be checked", sibling.rfilename),
        };
        files.push((sibling.rfilename.clone(), local.to_string(), size, check));
    }
    if !files.iter().any(|f| f.1 == "model_index.json") {
        let hint = if prefix.is_empty() { " (is it in a --subfolder?)" } else { "" };
        bail!("{repo}@{rev}{} holds no model_index.json: not an export in Optimum's layout{hint}", display(subfolder));
    }
    let total: u64 = files.iter().map(|f| f.2).sum();
    eprintln!(
        "{repo}@{rev} ({}): {} files, {}",
        &listing.sha[..listing.sha.len().min(12)],
        files.len(),
        size_words(total)
    );

    let staging = cache_root.join("downloads/hub").join(format!("{}--{}", repo.replace('/', "--"), listing.sha));
    for (remote, local, size, check) in &files {
        let to = staging.join(local);
        if to.is_file() && std::fs::metadata(&to)?.len() == *size {
            continue; // whole and checked on an earlier run
        }
        std::fs::create_dir_all(to.parent().unwrap_or(&staging))?;
        let url = format!("{base}/{repo}/resolve/{}/{}", listing.sha, remote);
        fetch_file(&get, &url, local, &to, *size, check).await?;
    }
    let licence = listing.card.as_ref().and_then(|c| c.get("license")).and_then(|l| l.as_str()).map(str::to_string);
    Ok((staging, licence))
}

fn display(subfolder: Option<&str>) -> String {
    subfolder.map(|s| format!(" --subfolder {s}")).unwrap_or_default()
}

/// Percent-encodes a revision for a URL path (`refs/pr/1` → `refs%2Fpr%2F1`).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn size_words(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / (1u64 << 20) as f64),
        b => format!("{:.1} kB", b as f64 / 1024.0),
    }
}

/// Downloads one file into `<to>.part` (continuing what is there), checks it, renames it.
async fn fetch_file(
    get: &dyn Fn(String) -> reqwest::RequestBuilder,
    url: &str,
    name: &str,
    to: &Path,
    size: u64,
    check: &Check,
) -> Result<()> {
    let part = to.with_extension(format!("{}.part", to.extension().and_then(|e| e.to_str()).unwrap_or("")));
    let mut have = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    if have > size {
        std::fs::remove_file(&part)?;
        have = 0;
    }
    let mut request = get(url.to_string());
    if have > 0 {
        request = request.header(reqwest::header::RANGE, format!("bytes={have}-"));
        eprintln!("{name}: resuming at {} of {}", size_words(have), size_words(size));
    } else {
        eprintln!("{name}: {}", size_words(size));
    }
    let mut response = request.send().await.with_context(|| format!("cannot download {name}"))?;
    let status = response.status().as_u16();
    let mut file = match (status, have) {
        (206, _) => std::fs::OpenOptions::new().append(true).open(&part)?,
        (200, _) => {
            have = 0; // the server sent it whole
            std::fs::File::create(&part)?
        }
        _ => bail!("the hub answered {} for {name}", response.status()),
    };
    let mut last_tenth = have * 10 / size.max(1);
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) => {
                file.sync_all().ok();
                bail!(
                    "the download of {name} broke off after {} of {} ({e}); run the same command again to resume",
                    size_words(have),
                    size_words(size)
                );
            }
        };
        file.write_all(&chunk).with_context(|| format!("cannot write {}", part.display()))?;
        have += chunk.len() as u64;
        let tenth = have * 10 / size.max(1);
        if tenth != last_tenth && size >= 1 << 20 {
            eprintln!("{name}: {}%", tenth * 10);
            last_tenth = tenth;
        }
    }
    file.sync_all()?;
    drop(file);
    if have != size {
        bail!("{name} ended after {} of {}; run the same command again to resume", size_words(have), size_words(size));
    }
    let refused = |what: &str, listed: &str, found: &str| {
        let _ = std::fs::remove_file(&part);
        anyhow::anyhow!("{name} does not match the hub's {what} ({found}, listed {listed}): refused and deleted; run again to download it afresh")
    };
    match check {
        Check::Sha256(listed) => {
            let found = hash_file::<Sha256>(&part, b"")?;
            if &found != listed {
                return Err(refused("sha256", listed, &found));
            }
        }
        Check::GitBlob(listed) => {
            let found = hash_file::<Sha1>(&part, format!("blob {size}\0").as_bytes())?;
            if &found != listed {
                return Err(refused("git blob id", listed, &found));
            }
        }
    }
    std::fs::rename(&part, to)?;
    Ok(())
}

/// The hex digest of `header` followed by the file's bytes.
fn hash_file<D: Digest>(path: &Path, header: &[u8]) -> Result<String> {
    let mut hasher = D::new();
    hasher.update(header);
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_and_revisions() {
        assert_eq!(parse_repo("stabilityai/sd-turbo").unwrap(), ("stabilityai/sd-turbo".into(), "main".into()));
        assert_eq!(parse_repo("a/b@v1.0").unwrap(), ("a/b".into(), "v1.0".into()));
        for bad in ["nobody", "a/b/c", "../x/y", "a/b@", "/b"] {
            assert!(parse_repo(bad).is_err(), "{bad}");
        }
        assert_eq!(encode("refs/pr/1"), "refs%2Fpr%2F1");
    }

    #[test]
    fn a_git_blob_id_is_sha1_of_the_header_and_bytes() {
        // `git hash-object` of "hello\n".
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "hello\n").unwrap();
        assert_eq!(hash_file::<Sha1>(&file, b"blob 6\0").unwrap(), "ce013625030ba8dba906f756967f9e9ca394464a");
    }
}
