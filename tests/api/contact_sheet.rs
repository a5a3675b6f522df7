//! `figur contact-sheet` renders every workflow into one PNG.

#[test]
fn the_contact_sheet_has_a_row_per_sample_photo_both_try_on_rows_and_backdrops() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sheet.png");
    let run = std::process::Command::new(crate::support::FIGUR)
        .args(["contact-sheet", "--out"])
        .arg(&out)
        .env("FIGUR_LOG", "warn")
        // The default set only: a diffusion model a developer added would add a row.
        .env("FIGUR_CACHE_DIR", crate::support::default_set_cache())
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{log}");
    assert!(log.contains("generative row: no text-to-image model is added"), "{log}");
    assert!(log.contains("try-on model row: no try-on model is added"), "{log}");
    for workflow in [
        "background-swap-with-spec",
        "background-swap-with-image",
        "extract: upper",
        "try-on: Try-on",
        "product-to-model-direct",
        "model-swap-with-image",
        "background-generator: 5",
        "matte row: coffee.png: colour rule none, u2netp",
        "upscale: Upscale ×4 (coffee.png, beside bicubic)",
    ] {
        assert!(log.contains(workflow), "{workflow} missing from: {log}");
    }
    let sheet = image::open(&out).unwrap();
    // Try-on with four items of product shots, and one with on-model photos.
    assert_eq!(log.matches("try-on: Try-on").count(), 5, "{log}");
    let rows = figur_models::samples::SAMPLES.len() as u32 + 5;
    assert_eq!(
        sheet.height(),
        rows * (360 + 12) + 12,
        "a row per sample photo, product-shot try-ons, the try-on family, the backdrops, the mattes, the upscales"
    );
    assert!(sheet.width() > 5 * 360, "at least the photo, two swaps and two cutouts: {}", sheet.width());
}

#[test]
fn the_flat_sheet_has_every_category_pattern_and_material() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("flats.png");
    let run = std::process::Command::new(crate::support::FIGUR)
        .args(["flat-sheet", "--tile", "40", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let sheet = image::open(&out).unwrap();
    let (patterns, materials) =
        (figur_pixels::render::flats::fabric::PATTERNS.len(), figur_pixels::render::flats::fabric::MATERIALS.len());
    assert_eq!(sheet.width(), (patterns * materials) as u32 * 40);
    assert_eq!(sheet.height(), figur_pixels::render::flats::KEYS.len() as u32 * 48);
}
