//! `figur run`: the CLI path for every workflow, embedded or against a running server.

use std::process::Command;

use crate::support::{default_set_cache, Server, FIGUR};

fn photo(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("astronaut.png");
    std::fs::write(&path, crate::photos::astronaut()).unwrap();
    path
}

fn figur(data: &std::path::Path) -> Command {
    let mut c = Command::new(FIGUR);
    c.env("FIGUR_DATA_DIR", data).env("FIGUR_CACHE_DIR", default_set_cache()).env("FIGUR_LOG", "warn");
    c
}

#[test]
fn an_embedded_run_follows_the_stages_and_downloads_the_results() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let run = figur(&dir.path().join("data"))
        .args(["run", "extract", "--field", "extraction_context.max_items=2", "--out"])
        .arg(&out)
        .arg("--trial-image")
        .arg(photo(dir.path()))
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains("pose:") && stderr.contains("100%"), "the stages are shown: {stderr}");
    let files: Vec<&str> = stdout.lines().collect();
    assert_eq!(files.len(), 2, "max_items=2: {stdout}");
    for f in files {
        assert!(f.ends_with("garment-cutout.png"), "{f}");
        image::open(f).unwrap();
    }
}

#[test]
fn a_failed_run_exits_non_zero_with_the_error_code() {
    let dir = tempfile::tempdir().unwrap();
    let p = photo(dir.path());
    let shoe = dir.path().join("product.png");
    std::fs::write(&shoe, crate::support::product_shot()).unwrap();
    let item = format!("{}:shoes", shoe.display());
    let run = figur(&dir.path().join("data"))
        .args(["run", "try-on", "--user-image"])
        .arg(&p)
        .args(["--item", &item])
        .output()
        .unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("REGION_NOT_VISIBLE"));
    // A bad request never becomes a job: the 422's field is shown.
    let run = figur(&dir.path().join("data")).args(["run", "look", "--field", "items=[]"]).output().unwrap();
    assert!(!run.status.success());
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("VALIDATION_ERROR"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

#[tokio::test]
async fn a_run_against_a_running_server_uses_its_key() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let run = figur(&dir.path().join("unused"))
        .args([
            "run",
            "background-generator",
            "--field",
            "scene_type=paper",
            "--field",
            "mood=warm",
            "--field",
            "resolution=0.5K",
        ])
        .args(["--server", &server.base, "--key", &server.key, "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let listed = server.get("/v1/catalog/backgrounds").await.body;
    assert!(listed.as_array().unwrap().iter().any(|b| b["builtin"] == false), "the server made it");
}
