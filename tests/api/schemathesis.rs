//! Schemathesis against the real server: thousands of generated requests (valid and invalid)
//! from the published `openapi.json`, checking that no answer is a server error and that every
//! answer — status, content type, body — is what the document says. The schema and the server
//! cannot drift apart again without this failing.
//!
//! Schemathesis lives in a virtual environment this test makes from PyPI once (in the target
//! folder, reused by later runs). The run is bounded (`--max-time`), seeded, and the rate limit
//! is raised for it.

use std::path::PathBuf;
use std::process::Command;

use crate::support::Server;

const SCHEMATHESIS: &str = "schemathesis==4.32.5";

/// The `st` command of a venv holding exactly [`SCHEMATHESIS`].
fn schemathesis() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("schemathesis-venv");
    let st = venv.join("bin/st");
    let ready = venv.join(SCHEMATHESIS);
    if !ready.exists() {
        let ok = Command::new("python3").args(["-m", "venv"]).arg(&venv).status().unwrap().success();
        assert!(ok, "python3 -m venv failed (Debian package python3-venv)");
        let out = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", SCHEMATHESIS])
            .output()
            .unwrap();
        assert!(out.status.success(), "pip install {SCHEMATHESIS}: {}", String::from_utf8_lossy(&out.stderr));
        std::fs::write(&ready, b"").unwrap();
    }
    st
}

#[tokio::test]
async fn generated_requests_get_no_server_error_and_only_documented_answers() {
    let st = tokio::task::spawn_blocking(schemathesis).await.unwrap();
    let server = Server::start_with(&["--paused", "--rate-limit", "100000"], &[]).await;
    let report = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(st);
    cmd.arg("run")
        .arg(server.url("/v1/openapi.json"))
        .args(["--header", &format!("Authorization: Bearer {}", server.key)])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        // One worker: with two, CPython 3.11's `ast.parse` (which Hypothesis calls to describe
        // its filters) raced between the threads once and the run ended in a SystemError that
        // was not about the API ("AST constructor recursion depth mismatch").
        .args(["--max-examples", "12", "--max-time", "90", "--workers", "1", "--seed", "20261201"])
        // Long-polls may wait up to 30 s by design.
        .args(["--request-timeout", "40", "--no-color", "--report", "junit", "--report-dir"])
        .arg(report.path())
        .env("SCHEMATHESIS_HOOKS", "")
        .current_dir(report.path());
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let tail: String =
        text.lines().rev().take(120).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
    assert!(out.status.success(), "Schemathesis found problems:\n{tail}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("generated"), "Schemathesis ran no test cases:\n{tail}");
    println!(
        "{}",
        text.lines().filter(|l| l.contains("generated") || l.contains("passed")).collect::<Vec<_>>().join("\n")
    );
}
