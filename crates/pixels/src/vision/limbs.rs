//! Sleeves and trouser legs, fitted apart from the garment's body. One smooth warp for a whole
//! shirt cannot turn a sleeve laid out at an angle on a flat down along an arm without twisting
//! the body with it, nor spread a pair of jeans over a lunge; so a product top is cut into its
//! body and two sleeves, trousers into their seat and two legs. The body is warped by the
//! torso's (or the hips') points and each limb bent along its arm (shoulder → elbow → wrist) or
//! leg (hip → knee → ankle), keeping its length and width.

use super::fit::along;
use super::garment::{find, Anchor};
use super::product::flood;
use crate::plane::Plane;

type P = (f32, f32);

/// One sleeve or leg of a garment image: its alpha share, where it leaves the body (the
/// armhole's middle, the crotch), where it ends (the middle of the cuff or the opening), and
/// half its width.
#[derive(Debug, Clone)]
pub struct Limb {
    pub mask: Plane,
    pub root: P,
    pub end: P,
    pub half_width: f32,
}

/// A garment cut into its body (the alpha share that stays with the torso or the seat) and its
/// limbs, image-left then image-right.
#[derive(Debug, Clone)]
pub struct Parts {
    pub body: Plane,
    pub limbs: [Limb; 2],
}

/// Cuts a top's silhouette into body and sleeves using its landmarks; `None` when it has no
/// sleeves standing apart from the body (a tank top, or sleeves too small to matter).
pub fn sleeves(alpha: &Plane, anchors: &[(Anchor, P)]) -> Option<Parts> {
    let (sl, sr) = (find(anchors, Anchor::ShoulderL)?, find(anchors, Anchor::ShoulderR)?);
    let (al, _) = (find(anchors, Anchor::ArmpitL)?, find(anchors, Anchor::ArmpitR)?);
    let c = (sl.0 + sr.0) / 2.0;
    let half = (al.0 - c).abs();
    let band = half * 1.04;
    // The sleeves share the body's alpha over a short overlap, so no seam opens between the
    // separately warped parts.
    let overlap = half * 0.12;
    let (w, h) = (alpha.width, alpha.height);
    let mut body = alpha.clone();
    let mut sleeves = Vec::new();
    for left in [true, false] {
        let outside = |x: usize| {
            let dx = x as f32 + 0.5 - c;
            if left {
                -dx > band
            } else {
                dx > band
            }
        };
        // Sleeve pixels: outside the body's band, connected to the band's edge between the
        // shoulder and the armpit (a flared hem lower down is not reached).
        let (y0, y1) = ((sl.1.min(sr.1).max(0.0)) as usize, (al.1 as usize + 1).min(h));
        let mut seen = vec![false; w * h];
        let pixels: Vec<(usize, usize)> =
            flood(w, h, &mut seen, y0 * w..y1 * w, |k| outside(k % w) && alpha.data[k] > 0.1)
                .into_iter()
                .map(|k| (k % w, k / w))
                .collect();
        let area: f32 = pixels.iter().map(|&(x, y)| alpha.data[y * w + x]).sum();
        if area < (half * half * 0.3).max(16.0) {
            return None;
        }
        let root = (if left { c - band } else { c + band }, (y0 as f32 + al.1) / 2.0);
        let dist = |p: &(usize, usize)| (p.0 as f32 - root.0).hypot(p.1 as f32 - root.1);
        let far = pixels.iter().map(dist).fold(0.0f32, f32::max);
        let ends: Vec<&(usize, usize)> = pixels.iter().filter(|p| dist(p) >= far * 0.9).collect();
        let n = ends.len().max(1) as f32;
        let end = (
            ends.iter().map(|p| p.0 as f32 + 0.5).sum::<f32>() / n,
            ends.iter().map(|p| p.1 as f32 + 0.5).sum::<f32>() / n,
        );
        let length = (end.0 - root.0).hypot(end.1 - root.1).max(1.0);
        let mut mask = Plane::new(w, h);
        for &(x, y) in &pixels {
            mask.data[y * w + x] = alpha.data[y * w + x];
        }
        // The overlap: a ramp inward from the band's edge, beside the armhole.
        for y in y0..y1 {
            for x in 0..w {
                let dx = (x as f32 + 0.5 - c).abs();
                let on_side = (x as f32 + 0.5 < c) == left;
                if on_side && dx <= band && dx > band - overlap {
                    let k = y * w + x;
                    mask.data[k] = alpha.data[k] * ((dx - (band - overlap)) / overlap);
                }
            }
        }
        for &(x, y) in &pixels {
            body.data[y * w + x] = 0.0;
        }
        sleeves.push(Limb { mask, root, end, half_width: (area / length / 2.0).clamp(1.0, length) });
    }
    let [l, r]: [Limb; 2] = sleeves.try_into().ok()?;
    Some(Parts { body, limbs: [l, r] })
}

/// Cuts trousers into their seat and two legs at the crotch; `None` without a crotch.
pub fn legs(alpha: &Plane, anchors: &[(Anchor, P)]) -> Option<Parts> {
    let crotch = find(anchors, Anchor::Crotch)?;
    let (w, h) = (alpha.width, alpha.height);
    let (cy, gap) = (crotch.1.max(0.0) as usize, crotch.0);
    let openings = [
        (find(anchors, Anchor::LegOutL)?, find(anchors, Anchor::LegInL)?),
        (find(anchors, Anchor::LegInR)?, find(anchors, Anchor::LegOutR)?),
    ];
    let leg_width = (openings[0].1 .0 - openings[0].0 .0).abs().max(4.0);
    let overlap = (leg_width * 0.25).max(2.0);
    let start = (crotch.1 - overlap).max(0.0) as usize;
    let mut body = alpha.clone();
    let mut limbs = Vec::new();
    for (i, (a, b)) in openings.into_iter().enumerate() {
        let left = i == 0;
        let mut mask = Plane::new(w, h);
        let (mut area, mut sum_x, mut weight) = (0.0f32, 0.0f32, 0.0f32);
        for y in start..h {
            // Below the crotch, the leg; across the overlap above it, a ramp.
            let share = ((y as f32 - start as f32) / overlap).clamp(0.0, 1.0);
            for x in 0..w {
                if (x as f32 + 0.5 < gap) != left {
                    continue;
                }
                let k = y * w + x;
                mask.data[k] = alpha.data[k] * share;
                if y >= cy {
                    area += alpha.data[k];
                    if y < cy + 3 {
                        sum_x += x as f32 * alpha.data[k];
                        weight += alpha.data[k];
                    }
                }
            }
        }
        if weight <= 0.0 {
            return None;
        }
        let root = (sum_x / weight + 0.5, crotch.1);
        let end = ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
        let length = (end.0 - root.0).hypot(end.1 - root.1).max(1.0);
        limbs.push(Limb { mask, root, end, half_width: (area / length / 2.0).clamp(1.0, length) });
    }
    for v in &mut body.data[cy.min(h) * w..] {
        *v = 0.0;
    }
    let [l, r]: [Limb; 2] = limbs.try_into().ok()?;
    Some(Parts { body, limbs: [l, r] })
}

/// Garment → body point pairs bending `limb` along `path` (which starts where its root goes),
/// scaled by `scale`: points down the limb's middle and both its edges, carried to the same
/// distances along the path.
pub fn pairs(limb: &Limb, path: &[P], scale: f32) -> Vec<(P, P)> {
    let axis = (limb.end.0 - limb.root.0, limb.end.1 - limb.root.1);
    let length = axis.0.hypot(axis.1).max(1e-3);
    let dir = (axis.0 / length, axis.1 / length);
    let normal = (-dir.1, dir.0);
    let w = limb.half_width;
    let mut out = Vec::new();
    for i in 0..=4 {
        let t = i as f32 / 4.0;
        let g = (limb.root.0 + axis.0 * t, limb.root.1 + axis.1 * t);
        let (p, d) = along(path, length * t * scale);
        let n = (-d.1, d.0);
        for k in [-1.0f32, 0.0, 1.0] {
            out.push((
                (g.0 + normal.0 * w * k, g.1 + normal.1 * w * k),
                (p.0 + n.0 * w * scale * k, p.1 + n.1 * w * scale * k),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::fit::tests::body_landmarks;
    use crate::vision::fit::{arm_path, Body, HipFrame, TorsoFrame};
    use crate::vision::garment::{anchors, Family};

    /// A long-sleeved flat: body 70..130 × 30..200, sleeves hanging apart from it, 30..50 and
    /// 150..170 wide from row 40 to 170, joined to the body by a yoke 30..170 × 30..45.
    fn flat() -> Plane {
        let mut p = Plane::new(200, 220);
        for (x0, y0, x1, y1) in [(70, 30, 130, 200), (30, 30, 170, 45), (30, 40, 50, 170), (150, 40, 170, 170)] {
            for y in y0..y1 {
                for x in x0..x1 {
                    p.data[y * 200 + x] = 1.0;
                }
            }
        }
        p
    }

    #[test]
    fn hanging_sleeves_are_cut_from_the_body_and_bent_along_the_arms() {
        let alpha = flat();
        let a = anchors(&alpha, Family::Top).unwrap();
        let (sl, sr) = (find(&a, Anchor::ShoulderL).unwrap(), find(&a, Anchor::ShoulderR).unwrap());
        assert!((sl.0 - 72.4).abs() < 2.0 && (sr.0 - 127.6).abs() < 2.0, "the body, not the sleeves: {sl:?} {sr:?}");
        let parts = sleeves(&alpha, &a).expect("two sleeves");
        let [l, r] = &parts.limbs;
        assert!(l.mask.at(40, 150) > 0.9 && r.mask.at(160, 150) > 0.9, "the sleeves' ends are sleeve");
        assert_eq!(parts.body.at(40, 150), 0.0, "and not body");
        assert!(parts.body.at(100, 150) > 0.9 && l.mask.at(100, 150) == 0.0, "the body's middle is body");
        assert!(l.end.1 > 150.0 && l.end.0 < 50.0, "{:?}", l.end);
        assert!((l.half_width - 10.0).abs() < 4.0, "{}", l.half_width);

        let body = Body::from_landmarks(&body_landmarks()).unwrap();
        let frame = TorsoFrame::new(&body, &a).unwrap();
        let set = pairs(l, &arm_path(&body, &frame, frame.map(l.root), true), frame.s);
        // The cuff's middle lands along the image-left arm (elbow (70,180), wrist (68,250)).
        let cuff = set[13].1;
        assert!(cuff.0 > 55.0 && cuff.0 < 85.0 && cuff.1 > 150.0, "{cuff:?}");
        assert!(sleeves(&Plane::new(200, 220), &a).is_none());
    }

    #[test]
    fn trouser_legs_are_cut_at_the_crotch_and_follow_the_legs() {
        // Seat 40..160 × 10..90; legs 40..95 and 105..160 down to 300.
        let mut alpha = Plane::new(200, 320);
        for (x0, y0, x1, y1) in [(40, 10, 160, 90), (40, 90, 95, 300), (105, 90, 160, 300)] {
            for y in y0..y1 {
                for x in x0..x1 {
                    alpha.data[y * 200 + x] = 1.0;
                }
            }
        }
        let a = anchors(&alpha, Family::Legs).unwrap();
        let parts = legs(&alpha, &a).expect("two legs");
        let [l, r] = &parts.limbs;
        assert!(l.mask.at(60, 200) > 0.9 && r.mask.at(60, 200) == 0.0 && parts.body.at(60, 200) == 0.0);
        assert!(parts.body.at(100, 50) > 0.9 && l.mask.at(100, 50) == 0.0, "the seat stays with the body");
        assert!((l.root.0 - 67.5).abs() < 2.0 && (r.end.0 - 132.5).abs() < 2.0, "{:?} {:?}", l.root, r.end);
        assert!((l.half_width - 27.5).abs() < 3.0, "{}", l.half_width);

        // On the test body, image-left knee (97,380), ankle (98,500): the opening's middle lands
        // by the ankle.
        let body = Body::from_landmarks(&body_landmarks()).unwrap();
        let hip = HipFrame::new(&body, &a).unwrap();
        let set = pairs(l, &hip.leg_path(&body, hip.map(l.root), true), hip.scale);
        let end = set[13].1;
        assert!((end.0 - 98.0).abs() < 20.0 && end.1 > 400.0, "{end:?}");
    }
}
