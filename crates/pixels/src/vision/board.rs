//! Layers and boards: a layer cut to what it shows, and the look's board (the dressed figure
//! beside its items).

use image::{imageops, DynamicImage, Rgb, RgbImage, RgbaImage};

/// The box `(x, y, width, height)` of the pixels more opaque than `above`.
pub fn opaque_box(layer: &RgbaImage, above: u8) -> Option<(u32, u32, u32, u32)> {
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for (x, y, p) in layer.enumerate_pixels() {
        if p[3] > above {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1));
        }
    }
    (x1 > x0).then(|| (x0, y0, x1 - x0, y1 - y0))
}

/// The layer cut to its opaque box (a full-canvas layer is mostly empty); one clear pixel when
/// nothing shows.
pub fn crop_to_content(layer: &RgbaImage) -> RgbaImage {
    match opaque_box(layer, 0) {
        Some((x, y, w, h)) => imageops::crop_imm(layer, x, y, w, h).to_image(),
        None => RgbaImage::new(1, 1),
    }
}

/// The dressed figure on the left; the items, each fitted into a cell, in a column on the right.
pub fn board(dressed: &RgbImage, items: &[image::RgbaImage]) -> RgbImage {
    let (fw, fh) = dressed.dimensions();
    let cell = (fh / items.len().max(3) as u32).min(fw);
    let margin = cell / 12;
    let mut out = RgbImage::from_pixel(fw + cell + margin * 2, fh, Rgb([242, 241, 237]));
    imageops::overlay(&mut out, dressed, 0, 0);
    for (i, item) in items.iter().enumerate() {
        // The item's own box, scaled to fit its cell.
        let Some((x0, y0, bw, bh)) = opaque_box(item, 16) else { continue };
        let crop = imageops::crop_imm(item, x0, y0, bw, bh).to_image();
        let inner = cell - margin * 2;
        let s = inner as f32 / crop.width().max(crop.height()) as f32;
        let (w, h) = (((crop.width() as f32 * s) as u32).max(1), ((crop.height() as f32 * s) as u32).max(1));
        let small = imageops::resize(&crop, w, h, imageops::FilterType::CatmullRom);
        let (x, y) = (fw + margin + (cell - w) / 2, i as u32 * cell + (cell - h) / 2);
        let mut rgba = DynamicImage::ImageRgb8(out).to_rgba8();
        imageops::overlay(&mut rgba, &small, x as i64, y as i64);
        out = DynamicImage::ImageRgba8(rgba).to_rgb8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layer_is_cut_to_what_it_shows() {
        let mut layer = RgbaImage::new(50, 40);
        layer.put_pixel(10, 5, image::Rgba([1, 2, 3, 255]));
        layer.put_pixel(20, 30, image::Rgba([1, 2, 3, 8]));
        assert_eq!(opaque_box(&layer, 0), Some((10, 5, 11, 26)));
        assert_eq!(opaque_box(&layer, 16), Some((10, 5, 1, 1)));
        assert_eq!(crop_to_content(&layer).dimensions(), (11, 26));
        assert_eq!(crop_to_content(&RgbaImage::new(5, 5)).dimensions(), (1, 1));
    }

    #[test]
    fn the_board_puts_each_item_in_its_cell_beside_the_figure() {
        let figure = RgbImage::from_pixel(300, 600, Rgb([50, 50, 50]));
        let item = RgbaImage::from_pixel(40, 40, image::Rgba([200, 0, 0, 255]));
        let out = board(&figure, &[item.clone(), item]);
        assert_eq!(out.height(), 600);
        assert!(out.width() > 300);
        let cell = 600 / 3;
        let centre = out.get_pixel(300 + cell / 12 + cell / 2, cell / 2);
        assert!(centre[0] > 150 && centre[1] < 50, "the first item sits in the first cell: {centre:?}");
    }
}
