//! A real `figur serve` process on port 0 over a temporary data folder, and a plain HTTP client.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tempfile::TempDir;

pub const FIGUR: &str = env!("CARGO_BIN_EXE_figur");

/// A cache folder holding only the default model set (and the runtime, built-ins and sample
/// photos), as symlinks into the real cache: opt-in models a developer installed (ISNet) never
/// change what the tests see.
pub fn default_set_cache() -> std::path::PathBuf {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| default_set_view("default-set-cache")).clone()
}

/// A new view named `name` under the test target folder, as [`default_set_cache`] describes;
/// a test may add models of its own to it.
pub fn default_set_view(name: &str) -> std::path::PathBuf {
    let real = figur_engine::engine::default_cache_dir().expect("a cache folder");
    let view = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(view.join("models")).unwrap();
    let mut links: Vec<String> = ["runtime", "builtins", "test-photos"].map(String::from).to_vec();
    links.extend(figur_models::manifest::all().into_iter().filter(|m| m.default).map(|m| format!("models/{}", m.id)));
    for link in links {
        let (target, at) = (real.join(&link), view.join(&link));
        std::fs::create_dir_all(&target).unwrap();
        if std::fs::symlink_metadata(&at).is_err() {
            std::os::unix::fs::symlink(&target, &at).unwrap();
        }
    }
    view
}

pub struct Server {
    child: Option<Child>,
    pub base: String,
    pub dir: Arc<TempDir>,
    pub key: String,
    pub http: reqwest::Client,
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: HeaderMap,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    pub fn loc(&self) -> Value {
        self.body["error"]["details"][0]["loc"].clone()
    }
}

impl Server {
    pub async fn start() -> Server {
        Self::start_with(&[], &[]).await
    }

    pub async fn start_with(args: &[&str], env: &[(&str, &str)]) -> Server {
        Self::start_in(Arc::new(tempfile::tempdir().unwrap()), args, env).await
    }

    /// Starts a server on an existing data folder (a restart).
    pub async fn start_in(dir: Arc<TempDir>, args: &[&str], env: &[(&str, &str)]) -> Server {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.path().join("server.log")).unwrap();
        let mut cmd = Command::new(FIGUR);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .args(args)
            .env("FIGUR_LOG", "warn")
            .env("FIGUR_CACHE_DIR", default_set_cache())
            .env_remove("FIGUR_FAILPOINTS")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("figur serve starts");
        let line = first_line(&mut child, "figur serve", &dir.path().join("server.log"));
        let base =
            line.split_whitespace().find(|w| w.starts_with("http://")).expect("listening line has the URL").to_string();
        let key = std::fs::read_to_string(dir.path().join("first-key.txt")).unwrap().trim().to_string();
        Server { child: Some(child), base, dir, key, http: reqwest::Client::new() }
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs the CLI on this server's data folder; returns its standard output.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(FIGUR)
            .args(args)
            .arg("--data-dir")
            .arg(self.data_dir())
            .env("FIGUR_LOG", "warn")
            .output()
            .unwrap();
        assert!(out.status.success(), "figur {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// A new key made by `figur keys create`; the key is the last line printed.
    pub fn create_key(&self, extra: &[&str]) -> String {
        let mut args = vec!["keys", "create"];
        args.extend_from_slice(extra);
        self.cli(&args).lines().last().unwrap().trim().to_string()
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Waits for the process to exit on its own (e.g. an injected abort).
    pub fn wait_exit(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "figur serve did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then waits for the process to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.as_ref().expect("running").id();
        Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
        self.wait_exit()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn reply(resp: reqwest::Response) -> Reply {
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply { status, body, headers }
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        Self::reply(req.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.get_as(path, &self.key).await
    }

    pub async fn get_as(&self, path: &str, key: &str) -> Reply {
        self.send(self.http.get(self.url(path)).bearer_auth(key)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.post_as(path, body, &self.key).await
    }

    pub async fn post_as(&self, path: &str, body: Value, key: &str) -> Reply {
        self.send(self.http.post(self.url(path)).bearer_auth(key).json(&body)).await
    }

    pub async fn upload(&self, name: &str, bytes: Vec<u8>) -> Reply {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_string());
        let form = reqwest::multipart::Form::new().part("file", part);
        self.send(self.http.post(self.url("/v1/uploads")).bearer_auth(&self.key).multipart(form)).await
    }

    /// The studio's `/v1` client (`figur-client`), with this server's key.
    pub fn client(&self) -> figur_client::Client {
        self.client_as(&self.key)
    }

    pub fn client_as(&self, key: &str) -> figur_client::Client {
        figur_client::Client::with_http(self.http.clone(), &self.base, key)
    }

    /// Uploads an image that must be accepted; its upload key.
    pub async fn upload_key(&self, name: &str, bytes: Vec<u8>) -> String {
        self.client().upload(name, bytes).await.unwrap_or_else(|e| panic!("uploading {name}: {e}")).upload_key
    }

    /// Follows a job's events with long-polls until its terminal event; returns every event.
    pub async fn wait_terminal(&self, job_id: &str) -> Vec<Value> {
        self.wait_terminal_as(job_id, &self.key).await
    }

    pub async fn wait_terminal_as(&self, job_id: &str, key: &str) -> Vec<Value> {
        let mut events = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let since = events.last().map(|e: &Value| e["seq"].as_i64().unwrap()).unwrap_or(0);
            let page = self.client_as(key).events(job_id, since, 10).await.unwrap_or_else(|e| panic!("{e}"));
            events.extend(page.events.iter().map(|e| serde_json::to_value(e).unwrap()));
            if events.last().is_some_and(|e| e["event_type"] == "succeeded" || e["event_type"] == "failed") {
                return events;
            }
            assert!(Instant::now() < deadline, "job {job_id} did not end: {events:?}");
        }
    }

    pub async fn balance(&self) -> i64 {
        self.get("/v1/credits").await.body["balance"].as_i64().unwrap()
    }

    pub async fn dispatch_backdrop(&self, extra: Value) -> Reply {
        let mut body = json!({"scene_type": "studio_sweep", "mood": "soft", "resolution": "0.5K", "seed": 1});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        self.post("/v1/background-generator", body).await
    }
}

/// The first line a started `figur` process prints (servers print their address, workers that
/// they run), read within a minute; the rest of its output is drained. Panics with its log
/// (`log`: where its standard error goes) if it says nothing.
pub fn first_line(child: &mut Child, what: &str, log: &Path) -> String {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        for _ in lines {} // keep draining
    });
    rx.recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{what} did not start: {}", std::fs::read_to_string(log).unwrap_or_default()))
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A timeline obeys the contract: seq 1, 2, 3… with no gap; `queued` first; exactly one
/// terminal event, and it is last.
pub fn assert_timeline(events: &[Value]) {
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=events.len() as i64).collect::<Vec<_>>(), "contiguous seq");
    assert_eq!(events[0]["event_type"], "queued");
    let terminal = events.iter().filter(|e| e["event_type"] == "succeeded" || e["event_type"] == "failed").count();
    assert_eq!(terminal, 1, "exactly one terminal event: {events:?}");
    let last = &events[events.len() - 1]["event_type"];
    assert!(last == "succeeded" || last == "failed");
    assert!(events.iter().all(|e| e["visibility"] == "public"));
}

/// A small real PNG.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x * 3) as u8, (y * 5) as u8, 90]));
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
    out
}

/// A PNG whose header declares `width`×`height` (with a valid CRC) but holds one pixel of data.
pub fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = png(1, 1);
    bytes[16..20].copy_from_slice(&width.to_be_bytes());
    bytes[20..24].copy_from_slice(&height.to_be_bytes());
    let mut crc = 0xFFFF_FFFFu32;
    for &b in &bytes[12..29] {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    bytes[29..33].copy_from_slice(&(!crc).to_be_bytes());
    bytes
}

/// A PNG of pseudo-random pixels: it barely compresses (about 3 bytes a pixel).
pub fn noisy_png(width: u32, height: u32) -> Vec<u8> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let img = image::RgbImage::from_fn(width, height, |_, _| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        image::Rgb([state as u8, (state >> 8) as u8, (state >> 16) as u8])
    });
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
    out
}

pub use crate::photos::astronaut;

/// A flat product shot: a navy T-shirt shape and a mustard cap-like disc on off-white paper.
pub fn product_shot() -> Vec<u8> {
    let img = image::RgbImage::from_fn(600, 400, |x, y| {
        let (xf, yf) = (x as f32, y as f32);
        let body = (170.0..390.0).contains(&xf) && (90.0..360.0).contains(&yf);
        let sleeves = (90.0..470.0).contains(&xf) && (90.0..170.0).contains(&yf);
        let disc = (xf - 520.0).powi(2) + (yf - 300.0).powi(2) < 45.0f32.powi(2);
        if body || sleeves {
            image::Rgb([32, 52, 110])
        } else if disc {
            image::Rgb([210, 160, 40])
        } else {
            image::Rgb([240 + (x % 3) as u8, 238, 232 + (y % 3) as u8])
        }
    });
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
    out
}
