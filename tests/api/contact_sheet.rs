//! `figur contact-sheet` renders every workflow into one PNG.

#[test]
fn the_contact_sheet_has_a_row_per_sample_photo_and_a_backdrop_row() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sheet.png");
    let run = std::process::Command::new(crate::support::FIGUR)
        .args(["contact-sheet", "--out"])
        .arg(&out)
        .env("FIGUR_LOG", "warn")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{log}");
    for workflow in
        ["background-swap-with-spec", "background-swap-with-image", "extract: upper", "background-generator: 5"]
    {
        assert!(log.contains(workflow), "{workflow} missing from: {log}");
    }
    let sheet = image::open(&out).unwrap();
    let rows = figur_models::samples::SAMPLES.len() as u32 + 1;
    assert_eq!(sheet.height(), rows * (360 + 12) + 12, "a row of 360-px tiles per sample photo, and the backdrops");
    assert!(sheet.width() > 5 * 360, "at least the photo, two swaps and two cutouts: {}", sheet.width());
}
