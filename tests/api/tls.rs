//! Serving other machines: `--allow-remote` needs TLS (`--tls-cert`, `--tls-key`) unless
//! `--insecure-http` says otherwise. The certificate is a real one made by `openssl` for the
//! test; the client trusts exactly it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{default_set_cache, FIGUR};

/// A studio's own small CA and a server certificate it signed for 127.0.0.1 and localhost, as
/// an internal CA would issue one: (ca.pem, cert.pem, key.pem) in `dir`.
fn certificate(dir: &Path) -> (String, String, String) {
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &["-days", "2", "-subj", "/CN=figur test CA", "-keyout", "ca-key.pem", "-out", "ca.pem"],
        ]
        .concat(),
    );
    openssl(&[&["req"][..], &ec, &["-subj", "/CN=figur studio", "-keyout", "key.pem", "-out", "server.csr"]].concat());
    std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n")
        .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca-key.pem",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "cert.pem",
    ]);
    (path("ca.pem"), path("cert.pem"), path("key.pem"))
}

/// A `figur serve` of the test's, stopped when dropped (a failed assertion leaves none behind).
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `figur serve` with `args`: the first line it prints, or its error output if it exits.
fn serve(data: &Path, args: &[&str]) -> (Running, Result<String, String>) {
    let mut child = Command::new(FIGUR)
        .args(["serve", "--data-dir"])
        .arg(data)
        .args(args)
        .env("FIGUR_LOG", "warn")
        .env("FIGUR_CACHE_DIR", default_set_cache())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut first = String::new();
    BufReader::new(stdout).read_line(&mut first).unwrap();
    if first.is_empty() {
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        let _ = child.wait();
        return (Running(child), Err(err));
    }
    (Running(child), Ok(first))
}

#[tokio::test]
async fn a_remote_studio_serves_https_with_the_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificate(dir.path());
    let args = ["--allow-remote", "--listen", "127.0.0.1:0", "--tls-cert", &cert, "--tls-key", &key];
    let (server, line) = serve(&dir.path().join("data"), &args);
    let line = line.unwrap_or_else(|e| panic!("figur serve --tls-cert did not start: {e}"));
    let base = line.split_whitespace().find(|w| w.starts_with("https://")).unwrap_or_else(|| panic!("{line}"));
    let api_key = std::fs::read_to_string(dir.path().join("data/first-key.txt")).unwrap().trim().to_string();

    let trusted = reqwest::Certificate::from_pem(&std::fs::read(&ca).unwrap()).unwrap();
    let client = reqwest::Client::builder().add_root_certificate(trusted).build().unwrap();
    let health = client.get(format!("{base}/v1/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let body = serde_json::json!({"scene_type": "paper", "mood": "soft", "resolution": "0.5K"});
    let r = client.post(format!("{base}/v1/background-generator")).bearer_auth(&api_key).json(&body).send().await;
    assert_eq!(r.unwrap().status(), 202);

    // A client that does not trust the certificate is refused by the handshake; plain HTTP on
    // the same port gets no answer it could read.
    let stranger = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    assert!(stranger.get(format!("{base}/v1/health")).send().await.is_err());
    let plain = base.replacen("https://", "http://", 1);
    assert!(stranger.get(format!("{plain}/v1/health")).send().await.is_err());
    // …and neither holds the port up for the next client.
    assert_eq!(client.get(format!("{base}/v1/health")).send().await.unwrap().status(), 200);
    drop(server);
}

#[tokio::test]
async fn serving_other_machines_needs_tls_or_says_insecure_on_purpose() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_, refused) = serve(&data, &["--allow-remote", "--listen", "0.0.0.0:0"]);
    let refused = refused.expect_err("plain HTTP to the network is refused");
    assert!(refused.contains("--tls-cert") && refused.contains("--insecure-http"), "{refused}");

    // A missing or wrong key file is named.
    let (_, cert, _) = certificate(dir.path());
    let missing = dir.path().join("nope.pem").to_string_lossy().into_owned();
    let (_, bad) =
        serve(&data, &["--allow-remote", "--listen", "0.0.0.0:0", "--tls-cert", &cert, "--tls-key", &missing]);
    let bad = bad.expect_err("a missing key is refused");
    assert!(bad.contains("nope.pem"), "{bad}");
    let (_, swapped) =
        serve(&data, &["--allow-remote", "--listen", "0.0.0.0:0", "--tls-cert", &cert, "--tls-key", &cert]);
    assert!(swapped.expect_err("a certificate is not a key").contains("private key"));

    // On purpose, it serves.
    let (_server, line) = serve(&data, &["--allow-remote", "--insecure-http", "--listen", "0.0.0.0:0"]);
    let line = line.unwrap_or_else(|e| panic!("--insecure-http did not start: {e}"));
    assert!(line.contains("http://0.0.0.0:"), "{line}");
}
