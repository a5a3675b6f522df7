//! `examples/lifecycle.py` (plain HTTP, standard library only) runs as written against the studio.

use crate::support::Server;

#[tokio::test]
async fn the_python_example_runs_the_lifecycle() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("astronaut.png");
    std::fs::write(&photo, crate::photos::astronaut()).unwrap();
    let out = dir.path().join("render.png");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/lifecycle.py");
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(script).args(["--base", &server.base, "--key", &server.key, "--photo"]).arg(&photo).arg("--out").arg(&out);
    // The server runs on this test's runtime: wait for the script on a blocking thread.
    let run = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(String::from_utf8_lossy(&run.stderr).contains("succeeded"));
    let img = image::open(&out).unwrap();
    assert_eq!((img.width(), img.height()), (512, 512));
    // A failing job exits non-zero with its code.
    std::fs::write(&photo, crate::support::noisy_png(64, 64)).unwrap();
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(script).args(["--base", &server.base, "--key", &server.key, "--photo"]).arg(&photo);
    let run = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("NO_SUBJECT_FOUND"));
}
