//! `figur contact-sheet` renders every workflow into one PNG.

#[test]
fn the_contact_sheet_has_a_photo_row_and_a_backdrop_row() {
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
    assert_eq!(sheet.height(), 2 * (360 + 12) + 12, "two rows of 360-px tiles");
    assert!(sheet.width() > 5 * 360, "at least the photo, two swaps and two cutouts: {}", sheet.width());
}
