//! Renders every scene × mood into one contact sheet PNG, for a person to look at:
//! `cargo run --release -p figur-engine --example backdrops -- sheet.png`

use figur_pixels::color;
use figur_pixels::render::backdrop::{plan, render, MOODS, SCENES};
use image::RgbImage;

fn main() {
    let out = std::env::args().nth(1).unwrap_or_else(|| "backdrops.png".into());
    let (tw, th, gap) = (240u32, 320u32, 8u32);
    let mut sheet = RgbImage::from_pixel(
        MOODS.len() as u32 * (tw + gap) + gap,
        SCENES.len() as u32 * (th + gap) + gap,
        image::Rgb([255, 255, 255]),
    );
    let palettes = ["sage", "ivory", "stone", "charcoal", "sand"];
    for (row, scene) in SCENES.iter().enumerate() {
        for (col, mood) in MOODS.iter().enumerate() {
            let colors: Vec<_> = color::parse(palettes[row]).into_iter().collect();
            let tile = render(&plan(scene, mood, &colors, tw, th, 11 + col as u64));
            image::imageops::overlay(
                &mut sheet,
                &tile,
                (gap + col as u32 * (tw + gap)) as i64,
                (gap + row as u32 * (th + gap)) as i64,
            );
        }
    }
    sheet.save(&out).expect("write the contact sheet");
    println!("rows: {}; columns: {}; wrote {out}", SCENES.join(", "), MOODS.join(", "));
}
