//! A PNG checked row by row: every chunk's CRC and every compressed row are read and thrown
//! away, so validating a 9000×9000 16-bit upload (600 MB of pixels) costs a few rows of memory
//! instead of the whole image.

use std::io::Cursor;

/// Decodes the first frame of `bytes` to the end without keeping it; `Err(why)` when the data
/// is truncated, corrupt or needs more than `max_alloc` bytes of decoder state.
pub fn check_streaming(bytes: &[u8], max_alloc: usize) -> Result<(), String> {
    let mut decoder = png::Decoder::new_with_limits(Cursor::new(bytes), png::Limits { bytes: max_alloc });
    // What the `image` crate's decoder (the one jobs use) asks of the file, so whatever passes
    // here decodes there: palettes expanded (an indexed image without one is refused) and text
    // chunks read.
    decoder.set_transformations(png::Transformations::EXPAND);
    decoder.set_ignore_text_chunk(false);
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    let mut rows = 0u64;
    while reader.next_row().map_err(|e| e.to_string())?.is_some() {
        rows += 1;
    }
    if rows == 0 {
        return Err("it has no image rows".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png16(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Sixteen);
        let mut w = enc.write_header().unwrap();
        let data: Vec<u8> = (0..width * height * 8).map(|i| (i * 31 % 251) as u8).collect();
        w.write_image_data(&data).unwrap();
        w.finish().unwrap();
        out
    }

    #[test]
    fn whole_pngs_pass_and_cut_or_flipped_ones_fail() {
        let whole = png16(40, 30);
        check_streaming(&whole, 1 << 20).unwrap();
        for cut in [whole.len() / 3, whole.len() / 2, whole.len() - 30] {
            assert!(check_streaming(&whole[..cut], 1 << 20).is_err(), "cut at {cut}");
        }
        let mut flipped = whole.clone();
        let mid = whole.len() / 2;
        flipped[mid] ^= 0x55;
        assert!(check_streaming(&flipped, 1 << 20).is_err(), "a flipped byte fails its chunk's CRC");
    }
}
