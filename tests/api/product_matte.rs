//! The default product matte (u2netp, issue 29) on the sample photos we may keep derivatives of
//! (the public-domain astronaut, the CC0 coffee cup), against golden masks made by it and
//! checked by eye when it was added (`tests/golden/u2netp/`): the overlap (IoU) must
//! stay above a threshold — a regression in the input's normalisation, the output read or the
//! edge refinement shows — and the coffee cup on wood grain, which the colour rule cannot cut
//! out, is cut out. `FIGUR_BLESS=1` rewrites the masks (look at them before committing).

use std::path::PathBuf;

use figur_engine::workflow::models::Direct;
use figur_engine::workflow::subject;
use figur_pixels::plane::Plane;

use crate::photos::sample;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/u2netp").join(name)
}

fn iou(a: &image::GrayImage, b: &image::GrayImage) -> f64 {
    let (mut both, mut either) = (0u64, 0u64);
    for (p, q) in a.pixels().zip(b.pixels()) {
        let (x, y) = (p[0] >= 128, q[0] >= 128);
        both += (x && y) as u64;
        either += (x || y) as u64;
    }
    both as f64 / either.max(1) as f64
}

fn to_mask(alpha: &Plane) -> image::GrayImage {
    image::GrayImage::from_fn(alpha.width as u32, alpha.height as u32, |x, y| {
        image::Luma([if alpha.at(x as usize, y as usize) > 0.5 { 255 } else { 0 }])
    })
}

#[test]
fn u2netp_mattes_the_sample_photos_as_their_golden_masks_say() {
    let cache = figur_models::Cache::new(figur_engine::engine::default_cache_dir().expect("a cache folder"));
    let sessions = figur_models::Sessions::new(
        cache,
        figur_models::Providers::parse("cpu").unwrap(),
        std::time::Duration::from_secs(60),
    );
    let mut models = Direct(&sessions);
    let matte = subject::product_matte(&mut models).unwrap().expect("u2netp is in the default set");
    assert_eq!(matte.kind.id(), "u2netp");
    for name in ["astronaut.png", "coffee.png"] {
        let photo = image::load_from_memory(&sample(name)).unwrap().to_rgb8();
        let alpha = subject::product_alpha(&photo, &Some(matte.clone())).unwrap().expect("a subject");
        let mask = to_mask(&alpha);
        let path = fixture(name);
        if std::env::var("FIGUR_BLESS").is_ok() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            mask.save(&path).unwrap();
            continue;
        }
        let golden = image::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_luma8();
        let overlap = iou(&mask, &golden);
        assert!(overlap >= 0.97, "{name}: IoU {overlap:.3} with its golden mask");
    }
    // The cup on wood grain: the colour rule finds no plain background; u2netp cuts the cup out
    // (solid in the middle of the cup, clear at the table's far edge).
    let coffee = image::load_from_memory(&sample("coffee.png")).unwrap().to_rgb8();
    assert!(figur_pixels::vision::product::matte(&coffee).is_none(), "the colour rule has to give up");
    let alpha = subject::product_alpha(&coffee, &Some(matte)).unwrap().unwrap();
    let share = alpha.data.iter().filter(|a| **a > 0.5).count() as f64 / alpha.data.len() as f64;
    assert!((0.2..0.8).contains(&share), "the cup and saucer, not the table: {share:.2}");
}
