//! Twenty backdrop requests in the hosted API's free-text style, each drawn as the procedural
//! generator reads it, in one sheet to look at (5 across, in the order listed; the mapping is
//! printed): `cargo run --release -p figur-engine --example free_text_backdrops -- sheet.png`

use figur_engine::workflow::background_generator::read_spec;
use figur_pixels::render::backdrop::{plan, render};
use image::RgbImage;

const REQUESTS: [(&str, &str, &[&str]); 20] = [
    ("studio", "calm", &[]),
    ("white seamless", "bright and airy", &[]),
    ("raw concrete loft", "moody", &["charcoal"]),
    ("urban street at night", "dark and brooding", &[]),
    ("beach at sunset", "warm golden hour", &["sand", "coral"]),
    ("forest clearing", "fresh spring morning", &["sage"]),
    ("minimal", "clean", &["#E8E4DC"]),
    ("pastel gradient", "soft dreamy", &["lilac", "baby blue"]),
    ("luxury boutique", "dramatic spotlight", &["black", "gold"]),
    ("kraft paper", "natural", &[]),
    ("draped linen", "romantic", &["blush"]),
    ("marble bathroom", "serene", &["ivory"]),
    ("industrial warehouse", "cinematic", &["rust"]),
    ("colorama backdrop", "playful", &["mustard"]),
    ("scandinavian interior", "crisp winter", &["stone", "sky"]),
    ("studio", "high-contrast editorial", &["midnight blue"]),
    ("textured plaster wall", "earthy autumn", &["terracotta", "olive"]),
    ("outdoor garden", "happy summer", &["mint", "peach"]),
    ("neon club", "electric", &["fuchsia", "electric blue"]),
    ("photo studio", "timeless classic", &["dusty rose"]),
];

fn main() {
    let out = std::env::args().nth(1).unwrap_or_else(|| "free-text-backdrops.png".into());
    let (tw, th, gap, cols) = (240u32, 180u32, 8u32, 5u32);
    let rows = (REQUESTS.len() as u32).div_ceil(cols);
    let mut sheet = RgbImage::from_pixel(cols * (tw + gap) + gap, rows * (th + gap) + gap, image::Rgb([255, 255, 255]));
    for (i, (scene, mood, colours)) in REQUESTS.iter().enumerate() {
        let colours: Vec<String> = colours.iter().map(|c| c.to_string()).collect();
        let read = read_spec(scene, mood, &colours);
        println!("{:>2}. {scene:?} / {mood:?} / {colours:?} → {} · {}", i + 1, read.scene, read.mood);
        let tile = render(&plan(read.scene, read.mood, &read.colors, tw, th, 5 + i as u64));
        let (col, row) = (i as u32 % cols, i as u32 / cols);
        image::imageops::overlay(&mut sheet, &tile, (gap + col * (tw + gap)) as i64, (gap + row * (th + gap)) as i64);
    }
    sheet.save(&out).expect("write the sheet");
    println!("wrote {out}");
}
