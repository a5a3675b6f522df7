//! Shoes and accessories are placed, not warped: each gets a rectangle on the body from the
//! pose (and the face mesh for eyewear and hats), turned with the body part, keeping the
//! item's own proportions. The result is point pairs for the same warp the garments use.

use super::face_mesh::Mesh;
use super::fit::FitError;
use super::pose::Landmark;

type P = (f32, f32);
const USABLE: f32 = 0.3;
const FOOT_SURE: f32 = 0.5;

/// A foot's rectangle top edge and whether its toe points image-left.
pub type Foot = ((P, P), bool);

/// Pairs taking the item box `(x0, y0, x1, y1)` onto the rectangle whose top edge runs from
/// `top_left` to `top_right` (the box's height follows its aspect ratio). `mirror` flips it.
pub fn onto(item: (f32, f32, f32, f32), top_left: P, top_right: P, mirror: bool) -> Vec<(P, P)> {
    let (x0, y0, x1, y1) = item;
    let width = (top_right.0 - top_left.0).hypot(top_right.1 - top_left.1);
    let aspect = (y1 - y0) / (x1 - x0).max(1.0);
    let u = ((top_right.0 - top_left.0) / width.max(1e-6), (top_right.1 - top_left.1) / width.max(1e-6));
    let n = (-u.1, u.0);
    let h = width * aspect;
    let bl = (top_left.0 + n.0 * h, top_left.1 + n.1 * h);
    let br = (top_right.0 + n.0 * h, top_right.1 + n.1 * h);
    let (l, r) = if mirror { (x1, x0) } else { (x0, x1) };
    vec![((l, y0), top_left), ((r, y0), top_right), ((l, y1), bl), ((r, y1), br)]
}

fn p(l: &Landmark) -> P {
    (l.x, l.y)
}

fn seen(l: &[Landmark], i: usize) -> bool {
    l[i].visibility >= USABLE
}

/// The top edge of the rectangle for an accessory, by its garment category key.
pub fn slot(key: &str, l: &[Landmark], mesh: Option<&Mesh>) -> Result<(P, P), FitError> {
    let (ls, rs) = if l[11].x <= l[12].x { (p(&l[11]), p(&l[12])) } else { (p(&l[12]), p(&l[11])) };
    let sw = (rs.0 - ls.0).hypot(rs.1 - ls.1);
    let shoulders = || (seen(l, 11) && seen(l, 12)).then_some(()).ok_or(FitError::NotVisible("shoulders"));
    let widen = |a: P, b: P, k: f32| {
        let c = ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
        ((c.0 + (a.0 - c.0) * k, c.1 + (a.1 - c.1) * k), (c.0 + (b.0 - c.0) * k, c.1 + (b.1 - c.1) * k))
    };
    let shift = |a: P, b: P, dy: f32| ((a.0, a.1 + dy), (b.0, b.1 + dy));
    match key {
        "eyewear" => {
            let m = mesh.ok_or(FitError::NotVisible("face"))?;
            let (a, b) = ((m.points[33][0], m.points[33][1]), (m.points[263][0], m.points[263][1]));
            let (a, b) = if a.0 <= b.0 { (a, b) } else { (b, a) };
            let (a, b) = widen(a, b, 1.45);
            let eye = (b.0 - a.0).hypot(b.1 - a.1);
            Ok(shift(a, b, -eye * 0.12))
        }
        "hat" => {
            if !(seen(l, 7) && seen(l, 8)) {
                return Err(FitError::NotVisible("head"));
            }
            let (a, b) = if l[7].x <= l[8].x { (p(&l[7]), p(&l[8])) } else { (p(&l[8]), p(&l[7])) };
            let (a, b) = widen(a, b, 1.7);
            let span = (b.0 - a.0).hypot(b.1 - a.1);
            let brow = mesh.map(|m| m.points[10][1]).unwrap_or(a.1 - span * 0.3);
            // The hat's bottom rests on the brow: its top edge is one hat-height above.
            Ok(shift(a, b, brow - a.1 - span * 0.55))
        }
        "scarf" => {
            shoulders()?;
            let (a, b) = widen(ls, rs, 0.8);
            Ok(shift(a, b, -sw * 0.12))
        }
        "belt" => {
            if !(seen(l, 23) && seen(l, 24)) {
                return Err(FitError::NotVisible("hips"));
            }
            let (a, b) = if l[23].x <= l[24].x { (p(&l[23]), p(&l[24])) } else { (p(&l[24]), p(&l[23])) };
            let (a, b) = widen(a, b, 1.7);
            let hw = (b.0 - a.0).hypot(b.1 - a.1);
            Ok(shift(a, b, -hw * 0.12))
        }
        "bag" => {
            shoulders()?;
            // Carried in the image-right hand, or at the image-right hip.
            let hand =
                [15, 16].into_iter().filter(|&i| seen(l, i)).map(|i| p(&l[i])).max_by(|a, b| a.0.total_cmp(&b.0));
            let at = hand.unwrap_or((rs.0, rs.1 + sw * 1.3));
            Ok(((at.0 - sw * 0.3, at.1), (at.0 + sw * 0.3, at.1)))
        }
        _ => Err(FitError::Shape("not an accessory")),
    }
}

/// One rectangle top edge per foot, image-left foot first: from behind the heel to past the
/// toe, raised to the ankle; and whether that foot's toe points image-left.
pub fn feet(l: &[Landmark]) -> Result<Vec<Foot>, FitError> {
    let mut out = Vec::new();
    for (heel, toe, ankle) in [(29, 31, 27), (30, 32, 28)] {
        // Feet need to be clearly seen: a guessed foot below a half-body crop is not a foot.
        if ![heel, toe, ankle].iter().all(|&i| l[i].visibility >= FOOT_SURE) {
            continue;
        }
        let (h, t, a) = (p(&l[heel]), p(&l[toe]), p(&l[ankle]));
        let length = (t.0 - h.0).hypot(t.1 - h.1).max(4.0);
        let u = ((t.0 - h.0) / length, (t.1 - h.1) / length);
        let back = (h.0 - u.0 * length * 0.18, h.1 - u.1 * length * 0.18);
        let front = (t.0 + u.0 * length * 0.12, t.1 + u.1 * length * 0.12);
        let lift = (a.1 - h.1).min(0.0) * 0.6; // up to the ankle
        let toe_left = t.0 < h.0;
        let (left, right) = if toe_left { (front, back) } else { (back, front) };
        out.push((((left.0, left.1 + lift), (right.0, right.1 + lift)), toe_left));
    }
    if out.is_empty() {
        return Err(FitError::NotVisible("feet"));
    }
    out.sort_by(|a, b| a.0 .0 .0.total_cmp(&b.0 .0 .0));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_box_maps_onto_its_rectangle_keeping_its_aspect() {
        let pairs = onto((0.0, 0.0, 100.0, 50.0), (10.0, 10.0), (210.0, 10.0), false);
        assert_eq!(pairs[0], ((0.0, 0.0), (10.0, 10.0)));
        assert_eq!(pairs[3], ((100.0, 50.0), (210.0, 110.0)), "200 wide → 100 tall");
        let mirrored = onto((0.0, 0.0, 100.0, 50.0), (10.0, 10.0), (210.0, 10.0), true);
        assert_eq!(mirrored[0].0, (100.0, 0.0));
    }

    #[test]
    fn feet_need_heels_and_toes() {
        let mut l = vec![Landmark { x: 0.0, y: 0.0, visibility: 0.9 }; 33];
        for (i, x, y) in [
            (27, 90.0, 480.0),
            (29, 88.0, 500.0),
            (31, 70.0, 505.0),
            (28, 150.0, 480.0),
            (30, 152.0, 500.0),
            (32, 170.0, 505.0),
        ] {
            l[i] = Landmark { x, y, visibility: 0.9 };
        }
        let f = feet(&l).unwrap();
        assert_eq!(f.len(), 2);
        assert!(f[0].1 && !f[1].1, "the image-left foot points left, the other right");
        for foot in &mut l[29..33] {
            foot.visibility = 0.0;
        }
        assert_eq!(feet(&l).unwrap_err(), FitError::NotVisible("feet"));
    }
}
