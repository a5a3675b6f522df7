//! Webhooks through the real server: `webhook_url` at dispatch, the signed POST a receiver on
//! another port gets, the attempts listed at `GET /v1/jobs/{id}/webhooks`, and the secret the
//! receiver checks with from `figur keys webhook-secret`.

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};

use crate::support::Server;

/// One POST as a receiver reads it: its headers (lower-cased names) and raw body.
pub(crate) struct Post {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Post {
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers.iter().find(|(n, _)| n == name).map_or("", |(_, v)| v.as_str())
    }
}

/// A receiver on a thread that answers every POST with `status` and hands it to the test.
pub(crate) fn receiver(status: u16) -> (String, mpsc::Receiver<Post>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/figur-events", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut headers = Vec::new();
            let mut line = String::new();
            reader.read_line(&mut line).unwrap(); // the request line
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((n, v)) = line.split_once(':') {
                    headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
                }
            }
            let post = Post { headers, body: Vec::new() };
            let length: usize = post.header("content-length").parse().unwrap_or(0);
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let mut conn = conn;
            let _ = write!(conn, "HTTP/1.1 {status} OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            if tx.send(Post { body, ..post }).is_err() {
                return;
            }
        }
    });
    (url, rx)
}

#[tokio::test]
async fn a_job_with_a_webhook_url_is_posted_signed_once_it_ends_and_its_attempts_are_listed() {
    let server = Server::start().await;
    let (url, posts) = receiver(200);
    let r = server.dispatch_backdrop(json!({"webhook_url": url})).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let job = r.body["job_id"].as_str().unwrap().to_string();
    server.wait_terminal(&job).await;

    let post = tokio::task::spawn_blocking(move || posts.recv_timeout(Duration::from_secs(60)))
        .await
        .unwrap()
        .expect("the receiver is called once the job ends");
    assert_eq!(post.header("webhook-id"), job);
    assert_eq!(post.header("content-type"), "application/json");
    let secret = server.cli(&["keys", "webhook-secret"]).trim().to_string();
    let key = base64::engine::general_purpose::STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let timestamp: i64 = post.header("webhook-timestamp").parse().unwrap();
    let expected = figur_engine::engine::webhook_signature(&key.try_into().unwrap(), &job, timestamp, &post.body);
    assert_eq!(post.header("webhook-signature"), expected);
    let body: Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(body["type"], "job.succeeded");
    assert_eq!(body["data"]["public_id"], job.as_str());
    // The artifact's signed URL in the POST fetches the image without a key.
    let image = body["data"]["result"][0]["image_url"].as_str().unwrap();
    let fetched = reqwest::get(image).await.unwrap();
    assert_eq!(fetched.status(), 200);

    // The attempt is recorded once the receiver's answer is in.
    let mut listed = Value::Null;
    for _ in 0..100 {
        listed = server.get(&format!("/v1/jobs/{job}/webhooks")).await.body;
        if listed["state"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(listed["state"], "delivered", "{listed}");
    assert_eq!(listed["webhook_url"], url.as_str());
    assert_eq!(listed["attempts"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["attempts"][0]["status_code"], 200);
    let cli: Value = serde_json::from_str(&server.cli(&["jobs", "webhooks", &job])).unwrap();
    assert_eq!(cli["state"], "delivered");
}

#[tokio::test]
async fn a_bad_webhook_url_is_a_422_naming_it_and_the_idempotency_key_covers_it() {
    let server = Server::start().await;
    let before = server.balance().await;
    for bad in [json!("file:///etc/passwd"), json!("localhost:9000"), json!(7)] {
        let r = server.dispatch_backdrop(json!({ "webhook_url": bad })).await;
        assert_eq!((r.status.as_u16(), r.code()), (422, "VALIDATION_ERROR"), "{bad}: {:?}", r.body);
        assert_eq!(r.loc(), json!(["body", "webhook_url"]), "{bad}");
    }
    assert_eq!(server.balance().await, before, "nothing charged");

    // The same key with another webhook URL is another request: refused, not answered from memory.
    let send = |url: &str| {
        let body = json!({"scene_type": "studio_sweep", "mood": "soft", "resolution": "0.5K", "webhook_url": url});
        server
            .http
            .post(server.url("/v1/background-generator"))
            .bearer_auth(&server.key)
            .header("Idempotency-Key", "hook-1")
            .json(&body)
    };
    assert_eq!(server.send(send("http://127.0.0.1:9/a")).await.status, 202);
    let again = server.send(send("http://127.0.0.1:9/b")).await;
    assert_eq!(again.status, 422, "{:?}", again.body);
    assert_eq!(again.loc(), json!(["header", "Idempotency-Key"]));

    // Without a webhook the listing says so; an unknown job is a 404.
    let plain = server.dispatch_backdrop(json!({})).await.body["job_id"].as_str().unwrap().to_string();
    let listed = server.get(&format!("/v1/jobs/{plain}/webhooks")).await;
    assert_eq!((listed.status.as_u16(), listed.body["state"].as_str()), (200, Some("none")));
    let unknown = server.get("/v1/jobs/01J00000000000000000000000/webhooks").await;
    assert_eq!((unknown.status.as_u16(), unknown.code()), (404, "JOB_NOT_FOUND"));
}
