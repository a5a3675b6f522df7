//! Product matte benchmark — `cargo bench --bench product_matte` (after `figur models fetch`;
//! ISNet too when `figur models fetch isnet --accept-license` installed it).
//!
//! On the `coffee` sample photo (a cup on wood grain) scaled to a 1K and a 4K long side, in one
//! run: the colour rule (`figur_pixels::vision::product::matte`), u2netp (the default learned
//! matte, through `subject::product_alpha`: its run at 320², the upsampling and the guided filter
//! at the edges) and ISNet when installed; the median of 5 each.
//!
//! Prints times side by side; a number means something only beside the others from the same run.

use std::time::Instant;

use figur_engine::workflow::models::{Direct, ModelKind};
use figur_engine::workflow::subject::{self, ProductMatte};
use figur_models::{Cache, Providers, Sessions};

#[path = "common/timing.rs"]
mod timing;
use timing::median;

fn time(mut run: impl FnMut()) -> f64 {
    run();
    median(
        (0..5)
            .map(|_| {
                let start = Instant::now();
                run();
                start.elapsed().as_secs_f64() * 1000.0
            })
            .collect(),
    )
}

fn main() {
    let cache = Cache::new(figur_engine::engine::default_cache_dir().expect("a cache folder"));
    let photo =
        image::open(figur_models::samples::get(&cache, "coffee.png").expect("`figur samples`")).unwrap().to_rgb8();
    let sessions = Sessions::new(cache, Providers::parse("cpu").unwrap(), std::time::Duration::from_secs(600));
    let mut models = Direct(&sessions);
    // The installed learned mattes, each alone.
    let mut learned: Vec<ProductMatte> = Vec::new();
    for kind in [ModelKind::ProductMatteSmall, ModelKind::ProductMatte] {
        if let Ok(Some(m)) = subject::only(&mut models, kind) {
            learned.push(m);
        }
    }
    println!("product mattes on the coffee sample, CPU, median of 5");
    for long in [1024u32, 4096] {
        let s = long as f32 / photo.width().max(photo.height()) as f32;
        let (w, h) = ((photo.width() as f32 * s) as u32, (photo.height() as f32 * s) as u32);
        let img = image::imageops::resize(&photo, w, h, image::imageops::FilterType::CatmullRom);
        let colour = time(|| {
            std::hint::black_box(figur_pixels::vision::product::matte(&img));
        });
        println!("  {w}×{h}  colour rule ............ {colour:>9.1} ms");
        for m in &learned {
            let ms = time(|| {
                std::hint::black_box(subject::product_alpha(&img, &Some(m.clone())).unwrap());
            });
            println!("  {w}×{h}  {:<22} {ms:>9.1} ms", m.kind.id());
        }
        if learned.len() < 2 {
            println!("  {w}×{h}  isnet .................. not installed");
        }
    }
}
