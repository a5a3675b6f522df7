//! Where a garment's landmarks go on a body: target points from the person's pose landmarks,
//! by garment family. The garment is scaled by the body's shoulders (tops, dresses) or hips
//! (trousers, skirts), keeps its own length and cut, and its sides are kept outside the body so
//! it covers it; sleeves follow the arms, trouser legs follow the legs. The pairs this returns
//! feed a thin-plate spline ([`super::tps`]).

use super::garment::{find, Anchor, Family};
use super::pose::Landmark;

type P = (f32, f32);

fn add(a: P, b: P) -> P {
    (a.0 + b.0, a.1 + b.1)
}
fn sub(a: P, b: P) -> P {
    (a.0 - b.0, a.1 - b.1)
}
fn mul(a: P, k: f32) -> P {
    (a.0 * k, a.1 * k)
}
fn dot(a: P, b: P) -> f32 {
    a.0 * b.0 + a.1 * b.1
}
fn len(a: P) -> f32 {
    a.0.hypot(a.1)
}
fn unit(a: P) -> P {
    mul(a, 1.0 / len(a).max(1e-6))
}
fn mid(a: P, b: P) -> P {
    mul(add(a, b), 0.5)
}

/// A landmark this sure is used for fitting.
const USABLE: f32 = 0.3;

/// One side of the body, image-left or image-right.
#[derive(Debug, Clone, Copy)]
pub struct Side {
    pub shoulder: P,
    pub elbow: Option<P>,
    pub wrist: Option<P>,
    pub hip: P,
    pub knee: Option<P>,
    pub ankle: Option<P>,
}

/// The body as fitting sees it.
#[derive(Debug, Clone, Copy)]
pub struct Body {
    pub left: Side,
    pub right: Side,
    pub shoulders_seen: bool,
    pub hips_seen: bool,
}

impl Body {
    pub fn from_landmarks(l: &[Landmark]) -> Option<Body> {
        if l.len() < 33 {
            return None;
        }
        let p = |i: usize| (l[i].x, l[i].y);
        let seen = |i: usize| (l[i].visibility >= USABLE).then(|| p(i));
        // BlazePose's left side (11, 13…) faces the image's right when the person faces the
        // camera; which side is really on the image's left is decided by the shoulders.
        let left_offset = if l[11].x <= l[12].x { 0 } else { 1 };
        let side = |s: usize| Side {
            shoulder: p(11 + s),
            elbow: seen(13 + s),
            wrist: seen(15 + s),
            hip: p(23 + s),
            knee: seen(25 + s),
            ankle: seen(27 + s),
        };
        let (l_side, r_side) = (side(left_offset), side(1 - left_offset));
        Some(Body {
            left: l_side,
            right: r_side,
            shoulders_seen: l[11].visibility >= USABLE && l[12].visibility >= USABLE,
            hips_seen: l[23].visibility >= USABLE && l[24].visibility >= USABLE,
        })
    }

    pub fn shoulder_width(&self) -> f32 {
        len(sub(self.right.shoulder, self.left.shoulder))
    }

    /// Down the body, perpendicular to the shoulder line, pointing to the hips.
    fn down(&self) -> P {
        let u = unit(sub(self.right.shoulder, self.left.shoulder));
        let d = (-u.1, u.0);
        let to_hips = sub(mid(self.left.hip, self.right.hip), mid(self.left.shoulder, self.right.shoulder));
        if dot(d, to_hips) < 0.0 {
            mul(d, -1.0)
        } else {
            d
        }
    }
}

/// Why a garment cannot be fitted.
#[derive(Debug, Clone, PartialEq)]
pub enum FitError {
    /// The body part the garment needs is not in the photo.
    NotVisible(&'static str),
    /// The garment's silhouette lacks the landmarks its category needs.
    Shape(&'static str),
}

/// The point `distance` along the polyline `path` (extended past its end along the last segment).
pub fn along(path: &[P], distance: f32) -> (P, P) {
    let segments = path.len().saturating_sub(1);
    let mut left = distance;
    for i in 0..segments {
        let seg = sub(path[i + 1], path[i]);
        let l = len(seg);
        if left <= l || i + 1 == segments {
            return (add(path[i], mul(unit(seg), left)), unit(seg));
        }
        left -= l;
    }
    (path.first().copied().unwrap_or((0.0, 0.0)), (0.0, 1.0))
}

/// Garment point → body point pairs for a product-shot garment.
/// `cover`, when given, widens a top's body to the person's silhouette (at most 1.6 times the
/// body's own width there) so the clothes underneath do not show beside it.
pub fn targets(
    body: &Body,
    family: Family,
    garment: &[(Anchor, P)],
    cover: Option<Cover>,
) -> Result<Vec<(P, P)>, FitError> {
    match family {
        Family::Top | Family::Full => upper(body, family, garment, cover),
        Family::Legs | Family::Skirt => lower(body, family, garment),
        Family::Placed => Err(FitError::Shape("placed items are not warped")),
    }
}

/// The path a sleeve follows from `start`: the elbow and wrist when seen, else an arm hanging
/// down and a little outward.
pub fn arm_path(body: &Body, frame: &TorsoFrame, start: P, left: bool) -> Vec<P> {
    let side = if left { body.left } else { body.right };
    let mut path = vec![start];
    match (side.elbow, side.wrist) {
        (Some(e), w) => {
            path.push(e);
            path.extend(w);
        }
        _ => {
            let out = if left { -1.0 } else { 1.0 };
            let dir = unit(add(frame.d, mul(frame.u, 0.45 * out)));
            path.push(add(start, mul(dir, body.shoulder_width())));
        }
    }
    path
}

/// The similarity (scale, rotation, shift) taking the garment frame `(g0, g1)` onto `(t0, t1)`.
fn similarity(g0: P, g1: P, t0: P, t1: P) -> impl Fn(P) -> P {
    let (gu, tu) = (unit(sub(g1, g0)), unit(sub(t1, t0)));
    let s = len(sub(t1, t0)) / len(sub(g1, g0)).max(1e-6);
    let (gm, tm) = (mid(g0, g1), mid(t0, t1));
    move |p: P| {
        let v = sub(p, gm);
        let (a, b) = (dot(v, gu), dot(v, (-gu.1, gu.0)));
        add(tm, mul(add(mul(tu, a), mul((-tu.1, tu.0), b)), s))
    }
}

/// Frame points around the garment's anchors, carried by `map`: they keep the spline tame far
/// from the anchors.
fn frame(points: &[P], map: &dyn Fn(P) -> P) -> Vec<(P, P)> {
    let xs = points.iter().map(|p| p.0);
    let ys = points.iter().map(|p| p.1);
    let (x0, x1) = (xs.clone().fold(f32::MAX, f32::min), xs.fold(f32::MIN, f32::max));
    let (y0, y1) = (ys.clone().fold(f32::MAX, f32::min), ys.fold(f32::MIN, f32::max));
    let (mx, my) = ((x1 - x0) * 0.25, (y1 - y0) * 0.25);
    [(x0 - mx, y0 - my), (x1 + mx, y0 - my), (x0 - mx, y1 + my), (x1 + mx, y1 + my)]
        .into_iter()
        .map(|g| (g, map(g)))
        .collect()
}

/// Two of the garment's anchors, or the shape error `why`.
fn anchor_pair(g: &[(Anchor, P)], a: Anchor, b: Anchor, why: &'static str) -> Result<(P, P), FitError> {
    Ok((find(g, a).ok_or(FitError::Shape(why))?, find(g, b).ok_or(FitError::Shape(why))?))
}

/// How a top's garment coordinates map onto the body before any local fitting: its shoulder
/// seams onto the body's, widths scaled by the shoulders and lengths by the torso.
#[derive(Debug, Clone, Copy)]
pub struct TorsoFrame {
    /// The body's shoulder seam points (image-left, image-right).
    pub seams: (P, P),
    /// Across the body (image-left to right) and down it.
    pub u: P,
    pub d: P,
    /// Garment-to-body scale across and down.
    pub s: f32,
    pub sv: f32,
    /// The garment's shoulder points (image-left, image-right).
    pub garment: (P, P),
    /// Shoulder seams to hips, down the body.
    pub hip_depth: f32,
    top: P,
}

impl TorsoFrame {
    pub fn new(body: &Body, g: &[(Anchor, P)]) -> Result<TorsoFrame, FitError> {
        if !body.shoulders_seen {
            return Err(FitError::NotVisible("shoulders"));
        }
        let (gl, gr) = anchor_pair(g, Anchor::ShoulderL, Anchor::ShoulderR, "no shoulders")?;
        let sw = body.shoulder_width();
        let u = unit(sub(body.right.shoulder, body.left.shoulder));
        let d = body.down();
        // Shoulder seams sit a little outside and above the joints.
        let tl = add(body.left.shoulder, add(mul(u, -0.08 * sw), mul(d, -0.05 * sw)));
        let tr = add(body.right.shoulder, add(mul(u, 0.08 * sw), mul(d, -0.05 * sw)));
        let top = mid(tl, tr);
        let hips = mid(body.left.hip, body.right.hip);
        let hip_depth = dot(sub(hips, top), d).max(sw * 0.5);
        // Widths follow the shoulders, lengths the torso: a garment's shoulder-to-hip distance
        // is taken as 1.45 of its shoulder width, so a top ends by the hips on a narrow figure
        // and on a broad suit alike.
        let s = len(sub(tr, tl)) / len(sub(gr, gl)).max(1e-6);
        let sv = (hip_depth / (1.45 * len(sub(gr, gl)).max(1e-6))).clamp(0.6 * s, 1.5 * s);
        Ok(TorsoFrame { seams: (tl, tr), u, d, s, sv, garment: (gl, gr), hip_depth, top })
    }

    /// A garment point on the body.
    pub fn map(&self, p: P) -> P {
        let gu = unit(sub(self.garment.1, self.garment.0));
        let v = sub(p, mid(self.garment.0, self.garment.1));
        let (a, b) = (dot(v, gu), dot(v, (-gu.1, gu.0)));
        add(self.top, add(mul(self.u, a * self.s), mul(self.d, b * self.sv)))
    }
}

/// The half-width of the person's silhouette at a point of the torso, measured along a
/// direction, if known: lets a garment widen to cover the clothes underneath.
pub type Cover<'a> = &'a dyn Fn(P, P) -> Option<f32>;

fn upper(body: &Body, family: Family, g: &[(Anchor, P)], cover: Option<Cover>) -> Result<Vec<(P, P)>, FitError> {
    let frame_ = TorsoFrame::new(body, g)?;
    let ((gl, gr), (tl, tr)) = (frame_.garment, frame_.seams);
    let (u, d, top, hip_depth) = (frame_.u, frame_.d, frame_.top, frame_.hip_depth);
    let sw = body.shoulder_width();
    let sim = move |p: P| frame_.map(p);
    let hip_half = len(sub(body.right.hip, body.left.hip)) * 0.5 * 1.45;
    let body_half = |t: f32| {
        let f = (t / hip_depth).clamp(0.0, 1.2);
        sw * 0.55 * (1.0 - f.min(1.0)) + hip_half * f.min(1.0)
    };
    let mut pairs = vec![(gl, tl), (gr, tr)];
    let side_point = |p: P, min: f32, max: f32, widen: bool| {
        let t = sim(p);
        let v = sub(t, top);
        let (a, b) = (dot(v, u), dot(v, d));
        let mut half = a.abs().clamp(body_half(b) * min, body_half(b) * max);
        if let Some(seen) = cover.filter(|_| widen).and_then(|f| f(add(top, mul(d, b)), mul(u, a.signum()))) {
            half = half.max(seen.min(body_half(b) * 1.6));
        }
        add(top, add(mul(u, half * a.signum()), mul(d, b)))
    };
    for anchor in [Anchor::Neck] {
        if let Some(p) = find(g, anchor) {
            pairs.push((p, sim(p)));
        }
    }
    for anchor in [Anchor::ArmpitL, Anchor::ArmpitR] {
        if let Some(p) = find(g, anchor) {
            pairs.push((p, side_point(p, 0.95, 1.15, false)));
        }
    }
    let flare = if family == Family::Full { 2.4 } else { 1.5 };
    for anchor in [Anchor::WaistL, Anchor::WaistR, Anchor::HemL, Anchor::HemR] {
        if let Some(p) = find(g, anchor) {
            pairs.push((p, side_point(p, 1.04, flare, true)));
        }
    }
    // Sleeves follow the arms from the shoulder seam, keeping their length.
    for (anchor, shoulder_g, shoulder_t, left) in [(Anchor::SleeveL, gl, tl, true), (Anchor::SleeveR, gr, tr, false)] {
        let Some(p) = find(g, anchor) else { continue };
        let length = len(sub(p, shoulder_g)) * frame_.s;
        pairs.push((p, along(&arm_path(body, &frame_, shoulder_t, left), length).0));
    }
    pairs.extend(frame(&g.iter().map(|(_, p)| *p).collect::<Vec<_>>(), &sim));
    Ok(pairs)
}

/// How trousers' and skirts' garment coordinates map onto the body: the waistband onto the
/// body's, a little above and outside the hip joints.
#[derive(Debug, Clone, Copy)]
pub struct HipFrame {
    pub waist: (P, P),
    garment: (P, P),
    /// Garment-to-body scale.
    pub scale: f32,
    /// Hip to knee on the body (or a stand-in from the hips' width).
    pub thigh: f32,
    /// Down the body, perpendicular to the hip line.
    pub d: P,
}

impl HipFrame {
    pub fn new(body: &Body, g: &[(Anchor, P)]) -> Result<HipFrame, FitError> {
        if !body.hips_seen {
            return Err(FitError::NotVisible("hips"));
        }
        let (gl, gr) = anchor_pair(g, Anchor::WaistL, Anchor::WaistR, "no waistband")?;
        let (hl, hr) = (body.left.hip, body.right.hip);
        let hw = len(sub(hr, hl));
        let u = unit(sub(hr, hl));
        let mut d = (-u.1, u.0);
        if dot(d, sub(hl, body.left.shoulder)) < 0.0 {
            d = mul(d, -1.0);
        }
        let thigh = [body.left.knee.map(|k| len(sub(k, hl))), body.right.knee.map(|k| len(sub(k, hr)))]
            .into_iter()
            .flatten()
            .fold(0.0f32, f32::max)
            .max(hw * 1.6);
        // The waistband sits above the hip joints and outside them.
        let tl = add(hl, add(mul(u, -0.32 * hw), mul(d, -0.22 * thigh)));
        let tr = add(hr, add(mul(u, 0.32 * hw), mul(d, -0.22 * thigh)));
        let scale = len(sub(tr, tl)) / len(sub(gr, gl)).max(1e-6);
        Ok(HipFrame { waist: (tl, tr), garment: (gl, gr), scale, thigh, d })
    }

    /// A garment point on the body, by the waistband's similarity.
    pub fn map(&self, p: P) -> P {
        similarity(self.garment.0, self.garment.1, self.waist.0, self.waist.1)(p)
    }

    /// The path a trouser leg follows from `start`: knee and ankle when seen, else straight down.
    pub fn leg_path(&self, body: &Body, start: P, left: bool) -> Vec<P> {
        let side = if left { body.left } else { body.right };
        let knee = side.knee.unwrap_or(add(side.hip, mul(self.d, self.thigh)));
        let ankle = side.ankle.unwrap_or(add(knee, mul(self.d, self.thigh)));
        vec![start, knee, ankle]
    }
}

fn lower(body: &Body, family: Family, g: &[(Anchor, P)]) -> Result<Vec<(P, P)>, FitError> {
    let hip = HipFrame::new(body, g)?;
    let (gl, gr) = hip.garment;
    let (tl, tr) = hip.waist;
    let (hl, hr) = (body.left.hip, body.right.hip);
    let hw = len(sub(hr, hl));
    let u = unit(sub(hr, hl));
    let (d, thigh, scale) = (hip.d, hip.thigh, hip.scale);
    let sim = move |p: P| hip.map(p);
    let waist_y = mid(gl, gr).1;
    let mut pairs = vec![(gl, tl), (gr, tr)];
    if let Some(c) = find(g, Anchor::Crotch) {
        pairs.push((c, add(mid(hl, hr), mul(d, 0.22 * thigh))));
    }
    let legs =
        [(Anchor::LegOutL, Anchor::LegInL, body.left, -1.0f32), (Anchor::LegOutR, Anchor::LegInR, body.right, 1.0)];
    for (outer, inner, side, sign) in legs {
        let (Some(go), Some(gi)) = (find(g, outer), find(g, inner)) else { continue };
        let length = ((mid(go, gi).1 - waist_y) * scale - 0.22 * thigh).max(0.0);
        let knee = side.knee.unwrap_or(add(side.hip, mul(d, thigh)));
        let ankle = side.ankle.unwrap_or(add(knee, mul(d, thigh)));
        let (centre, dir) = along(&[side.hip, knee, ankle], length);
        let mut n = (-dir.1, dir.0);
        if n.0 * sign < 0.0 {
            n = mul(n, -1.0);
        }
        let half = (len(sub(gi, go)) * 0.5 * scale).max(hw * 0.3);
        pairs.push((go, add(centre, mul(n, half))));
        pairs.push((gi, add(centre, mul(n, -half))));
    }
    if family == Family::Skirt {
        for anchor in [Anchor::HemL, Anchor::HemR] {
            if let Some(p) = find(g, anchor) {
                let t = sim(p);
                let v = sub(t, mid(hl, hr));
                let (a, b) = (dot(v, u), dot(v, d));
                let half = a.abs().max(hw * 0.5 * 1.5);
                pairs.push((p, add(mid(hl, hr), add(mul(u, half * a.signum()), mul(d, b)))));
            }
        }
    }
    pairs.extend(frame(&g.iter().map(|(_, p)| *p).collect::<Vec<_>>(), &sim));
    Ok(pairs)
}

/// Landmark pairs between two people (an on-model garment and the body it goes to): the joints
/// both photos show, for the family's part of the body, plus a frame from the shoulders or hips.
pub fn between_people(from: &[Landmark], to: &[Landmark], family: Family) -> Result<Vec<(P, P)>, FitError> {
    // Torso joints only for tops: arms held differently in the two photos would drag the whole
    // garment with them; the sleeves follow the shoulders.
    let joints: &[usize] = match family {
        Family::Top => &[11, 12, 23, 24],
        Family::Legs | Family::Skirt => &[23, 24, 25, 26, 27, 28],
        Family::Full => &[11, 12, 23, 24, 25, 26, 27, 28],
        Family::Placed => &[],
    };
    let both = |i: usize| from[i].visibility >= USABLE && to[i].visibility >= USABLE;
    let (a, b, what) =
        if matches!(family, Family::Legs | Family::Skirt) { (23, 24, "hips") } else { (11, 12, "shoulders") };
    if !both(a) || !both(b) {
        return Err(FitError::NotVisible(what));
    }
    let p = |l: &[Landmark], i: usize| (l[i].x, l[i].y);
    if matches!(family, Family::Top | Family::Full) {
        // Seen from the side, the shoulders overlap: the garment's front cannot be mapped.
        let frontal = |l: &[Landmark]| {
            let torso = len(sub(mid(p(l, 11), p(l, 12)), mid(p(l, 23), p(l, 24))));
            len(sub(p(l, 11), p(l, 12))) >= 0.5 * torso
        };
        if !frontal(from) {
            return Err(FitError::Shape("shows its wearer from the side; a front view is needed"));
        }
        if !frontal(to) {
            return Err(FitError::NotVisible("front of the torso (the person is seen from the side)"));
        }
    }
    // A half-body photo (cut at the waist) has no visible hips, but the pose still places them
    // below the frame; a top taken off a full body needs them to keep its length, so they are
    // used when they lie plausibly below the shoulders.
    let upper_body = matches!(family, Family::Top | Family::Full);
    let sw_to = len(sub(p(to, 11), p(to, 12)));
    let placed_below =
        |i: usize| upper_body && from[i].visibility >= USABLE && p(to, i).1 - mid(p(to, 11), p(to, 12)).1 > 0.8 * sw_to;
    let usable = |i: usize| both(i) || ((i == 23 || i == 24) && placed_below(i));
    let mut pairs: Vec<(P, P)> = joints.iter().filter(|&&i| usable(i)).map(|&i| (p(from, i), p(to, i))).collect();
    // The collar: above the shoulders' midpoint by a quarter of the torso, in each photo.
    if upper_body && usable(23) && usable(24) {
        let collar = |l: &[Landmark]| {
            let (s, h) = (mid(p(l, 11), p(l, 12)), mid(p(l, 23), p(l, 24)));
            add(s, mul(sub(s, h), 0.2))
        };
        pairs.push((collar(from), collar(to)));
    }
    let sim = similarity(p(from, a), p(from, b), p(to, a), p(to, b));
    let joints: Vec<P> = pairs.iter().map(|(f, _)| *f).collect();
    pairs.extend(frame(&joints, &sim));
    Ok(pairs)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::plane::Plane;
    use crate::vision::garment::anchors;

    /// A front-facing body: shoulders at y=100 (x 80 / 160), hips at y=260 (x 95 / 145),
    /// elbows and wrists hanging, knees at 380, ankles at 500.
    pub fn body_landmarks() -> Vec<Landmark> {
        let mut l = vec![Landmark { x: 120.0, y: 50.0, visibility: 0.99 }; 33];
        let mut set = |i: usize, x: f32, y: f32| l[i] = Landmark { x, y, visibility: 0.99 };
        // The person's left (odd) is on the image's right.
        set(11, 160.0, 100.0);
        set(12, 80.0, 100.0);
        set(13, 170.0, 180.0);
        set(14, 70.0, 180.0);
        set(15, 172.0, 250.0);
        set(16, 68.0, 250.0);
        set(23, 145.0, 260.0);
        set(24, 95.0, 260.0);
        set(25, 143.0, 380.0);
        set(26, 97.0, 380.0);
        set(27, 142.0, 500.0);
        set(28, 98.0, 500.0);
        l
    }

    fn tee() -> Plane {
        let mut p = Plane::new(200, 220);
        for (x0, y0, x1, y1) in [(60, 20, 140, 200), (20, 20, 180, 70)] {
            for y in y0..y1 {
                for x in x0..x1 {
                    p.data[y * 200 + x] = 1.0;
                }
            }
        }
        p
    }

    #[test]
    fn a_tee_lands_on_the_shoulders_and_its_sleeves_turn_down_the_arms() {
        let body = Body::from_landmarks(&body_landmarks()).unwrap();
        assert_eq!(body.left.shoulder, (80.0, 100.0), "image-left is the person's right");
        let g = anchors(&tee(), Family::Top).unwrap();
        let pairs = targets(&body, Family::Top, &g, None).unwrap();
        let to = |a: Anchor| {
            let gp = find(&g, a).unwrap();
            pairs.iter().find(|(f, _)| *f == gp).unwrap().1
        };
        let (sl, sr) = (to(Anchor::ShoulderL), to(Anchor::ShoulderR));
        // Within 3 % of a 600-px-tall image of the joints.
        assert!((sl.1 - 100.0).abs() < 18.0 && (sl.0 - 80.0).abs() < 18.0, "{sl:?}");
        assert!((sr.1 - 100.0).abs() < 18.0 && (sr.0 - 160.0).abs() < 18.0, "{sr:?}");
        // Spread-out sleeves now point down along the arms.
        let sleeve = to(Anchor::SleeveL);
        assert!(sleeve.1 > 120.0 && sleeve.0 < 85.0, "{sleeve:?}");
        // The hem covers the body: outside the hip joints.
        let (hl, hr) = (to(Anchor::HemL), to(Anchor::HemR));
        assert!(hl.0 < 95.0 && hr.0 > 145.0, "{hl:?} {hr:?}");
    }

    #[test]
    fn hidden_body_parts_are_reported() {
        let mut l = body_landmarks();
        l[23].visibility = 0.1;
        let body = Body::from_landmarks(&l).unwrap();
        let pants = anchors(&tee(), Family::Skirt).unwrap();
        assert_eq!(targets(&body, Family::Skirt, &pants, None).unwrap_err(), FitError::NotVisible("hips"));
        assert!(between_people(&l, &l, Family::Legs).is_err());
        assert!(between_people(&l, &l, Family::Top).unwrap().len() >= 6);
    }
}
