//! A garment's own landmarks, found from its silhouette (a product shot: flat lay, ghost
//! mannequin, cutout) by rules per garment family: collar, shoulder tips, armpits, sleeve ends,
//! waist, hem, crotch and leg openings. "L" and "R" are image-left and image-right: a garment
//! photographed from the front shows its wearer's right side on the image's left.

use crate::plane::Plane;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Anchor {
    Neck,
    ShoulderL,
    ShoulderR,
    ArmpitL,
    ArmpitR,
    SleeveL,
    SleeveR,
    WaistL,
    WaistR,
    HemL,
    HemR,
    Crotch,
    LegOutL,
    LegInL,
    LegInR,
    LegOutR,
}

/// How a garment is fitted to a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Tops and outerwear: shoulders to hem, sleeves along the arms.
    Top,
    /// Trousers and shorts: waist, crotch, one opening per leg.
    Legs,
    /// Skirts: waist to hem, one opening.
    Skirt,
    /// Dresses and jumpsuits: a top continued to a hem.
    Full,
    /// Shoes, bags, hats, scarves, belts, eyewear: placed, not warped.
    Placed,
}

/// Per row: the first and last opaque column, or `None` for an empty row.
fn row_extents(alpha: &Plane) -> Vec<Option<(usize, usize)>> {
    (0..alpha.height)
        .map(|y| {
            let row = &alpha.data[y * alpha.width..(y + 1) * alpha.width];
            let first = row.iter().position(|a| *a > 0.5)?;
            let last = row.iter().rposition(|a| *a > 0.5)?;
            Some((first, last + 1))
        })
        .collect()
}

/// Opaque runs of row `y`, as (start, end) columns, ignoring gaps narrower than `min_gap`.
fn runs(alpha: &Plane, y: usize, min_gap: usize) -> Vec<(usize, usize)> {
    let row = &alpha.data[y * alpha.width..(y + 1) * alpha.width];
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut x = 0;
    while x < row.len() {
        if row[x] > 0.5 {
            let start = x;
            while x < row.len() && row[x] > 0.5 {
                x += 1;
            }
            match out.last_mut() {
                Some(last) if start - last.1 < min_gap => last.1 = x,
                _ => out.push((start, x)),
            }
        } else {
            x += 1;
        }
    }
    out
}

fn median(mut v: Vec<f32>) -> Option<f32> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    Some(v[v.len() / 2])
}

/// The first opaque row of column `x` at or below `from`.
fn column_top(alpha: &Plane, x: usize, from: usize) -> Option<usize> {
    (from..alpha.height).find(|&y| alpha.at(x.min(alpha.width - 1), y) > 0.5)
}

/// The garment's landmarks from its alpha, for `family`; `None` when the silhouette is too
/// small or not shaped like that family (the caller says so to the user).
pub fn anchors(alpha: &Plane, family: Family) -> Option<Vec<(Anchor, (f32, f32))>> {
    let extents = row_extents(alpha);
    let y0 = extents.iter().position(Option::is_some)?;
    let y1 = extents.iter().rposition(Option::is_some)? + 1;
    let h = (y1 - y0) as f32;
    if h < 8.0 {
        return None;
    }
    let row_at = |f: f32| (y0 as f32 + f * h).round().clamp(y0 as f32, (y1 - 1) as f32) as usize;
    let mut out = Vec::new();
    match family {
        Family::Top | Family::Full => {
            // The torso: the median width and centre of the rows between 55 % and 90 % down
            // (below the sleeves of a flat, above a flared hem), counting in each row only the
            // run through the middle: sleeves hanging beside the body, apart from it, are not
            // torso.
            let (lo, hi) = if family == Family::Top { (0.55, 0.9) } else { (0.25, 0.45) };
            let min_gap = (alpha.width / 100).max(2);
            let middle = median(
                (row_at(lo)..=row_at(hi)).filter_map(|y| extents[y]).map(|(a, b)| (a + b) as f32 / 2.0).collect(),
            )?;
            let centre_run = |y: usize| {
                runs(alpha, y, min_gap).into_iter().find(|r| (r.0 as f32) <= middle && (r.1 as f32) > middle)
            };
            let rows: Vec<(usize, usize)> = (row_at(lo)..=row_at(hi)).filter_map(centre_run).collect();
            let torso = median(rows.iter().map(|(a, b)| (b - a) as f32).collect())?;
            let c = median(rows.iter().map(|(a, b)| (a + b) as f32 / 2.0).collect())?;
            let half = torso / 2.0;
            // Rows near the top clearly wider than the torso (through the middle) carry sleeves
            // joined to the body; below the last of them are the armpits.
            let sleeve_rows: Vec<usize> = (y0..row_at(0.7))
                .filter(|&y| centre_run(y).is_some_and(|(a, b)| (b - a) as f32 > torso * 1.2))
                .collect();
            let shoulder_x = [c - half * 0.92, c + half * 0.92];
            let shoulder_y: Vec<f32> = shoulder_x
                .iter()
                .map(|x| column_top(alpha, x.max(0.0) as usize, y0).unwrap_or(y0) as f32 + 0.01 * h)
                .collect();
            let neck_y = ((c - half * 0.3) as usize..=(c + half * 0.3) as usize)
                .filter_map(|x| column_top(alpha, x, y0))
                .min()
                .unwrap_or(y0) as f32;
            out.push((Anchor::Neck, (c, neck_y)));
            out.push((Anchor::ShoulderL, (shoulder_x[0], shoulder_y[0])));
            out.push((Anchor::ShoulderR, (shoulder_x[1], shoulder_y[1])));
            if let Some(&last) = sleeve_rows.last() {
                let armpit = (last + 1) as f32;
                out.push((Anchor::ArmpitL, (c - half, armpit)));
                out.push((Anchor::ArmpitR, (c + half, armpit)));
                // Sleeve ends: the outermost points of the upper 90 %, at the middle of the cuff.
                let upper: Vec<usize> = (y0..row_at(0.9)).collect();
                let left = upper.iter().filter_map(|&y| extents[y].map(|e| (e.0, y))).min()?;
                let right = upper.iter().filter_map(|&y| extents[y].map(|e| (e.1, y))).max()?;
                let cuff = |x: usize, outer: bool| {
                    let ys: Vec<f32> = upper
                        .iter()
                        .filter(|&&y| extents[y].is_some_and(|e| if outer { e.1 + 3 >= x } else { e.0 <= x + 3 }))
                        .map(|&y| y as f32)
                        .collect();
                    median(ys)
                };
                out.push((Anchor::SleeveL, (left.0 as f32, cuff(left.0, false).unwrap_or(left.1 as f32))));
                out.push((Anchor::SleeveR, (right.0 as f32, cuff(right.0, true).unwrap_or(right.1 as f32))));
            }
            let waist = row_at(if family == Family::Top { 0.62 } else { 0.35 });
            if let Some((a, b)) = centre_run(waist) {
                out.push((Anchor::WaistL, (a as f32, waist as f32)));
                out.push((Anchor::WaistR, (b as f32, waist as f32)));
            }
            let hem = row_at(0.98);
            let (a, b) = centre_run(hem).or(extents[hem])?;
            out.push((Anchor::HemL, (a as f32, hem as f32)));
            out.push((Anchor::HemR, (b as f32, hem as f32)));
        }
        Family::Legs | Family::Skirt => {
            let waist = row_at(0.02);
            let (a, b) = extents[waist]?;
            out.push((Anchor::WaistL, (a as f32, waist as f32)));
            out.push((Anchor::WaistR, (b as f32, waist as f32)));
            let hem = row_at(0.98);
            let min_gap = (alpha.width / 100).max(2);
            let openings = runs(alpha, hem, min_gap);
            if family == Family::Legs && openings.len() >= 2 {
                let (l, r) = (openings[0], openings[openings.len() - 1]);
                out.push((Anchor::LegOutL, (l.0 as f32, hem as f32)));
                out.push((Anchor::LegInL, (l.1 as f32, hem as f32)));
                out.push((Anchor::LegInR, (r.0 as f32, hem as f32)));
                out.push((Anchor::LegOutR, (r.1 as f32, hem as f32)));
                // The crotch: the top of the gap between the legs.
                let gap = ((l.1 + r.0) / 2).min(alpha.width - 1);
                let crotch = (y0..y1).rev().find(|&y| alpha.at(gap, y) > 0.5).unwrap_or(waist);
                out.push((Anchor::Crotch, (gap as f32, crotch as f32 + 1.0)));
            } else {
                let (a, b) = extents[hem]?;
                out.push((Anchor::HemL, (a as f32, hem as f32)));
                out.push((Anchor::HemR, (b as f32, hem as f32)));
            }
        }
        Family::Placed => {
            let x0 = extents.iter().flatten().map(|e| e.0).min()?;
            let x1 = extents.iter().flatten().map(|e| e.1).max()?;
            out.push((Anchor::ShoulderL, (x0 as f32, y0 as f32)));
            out.push((Anchor::ShoulderR, (x1 as f32, y0 as f32)));
            out.push((Anchor::HemL, (x0 as f32, y1 as f32)));
            out.push((Anchor::HemR, (x1 as f32, y1 as f32)));
        }
    }
    Some(out)
}

pub fn find(points: &[(Anchor, (f32, f32))], anchor: Anchor) -> Option<(f32, f32)> {
    points.iter().find(|(a, _)| *a == anchor).map(|(_, p)| *p)
}

/// Whether a shoe in `item` points image-left: its collar (the tallest part) is at the heel.
pub fn toe_points_left(image: &image::RgbaImage, item: (f32, f32, f32, f32)) -> bool {
    let (x0, x1) = (item.0 as u32, (item.2 as u32).min(image.width()));
    let top = |x: u32| (0..image.height()).find(|&y| image.get_pixel(x, y)[3] > 127).unwrap_or(image.height());
    let tallest = (x0..x1).min_by_key(|&x| top(x)).unwrap_or(x0);
    tallest as f32 > (item.0 + item.2) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Draws filled rectangles (x0, y0, x1, y1) into a plane.
    fn shape(w: usize, h: usize, rects: &[(usize, usize, usize, usize)]) -> Plane {
        let mut p = Plane::new(w, h);
        for &(x0, y0, x1, y1) in rects {
            for y in y0..y1 {
                for x in x0..x1 {
                    p.data[y * w + x] = 1.0;
                }
            }
        }
        p
    }

    #[test]
    fn a_t_shirt_flat_has_shoulders_sleeves_armpits_and_hem() {
        // Body 60..140 wide, rows 20..200; sleeves 20..180 wide, rows 20..70.
        let tee = shape(200, 220, &[(60, 20, 140, 200), (20, 20, 180, 70)]);
        let a = anchors(&tee, Family::Top).unwrap();
        let (sl, sr) = (find(&a, Anchor::ShoulderL).unwrap(), find(&a, Anchor::ShoulderR).unwrap());
        assert!((sl.0 - 63.2).abs() < 1.0 && (sr.0 - 136.8).abs() < 1.0, "{sl:?} {sr:?}");
        assert_eq!(find(&a, Anchor::ArmpitL).unwrap().1, 70.0);
        assert_eq!(find(&a, Anchor::SleeveL).unwrap().0, 20.0);
        assert_eq!(find(&a, Anchor::SleeveR).unwrap().0, 180.0);
        let hem = find(&a, Anchor::HemL).unwrap();
        assert!(hem.0 == 60.0 && hem.1 > 190.0, "{hem:?}");
        // Symmetric shape, symmetric anchors.
        assert!((find(&a, Anchor::Neck).unwrap().0 - 100.0).abs() < 1.0);
    }

    #[test]
    fn trousers_have_two_leg_openings_and_a_crotch() {
        // Waist band 40..160, rows 10..90; legs 40..95 and 105..160 down to 300.
        let pants = shape(200, 320, &[(40, 10, 160, 90), (40, 90, 95, 300), (105, 90, 160, 300)]);
        let a = anchors(&pants, Family::Legs).unwrap();
        assert_eq!(find(&a, Anchor::LegOutL).unwrap().0, 40.0);
        assert_eq!(find(&a, Anchor::LegInL).unwrap().0, 95.0);
        assert_eq!(find(&a, Anchor::LegInR).unwrap().0, 105.0);
        assert_eq!(find(&a, Anchor::Crotch).unwrap().1, 90.0);
        // A skirt has one opening and no crotch.
        let skirt = shape(200, 200, &[(50, 10, 150, 190)]);
        let a = anchors(&skirt, Family::Skirt).unwrap();
        assert!(find(&a, Anchor::Crotch).is_none() && find(&a, Anchor::HemR).is_some());
    }

    #[test]
    fn an_empty_or_tiny_silhouette_has_no_anchors() {
        assert!(anchors(&Plane::new(50, 50), Family::Top).is_none());
        assert!(anchors(&shape(50, 50, &[(10, 10, 20, 14)]), Family::Top).is_none());
    }
}
