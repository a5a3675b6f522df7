//! What a careless client and an attacker found, kept found: the event cursor under load,
//! truncated images, private files, every non-2xx in the envelope, duplicate keys, absolute-form
//! request lines, guessing keys, rotated photos, and the library as a ledger view.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::support::{png, Server};

/// A JPEG of `width`×`height` with some detail in it.
fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x * 3) as u8, (y * 5) as u8, 120]));
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Jpeg).unwrap();
    out
}

/// Sends raw bytes to the server and reads the whole answer (the connection is closed by it).
fn raw(server: &Server, request: &[u8]) -> String {
    let addr = server.base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    stream.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn envelope_code(answer: &str) -> String {
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str::<Value>(body)
        .map(|v| v["error"]["code"].as_str().unwrap_or("").to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_event_cursor_never_trails_the_events_it_returns() {
    // Rate limit off: sixty followers polling at once are not what this test is about.
    let server = Arc::new(Server::start_with(&["--concurrency", "2", "--rate-limit", "0"], &[]).await);
    let mut followers = Vec::new();
    for seed in 0..60 {
        let r = server.dispatch_backdrop(json!({"seed": seed, "resolution": "0.5K"})).await;
        assert_eq!(r.status, 202, "{:?}", r.body);
        let job = r.body["job_id"].as_str().unwrap().to_string();
        let server = server.clone();
        // Each follower long-polls from its cursor, as the guide says, while the others run.
        followers.push(tokio::spawn(async move {
            let (mut since, mut responses, mut seen) = (0i64, 0, Vec::new());
            loop {
                let r = server.get(&format!("/v1/jobs/{job}/events?since={since}&wait=5")).await;
                assert_eq!(r.status, 200, "{:?}", r.body);
                responses += 1;
                let latest = r.body["latest_seq"].as_i64().unwrap();
                let seqs: Vec<i64> =
                    r.body["events"].as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()).collect();
                if let Some(last) = seqs.last() {
                    assert!(latest >= *last, "latest_seq {latest} trails the events returned {seqs:?}");
                }
                seen.extend(seqs.iter().copied());
                let ended = r.body["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e["event_type"] == "succeeded" || e["event_type"] == "failed");
                since = latest.max(since);
                if ended {
                    break;
                }
            }
            let expected: Vec<i64> = (1..=seen.len() as i64).collect();
            assert_eq!(seen, expected, "every event exactly once, in order, following latest_seq");
            responses
        }));
    }
    let mut responses = 0;
    for f in followers {
        responses += f.await.unwrap();
    }
    assert!(responses >= 60);
}

#[tokio::test]
async fn truncated_images_are_refused_at_upload_and_fail_a_job_with_a_refund() {
    let server = Server::start().await;
    let whole = jpeg(320, 240);
    let r = server.upload("cut.jpg", whole[..whole.len() / 2].to_vec()).await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "VALIDATION_ERROR"), "{:?}", r.body);
    assert_eq!(r.loc(), json!(["body", "file"]));
    assert!(r.body["error"]["message"].as_str().unwrap().contains("truncated"));

    // One that reaches a job anyway (cut on disk after its upload) fails it, and is refunded.
    let r = server.upload("whole.jpg", whole.clone()).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let key = r.body["upload_key"].as_str().unwrap().to_string();
    let stored = server.data_dir().join("live/store").join(&key);
    std::fs::write(&stored, &whole[..whole.len() * 2 / 3]).unwrap();
    let before = server.balance().await;
    let r = server
        .post(
            "/v1/background-swap-with-spec",
            json!({"source_image_s3_key": key, "output_preset": "original", "scene_type": "paper", "mood": "soft"}),
        )
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let events = server.wait_terminal(r.body["job_id"].as_str().unwrap()).await;
    let last = events.last().unwrap();
    assert_eq!(last["event_type"], "failed", "{events:?}");
    assert_eq!(last["extra"]["error"]["code"], "INPUT_UNREADABLE", "{last}");
    assert_eq!(server.balance().await, before, "the job was refunded");
}

#[tokio::test]
async fn the_data_folder_is_private_and_an_open_one_is_tightened_at_start() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(dir.path().join("live/uploads/old")).unwrap();
    std::fs::write(dir.path().join("live/uploads/old/photo.png"), png(4, 4)).unwrap();
    std::fs::set_permissions(dir.path().join("live/uploads/old/photo.png"), std::fs::Permissions::from_mode(0o644))
        .unwrap();
    let server = Server::start_in(dir.clone(), &[], &[]).await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(dir.path()), 0o700);
    assert_eq!(mode(&dir.path().join("live/uploads/old/photo.png")), 0o600);
    let r = server.upload("new.png", png(8, 8)).await;
    let stored = dir.path().join("live/store").join(r.body["upload_key"].as_str().unwrap());
    assert_eq!(mode(&stored), 0o600);
    assert_eq!(mode(stored.parent().unwrap()), 0o700);
    for file in ["live/ledger.db", "install.secret"] {
        assert_eq!(mode(&dir.path().join(file)), 0o600, "{file}");
    }
}

#[tokio::test]
async fn every_refusal_is_enveloped_with_a_precise_code() {
    let server = Server::start_with(&["--paused"], &[]).await;
    let r = server.send(server.http.delete(server.url("/v1/credits")).bearer_auth(&server.key)).await;
    assert_eq!((r.status.as_u16(), r.code()), (405, "METHOD_NOT_ALLOWED"));

    let host = format!("Host: {}\r\n", server.base.trim_start_matches("http://"));
    let long = format!("GET /v1/health?{} HTTP/1.1\r\n{host}\r\n", "a".repeat(70_000));
    let answer = raw(&server, long.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 414"), "{answer}");
    assert_eq!(envelope_code(&answer), "URI_TOO_LONG");

    let many: String = (0..200).map(|i| format!("X-Header-{i}: v\r\n")).collect();
    let answer = raw(&server, format!("GET /v1/health HTTP/1.1\r\n{host}{many}\r\n").as_bytes());
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    assert_eq!(envelope_code(&answer), "HEADERS_TOO_LARGE");

    let answer = raw(&server, format!("G@T /v1/health HTTP/1.1\r\n{host}\r\n").as_bytes());
    assert_eq!(envelope_code(&answer), "BAD_REQUEST", "{answer}");

    // The request line of a proxy request names its own authority; it must be loopback too.
    let answer = raw(
        &server,
        format!("GET http://evil.example/v1/health HTTP/1.1\r\n{host}Connection: close\r\n\r\n").as_bytes(),
    );
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert_eq!(envelope_code(&answer), "FORBIDDEN");
    let local = format!("GET {}/v1/health HTTP/1.1\r\n{host}Connection: close\r\n\r\n", server.base);
    assert!(raw(&server, local.as_bytes()).starts_with("HTTP/1.1 200"));

    // A key given twice is not silently resolved.
    let r = server
        .send(
            server
                .http
                .post(server.url("/v1/background-generator"))
                .bearer_auth(&server.key)
                .header("content-type", "application/json")
                .body(r#"{"scene_type": "paper", "mood": "soft", "mood": "warm"}"#),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "VALIDATION_ERROR"));
    assert_eq!(r.loc(), json!(["body", "mood"]));
    assert_eq!(r.body["error"]["details"][0]["type"], "duplicate_key");
}

#[tokio::test]
async fn guessing_keys_is_rate_limited_per_address() {
    let server = Server::start_with(&["--paused", "--rate-limit", "2"], &[]).await;
    let mut codes = Vec::new();
    for _ in 0..8 {
        codes.push(server.get_as("/v1/credits", "sk_live_guess").await.status.as_u16());
    }
    assert_eq!(&codes[..4], &[401; 4], "a burst of twice the rate is answered: {codes:?}");
    let r = server.get_as("/v1/credits", "sk_live_guess").await;
    assert_eq!((r.status.as_u16(), r.code()), (429, "RATE_LIMITED"), "{codes:?}");
    assert!(r.headers.contains_key("retry-after"));
    // The owner of a real key is limited by the key's own bucket, not the address's.
    assert_eq!(server.get("/v1/credits").await.status, 200);
}

#[tokio::test]
async fn a_rotated_photo_is_reported_at_the_size_it_is_shown() {
    let server = Server::start_with(&["--paused"], &[]).await;
    let mut photo = jpeg(64, 32);
    // EXIF orientation 6: turn the stored 64×32 a quarter, to 32×64.
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01".to_vec();
    exif.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1, 0x00, 0x06, 0, 0, 0, 0, 0, 0]);
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    app1.extend_from_slice(&exif);
    photo.splice(2..2, app1);
    let r = server.upload("portrait.jpg", photo).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!((r.body["width"].as_u64(), r.body["height"].as_u64()), (Some(32), Some(64)));
}

#[tokio::test]
async fn the_library_is_a_view_of_the_ledger() {
    let server = Server::start_with(&["--paused"], &[]).await;
    for (i, name) in ["a.png", "b.png", "c.png"].iter().enumerate() {
        assert_eq!(server.upload(name, png(8 + i as u32, 8)).await.status, 200);
    }
    let r = server.get("/v1/uploads?limit=2").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (r.body["limit"].as_u64(), r.body["offset"].as_u64(), r.body["count"].as_u64()),
        (Some(2), Some(0), Some(2))
    );
    let names: Vec<&str> = r.body["uploads"].as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["c.png", "b.png"], "newest first");
    assert!(r.body["uploads"][0]["source_folder"].is_null(), "API uploads have no source folder");
    let url = r.body["uploads"][0]["image_url"].as_str().unwrap();
    let image = server.http.get(url).send().await.unwrap();
    assert_eq!(image.status(), 200, "the URL is signed when the list is read");
    let rest = server.get("/v1/uploads?limit=2&offset=2").await;
    assert_eq!(rest.body["uploads"][0]["name"], "a.png");
    let r = server.get("/v1/uploads?limit=201").await;
    assert_eq!((r.status.as_u16(), r.loc()), (422, json!(["query", "limit"])));
}
