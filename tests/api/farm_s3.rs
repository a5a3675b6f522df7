//! A farm whose store is an S3-compatible bucket (`--store s3://bucket/prefix`), end to end on
//! moto's server (`scripts/test-s3`: loopback only, IAM checks on) and a throwaway PostgreSQL:
//! what is refused at start, a full run through two servers and two workers, an upload read by
//! a worker on another "machine", and a store that refuses writes, whose jobs end refunded.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use object_store::ObjectStore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

use crate::farm::{assert_ledger_invariants, Cluster, Farm, FarmStore};
use crate::support::FIGUR;

const TEST_S3: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/test-s3");

/// A moto server of the test's own, stopped when dropped.
pub(crate) struct S3 {
    dir: TempDir,
    endpoint: String,
    bucket: String,
    /// The user that may do anything with S3, and the one that may only read and list.
    pub(crate) rw: (String, String),
    pub(crate) ro: (String, String),
}

impl S3 {
    pub(crate) fn start() -> S3 {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(TEST_S3).arg("start").arg(dir.path().join("s3")).output().unwrap();
        assert!(out.status.success(), "the S3 server did not start: {}", String::from_utf8_lossy(&out.stderr));
        let said: Value = serde_json::from_slice(&out.stdout).unwrap();
        let keys = |user: &str| (said[user][0].as_str().unwrap().into(), said[user][1].as_str().unwrap().into());
        S3 {
            endpoint: said["endpoint"].as_str().unwrap().into(),
            bucket: said["bucket"].as_str().unwrap().into(),
            rw: keys("rw"),
            ro: keys("ro"),
            dir,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("s3://{}/farm", self.bucket)
    }

    /// The `AWS_*` variables a process reaches the bucket with, as `keys`' user.
    pub(crate) fn env(&self, keys: &(String, String)) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", &keys.0),
            ("AWS_SECRET_ACCESS_KEY", &keys.1),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// An object's bytes, read straight from the bucket (`key` under the farm's prefix).
    pub(crate) async fn read(&self, key: &str) -> Result<Vec<u8>, String> {
        let s3 = object_store::aws::AmazonS3Builder::new()
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_bucket_name(&self.bucket)
            .with_access_key_id(&self.rw.0)
            .with_secret_access_key(&self.rw.1)
            .build()
            .map_err(|e| e.to_string())?;
        let path = object_store::path::Path::from(format!("farm/{key}"));
        let got = s3.get(&path).await.map_err(|e| e.to_string())?;
        Ok(got.bytes().await.map_err(|e| e.to_string())?.to_vec())
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = Command::new(TEST_S3).arg("stop").arg(self.dir.path().join("s3")).output();
    }
}

/// `figur serve` on `store` with `env`: its exit status and what it said, within 60 s.
fn serve_once(store: &str, env: &[(String, String)], data: &Path) -> (bool, String) {
    let mut child = Command::new(FIGUR)
        .args(["serve", "--listen", "127.0.0.1:0", "--store", store, "--data-dir"])
        .arg(data)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .envs(env.iter().cloned())
        .env("FIGUR_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("figur serve --store {store} neither started nor stopped");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_farm_on_an_s3_bucket_renders_and_a_store_that_refuses_writes_refunds() {
    const JOBS: usize = 40;
    let s3 = S3::start();

    // Refused at start, naming what is wrong: a bucket that does not exist, credentials the
    // endpoint does not know, a plain-HTTP endpoint nobody allowed, no credentials at all.
    let data = tempfile::tempdir().unwrap();
    let wrong = (s3.rw.0.clone(), "not-the-secret".to_string());
    let mut no_http = s3.env(&s3.rw);
    no_http.retain(|(k, _)| k != "AWS_ALLOW_HTTP");
    // No keys at all: the client asks the instance metadata service, which is not there.
    let mut no_keys = s3.env(&s3.rw);
    no_keys.retain(|(k, _)| !k.starts_with("AWS_ACCESS") && !k.starts_with("AWS_SECRET"));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    no_keys.push(("AWS_METADATA_ENDPOINT".into(), format!("http://{closed}")));
    for (store, env, says) in [
        ("s3://no-such-bucket/farm".to_string(), s3.env(&s3.rw), "the bucket `no-such-bucket` does not exist"),
        (s3.url(), s3.env(&wrong), "credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) were refused"),
        (s3.url(), no_http, "AWS_ALLOW_HTTP=true"),
        (s3.url(), no_keys, "no credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set"),
    ] {
        let (ok, said) = serve_once(&store, &env, data.path());
        assert!(!ok && said.contains(&store) && said.contains(says), "{store}: {said}");
    }

    let farm = Farm::with_store(Cluster::start(), FarmStore::Bucket(s3));
    let FarmStore::Bucket(s3) = &farm.store else { unreachable!() };
    let mut server_a = farm.server("server-a");
    let mut server_b = farm.server("server-b");
    let bases = vec![server_a.base.clone().unwrap(), server_b.base.clone().unwrap()];
    let mut w1 = farm.worker("w1", None);
    let mut w2 = farm.worker("w2", None);

    let sent = futures_util::future::join_all((0..JOBS).map(|n| farm.dispatch(&bases, n))).await;
    assert_eq!(sent.len(), JOBS);
    farm.wait_for("jobs done", "SELECT COUNT(*) FROM jobs WHERE status = 'SUCCESS'", JOBS as i64).await;
    // Every artifact is in the bucket, the bytes its event's digest names.
    assert_ledger_invariants(&farm, JOBS).await;

    // A client fetches a render through the other server's signed URL: the bucket's bytes.
    let detail: Value = farm
        .http
        .get(format!("{}/v1/jobs/{}", bases[1], sent[0]))
        .bearer_auth(&farm.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let result = &detail["result"][0];
    let served = reqwest::get(result["image_url"].as_str().unwrap()).await.unwrap();
    assert_eq!(served.status(), 200);
    let served = served.bytes().await.unwrap();
    assert_eq!(hex::encode(Sha256::digest(&served)), result["meta"]["sha256"].as_str().unwrap());

    // An upload through one server is read by a worker from the bucket: a product put on
    // another background, its render downloaded through the other server.
    let photo = crate::support::product_shot();
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(photo).file_name("shirt.png").mime_str("image/png").unwrap());
    let up: Value = farm
        .http
        .post(format!("{}/v1/uploads", bases[0]))
        .bearer_auth(&farm.key)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = up["upload_key"].as_str().unwrap_or_else(|| panic!("{up}"));
    assert!(s3.read(&format!("live/{key}")).await.is_ok(), "the upload is in the bucket");
    let body =
        json!({"source_image_s3_key": key, "output_preset": "original", "scene_type": "gradient", "mood": "cool"});
    let swap = farm.job(&bases[1], "background-swap-with-spec", body).await;
    let end = farm.end_of(&bases[0], &swap).await;
    assert_eq!(end["event_type"], "succeeded", "{end}");
    // (The invariants below read its render from the bucket by the ledger's key.)
    let render = &end["artifacts"][0];
    let bytes = reqwest::get(render["image_url"].as_str().unwrap()).await.unwrap().bytes().await.unwrap();
    assert_eq!(hex::encode(Sha256::digest(&bytes)), render["meta"]["sha256"].as_str().unwrap());

    // A store that refuses writes: the workers left can read and list the bucket but not write
    // it (a policy changed, a quota). Their jobs end STORE_UNAVAILABLE and are refunded.
    for w in [&mut w1, &mut w2] {
        assert!(w.terminate().success(), "{}", w.log());
    }
    let read_only: Vec<(String, String)> = s3.env(&s3.ro);
    let read_only: Vec<(&str, &str)> = read_only.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut w3 = farm.worker_with("w3-read-only", &read_only);
    const BALANCE: &str = "SELECT (SELECT credits FROM credit_balance) \
                           + (SELECT CAST(COALESCE(SUM(credits), 0) AS BIGINT) FROM credit_reserves)";
    let before = farm.count(BALANCE).await;
    let refused = futures_util::future::join_all((JOBS..JOBS + 3).map(|n| farm.dispatch(&bases, n))).await;
    farm.wait_for("refused jobs ended", "SELECT COUNT(*) FROM jobs WHERE status = 'FAILURE'", 3).await;
    for job in &refused {
        let end = farm.end_of(&bases[0], job).await;
        assert_eq!(end["event_type"], "failed", "{end}");
        assert_eq!(end["extra"]["error"]["code"], "STORE_UNAVAILABLE", "{end}");
        let message = end["extra"]["error"]["message"].as_str().unwrap();
        assert!(message.contains("image store") && message.contains("denied"), "{message}");
    }
    assert_eq!(farm.count(BALANCE).await, before, "the refused jobs were refunded");
    assert_ledger_invariants(&farm, JOBS + 3 + 1).await;
    assert!(w3.terminate().success(), "{}", w3.log());
    for server in [&mut server_a, &mut server_b] {
        assert!(server.terminate().success(), "{}", server.log());
    }
}
