//! A sheet of technical flats to look at: every category (rows) × every pattern, the materials
//! cycling along each row. `cargo run --release -p figur-engine --example flats -- sheet.png [tile px]`

use figur_engine::render::color;
use figur_engine::render::flats::fabric::{MATERIALS, PATTERNS};
use figur_engine::render::flats::shape::Cut;
use figur_engine::render::flats::{render, FlatSpec};
use image::{imageops, Rgba, RgbaImage};

const KEYS: [&str; 15] = [
    "t-shirt", "top", "shirt", "blouse", "sweater", "hoodie", "jacket", "coat", "vest", "dress", "jumpsuit", "skirt",
    "pants", "jeans", "shorts",
];
const COLOURS: [&str; 9] = ["navy", "white", "burgundy", "sage", "camel", "charcoal", "sky", "blush", "mustard"];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = args.first().cloned().unwrap_or_else(|| "flats.png".into());
    let tile: u32 = args.get(1).and_then(|t| t.parse().ok()).unwrap_or(150);
    let th = (tile as f32 * 1.2) as u32;
    let mut sheet =
        RgbaImage::from_pixel(tile * PATTERNS.len() as u32, th * KEYS.len() as u32, Rgba([236, 236, 232, 255]));
    for (r, key) in KEYS.iter().enumerate() {
        for (c, pattern) in PATTERNS.iter().enumerate() {
            let material = if *key == "jeans" { "denim" } else { MATERIALS[(r + c) % MATERIALS.len()] };
            let colour = if *key == "jeans" { "blue" } else { COLOURS[(r * 2 + c) % COLOURS.len()] };
            let spec = FlatSpec {
                key,
                color: color::parse(colour).unwrap(),
                pattern,
                material,
                cut: Cut::new(None, None),
                seed: 7,
                width: tile,
            };
            let img = render(&spec).unwrap();
            imageops::overlay(&mut sheet, &img, (c as u32 * tile) as i64, (r as u32 * th) as i64);
        }
    }
    sheet.save(&out).unwrap();
    println!("{out}");
}
