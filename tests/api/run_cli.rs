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

#[test]
fn a_batch_runs_one_job_per_input_reports_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir_all(&inputs).unwrap();
    photo(&inputs);
    std::fs::write(inputs.join("texture.png"), crate::support::noisy_png(96, 96)).unwrap();
    let recipe = dir.path().join("recipe.toml");
    std::fs::write(&recipe, "input = \"source_image_s3_key\"\n[body]\noutput_preset = \"original\"\nscene_type = \"paper\"\nmood = \"warm\"\n").unwrap();
    let out = dir.path().join("out");
    let batch = |data: &std::path::Path| {
        figur(data)
            .args(["batch", "background-swap-with-spec", "--recipe"])
            .arg(&recipe)
            .arg("--out")
            .arg(&out)
            .arg(&inputs)
            .output()
            .unwrap()
    };
    let first = batch(&dir.path().join("data"));
    assert!(!first.status.success(), "one input has no subject: the batch says so");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let statuses: Vec<&str> =
        report["items"].as_array().unwrap().iter().map(|i| i["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["succeeded", "failed"], "{report}");
    assert!(report["items"][1]["error"].as_str().unwrap().contains("NO_SUBJECT_FOUND"));
    assert!(std::path::Path::new(report["items"][0]["outputs"][0].as_str().unwrap()).is_file());
    // Again, without the bad input: what succeeded is skipped, not redone.
    std::fs::remove_file(inputs.join("texture.png")).unwrap();
    let second = batch(&dir.path().join("data"));
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    assert!(
        String::from_utf8_lossy(&second.stdout).contains("0 succeeded, 1 skipped"),
        "{}",
        String::from_utf8_lossy(&second.stdout)
    );
}

#[test]
fn a_hot_folder_processes_each_image_once_and_stops_when_removed() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let hot = dir.path().join("hot");
    std::fs::create_dir_all(&hot).unwrap();
    std::fs::write(
        hot.join("recipe.toml"),
        "workflow = \"background-swap-with-spec\"\ninput = \"source_image_s3_key\"\n[body]\noutput_preset = \"original\"\nscene_type = \"linen\"\nmood = \"soft\"\n",
    )
    .unwrap();
    photo(&hot); // there before the watch starts: caught up on start
    let data = dir.path().join("data");
    let mut watch = figur(&data).args(["watch", "--idle-exit", "5"]).arg(&hot).spawn().unwrap();
    let wait_for = |what: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !what() {
            assert!(std::time::Instant::now() < deadline, "timed out");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    let outputs = || std::fs::read_dir(hot.join("out")).map(|d| d.count()).unwrap_or(0);
    wait_for(&|| outputs() == 1);
    // A file written slowly is not taken before it is complete; this one has nobody in it.
    let bytes = crate::support::noisy_png(128, 128);
    let mut f = std::fs::File::create(hot.join("texture.png")).unwrap();
    f.write_all(&bytes[..bytes.len() / 2]).unwrap();
    f.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    f.write_all(&bytes[bytes.len() / 2..]).unwrap();
    drop(f);
    wait_for(&|| hot.join("failed/texture.png.error.txt").is_file());
    let why = std::fs::read_to_string(hot.join("failed/texture.png.error.txt")).unwrap();
    assert!(why.contains("NO_SUBJECT_FOUND"), "a complete file was processed, and failed for its content: {why}");
    assert!(watch.wait().unwrap().success(), "idle exit");
    // A restart processes nothing twice.
    let again = figur(&data).args(["watch", "--idle-exit", "2"]).arg(&hot).output().unwrap();
    assert!(again.status.success());
    assert!(
        !String::from_utf8_lossy(&again.stderr).contains("picked up"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(outputs(), 1);
    // Removing the folder stops the watch cleanly.
    let mut watch = figur(&data).arg("watch").arg(&hot).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    std::fs::remove_dir_all(&hot).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(status) = watch.try_wait().unwrap() {
            assert!(status.success());
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the watch did not stop");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
