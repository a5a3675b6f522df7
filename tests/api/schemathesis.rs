//! Schemathesis against the real server: thousands of generated requests (valid and invalid)
//! from the published `openapi.json`, checking that no answer is a server error and that every
//! answer — status, content type, body — is what the document says. The schema and the server
//! cannot drift apart again without this failing.
//!
//! Schemathesis lives in a virtual environment this test makes from PyPI once (in the target
//! folder, reused by later runs). The run is bounded (`--max-time`), seeded, and the rate limit
//! is raised for it. `schemathesis_hooks.py` beside this file lets a schema-valid request be
//! refused for what no schema can say (what exists, what the studio's rules make of a value) and
//! for nothing else.

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

/// Every check Schemathesis has (`--checks all`), positive and negative cases (`--mode all`),
/// every phase (examples, coverage, fuzzing, and stateful sequences along the document's links),
/// bounded in time and seeded. The server bounds its long-polls to one second (`--max-wait 1`)
/// so that a generated `?wait=30` costs a second, not thirty; no operation is skipped.
#[tokio::test]
async fn generated_requests_get_only_documented_answers() {
    let st = tokio::task::spawn_blocking(schemathesis).await.unwrap();
    let server = Server::start_with(&["--paused", "--rate-limit", "100000", "--max-wait", "1"], &[]).await;
    let report = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(st);
    cmd.arg("run")
        .arg(server.url("/v1/openapi.json"))
        .args(["--header", &format!("Authorization: Bearer {}", server.key)])
        // Every check, Schemathesis' `positive_data_acceptance` in the form of
        // `schemathesis_hooks.py` (what no schema can say exists is not a schema's rule).
        .args(["--checks", "all", "--exclude-checks", "positive_data_acceptance", "--mode", "all"])
        // One worker: with two, CPython 3.11's `ast.parse` (which Hypothesis calls to describe
        // its filters) raced between the threads once and the run ended in a SystemError that
        // was not about the API ("AST constructor recursion depth mismatch").
        .args(["--max-examples", "30", "--max-time", "150", "--workers", "1", "--seed", "20261207"])
        .args(["--request-timeout", "10", "--generation-database", "none", "--no-color"])
        .args(["--report", "junit", "--report-dir"])
        .arg(report.path())
        .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
        .env("PYTHONPATH", concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api"))
        .current_dir(report.path());
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let tail: String =
        text.lines().rev().take(150).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
    assert!(out.status.success(), "Schemathesis found problems:\n{tail}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("generated"), "Schemathesis ran no test cases:\n{tail}");
    println!(
        "{}",
        text.lines().filter(|l| l.contains("generated") || l.contains("passed")).collect::<Vec<_>>().join("\n")
    );
}

/// The hook's list of refusals beyond the schema is the engine's.
#[test]
fn the_hook_knows_the_engines_refusals_beyond_the_schema() {
    let hooks = include_str!("schemathesis_hooks.py");
    let listed = hooks.split("BEYOND_THE_SCHEMA = {").nth(1).and_then(|rest| rest.split('}').next()).unwrap();
    let mut kinds: Vec<&str> =
        listed.split(',').map(|k| k.trim().trim_matches('"')).filter(|k| !k.is_empty()).collect();
    kinds.sort();
    let mut engine = figur_engine::error::BEYOND_THE_SCHEMA.to_vec();
    engine.sort();
    assert_eq!(kinds, engine);
}
