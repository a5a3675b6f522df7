//! Technical-flat templates: each garment category's front view as a closed outline plus its
//! construction details (seams, topstitching, plackets, pockets, ribbing, buttons), built from a
//! few measurements and mirrored about the centre line so every flat is symmetric by
//! construction. Units: the canvas is 1.0 wide and [`CANVAS_H`] tall; y grows downward.

pub const CANVAS_H: f32 = 1.2;

pub type Pt = (f32, f32);

/// A flat, ready to rasterise.
#[derive(Debug, Clone, Default)]
pub struct Flat {
    pub outline: Vec<Pt>,
    /// More fabric joined to the outline's silhouette (a hood behind the neck).
    pub extra: Vec<Vec<Pt>>,
    /// Areas seen from the inside (the back of a neckline, a pocket opening): shaded darker.
    pub inside: Vec<Vec<Pt>>,
    /// Construction seams: thin dark lines.
    pub seams: Vec<Vec<Pt>>,
    /// Topstitching: dashed lines just inside seams and hems.
    pub stitches: Vec<Vec<Pt>>,
    /// Rib-knit bands: polygons filled with fine vertical ribs.
    pub ribs: Vec<Vec<Pt>>,
    pub buttons: Vec<(Pt, f32)>,
    /// Metal details (rivets, zip pull): small bright discs.
    pub rivets: Vec<(Pt, f32)>,
}

/// How the garment is cut: `slim`, `regular`, `loose`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cut {
    /// Horizontal scale about the centre line.
    pub width: f32,
    /// Body length scale (below the armhole or the waistband).
    pub length: f32,
}

pub const FIT_WORDS: [&str; 3] = ["slim", "regular", "loose"];
pub const LENGTH_WORDS: [&str; 7] = ["cropped", "short", "regular", "knee", "midi", "long", "maxi"];

impl Cut {
    pub fn new(fit: Option<&str>, length: Option<&str>) -> Cut {
        let width = match fit {
            Some("slim") => 0.9,
            Some("loose") => 1.14,
            _ => 1.0,
        };
        let length = match length {
            Some("cropped") => 0.72,
            Some("short") => 0.86,
            Some("knee") => 1.08,
            Some("midi") => 1.2,
            Some("long") => 1.3,
            Some("maxi") => 1.38,
            _ => 1.0,
        };
        Cut { width, length }
    }
}

/// Left-half points as (offset from centre, y) → the full, closed outline (left, then the
/// mirrored right half back up).
fn mirror(left: &[Pt], cut: Cut) -> Vec<Pt> {
    let l: Vec<Pt> = left.iter().map(|(dx, y)| (0.5 + dx * cut.width, *y)).collect();
    let mut out = l.clone();
    out.extend(l.iter().rev().map(|(x, y)| (1.0 - x, *y)));
    out.dedup();
    out
}

/// The same for an open polyline on one side, plus its mirror image as a second line.
fn both(left: &[Pt], cut: Cut) -> [Vec<Pt>; 2] {
    let l: Vec<Pt> = left.iter().map(|(dx, y)| (0.5 + dx * cut.width, *y)).collect();
    let r = l.iter().map(|(x, y)| (1.0 - x, *y)).collect();
    [l, r]
}

fn at(dx: f32, y: f32, cut: Cut) -> Pt {
    (0.5 + dx * cut.width, y)
}

/// A quadratic curve from `a` to `b` bending toward `c`, as `n` points after `a`.
fn curve(a: Pt, c: Pt, b: Pt, n: usize) -> Vec<Pt> {
    (1..=n)
        .map(|i| {
            let t = i as f32 / n as f32;
            let u = 1.0 - t;
            (u * u * a.0 + 2.0 * u * t * c.0 + t * t * b.0, u * u * a.1 + 2.0 * u * t * c.1 + t * t * b.1)
        })
        .collect()
}

/// A line offset toward the inside of the garment by `d` (for a stitch beside a hem): shifts
/// each point vertically.
fn shift(line: &[Pt], dy: f32) -> Vec<Pt> {
    line.iter().map(|(x, y)| (*x, y + dy)).collect()
}

#[derive(Debug, Clone, Copy)]
enum Sleeve {
    None,
    /// Length along the sleeve, angle below horizontal (degrees), cuff width.
    Set(f32, f32, f32),
}

#[derive(Debug, Clone, Copy)]
struct Top {
    neck: f32,
    neck_y: f32,
    drop: f32,
    shoulder: f32,
    shoulder_y: f32,
    chest: f32,
    armpit_y: f32,
    hem: f32,
    hem_y: f32,
    sleeve: Sleeve,
}

/// The left half of a top's outline, the sleeve's cuff line, and the front neckline curve.
fn top_left(t: Top, cut: Cut) -> (Vec<Pt>, Option<[Pt; 2]>, Vec<Pt>) {
    let hem_y = t.armpit_y + (t.hem_y - t.armpit_y) * cut.length;
    let mut left = vec![(0.0, t.neck_y + 0.012)];
    left.extend(curve((0.0, t.neck_y + 0.012), (-t.neck * 0.7, t.neck_y + 0.01), (-t.neck, t.neck_y), 4));
    left.push((-t.shoulder, t.shoulder_y));
    let mut cuff = None;
    match t.sleeve {
        Sleeve::None => {
            left.extend(curve(
                (-t.shoulder, t.shoulder_y),
                (-t.chest + 0.035, t.armpit_y - 0.03),
                (-t.chest, t.armpit_y),
                5,
            ));
        }
        Sleeve::Set(len, angle, width) => {
            let (c, s) = (angle.to_radians().cos(), angle.to_radians().sin());
            let outer = (-t.shoulder - len * c, t.shoulder_y + len * s);
            let inner = (outer.0 + width * s, outer.1 + width * c);
            left.push(outer);
            left.push(inner);
            left.push((-t.chest, t.armpit_y));
            cuff = Some([outer, inner]);
        }
    }
    left.push((-t.hem, hem_y));
    left.push((0.0, hem_y));
    let mut front = vec![(-t.neck, t.neck_y)];
    front.extend(curve((-t.neck, t.neck_y), (-t.neck * 0.9, t.neck_y + t.drop), (0.0, t.neck_y + t.drop), 6));
    (left, cuff, front)
}

/// A top's flat: outline, the neckline's inside, side and shoulder seams, hem and cuff stitching.
fn top(t: Top, cut: Cut) -> Flat {
    let (left, cuff, front) = top_left(t, cut);
    let hem_y = left[left.len() - 1].1;
    let mut f = Flat { outline: mirror(&left, cut), ..Flat::default() };
    // The back of the neckline, seen through the front opening.
    let mut inside: Vec<Pt> = front.iter().map(|p| at(p.0, p.1, cut)).collect();
    inside.extend(front.iter().rev().map(|p| at(-p.0, p.1, cut)));
    inside.extend(curve(at(t.neck, t.neck_y, cut), at(0.0, t.neck_y + 0.012, cut), at(-t.neck, t.neck_y, cut), 6));
    f.inside.push(inside);
    let [fl, fr] = both(&front, cut);
    f.seams.push(fl.into_iter().chain(fr.into_iter().rev()).collect());
    for s in both(&[(-t.neck, t.neck_y), (-t.shoulder, t.shoulder_y)], cut) {
        f.seams.push(s);
    }
    if let Some([outer, inner]) = cuff {
        for s in both(&[(-t.shoulder, t.shoulder_y), (-t.chest, t.armpit_y)], cut) {
            f.seams.push(s); // the armhole
        }
        // The cuff's topstitch, a little back from the sleeve's end along the sleeve.
        let (ux, uy) = (t.shoulder + outer.0, outer.1 - t.shoulder_y);
        let l = ux.hypot(uy).max(1e-3);
        let back = (-ux / l * 0.025, -uy / l * 0.025);
        for s in both(&[(outer.0 - back.0, outer.1 - back.1), (inner.0 - back.0, inner.1 - back.1)], cut) {
            f.stitches.push(s);
        }
    }
    f.stitches.push(vec![at(-t.hem + 0.01, hem_y - 0.022, cut), at(t.hem - 0.01, hem_y - 0.022, cut)]);
    f
}

/// A rib band polygon between two horizontal lines across the body at `y0..y1`.
fn band(x0: f32, x1: f32, y0: f32, y1: f32) -> Vec<Pt> {
    vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
}

fn buttons_down(f: &mut Flat, x: f32, y0: f32, y1: f32, n: usize, r: f32) {
    for i in 0..n {
        let y = y0 + (y1 - y0) * i as f32 / (n.max(2) - 1) as f32;
        f.buttons.push(((x, y), r));
    }
}

/// The flat of `key`, or `None` for a category without one (shoes, accessories); centred
/// vertically on the canvas.
pub fn flat(key: &str, cut: Cut) -> Option<Flat> {
    drawn(key, cut).map(centred)
}

/// Moves every part of the flat so its silhouette is centred vertically on the canvas.
fn centred(mut f: Flat) -> Flat {
    let ys = f.outline.iter().chain(f.extra.iter().flatten()).map(|p| p.1);
    let (lo, hi) = ys.fold((f32::MAX, f32::MIN), |(a, b), y| (a.min(y), b.max(y)));
    let dy = (CANVAS_H - lo - hi) / 2.0;
    let move_all = |v: &mut Vec<Pt>| v.iter_mut().for_each(|p| p.1 += dy);
    move_all(&mut f.outline);
    for group in [&mut f.extra, &mut f.inside, &mut f.seams, &mut f.stitches, &mut f.ribs] {
        group.iter_mut().for_each(move_all);
    }
    for (p, _) in f.buttons.iter_mut().chain(f.rivets.iter_mut()) {
        p.1 += dy;
    }
    f
}

fn drawn(key: &str, cut: Cut) -> Option<Flat> {
    let tee = Top {
        neck: 0.075,
        neck_y: 0.12,
        drop: 0.05,
        shoulder: 0.2,
        shoulder_y: 0.15,
        chest: 0.17,
        armpit_y: 0.34,
        hem: 0.17,
        hem_y: 0.72,
        sleeve: Sleeve::Set(0.17, 33.0, 0.13),
    };
    let long = Sleeve::Set(0.56, 68.0, 0.09);
    Some(match key {
        "t-shirt" => {
            let mut f = top(tee, cut);
            let neck = curve(at(-0.075, 0.12, cut), at(-0.065, 0.19, cut), at(0.0, 0.19, cut), 6);
            f.stitches.push(shift(&neck, 0.018));
            f
        }
        "top" => top(
            Top {
                neck: 0.09,
                drop: 0.1,
                shoulder: 0.14,
                chest: 0.16,
                hem: 0.175,
                hem_y: 0.74,
                sleeve: Sleeve::None,
                ..tee
            },
            cut,
        ),
        "shirt" => {
            let t = Top {
                neck: 0.065,
                drop: 0.03,
                shoulder: 0.2,
                chest: 0.175,
                hem: 0.18,
                hem_y: 0.8,
                sleeve: long,
                ..tee
            };
            let mut f = top(t, cut);
            let hem_y = 0.34 + (0.8 - 0.34) * cut.length;
            // Collar points, the button placket, a yoke seam and a chest pocket.
            for side in [-1.0f32, 1.0] {
                f.seams.push(vec![
                    at(side * 0.065, 0.12, cut),
                    at(side * 0.085, 0.2, cut),
                    at(side * 0.01, 0.165, cut),
                ]);
            }
            f.seams.push(vec![at(-0.02, 0.165, cut), at(-0.02, hem_y, cut)]);
            f.seams.push(vec![at(0.02, 0.165, cut), at(0.02, hem_y, cut)]);
            buttons_down(&mut f, 0.5, 0.22, hem_y - 0.08, 6, 0.009);
            f.seams.push(vec![at(-0.2, 0.2, cut), at(0.2, 0.2, cut)]);
            f.stitches.push(
                band(0.5 - 0.14 * cut.width, 0.5 - 0.06 * cut.width, 0.3, 0.4)
                    .into_iter()
                    .chain([(0.5 - 0.14 * cut.width, 0.3)])
                    .collect(),
            );
            f
        }
        "blouse" => {
            let t = Top {
                neck: 0.085,
                drop: 0.08,
                shoulder: 0.18,
                chest: 0.17,
                hem: 0.2,
                hem_y: 0.78,
                sleeve: Sleeve::Set(0.5, 64.0, 0.12),
                ..tee
            };
            let mut f = top(t, cut);
            f.seams.push(vec![at(0.0, 0.2, cut), at(0.0, 0.3, cut)]); // keyhole
            f.buttons.push((at(0.0, 0.205, cut), 0.008));
            for side in [-1.0f32, 1.0] {
                for k in 0..4 {
                    let x = side * (0.1 + 0.02 * k as f32);
                    f.seams.push(vec![at(x, 0.14 + 0.005 * k as f32, cut), at(x, 0.2 + 0.005 * k as f32, cut)]);
                    // gathers
                }
            }
            f
        }
        "sweater" | "hoodie" => {
            let t = Top {
                neck: 0.075,
                drop: 0.05,
                shoulder: 0.21,
                chest: 0.19,
                hem: 0.18,
                hem_y: 0.76,
                sleeve: long,
                ..tee
            };
            let mut f = top(t, cut);
            let hem_y = 0.34 + 0.42 * cut.length;
            f.ribs.push(band(0.5 - 0.18 * cut.width, 0.5 + 0.18 * cut.width, hem_y - 0.07, hem_y));
            let neck = curve(at(-0.075, 0.12, cut), at(-0.07, 0.17, cut), at(0.0, 0.17, cut), 6);
            let mut rib: Vec<Pt> = neck.clone();
            rib.extend(neck.iter().rev().map(|(x, y)| (1.0 - x, *y)));
            rib.extend(shift(&neck, 0.03).iter().map(|(x, y)| (1.0 - x, *y)));
            rib.extend(shift(&neck, 0.03).iter().rev());
            if key == "sweater" {
                f.ribs.push(rib);
            } else {
                // The hood lies behind the neck; a kangaroo pocket and drawstrings in front.
                let hood = vec![
                    at(-0.075, 0.12, cut),
                    at(-0.14, 0.05, cut),
                    at(-0.1, 0.025, cut),
                    at(0.1, 0.025, cut),
                    at(0.14, 0.05, cut),
                    at(0.075, 0.12, cut),
                    // Down into the body, so hood and body are one piece of cloth.
                    at(0.05, 0.17, cut),
                    at(-0.05, 0.17, cut),
                ];
                f.extra.push(hood);
                f.inside.push(vec![
                    at(-0.075, 0.12, cut),
                    at(-0.1, 0.04, cut),
                    at(0.1, 0.04, cut),
                    at(0.075, 0.12, cut),
                    at(0.0, 0.17, cut),
                ]);
                f.seams.push(vec![
                    at(-0.12, 0.6, cut),
                    at(-0.08, 0.52, cut),
                    at(0.08, 0.52, cut),
                    at(0.12, 0.6, cut),
                    at(0.15, hem_y - 0.08, cut),
                    at(-0.15, hem_y - 0.08, cut),
                    at(-0.12, 0.6, cut),
                ]);
                for side in [-1.0f32, 1.0] {
                    f.seams.push(vec![at(side * 0.03, 0.17, cut), at(side * 0.035, 0.33, cut)]);
                    f.rivets.push((at(side * 0.03, 0.17, cut), 0.006));
                }
            }
            if let Sleeve::Set(len, angle, width) = long {
                let (c, s) = (angle.to_radians().cos(), angle.to_radians().sin());
                let outer = (-0.21 - len * c, 0.15 + len * s);
                let inner = (outer.0 + width * s, outer.1 + width * c);
                let back = (c * 0.05, -s * 0.05);
                for side in [-1.0f32, 1.0] {
                    let p = |q: Pt| at(side * q.0, q.1, cut);
                    f.ribs.push(vec![
                        p(outer),
                        p(inner),
                        p((inner.0 + back.0, inner.1 + back.1)),
                        p((outer.0 + back.0, outer.1 + back.1)),
                    ]);
                }
            }
            f
        }
        "jacket" | "coat" => {
            let (hem_y, hem) = if key == "coat" { (1.1, 0.23) } else { (0.8, 0.2) };
            let t = Top {
                neck: 0.07,
                drop: 0.2,
                shoulder: 0.22,
                chest: 0.2,
                hem,
                hem_y,
                sleeve: Sleeve::Set(0.6, 70.0, 0.1),
                ..tee
            };
            let mut f = top(t, cut);
            let hem_y = 0.34 + (hem_y - 0.34) * cut.length;
            // Notched lapels, the front edge, flap pockets, buttons.
            for side in [-1.0f32, 1.0] {
                f.seams.push(vec![
                    at(side * 0.07, 0.12, cut),
                    at(side * 0.11, 0.2, cut),
                    at(side * 0.085, 0.22, cut),
                    at(side * 0.1, 0.26, cut),
                    at(0.0, 0.42, cut),
                ]);
                f.seams.push(vec![
                    at(side * 0.07, 0.62, cut),
                    at(side * 0.16, 0.62, cut),
                    at(side * 0.16, 0.67, cut),
                    at(side * 0.07, 0.67, cut),
                    at(side * 0.07, 0.62, cut),
                ]);
            }
            f.seams.push(vec![at(0.0, 0.42, cut), at(0.0, hem_y, cut)]);
            let n = if key == "coat" { 4 } else { 2 };
            buttons_down(&mut f, 0.5 - 0.025 * cut.width, 0.46, 0.46 + 0.1 * (n - 1) as f32, n, 0.012);
            f
        }
        "vest" => {
            let t = Top {
                neck: 0.08,
                drop: 0.24,
                shoulder: 0.15,
                chest: 0.18,
                hem: 0.18,
                hem_y: 0.68,
                sleeve: Sleeve::None,
                ..tee
            };
            let mut f = top(t, cut);
            let hem_y = 0.34 + 0.34 * cut.length;
            f.seams.push(vec![at(0.0, 0.36, cut), at(0.0, hem_y, cut)]);
            buttons_down(&mut f, 0.5 - 0.02 * cut.width, 0.42, hem_y - 0.06, 4, 0.01);
            for side in [-1.0f32, 1.0] {
                f.seams.push(vec![at(side * 0.06, 0.55, cut), at(side * 0.14, 0.53, cut)]);
                // welt pockets
            }
            f
        }
        "dress" => dress(cut),
        "jumpsuit" => jumpsuit(cut),
        "skirt" => skirt(cut),
        "pants" | "jeans" | "shorts" => trousers(key, cut),
        _ => return None,
    })
}

fn dress(cut: Cut) -> Flat {
    let waist_y = 0.5;
    let hem_y = waist_y + 0.55 * cut.length;
    let left = [
        (0.0, 0.132),
        (-0.08, 0.12),
        (-0.15, 0.15),
        (-0.21, 0.22),
        (-0.165, 0.27),
        (-0.16, 0.34),
        (-0.14, waist_y),
        (-0.3, hem_y - 0.02),
        (-0.15, hem_y + 0.01),
        (0.0, hem_y + 0.015),
    ];
    let mut f = Flat { outline: mirror(&left, cut), ..Flat::default() };
    let front = curve(at(-0.08, 0.12, cut), at(-0.07, 0.22, cut), at(0.0, 0.22, cut), 6);
    let mut inside = front.clone();
    inside.extend(front.iter().rev().map(|(x, y)| (1.0 - x, *y)));
    f.inside.push(inside);
    f.seams.push(vec![at(-0.14, waist_y, cut), at(0.14, waist_y, cut)]);
    for side in [-1.0f32, 1.0] {
        f.seams.push(vec![at(side * 0.07, waist_y, cut), at(side * 0.07, 0.33, cut)]); // darts
        f.stitches.push(vec![at(side * 0.21, 0.22, cut), at(side * 0.165, 0.27, cut)]);
    }
    f.stitches.push(vec![at(-0.29, hem_y - 0.035, cut), at(0.0, hem_y - 0.005, cut), at(0.29, hem_y - 0.035, cut)]);
    f
}

fn trousers_left(waist_y: f32, hem_y: f32, crotch_y: f32, hip: f32, hem: f32, inseam_hem: f32) -> Vec<Pt> {
    vec![
        (0.0, waist_y),
        (-0.17, waist_y),
        (-hip, crotch_y - 0.1),
        (-hip + 0.005, crotch_y),
        (-hem, hem_y),
        (-inseam_hem, hem_y),
        (-0.012, crotch_y),
        (0.0, crotch_y),
    ]
}

fn trousers(key: &str, cut: Cut) -> Flat {
    let (waist_y, crotch_y) = (0.06, 0.42);
    let full = if key == "shorts" { 0.62 } else { 1.16 };
    let hem_y = crotch_y + (full - crotch_y) * cut.length.min(1.0);
    let (hem, inseam) = match key {
        "jeans" => (0.16, 0.035),
        "shorts" => (0.2, 0.01),
        _ => (0.17, 0.03),
    };
    let left = trousers_left(waist_y, hem_y, crotch_y, 0.19, hem, inseam);
    let mut f = Flat { outline: mirror(&left, cut), ..Flat::default() };
    f.seams.push(vec![at(-0.17, waist_y + 0.05, cut), at(0.17, waist_y + 0.05, cut)]); // waistband
    f.seams.push(vec![at(0.0, waist_y + 0.05, cut), at(0.0, crotch_y, cut)]);
    f.stitches.push(vec![at(0.035, waist_y + 0.05, cut), at(0.035, 0.3, cut), at(0.0, 0.34, cut)]); // fly
    f.buttons.push((at(0.0, waist_y + 0.025, cut), 0.011));
    for s in both(&[(-hem + 0.005, hem_y - 0.03), (-inseam - 0.005, hem_y - 0.03)], cut) {
        f.stitches.push(s);
    }
    for side in [-1.0f32, 1.0] {
        // Front pockets: a scoop on jeans, a slant elsewhere; belt loops.
        let pocket = if key == "jeans" {
            curve(at(side * 0.1, waist_y + 0.05, cut), at(side * 0.11, 0.2, cut), at(side * 0.18, 0.2, cut), 6)
        } else {
            vec![at(side * 0.12, waist_y + 0.05, cut), at(side * 0.185, 0.24, cut)]
        };
        f.seams.push(pocket.clone());
        f.stitches.push(shift(&pocket, 0.012));
        for x in [0.06, 0.15] {
            f.seams.push(vec![at(side * x, waist_y, cut), at(side * x, waist_y + 0.05, cut)]);
        }
    }
    if key == "jeans" {
        f.seams.push(vec![at(-0.16, 0.12, cut), at(-0.16, 0.17, cut), at(-0.12, 0.17, cut), at(-0.12, 0.12, cut)]); // coin pocket
        f.rivets.push((at(-0.1, 0.115, cut), 0.006));
        f.rivets.push((at(0.1, 0.115, cut), 0.006));
        f.rivets.push((at(-0.175, 0.195, cut), 0.006));
        f.rivets.push((at(0.175, 0.195, cut), 0.006));
    }
    f
}

fn skirt(cut: Cut) -> Flat {
    let (waist_y, hem_y) = (0.12, 0.12 + 0.72 * cut.length);
    let left = [(0.0, waist_y), (-0.16, waist_y), (-0.17, waist_y + 0.06), (-0.26, hem_y - 0.015), (0.0, hem_y)];
    let mut f = Flat { outline: mirror(&left, cut), ..Flat::default() };
    f.seams.push(vec![at(-0.165, waist_y + 0.05, cut), at(0.165, waist_y + 0.05, cut)]);
    f.stitches.push(vec![at(-0.25, hem_y - 0.04, cut), at(0.0, hem_y - 0.025, cut), at(0.25, hem_y - 0.04, cut)]);
    f.seams.push(vec![at(0.05, waist_y + 0.05, cut), at(0.05, waist_y + 0.2, cut)]); // zip
    f.rivets.push((at(0.05, waist_y + 0.06, cut), 0.006));
    f
}

fn jumpsuit(cut: Cut) -> Flat {
    let waist_y = 0.46;
    let crotch_y = 0.68;
    let hem_y = crotch_y + 0.5 * cut.length.min(1.0);
    let left = [
        (0.0, 0.132),
        (-0.08, 0.12),
        (-0.15, 0.15),
        (-0.165, 0.27),
        (-0.16, 0.34),
        (-0.15, waist_y),
        (-0.19, crotch_y - 0.08),
        (-0.18, crotch_y),
        (-0.17, hem_y),
        (-0.03, hem_y),
        (-0.012, crotch_y),
        (0.0, crotch_y),
    ];
    let mut f = Flat { outline: mirror(&left, cut), ..Flat::default() };
    let front = curve(at(-0.08, 0.12, cut), at(-0.07, 0.24, cut), at(0.0, 0.24, cut), 6);
    let mut inside = front.clone();
    inside.extend(front.iter().rev().map(|(x, y)| (1.0 - x, *y)));
    f.inside.push(inside);
    f.seams.push(vec![at(-0.15, waist_y, cut), at(0.15, waist_y, cut)]);
    f.seams.push(vec![at(0.0, 0.24, cut), at(0.0, crotch_y, cut)]);
    buttons_down(&mut f, 0.5, 0.28, waist_y - 0.03, 3, 0.009);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_is_closed_symmetric_and_inside_the_canvas() {
        for key in [
            "t-shirt", "top", "shirt", "blouse", "sweater", "hoodie", "jacket", "coat", "vest", "dress", "jumpsuit",
            "skirt", "pants", "jeans", "shorts",
        ] {
            for fit in FIT_WORDS {
                let f = flat(key, Cut::new(Some(fit), None)).unwrap();
                assert!(f.outline.len() >= 6, "{key}");
                for p in &f.outline {
                    assert!(p.0 > 0.0 && p.0 < 1.0 && p.1 >= 0.0 && p.1 <= CANVAS_H, "{key} {fit}: {p:?}");
                    // Symmetric: the mirror image of every point is on the outline too.
                    assert!(
                        f.outline.iter().any(|q| (q.0 - (1.0 - p.0)).abs() < 1e-4 && (q.1 - p.1).abs() < 1e-4),
                        "{key}: {p:?}"
                    );
                }
            }
        }
        assert!(flat("shoes", Cut::new(None, None)).is_none());
    }

    #[test]
    fn fit_and_length_change_the_cut() {
        let width = |fit| {
            let f = flat("t-shirt", Cut::new(Some(fit), None)).unwrap();
            f.outline.iter().map(|p| p.0).fold(0.0f32, f32::max) - f.outline.iter().map(|p| p.0).fold(1.0f32, f32::min)
        };
        assert!(width("slim") < width("regular") && width("regular") < width("loose"));
        let hem =
            |len| flat("dress", Cut::new(None, Some(len))).unwrap().outline.iter().map(|p| p.1).fold(0.0f32, f32::max);
        assert!(hem("short") < hem("knee") && hem("knee") < hem("maxi"));
    }
}
