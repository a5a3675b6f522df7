//! A row of fashion figures to look at: female and male × every body type, tones across the
//! scale. `cargo run --release -p figur-engine --example figures -- figures.png`

use figur_pixels::render::figure::{draw, FigureSpec, BODY_TYPES};
use image::{imageops, RgbImage};

fn main() {
    let out = std::env::args().nth(1).unwrap_or_else(|| "figures.png".into());
    let h = 560u32;
    let mut sheet = RgbImage::new(h / 2 * 10, h);
    for (i, (female, body)) in [true, false].iter().flat_map(|f| BODY_TYPES.iter().map(move |b| (*f, *b))).enumerate() {
        let ages = ["18-25", "26-35", "36-45", "46-60", "60+"];
        let f = draw(&FigureSpec {
            female,
            body_type: body,
            age_range: ages[i % 5],
            ethnicity: "",
            seed: i as u64 * 7,
            height: h,
        });
        imageops::overlay(&mut sheet, &f.image, (i as u32 * h / 2) as i64, 0);
    }
    sheet.save(&out).unwrap();
    println!("{out}");
}
