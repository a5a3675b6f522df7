//! `figur models add` and `figur generate` from the shell on the tiny export in Optimum's real
//! layout (random weights: its pictures mean nothing, the code path is the real one), and on
//! the oracle export whose picture is known.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{default_set_view, FIGUR};

pub fn figur(args: &[&str], cache: &Path) -> (bool, String) {
    let out = Command::new(FIGUR)
        .args(args)
        .env("FIGUR_CACHE_DIR", cache)
        .env("FIGUR_LOG", "warn")
        .env("FIGUR_PROVIDERS", "cpu")
        .output()
        .unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// A cache (the runtime linked in) with `make`'s export added as `name`.
pub fn cache_with(view: &str, name: &str, make: impl Fn(&Path)) -> PathBuf {
    let cache = default_set_view(view);
    let _ = std::fs::remove_dir_all(cache.join("brought"));
    let from = tempfile::tempdir().unwrap();
    make(from.path());
    let (ok, out) =
        figur(&["models", "add", name, "--from", from.path().to_str().unwrap(), "--license", "MIT"], &cache);
    assert!(ok, "{out}");
    cache
}

#[test]
fn a_tiny_export_in_optimum_s_layout_generates_from_the_shell() {
    let cache = cache_with("generate-tiny-sd", "tiny-sd", |d| figur_models::tiny::diffusion::tiny_sd(d, 16));
    let out_dir = tempfile::tempdir().unwrap();
    let out = |name: &str| out_dir.path().join(name).to_str().unwrap().to_string();
    let generate = |file: &str, extra: &[&str]| {
        let mut args = vec!["generate", "tiny-sd", "--prompt", "a red hat", "--steps", "4", "--size", "128x64"];
        args.extend_from_slice(extra);
        let path = out(file);
        args.extend(["--out", path.as_str()]);
        let (ok, log) = figur(&args, &cache);
        assert!(ok, "{log}");
        (image::open(&path).unwrap().to_rgb8(), log)
    };
    let (a, log) = generate("a.png", &["--seed", "1"]);
    assert_eq!(a.dimensions(), (128, 64), "--size is width x height");
    assert!(log.contains("step 4/4") && log.contains("seed 1"), "{log}");
    let (again, _) = generate("again.png", &["--seed", "1"]);
    assert_eq!(a.as_raw(), again.as_raw(), "the same seed gives the same bytes");
    let (other, _) = generate("other.png", &["--seed", "2"]);
    assert_ne!(a.as_raw(), other.as_raw(), "another seed, another picture");
    // The picture is not flat: the export's graphs really ran.
    let values: std::collections::BTreeSet<u8> = a.pixels().map(|p| p[0]).collect();
    assert!(values.len() > 8, "{values:?}");

    // Image to image with a mask: the kept half comes back pixel for pixel.
    let init = image::RgbImage::from_fn(128, 64, |x, y| image::Rgb([x as u8 * 2, y as u8 * 4, 90]));
    let mask = image::GrayImage::from_fn(128, 64, |x, _| image::Luma([if x < 64 { 0 } else { 255 }]));
    init.save(out("init.png")).unwrap();
    mask.save(out("mask.png")).unwrap();
    let (inpainted, _) = generate(
        "inpainted.png",
        &["--seed", "3", "--init", &out("init.png"), "--strength", "0.8", "--mask", &out("mask.png")],
    );
    for (x, y, p) in inpainted.enumerate_pixels() {
        if x < 64 {
            assert_eq!(p, init.get_pixel(x, y), "({x}, {y}) is outside the mask");
        }
    }
    assert!((64..128).any(|x| inpainted.get_pixel(x, 10) != init.get_pixel(x, 10)), "the masked half was repainted");
}

#[test]
fn the_oracle_export_makes_its_known_picture_from_the_shell() {
    use figur_models::tiny::diffusion::{scheduler_config, Oracle};
    // Euler's timesteps are fractional: the graph takes them as floats.
    let oracle = Oracle {
        scheduler: scheduler_config("EulerDiscreteScheduler", "v_prediction", "trailing"),
        timestep: (figur_models::tiny::FLOAT, true),
        ..Oracle::new()
    };
    let cache = cache_with("generate-oracle", "oracle", |d| oracle.write(d));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o.png");
    let (ok, log) = figur(
        &["generate", "oracle", "--prompt", "", "--guidance", "1", "--steps", "6", "--out", path.to_str().unwrap()],
        &cache,
    );
    assert!(ok, "{log}");
    // The default size is the model's own (32 here); the empty prompt moves nothing (its
    // tokens' embeddings are zero), so this is the oracle's picture itself.
    let made = image::open(&path).unwrap().to_rgb8();
    assert_eq!(made.dimensions(), (32, 32));
    for (x, y, p) in made.enumerate_pixels() {
        for c in 0..3 {
            let want = (oracle.pixel(x as i64, y as i64, c) * 255.0).round() as i32;
            assert!((p[c] as i32 - want).abs() <= 2, "({x}, {y}) channel {c}: {} for {want}", p[c]);
        }
    }
}

#[test]
fn what_cannot_run_is_refused_with_the_reason() {
    let cache = cache_with("generate-refusals", "tiny-sd", |d| figur_models::tiny::diffusion::tiny_sd(d, 8));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.png");
    let out = out.to_str().unwrap();
    let (ok, log) = figur(&["generate", "sd15", "--prompt", "a", "--out", out], &cache);
    assert!(!ok && log.contains("figur models add sd15"), "{log}");
    let (ok, log) = figur(&["generate", "tiny-sd", "--prompt", "a", "--size", "100x64", "--out", out], &cache);
    assert!(!ok && log.contains("multiples of 64"), "{log}");
    let (ok, log) = figur(&["generate", "tiny-sd", "--prompt", "a", "--size", "wide", "--out", out], &cache);
    assert!(!ok && log.contains("WIDTHxHEIGHT"), "{log}");
    let (ok, log) =
        figur(&["generate", "tiny-sd", "--prompt", "a", "--size", "64x64", "--mask", out, "--out", out], &cache);
    assert!(!ok && log.contains("cannot read"), "{log}");
    assert!(!Path::new(out).exists(), "nothing was written");
}

#[test]
fn a_try_on_export_dresses_a_person_from_the_shell_with_its_known_answer() {
    // The try-on oracle at 48×64: its picture is the person outside the mask and (without
    // guidance) the garment inside it.
    let cache = cache_with("generate-try-on", "catvton-oracle", |d| {
        figur_models::tiny::diffusion::TryOnOracle::new(48, 64).write(d)
    });
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let person = image::RgbImage::from_fn(48, 64, |x, y| image::Rgb([(x * 5) as u8, (y * 4) as u8, 200]));
    let garment = image::RgbImage::from_fn(48, 64, |x, _| image::Rgb([if x % 8 < 4 { 30 } else { 220 }, 60, 90]));
    let mask = image::GrayImage::from_fn(48, 64, |x, y| {
        image::Luma([if (8..40).contains(&x) && (16..48).contains(&y) { 255 } else { 0 }])
    });
    person.save(at("person.png")).unwrap();
    garment.save(at("garment.png")).unwrap();
    mask.save(at("mask.png")).unwrap();
    let (ok, log) = figur(
        &[
            "generate",
            "catvton-oracle",
            "--init",
            &at("person.png"),
            "--garment",
            &at("garment.png"),
            "--mask",
            &at("mask.png"),
            "--steps",
            "4",
            "--guidance",
            "1",
            "--seed",
            "3",
            "--out",
            &at("dressed.png"),
        ],
        &cache,
    );
    assert!(ok, "{log}");
    assert!(log.contains("step 4/4") && log.contains("48x64"), "{log}");
    let dressed = image::open(at("dressed.png")).unwrap().to_rgb8();
    let off = |a: &image::Rgb<u8>, b: &image::Rgb<u8>| (0..3).map(|c| a[c].abs_diff(b[c])).max().unwrap();
    for (x, y, p) in dressed.enumerate_pixels() {
        let want = if mask.get_pixel(x, y)[0] > 0 { garment.get_pixel(x, y) } else { person.get_pixel(x, y) };
        assert!(off(p, want) <= 2, "({x}, {y}): {p:?}, not {want:?}");
    }
    // A prompt is not what a try-on model reads; what it needs is said.
    let (ok, log) = figur(&["generate", "catvton-oracle", "--prompt", "a shirt", "--out", &at("x.png")], &cache);
    assert!(!ok && log.contains("reads no prompt"), "{log}");
    let (ok, log) = figur(&["generate", "catvton-oracle", "--init", &at("person.png"), "--out", &at("x.png")], &cache);
    assert!(!ok && log.contains("needs --garment"), "{log}");
}
