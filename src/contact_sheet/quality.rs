//! The contact sheet's rows that compare one step's methods side by side (issue 29): the
//! product mattes of each photo (the colour rule, u2netp, ISNet when installed) as cutouts, and
//! crops enlarged ×4 at 100 % — bicubic beside the upscaler (`POST /v1/upscale`'s workflow).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use figur_engine::{Caller, Engine, Operation};
use image::{GrayImage, RgbImage, RgbaImage};
use serde_json::json;

use super::{run, tile};

/// `photo` with `mask` as its alpha (white: kept).
fn cutout(photo: &RgbImage, mask: &GrayImage) -> RgbaImage {
    RgbaImage::from_fn(photo.width(), photo.height(), |x, y| {
        let p = photo.get_pixel(x, y);
        image::Rgba([p[0], p[1], p[2], mask.get_pixel(x, y)[0]])
    })
}

/// Each photo's product mattes as cutouts on the checkerboard, in the order
/// [`Engine::product_mattes`] gives them; a bare checkerboard where a method finds no product.
/// The log says which tile is which.
pub async fn matte_row(engine: &Arc<Engine>, photos: &[PathBuf]) -> Result<Vec<RgbaImage>> {
    let mut row = Vec::new();
    for path in photos {
        let photo = image::open(path)?.to_rgb8();
        let mattes = {
            let (engine, photo) = (engine.clone(), photo.clone());
            tokio::task::spawn_blocking(move || engine.product_mattes(&photo)).await??
        };
        let mut said = Vec::new();
        for (method, mask) in mattes {
            let empty = GrayImage::new(photo.width(), photo.height());
            let mask = mask.unwrap_or(empty);
            let share = mask.pixels().filter(|p| p[0] > 127).count() as f64 / mask.len().max(1) as f64;
            said.push(if share > 0.0 { format!("{method} {:.0} %", share * 100.0) } else { format!("{method} none") });
            row.push(tile(&cutout(&photo, &mask)));
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("photo");
        eprintln!("  matte row: {name}: {}", said.join(", "));
    }
    Ok(row)
}

/// 90² crops of the astronaut's face and the coffee cup's spoon, each ×4 (360², shown at
/// 100 %): bicubic, then the upscaler. Without those sample photos, no row.
pub async fn upscale_row(engine: &Arc<Engine>, owner: &Caller, photos: &[PathBuf]) -> Result<Vec<RgbaImage>> {
    let mut row = Vec::new();
    for (name, x, y) in [("astronaut.png", 195, 85), ("coffee.png", 300, 200)] {
        let Some(path) = photos.iter().find(|p| p.file_name().is_some_and(|n| n == name)) else { continue };
        let crop = image::imageops::crop_imm(&image::open(path)?.to_rgb8(), x, y, 90, 90).to_image();
        let bicubic = figur_pixels::vision::resample::resize(&crop, 360, 360, image::imageops::FilterType::CatmullRom);
        row.push(tile(&image::DynamicImage::ImageRgb8(bicubic).to_rgba8()));
        let mut png = std::io::Cursor::new(Vec::new());
        crop.write_to(&mut png, image::ImageFormat::Png)?;
        let key = engine.upload(owner, "crop.png", png.into_inner()).await?.upload_key;
        for (label, img) in run(engine, Operation::Upscale, json!({"source_image_s3_key": key, "scale": 4})).await? {
            eprintln!("  upscale: {label} ({name}, beside bicubic)");
            row.push(tile(&img));
        }
    }
    Ok(row)
}
