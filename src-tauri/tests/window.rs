//! The desktop app in a real window: the built `figur-studio` under Xvfb, its WebKit webview
//! driven through WebDriver (Debian's `WebKitWebDriver`). Import a photo by path, run a
//! workflow and watch its timeline reach success, find the render in the gallery, cancel a
//! running job. Screenshots of each screen land in `target/screenshots/`.
//!
//! Needs a display: `./studio test` runs it under `xvfb-run`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

const APP: &str = env!("CARGO_BIN_EXE_figur-studio");

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        // SIGTERM, so WebKitWebDriver takes the app down with it (a SIGKILL orphans it).
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The status code of a plain HTTP GET on the loopback port with a bearer key.
fn http_get(port: u16, path: &str, key: &str) -> u16 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).unwrap();
    String::from_utf8_lossy(&head[9..12]).parse().unwrap()
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts WebKitWebDriver with the app's environment and opens a session on the app.
async fn open(data: &Path, failpoints: &str) -> (Driver, Client, Duration) {
    open_with(data, failpoints, &data.join("pictures")).await
}

async fn open_with(data: &Path, failpoints: &str, pictures: &Path) -> (Driver, Client, Duration) {
    open_env(data, failpoints, pictures, &[]).await
}

async fn open_env(data: &Path, failpoints: &str, pictures: &Path, env: &[(&str, &Path)]) -> (Driver, Client, Duration) {
    assert!(std::env::var_os("DISPLAY").is_some(), "no display: run under xvfb-run (./studio test does)");
    let port = free_port();
    // The data folder comes from the app's own settings file, as for a user.
    let config = data.join("config/figur-studio/desktop.json");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, json!({"data_dir": data}).to_string()).unwrap();
    let driver = Command::new("WebKitWebDriver")
        .arg(format!("--port={port}"))
        .env("TAURI_WEBVIEW_AUTOMATION", "true")
        .env_remove("FIGUR_DATA_DIR")
        .env("FIGUR_FAILPOINTS", failpoints)
        .env("XDG_PICTURES_DIR", pictures)
        .env("FIGUR_LOG", "warn")
        .env("XDG_CONFIG_HOME", data.join("config"))
        // The webview's own storage (a studio-server connection lives there) is each test's:
        // tests run at once, and one connecting must not connect another's window.
        .env("XDG_DATA_HOME", data.join("webview"))
        .envs(env.iter().map(|(k, v)| (*k, *v)))
        .stdout(Stdio::null())
        .spawn()
        .expect("WebKitWebDriver (Debian package webkit2gtk-driver)");
    let driver = Driver(driver);
    let mut caps = serde_json::Map::new();
    caps.insert("webkitgtk:browserOptions".into(), json!({"binary": APP, "args": []}));
    let started = Instant::now();
    let client = loop {
        match ClientBuilder::native().capabilities(caps.clone()).connect(&format!("http://127.0.0.1:{port}")).await {
            Ok(c) => break c,
            Err(e) if started.elapsed() < Duration::from_secs(30) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("no WebDriver session: {e}"),
        }
    };
    client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("[data-testid=nav-library]"))
        .await
        .unwrap();
    (driver, client, started.elapsed())
}

/// The screens the README shows: each run refreshes them in `docs/src/screenshots/`, scaled to 960×600.
const PUBLISHED: [&str; 16] = [
    "first-run",
    "edit-backdrop",
    "try-on",
    "library",
    "library-search",
    "queue",
    "timeline",
    "look-builder",
    "gallery",
    "render-canvas",
    "render-compare",
    "render-variations",
    "settings",
    "settings-studio",
    "settings-generative",
    "settings-server",
];

/// Polls `script` in the page until it returns `want` or `within` passes; whether it did.
async fn js_becomes(client: &Client, script: &str, want: serde_json::Value, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        match client.execute(script, vec![]).await {
            Ok(found) if found == want => return true,
            Ok(_) => {}
            // Connecting to a studio server (or leaving it) reloads the window: a script asked
            // while the page unloads gets no answer; ask the new page.
            Err(e) if format!("{e:?}").contains("NoSuchFrame") || e.to_string().contains("unload") => {}
            Err(e) => panic!("{script}: {e}"),
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn shot(client: &Client, name: &str) {
    // Every image on the page loaded (or failed) first, so the picture shows what a designer sees.
    let settled = "return [...document.images].every(i => i.complete);";
    js_becomes(client, settled, json!(true), Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(150)).await; // and painted
    let png = client.screenshot().await.unwrap();
    std::fs::write(screenshots().join(format!("{name}.png")), &png).unwrap();
    if PUBLISHED.contains(&name) {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/src/screenshots").join(format!("{name}.png"));
        let scaled = image::load_from_memory(&png).unwrap().resize(960, 600, image::imageops::FilterType::Triangle);
        scaled.save(docs).unwrap();
    }
}

async fn click(client: &Client, css: &str) {
    client.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css(css)).await.unwrap().click().await.unwrap();
}

/// Waits until the job status reads `want`; returns the status text seen last.
async fn status_becomes(client: &Client, want: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    let mut seen = String::new();
    while Instant::now() < deadline {
        if let Ok(el) = client.find(Locator::Css("[data-testid=job-status]")).await {
            seen = el.text().await.unwrap_or_default();
            if seen.eq_ignore_ascii_case(want) {
                return seen;
            }
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    panic!("the job status never became {want} (last: {seen})");
}

fn photo(dir: &Path) -> PathBuf {
    let cache = figur_models::Cache::new(figur_engine::engine::default_cache_dir().unwrap());
    let src = figur_models::samples::astronaut(&cache).expect("`figur samples` fetched the astronaut");
    let path = dir.join("astronaut.png");
    std::fs::copy(src, &path).unwrap();
    path
}

async fn import(client: &Client, path: &Path) {
    click(client, "[data-testid=nav-library]").await;
    let input = client.wait().for_element(Locator::Css("[data-testid=import-path]")).await.unwrap();
    input.send_keys(&path.display().to_string()).await.unwrap();
    click(client, "[data-testid=import]").await;
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("[data-testid=library-grid] img"))
        .await
        .unwrap();
}

async fn run_swap(client: &Client) {
    click(client, "[data-testid=nav-edit]").await;
    // The newest photo, picked by its thumbnail.
    click(client, "[data-testid=photo-pick]").await;
    let workflow = client.find(Locator::Css("[data-testid=workflow]")).await.unwrap();
    workflow.select_by_value("background-swap-with-spec").await.unwrap();
    click(client, "[data-testid=run]").await;
}

#[tokio::test]
async fn import_run_gallery_and_cancel_in_the_real_window() {
    let dir = tempfile::tempdir().unwrap();
    let photo = photo(dir.path());

    // 1. Import, run, watch the timeline to success, find the render in the gallery.
    let (driver, client, cold) = open(&dir.path().join("data"), "").await;
    eprintln!("window interactive {} ms after launch (WebDriver session included)", cold.as_millis());
    shot(&client, "library-empty").await;
    import(&client, &photo).await;
    shot(&client, "library").await;
    run_swap(&client).await;
    status_becomes(&client, "succeeded", Duration::from_secs(90)).await;
    client.wait().for_element(Locator::Css("[data-testid=final]")).await.unwrap();
    shot(&client, "timeline").await;
    click(&client, "[data-testid=nav-gallery]").await;
    let tile =
        client.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("[data-testid=render]")).await.unwrap();
    tile.click().await.unwrap();
    shot(&client, "gallery").await;
    click(&client, "[data-testid=open-render]").await;
    click(&client, "[data-testid=export-jpeg]").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let note = loop {
        let text = client.find(Locator::Css("[data-testid=export-note]")).await.unwrap().text().await.unwrap();
        if text.contains("Saved to") || Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let saved = note.trim_start_matches("Saved to ").trim();
    assert!(saved.ends_with(".jpg") && Path::new(saved).is_file(), "exported: {note}");
    assert!(saved.starts_with(&dir.path().join("data/pictures/Figur Studio").display().to_string()), "{saved}");
    shot(&client, "render-canvas").await;
    canvas_compare_vary_and_use_as_input(&client).await;
    // The look builder says at once which garments clash.
    click(&client, "[data-testid=nav-look]").await;
    // One photo can give two garments: picked twice, each layer with its own category.
    click(&client, "[data-testid=look-garment-pick]").await;
    click(&client, "[data-testid=look-garment-pick]").await;
    let cats = client.find_all(Locator::Css("[data-testid=look-category]")).await.unwrap();
    cats[0].select_by_value("dress").await.unwrap();
    cats[1].select_by_value("skirt").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = client.find(Locator::Css("[data-testid=look-feedback]")).await.unwrap().text().await.unwrap();
        if text.contains("cannot be worn together") {
            break;
        }
        assert!(Instant::now() < deadline, "no clash shown: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shot(&client, "look-builder").await;
    // Settings: a key for scripts, shown once.
    click(&client, "[data-testid=nav-settings]").await;
    client.wait().for_element(Locator::Css("table")).await.unwrap();
    click(&client, "[data-testid=create-key]").await;
    let key = client.wait().for_element(Locator::Css("[data-testid=new-key]")).await.unwrap();
    let key = key.text().await.unwrap();
    assert!(key.starts_with("sk_live_"));
    // The API for scripts: off until switched on, then on the chosen port with that key; the
    // provider picker and a new data folder (which waits for a restart).
    let status =
        || async { client.find(Locator::Css("[data-testid=api-status]")).await.unwrap().text().await.unwrap() };
    assert!(status().await.starts_with("Off"), "{}", status().await);
    let api_port = free_port();
    click(&client, "[data-testid=api-enabled]").await;
    let port_field = client.find(Locator::Css("[data-testid=api-port]")).await.unwrap();
    port_field.clear().await.unwrap();
    port_field.send_keys(&api_port.to_string()).await.unwrap();
    client.find(Locator::Css("[data-testid=provider] option[value=cpu]")).await.unwrap().click().await.unwrap();
    let new_dir = dir.path().join("moved-studio");
    let dir_field = client.find(Locator::Css("[data-testid=data-dir]")).await.unwrap();
    dir_field.clear().await.unwrap();
    dir_field.send_keys(&new_dir.display().to_string()).await.unwrap();
    click(&client, "[data-testid=save-settings]").await;
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("[data-testid=restart-needed]"))
        .await
        .unwrap();
    assert!(status().await.contains(&format!("127.0.0.1:{api_port}/v1")), "{}", status().await);
    assert_eq!(http_get(api_port, "/v1/credits", &key), 200, "the key works on the API for scripts");
    assert_eq!(http_get(api_port, "/v1/credits", "sk_live_wrong"), 401);
    let page = client.find(Locator::Css("[data-testid=studio-settings]")).await.unwrap().text().await.unwrap();
    assert!(page.contains("Models open on: cpu"), "{page}");
    assert!(new_dir.is_dir(), "the new data folder was checked by creating it");
    let saved = std::fs::read_to_string(dir.path().join("data/config/figur-studio/desktop.json")).unwrap();
    assert!(saved.contains(&api_port.to_string()) && saved.contains("moved-studio"), "{saved}");
    // A port below 1024 is refused, naming the field; the API stays where it was.
    let port_field = client.find(Locator::Css("[data-testid=api-port]")).await.unwrap();
    port_field.clear().await.unwrap();
    port_field.send_keys("80").await.unwrap();
    click(&client, "[data-testid=save-settings]").await;
    let note = client.wait().for_element(Locator::Css("[data-testid=settings-note] .error")).await.unwrap();
    assert!(note.text().await.unwrap().contains("1024"));
    assert_eq!(http_get(api_port, "/v1/credits", &key), 200);
    client.execute("document.querySelector('[data-testid=studio-settings]').scrollIntoView()", vec![]).await.unwrap();
    shot(&client, "settings-studio").await;
    // A hot folder: configured here, fed by dropping a file into it.
    let hot = dir.path().join("hot");
    std::fs::create_dir_all(&hot).unwrap();
    client
        .find(Locator::Css("[data-testid=hot-path]"))
        .await
        .unwrap()
        .send_keys(&hot.display().to_string())
        .await
        .unwrap();
    click(&client, "[data-testid=hot-add]").await;
    client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("[data-testid=hot-folder]")).await.unwrap();
    std::fs::copy(&photo, hot.join("dropped.png")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_dir(hot.join("out")).map(|d| d.count()).unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "the hot folder made nothing");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    shot(&client, "settings").await;
    client.close().await.unwrap();
    drop(driver);

    // 2. A slow job (each stage held 3 s) is cancelled from its timeline.
    let (driver, client, _) = open(&dir.path().join("data-slow"), "stage=sleep(3000)").await;
    import(&client, &photo).await;
    run_swap(&client).await;
    status_becomes(&client, "running", Duration::from_secs(20)).await;
    click(&client, "[data-testid=cancel]").await;
    status_becomes(&client, "failed", Duration::from_secs(30)).await;
    let alert = client.find(Locator::Css("[data-testid=timeline] [role=alert]")).await.unwrap();
    assert!(alert.text().await.unwrap().contains("You cancelled this job"), "the cancel is said in words");
    shot(&client, "cancelled").await;
    client.close().await.unwrap();
    drop(driver);
}

/// Uploads `bytes` as a script would: through a real `/v1` server on the same data folder
/// (the app is closed meanwhile). Returns the upload key.
async fn upload_through_the_api(data: &Path, name: &str, bytes: Vec<u8>) -> String {
    use figur_engine::{Capability, Engine, EngineConfig, Mode};
    let engine = Engine::open(EngineConfig::new(data)).unwrap();
    let (_, key) = engine.create_key(Mode::Live, &Capability::ALL, "window test script").await.unwrap();
    let config = figur_http::ServerConfig {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        signs_urls: false,
        ..Default::default()
    };
    let bound = figur_http::bind(engine.clone(), &config).await.unwrap();
    let addr = bound.addr;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bound.serve(async move {
        let _ = stopped.await;
    }));
    let boundary = "figur-window-test";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let answer = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        write!(
            stream,
            "POST /v1/uploads HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .unwrap();
        stream.write_all(&body).unwrap();
        let mut out = String::new();
        stream.read_to_string(&mut out).unwrap();
        out
    })
    .await
    .unwrap();
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    engine.shutdown(Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let json: serde_json::Value = serde_json::from_str(answer.split_once("\r\n\r\n").unwrap().1).unwrap();
    json["upload_key"].as_str().unwrap().to_string()
}

/// Every library tile, once its image has loaded or failed: (name, loaded).
async fn library_tiles(client: &Client, want: usize) -> Vec<(String, bool)> {
    let script = "return [...document.querySelectorAll('[data-testid=library-tile]')].map(t => {
        const img = t.querySelector('img');
        return [t.querySelector('figcaption').textContent, t.title, img.complete, img.naturalWidth > 0];
    });";
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let tiles = client.execute(script, vec![]).await.unwrap();
        let tiles: Vec<(String, String, bool, bool)> = serde_json::from_value(tiles).unwrap();
        if (tiles.len() == want && tiles.iter().all(|t| t.2)) || Instant::now() > deadline {
            return tiles.into_iter().map(|(name, title, _, loaded)| (format!("{name} | {title}"), loaded)).collect();
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

#[tokio::test]
async fn the_library_survives_a_restart_and_shows_what_scripts_uploaded() {
    let dir = tempfile::tempdir().unwrap();
    let photo = photo(dir.path());
    let data = dir.path().join("data");

    let (driver, client, _) = open(&data, "").await;
    import(&client, &photo).await;
    client.close().await.unwrap();
    drop(driver);

    // A script uploads to the same data folder through the API while the app is closed.
    let mut png = Vec::new();
    image::RgbImage::from_fn(96, 64, |x, y| image::Rgb([x as u8 * 2, y as u8 * 3, 180]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    upload_through_the_api(&data, "from-a-script.png", png).await;

    // A new start: a new private port and new signatures; every tile still loads.
    let (driver, client, _) = open(&data, "").await;
    click(&client, "[data-testid=nav-library]").await;
    let tiles = library_tiles(&client, 2).await;
    assert_eq!(tiles.len(), 2, "{tiles:?}");
    assert!(tiles.iter().all(|(_, loaded)| *loaded), "every tile loads after the restart: {tiles:?}");
    assert!(tiles[0].0.starts_with("from-a-script.png"), "newest first: {tiles:?}");
    let imported = &tiles[1].0;
    assert!(
        imported.starts_with("astronaut.png") && imported.contains(&dir.path().display().to_string()),
        "{imported}"
    );
    shot(&client, "library-after-restart").await;
    client.close().await.unwrap();
    drop(driver);
}

/// The queue screen's rows in order: (job id, state).
async fn queue_rows(client: &Client) -> Vec<(String, String)> {
    let script =
        "return [...document.querySelectorAll('[data-testid=queue-job]')].map(r => [r.dataset.job, r.dataset.state]);";
    serde_json::from_value(client.execute(script, vec![]).await.unwrap()).unwrap()
}

/// Waits until the queue screen's rows satisfy `done`; returns them.
async fn queue_until(client: &Client, what: &str, done: impl Fn(&[(String, String)]) -> bool) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let rows = queue_rows(client).await;
        if done(&rows) {
            return rows;
        }
        assert!(Instant::now() < deadline, "the queue never showed {what}: {rows:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn search_and_tag_the_library_then_steer_the_queue_in_the_real_window() {
    let dir = tempfile::tempdir().unwrap();
    let photo = photo(dir.path());
    let data = dir.path().join("data");
    // Every stage slowed: with this machine's permits busy, later jobs wait long enough to steer.
    let (driver, client, _) = open(&data, "stage=sleep(1500)").await;
    import(&client, &photo).await;

    // Search, open, tag, favourite; the tag becomes a chip that narrows the grid.
    let search = client.find(Locator::Css("[data-testid=library-search]")).await.unwrap();
    search.send_keys("astro").await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(library_tiles(&client, 1).await.len(), 1);
    search.send_keys("nomatch").await.unwrap();
    let empty = client.wait().at_most(Duration::from_secs(10));
    empty.for_element(Locator::XPath("//p[contains(., 'No photo matches')]")).await.unwrap();
    search.clear().await.unwrap();
    search.send_keys(" ").await.unwrap();
    click(&client, "[data-testid=library-tile] .tile-open").await;
    let tag = client.wait().for_element(Locator::Css("[data-testid=tag-input]")).await.unwrap();
    tag.send_keys("SS27 Hero").await.unwrap();
    click(&client, "[data-testid=tag-add]").await;
    shot(&client, "library-tagged").await;
    let chip = client.wait().at_most(Duration::from_secs(10));
    chip.for_element(Locator::Css("[data-testid=library-tag][data-tag='ss27 hero']")).await.unwrap();
    click(&client, "[data-testid=favourite-toggle]").await;
    client.wait().for_element(Locator::Css("[data-testid=favourite-toggle][aria-pressed=true]")).await.unwrap();
    click(&client, "[data-testid=library-favourites]").await;
    assert_eq!(library_tiles(&client, 1).await.len(), 1, "the favourite is listed");
    shot(&client, "library-search").await;

    // Five swaps: the permits take the first ones, the rest wait in the queue.
    for _ in 0..5 {
        run_swap(&client).await;
        client.wait().for_element(Locator::Css("[data-testid=job-status]")).await.unwrap();
    }
    click(&client, "[data-testid=nav-queue]").await;
    let rows = queue_until(&client, "three waiting jobs", |rows| {
        rows.iter().filter(|(_, state)| state == "waiting").count() == 3
    })
    .await;
    let waiting: Vec<String> = rows.iter().filter(|(_, s)| s == "waiting").map(|(id, _)| id.clone()).collect();
    let (first, last) = (waiting[0].clone(), waiting[2].clone());
    // The newest goes next; the oldest waiting one is held.
    click(&client, &format!("[data-job='{last}'] [data-testid=queue-run-next]")).await;
    queue_until(&client, "the newest job next", |rows| {
        rows.iter().find(|(_, s)| s == "waiting").is_some_and(|(id, _)| *id == last)
    })
    .await;
    click(&client, &format!("[data-job='{first}'] [data-testid=queue-pause]")).await;
    queue_until(&client, "the held job", |rows| rows.iter().any(|(id, s)| *id == first && s == "paused")).await;
    shot(&client, "queue").await;

    // The scheduler honours both: everything else runs; the held job waits alone until resumed.
    queue_until(&client, "only the held job left", |rows| {
        rows.len() == 1 && rows[0] == (first.clone(), "paused".into())
    })
    .await;
    click(&client, &format!("[data-job='{first}'] [data-testid=queue-resume]")).await;
    client
        .wait()
        .at_most(Duration::from_secs(90))
        .for_element(Locator::Css("[data-testid=queue-empty]"))
        .await
        .unwrap();
    client.close().await.unwrap();
    drop(driver);

    // The ledger says the same: the newest job started before the one dispatched before it.
    let engine = figur_engine::Engine::open(figur_engine::EngineConfig::new(&data)).unwrap();
    let started = |id: String| {
        let engine = engine.clone();
        async move { engine.job(figur_engine::Mode::Live, &id).await.unwrap().started_at.unwrap() }
    };
    let middle = waiting[1].clone();
    // Not after: two permits freed at once start two jobs within the same millisecond.
    let (newest, older) = (started(last.clone()).await, started(middle).await);
    assert!(newest <= older, "run next was honoured: the newest started {newest}, the one before it {older}");
    let events = engine.job_events(figur_engine::Mode::Live, &first, 0, None).await.unwrap().events;
    let stages: Vec<_> = events.iter().filter_map(|e| e.stage.as_deref()).collect();
    assert!(stages.starts_with(&["paused", "resumed", "started"]), "{stages:?}");
    engine.shutdown(Duration::from_secs(5)).await;
}

/// The open render: zoom on the canvas, before/after against its source, three variations side
/// by side, then "Use as input" opens the Edit screen with the render preselected; back on the
/// render, Upscale ×2 runs the upscaler.
async fn canvas_compare_vary_and_use_as_input(client: &Client) {
    let zoomed = "return document.querySelector('[data-testid=zoom-level]').textContent !== '100 %';";
    assert!(js_becomes(client, zoomed, json!(false), Duration::ZERO).await, "the canvas opens at 100 %");
    click(client, "[data-testid=zoom-in]").await;
    assert!(js_becomes(client, zoomed, json!(true), Duration::from_secs(5)).await, "the canvas zoomed");
    click(client, "[data-testid=view-compare]").await;
    let compare = client.wait().for_element(Locator::Css("[data-testid=compare] img[slot=first]")).await.unwrap();
    assert!(compare.attr("src").await.unwrap().unwrap().contains("/uploads/"), "before is the source photo");
    tokio::time::sleep(Duration::from_millis(300)).await; // painted before the screenshot
    shot(client, "render-compare").await;
    click(client, "[data-testid=vary]").await;
    let done = "return document.querySelectorAll('[data-testid=variation][data-state=done] img').length;";
    assert!(js_becomes(client, done, json!(3), Duration::from_secs(90)).await, "three variations never arrived");
    shot(client, "render-variations").await;
    client
        .find(Locator::Css("[data-testid=use-as-input-target]"))
        .await
        .unwrap()
        .select_by_value("edit")
        .await
        .unwrap();
    click(client, "[data-testid=use-as-input]").await;
    let chosen = client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("[data-testid=edit-chosen]"))
        .await
        .unwrap();
    let chosen = chosen.text().await.unwrap();
    assert!(chosen.starts_with("Photo: render-"), "the render is preselected: {chosen}");
    click(client, "[data-testid=nav-gallery]").await;
    click(client, "[data-testid=render]").await;
    click(client, "[data-testid=open-render]").await;
    // Upscale ×2 dispatches the upscale workflow on the render (Real-ESRGAN, in the default
    // set): followed beside the buttons until its tiles run, then cancelled from the queue (a
    // 512² render is 25 tiles, a minute of this CPU).
    click(client, "[data-testid=upscale-2]").await;
    let stage = "return document.querySelector('[data-testid=upscaled] .pending-box')?.textContent ?? '';";
    assert!(js_becomes(client, stage, json!("upscale"), Duration::from_secs(60)).await, "the upscale never ran");
    shot(client, "render-upscale").await;
    click(client, "[data-testid=nav-queue]").await;
    click(client, "[data-testid=queue-cancel]").await;
    client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("[data-testid=queue-empty]"))
        .await
        .unwrap();
}

/// Presses Tab until the focused element matches `css` (a keyboard-only path); panics after 60.
async fn tab_to(client: &Client, css: &str) {
    let matches = format!("return document.activeElement && document.activeElement.matches({css:?});");
    for _ in 0..60 {
        client.active_element().await.unwrap().send_keys("\u{E004}").await.unwrap();
        if client.execute(&matches, vec![]).await.unwrap() == serde_json::Value::Bool(true) {
            return;
        }
    }
    panic!("Tab never reached {css}");
}

/// Presses Enter on the focused element.
async fn enter(client: &Client) {
    client.active_element().await.unwrap().send_keys("\u{E007}").await.unwrap();
}

#[tokio::test]
async fn the_first_run_guide_then_try_on_by_keyboard_and_by_dragging_a_garment_onto_the_person() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (driver, client, _) = open(&data, "").await;

    // A new data folder opens on the guide: models (installed by the test command), samples, a swap.
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("[data-testid=start-models-ready]"))
        .await
        .unwrap();
    click(&client, "[data-testid=start-import]").await;
    client
        .wait()
        .at_most(Duration::from_secs(60))
        .for_element(Locator::Css("[data-testid=start-samples] img"))
        .await
        .unwrap();
    click(&client, "[data-testid=start-swap]").await;
    status_becomes(&client, "succeeded", Duration::from_secs(90)).await;
    let result = client.wait().for_element(Locator::Css("[data-testid=final]")).await.unwrap();
    client
        .execute("arguments[0].scrollIntoView({block: 'end'})", vec![serde_json::to_value(&result).unwrap()])
        .await
        .unwrap();
    shot(&client, "first-run").await;
    click(&client, "[data-testid=start-done]").await;
    assert_eq!(library_tiles(&client, 4).await.len(), 4, "the four sample photos are in the library");

    // Keyboard only: to Try-on, the astronaut as the person, Messi's top as the garment, run.
    let nav = client.find(Locator::Css("[data-testid=nav-try-on]")).await.unwrap();
    client.execute("arguments[0].focus()", vec![serde_json::to_value(&nav).unwrap()]).await.unwrap();
    enter(&client).await;
    client.wait().for_element(Locator::Css("[data-testid=person-pick]")).await.unwrap();
    tab_to(&client, "[data-testid=person-pick][data-key$='astronaut.png']").await;
    enter(&client).await;
    client.wait().for_element(Locator::Css("[data-testid=tryon-person]")).await.unwrap();
    tab_to(&client, "[data-testid=garment-pick][data-key$='messi5.jpg']").await;
    enter(&client).await;
    client.wait().for_element(Locator::Css("[data-testid=tryon-garment]")).await.unwrap();
    tab_to(&client, "[data-testid=run]").await;
    enter(&client).await;
    status_becomes(&client, "succeeded", Duration::from_secs(120)).await;
    client.wait().for_element(Locator::Css("[data-testid=final]")).await.unwrap();

    // By hand: take the garment off, drag it from the garment picker onto the person, run again.
    click(&client, "[data-testid=tryon-garment] button").await;
    let dragged = client
        .execute(
            "const from = document.querySelector(\"[data-testid=garment-pick][data-key$='messi5.jpg']\");
             const to = document.querySelector('[data-testid=tryon-stage]');
             const dt = new DataTransfer();
             from.dispatchEvent(new DragEvent('dragstart', { dataTransfer: dt, bubbles: true }));
             to.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
             to.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
             return document.querySelectorAll('[data-testid=tryon-garment]').length;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(dragged, serde_json::json!(1), "the dropped garment is worn");
    shot(&client, "try-on").await;
    click(&client, "[data-testid=run]").await;
    status_becomes(&client, "succeeded", Duration::from_secs(120)).await;

    // A backdrop from the catalog dragged onto a photo: a background swap onto that backdrop.
    click(&client, "[data-testid=nav-edit]").await;
    click(&client, "[data-testid=photo-pick][data-key$='astronaut.png']").await;
    client.wait().for_element(Locator::Css("[data-testid=backdrop-pick]")).await.unwrap();
    let chosen = client
        .execute(
            "const from = document.querySelector('[data-testid=backdrop-pick]');
             const to = document.querySelector('[data-testid=edit-stage]');
             const dt = new DataTransfer();
             from.dispatchEvent(new DragEvent('dragstart', { dataTransfer: dt, bubbles: true }));
             to.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
             return document.querySelector('[data-testid=workflow]').value;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(chosen, json!("background-swap-with-image"), "the drop chose the backdrop");
    click(&client, "[data-testid=run]").await;
    status_becomes(&client, "succeeded", Duration::from_secs(90)).await;
    shot(&client, "edit-backdrop").await;
    client.close().await.unwrap();
    drop(driver);
}

#[tokio::test]
async fn a_generative_model_is_added_from_its_folder_made_a_default_and_removed_in_settings() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // A model cache of its own, so the test adds to and removes from nobody's real cache.
    let cache = dir.path().join("cache");
    let export = dir.path().join("tiny-export");
    figur_models::tiny::diffusion::tiny_sd(&export, 16);
    let (driver, client, _) = open_env(&data, "", &data.join("pictures"), &[("FIGUR_CACHE_DIR", &cache)]).await;
    click(&client, "[data-testid=nav-settings]").await;
    let folder = client.wait().for_element(Locator::Css("[data-testid=add-model-folder]")).await.unwrap();
    folder.send_keys(&export.display().to_string()).await.unwrap();
    client.find(Locator::Css("[data-testid=add-model-name]")).await.unwrap().send_keys("tiny-sd").await.unwrap();
    client.find(Locator::Css("[data-testid=add-model-licence]")).await.unwrap().send_keys("MIT").await.unwrap();
    click(&client, "[data-testid=add-model]").await;
    let row = client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("[data-testid=generative-model]"))
        .await
        .unwrap();
    let text = row.text().await.unwrap();
    assert!(text.contains("tiny-sd") && text.contains("MIT") && text.contains("MB"), "{text}");
    let default = client.find(Locator::Css("[data-testid=default-background-generator]")).await.unwrap();
    default.select_by_value("tiny-sd").await.unwrap();
    let chosen = "return document.querySelector('[data-testid=default-background-generator]').value;";
    assert!(js_becomes(&client, chosen, json!("tiny-sd"), Duration::from_secs(10)).await);
    let settings = std::fs::read_to_string(data.join("settings.json")).unwrap();
    assert!(settings.contains("tiny-sd"), "the default is saved in the data folder: {settings}");
    client
        .execute("document.querySelector('[data-testid=generative-settings]').scrollIntoView()", vec![])
        .await
        .unwrap();
    shot(&client, "settings-generative").await;

    click(&client, "[data-testid=remove-model]").await;
    click(&client, "[data-testid=remove-model][data-armed=true]").await;
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("[data-testid=no-generative-models]"))
        .await
        .unwrap();
    assert_eq!(client.execute(chosen, vec![]).await.unwrap(), json!(""), "the default naming it is cleared");
    assert!(!std::fs::read_to_string(data.join("settings.json")).unwrap().contains("tiny-sd"));

    // A try-on model: offered for the try-on default with its licence, and named on the try-on
    // screen as what will draw.
    let try_on = dir.path().join("try-on-export");
    figur_models::tiny::diffusion::TryOnOracle::new(48, 64).write(&try_on);
    for (field, value) in [
        ("add-model-folder", try_on.display().to_string()),
        ("add-model-name", "catvton".to_string()),
        ("add-model-licence", "CC-BY-NC-SA-4.0".to_string()),
    ] {
        let input = client.find(Locator::Css(&format!("[data-testid={field}]"))).await.unwrap();
        input.clear().await.unwrap();
        input.send_keys(&value).await.unwrap();
    }
    click(&client, "[data-testid=add-model]").await;
    let offered =
        "return [...document.querySelectorAll('[data-testid=default-try-on] option')].map(o => o.textContent);";
    let want = json!(["None — the first added try-on model, else the fitted draft", "catvton (CC-BY-NC-SA-4.0)"]);
    assert!(js_becomes(&client, offered, want, Duration::from_secs(30)).await);
    click(&client, "[data-testid=nav-try-on]").await;
    let drawer = "return document.querySelector('[data-testid=tryon-drawer]')?.textContent ?? null;";
    let says = json!("catvton draws the garments (licence CC-BY-NC-SA-4.0).");
    assert!(js_becomes(&client, drawer, says, Duration::from_secs(10)).await);
    client.close().await.unwrap();
    drop(driver);
}

/// A studio server of the test's own (another data folder, its engine running jobs) over HTTP,
/// as a farm's API server or a colleague's `figur serve` would be: its engine, base URL and a
/// key, and the sender that stops it.
async fn studio_server(
    dir: &Path,
) -> (std::sync::Arc<figur_engine::Engine>, String, String, tokio::sync::oneshot::Sender<()>) {
    use figur_engine::{Capability, Engine, EngineConfig, Mode};
    let engine = Engine::open(EngineConfig::new(dir)).unwrap();
    engine.start().await.unwrap();
    let (_, key) = engine.create_key(Mode::Live, &Capability::ALL, "a desktop").await.unwrap();
    let config =
        figur_http::ServerConfig { listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)), ..Default::default() };
    let bound = figur_http::bind(engine.clone(), &config).await.unwrap();
    let base = bound.base_url();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(bound.serve(async move {
        let _ = stopped.await;
    }));
    (engine, base, key, stop)
}

/// A session's keyring of the test's own: a private D-Bus session bus and GNOME Keyring's
/// Secret Service on it (Debian's `gnome-keyring`), its keyrings in `dir`. Stopped when dropped.
struct KeyringSession {
    bus: Child,
    address: PathBuf,
}

impl KeyringSession {
    fn start(dir: &Path) -> KeyringSession {
        use std::io::{BufRead, Write};
        std::fs::create_dir_all(dir.join("home")).unwrap();
        let mut bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .arg(format!("--address=unix:path={}", dir.join("bus").display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (Debian package dbus-daemon)");
        let mut address = String::new();
        std::io::BufReader::new(bus.stdout.take().unwrap()).read_line(&mut address).unwrap();
        let address = PathBuf::from(address.trim());
        // `--unlock` reads the login keyring's password from stdin (and makes that keyring).
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("HOME", dir.join("home"))
            .env("XDG_DATA_HOME", dir.join("home/share"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon (Debian package gnome-keyring)");
        keyring.stdin.take().unwrap().write_all(b"figur-test").unwrap();
        // It forks into the background and exits; the daemon goes when the bus does.
        assert!(keyring.wait().unwrap().success(), "gnome-keyring-daemon did not start");
        KeyringSession { bus, address }
    }
}

impl Drop for KeyringSession {
    fn drop(&mut self) {
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

/// The text of `selector` once it contains `wanted` (or whatever it says after 20 s).
async fn text_with(client: &Client, selector: &str, wanted: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = match client.find(Locator::Css(selector)).await {
            Ok(found) => found.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains(wanted) || Instant::now() > deadline {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connected_to_a_studio_server_the_library_jobs_and_gallery_are_the_servers() {
    use figur_engine::{JobFilter, LibraryQuery, Mode};
    let dir = tempfile::tempdir().unwrap();
    let photo = photo(dir.path());
    let (server, base, key, stop) = studio_server(&dir.path().join("server")).await;
    let data = dir.path().join("data");
    let keyring = KeyringSession::start(&dir.path().join("keyring"));
    let on_keyring = [("DBUS_SESSION_BUS_ADDRESS", keyring.address.as_path())];
    let pictures = data.join("pictures");
    let (driver, client, _) = open_env(&data, "", &pictures, &on_keyring).await;

    // Settings → Studio server: a wrong key is refused and nothing is kept.
    click(&client, "[data-testid=nav-settings]").await;
    let url_field = client.wait().for_element(Locator::Css("[data-testid=server-url]")).await.unwrap();
    url_field.send_keys(&base).await.unwrap();
    client.find(Locator::Css("[data-testid=server-key]")).await.unwrap().send_keys("sk_live_wrong").await.unwrap();
    click(&client, "[data-testid=server-connect]").await;
    client.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css(".error, [role=alert]")).await.unwrap();
    let key_field = client.find(Locator::Css("[data-testid=server-key]")).await.unwrap();
    key_field.clear().await.unwrap();
    key_field.send_keys(&key).await.unwrap();
    click(&client, "[data-testid=server-connect]").await;
    // The window reloads connected, and says to what.
    let said = "return document.querySelector('[data-testid=connected-server]')?.textContent ?? '';";
    assert!(js_becomes(&client, said, json!(format!("on {base}")), Duration::from_secs(30)).await, "never connected");
    shot(&client, "settings-server").await;
    // The key is in the session's keyring: not in a file, not in the webview's storage.
    let note = text_with(&client, "[data-testid=server-key-note]", "keyring").await;
    assert_eq!(note, "The key is kept in the system keyring.");
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(data.join("server.json")).unwrap()).unwrap();
    assert_eq!(saved, json!({"url": base, "kept_in": "keyring"}));
    assert!(!data.join("server-key").exists());
    let stored = "return JSON.stringify(Object.assign({}, localStorage));";
    let web_storage = client.execute(stored, vec![]).await.unwrap();
    assert!(!web_storage.as_str().unwrap_or_default().contains(&key), "the key is not in web storage: {web_storage}");
    // Settings' generative models are the server's (read through its /v1): nothing to add here.
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("[data-testid=generative-on-server]"))
        .await
        .unwrap();
    assert!(client.find(Locator::Css("[data-testid=add-model]")).await.is_err(), "models are added on the server");

    // An import goes to the server's library; this machine's stays empty.
    import(&client, &photo).await;
    let on_server = server.library(Mode::Live, LibraryQuery::default(), 10, 0).await.unwrap();
    assert_eq!(on_server.total, 1, "the photo is in the server's library");
    // A workflow started from the Edit screen runs on the server, and its render is in the gallery.
    run_swap(&client).await;
    status_becomes(&client, "succeeded", Duration::from_secs(180)).await;
    let jobs = server.list_jobs(Mode::Live, JobFilter { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(jobs.jobs.len(), 1, "the job is the server's");
    click(&client, "[data-testid=nav-gallery]").await;
    let tile = client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("[data-testid=render] img"))
        .await
        .unwrap();
    shot(&client, "gallery-on-server").await;

    // Export saves the server's render into this machine's Pictures folder.
    tile.click().await.unwrap();
    click(&client, "[data-testid=open-render]").await;
    click(&client, "[data-testid=export-png]").await;
    let note = text_with(&client, "[data-testid=export-note]", "Saved to").await;
    let saved = PathBuf::from(note.trim_start_matches("Saved to ").trim());
    assert!(saved.starts_with(pictures.join("Figur Studio")), "exported: {note}");
    let render = &jobs.jobs[0];
    let exported = image::open(&saved).unwrap();
    let made = render.latest_event.as_ref().unwrap().artifacts[0].meta.clone();
    assert_eq!((exported.width(), exported.height()), (made.width, made.height), "the server's render");

    // A hot folder sends what is dropped into it to the server, and its results come back here.
    click(&client, "[data-testid=nav-settings]").await;
    let hot = dir.path().join("hot-to-server");
    std::fs::create_dir_all(&hot).unwrap();
    let hot_path = client.wait().for_element(Locator::Css("[data-testid=hot-path]")).await.unwrap();
    hot_path.send_keys(&hot.display().to_string()).await.unwrap();
    click(&client, "[data-testid=hot-add]").await;
    client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("[data-testid=hot-folder]")).await.unwrap();
    std::fs::copy(&photo, hot.join("dropped.png")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    while std::fs::read_dir(hot.join("out")).map(|d| d.count()).unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "the hot folder made nothing");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let jobs = server.list_jobs(Mode::Live, JobFilter { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(jobs.jobs.len(), 2, "the hot folder's job ran on the server");
    click(&client, "[data-testid=hot-remove]").await;

    // Closed and opened again, the desktop is still connected: the key came back from the keyring.
    client.close().await.unwrap();
    drop(driver);
    let (driver, client, _) = open_env(&data, "", &pictures, &on_keyring).await;
    assert!(js_becomes(&client, said, json!(format!("on {base}")), Duration::from_secs(30)).await, "not connected");

    // Back to this machine's studio: its own (empty) library; the connection is forgotten.
    click(&client, "[data-testid=nav-settings]").await;
    click(&client, "[data-testid=server-disconnect]").await;
    let gone = "return document.querySelector('[data-testid=connected-server]') === null;";
    assert!(js_becomes(&client, gone, json!(true), Duration::from_secs(30)).await);
    assert!(!data.join("server.json").exists());
    click(&client, "[data-testid=nav-library]").await;
    assert!(library_tiles(&client, 0).await.is_empty(), "this machine's library is its own");
    client.close().await.unwrap();
    drop(driver);

    // Where no keyring answers, the key is kept in a file only this user reads, and the window
    // says so.
    let nowhere = [("DBUS_SESSION_BUS_ADDRESS", Path::new("unix:path=/nonexistent/bus"))];
    let (driver, client, _) = open_env(&data, "", &pictures, &nowhere).await;
    click(&client, "[data-testid=nav-settings]").await;
    let url_field = client.wait().for_element(Locator::Css("[data-testid=server-url]")).await.unwrap();
    url_field.clear().await.unwrap();
    url_field.send_keys(&base).await.unwrap();
    client.find(Locator::Css("[data-testid=server-key]")).await.unwrap().send_keys(&key).await.unwrap();
    click(&client, "[data-testid=server-connect]").await;
    assert!(js_becomes(&client, said, json!(format!("on {base}")), Duration::from_secs(30)).await, "never connected");
    click(&client, "[data-testid=nav-settings]").await;
    let note = text_with(&client, "[data-testid=server-key-note]", "No system keyring answered").await;
    let file = data.join("server-key");
    assert!(note.contains("No system keyring answered") && note.contains(&file.display().to_string()), "{note}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), key);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    client.close().await.unwrap();
    drop(driver);
    drop(keyring);
    let _ = stop.send(());
    server.shutdown(Duration::from_secs(5)).await;
}
