//! Is a JPEG whole? Decoders are forgiving: given a file cut off mid-scan, they fill the missing
//! rows with flat grey and report success, so a truncated photo would be accepted and its job
//! would "succeed" on half a picture. This walks the marker structure instead: every segment
//! must be complete, every scan's entropy-coded data must end at a marker, and the image must
//! reach its end-of-image marker. Embedded thumbnails (inside APP1) are skipped by length, so
//! their own end markers cannot pass for the main image's. Bytes after the end marker (some
//! cameras append data) are allowed.
//!
//! The same walk refuses a file whose entropy-coded data is too short to cover the image it
//! declares: every 8×8 block of the full-resolution component costs at least one bit in a
//! Huffman-coded JPEG, so 400 bytes cannot hold 81 megapixels (the fuzzer found such a file: the
//! decoder spent seconds filling the missing blocks, which is truncation in disguise).

/// `Err(why)` when the JPEG's structure is incomplete or malformed.
pub fn check_complete(bytes: &[u8]) -> Result<(), &'static str> {
    const TRUNCATED: &str = "the file ends before its end-of-image marker (it is truncated)";
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return Err("it has no JPEG start-of-image marker");
    }
    let (len, mut i, mut frame, mut scan) = (bytes.len(), 2usize, false, false);
    // Huffman-coded frames only: arithmetic coding can spend less than a bit on a block.
    let (mut huffman, mut blocks, mut entropy_bytes) = (false, 0u64, 0u64);
    loop {
        // The next marker: 0xFF, any number of fill bytes, then the marker code. Stray bytes
        // between segments are tolerated (libjpeg warns and skips them too).
        while i < len && bytes[i] != 0xFF {
            i += 1;
        }
        while i < len && bytes[i] == 0xFF {
            i += 1;
        }
        let Some(&marker) = bytes.get(i) else { return Err(TRUNCATED) };
        i += 1;
        match marker {
            0xD9 if frame && scan && huffman && entropy_bytes * 8 < blocks => {
                return Err("its image data is far too short for the size it declares (truncated or corrupt)")
            }
            0xD9 if frame && scan => return Ok(()),
            0xD9 => return Err("it ends before any image data"),
            // Markers without a length: TEM, restart markers, a stray SOI or stuffed zero.
            0x00 | 0x01 | 0xD0..=0xD8 => {}
            _ => {
                let Some(length) = bytes.get(i..i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]) as usize) else {
                    return Err(TRUNCATED);
                };
                if length < 2 {
                    return Err("a segment has an impossible length");
                }
                if i + length > len {
                    return Err(TRUNCATED);
                }
                i += length;
                match marker {
                    // Start of frame (baseline, extended, progressive, lossless, arithmetic).
                    0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                        frame = true;
                        huffman = marker <= 0xC7;
                        // Segment data (after the length): precision, height, width (big-endian).
                        let at = i - length + 2;
                        if let Some(d) = bytes.get(at..at + 5) {
                            let (h, w) =
                                (u16::from_be_bytes([d[1], d[2]]) as u64, u16::from_be_bytes([d[3], d[4]]) as u64);
                            blocks = w.div_ceil(8) * h.div_ceil(8);
                        }
                    }
                    0xDA if !frame => return Err("a scan comes before the frame header"),
                    0xDA => {
                        scan = true;
                        let end = end_of_entropy_data(bytes, i).ok_or(TRUNCATED)?;
                        entropy_bytes += (end - i) as u64;
                        i = end;
                    }
                    _ => {}
                }
            }
        }
    }
}

/// Where the entropy-coded data starting at `i` ends: the first 0xFF that begins a marker
/// (not a stuffed 0xFF00, a restart marker or a fill byte). `None` when the file ends first.
fn end_of_entropy_data(bytes: &[u8], mut i: usize) -> Option<usize> {
    loop {
        i += bytes.get(i..)?.iter().position(|&b| b == 0xFF)?;
        let mut next = i + 1;
        while bytes.get(next) == Some(&0xFF) {
            next += 1;
        }
        match bytes.get(next)? {
            0x00 | 0xD0..=0xD7 => i = next + 1,
            _ => return Some(i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(width: u32, height: u32, with_thumbnail: bool) -> Vec<u8> {
        let img =
            image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x * 7) as u8, (y * 5) as u8, (x ^ y) as u8]));
        let mut out = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Jpeg).unwrap();
        if with_thumbnail {
            // An APP1 segment holding a complete tiny JPEG (a thumbnail) with its own EOI.
            let thumb = jpeg(8, 8, false);
            let mut app1 = vec![0xFF, 0xE1];
            app1.extend_from_slice(&((thumb.len() + 2 + 6) as u16).to_be_bytes());
            app1.extend_from_slice(b"Exif\0\0");
            app1.extend_from_slice(&thumb);
            out.splice(2..2, app1);
        }
        out
    }

    #[test]
    fn whole_files_pass_and_every_cut_is_caught() {
        for with_thumb in [false, true] {
            let whole = jpeg(64, 48, with_thumb);
            check_complete(&whole).unwrap();
            let mut trailing = whole.clone();
            trailing.extend_from_slice(b"camera maker data");
            check_complete(&trailing).unwrap();
            // Cut anywhere — in a header, inside the thumbnail, mid-scan, right before EOI.
            for cut in (0..whole.len() - 1).step_by(7).chain([whole.len() - 2, whole.len() - 1]) {
                assert!(check_complete(&whole[..cut]).is_err(), "cut at {cut} of {} (thumb {with_thumb})", whole.len());
            }
        }
    }

    #[test]
    fn data_too_short_for_the_declared_size_is_refused() {
        // A whole 64×48 JPEG whose frame header is edited to declare 4896×16646.
        let mut jpeg = jpeg(64, 48, false);
        let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        jpeg[sof + 5..sof + 7].copy_from_slice(&16646u16.to_be_bytes());
        jpeg[sof + 7..sof + 9].copy_from_slice(&4896u16.to_be_bytes());
        let why = check_complete(&jpeg).unwrap_err();
        assert!(why.contains("too short"), "{why}");
        // A flat image, the cheapest there is to code, still passes at its true size.
        let mut flat = Vec::new();
        image::RgbImage::from_pixel(2048, 2048, image::Rgb([255, 255, 255]))
            .write_to(&mut std::io::Cursor::new(&mut flat), image::ImageFormat::Jpeg)
            .unwrap();
        check_complete(&flat).unwrap();
    }

    #[test]
    fn the_real_sample_jpeg_fixture_is_whole() {
        check_complete(include_bytes!("../../fixtures/cmyk.jpg")).unwrap();
    }
}
