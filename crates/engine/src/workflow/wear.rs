//! Dressing a person, shared by try-on, product-to-model and model-swap: each garment photo
//! becomes a clean cutout with its landmarks (from its silhouette for a product shot, from its
//! wearer's pose for an on-model photo), is fitted to the person's body and warped there, and
//! the layers are composed in wardrobe order over the photo, face and hands kept in front.

use image::{RgbImage, RgbaImage};

use super::models::{ModelKind, ModelSource};
use super::person::{self, Analysis, VISIBLE};
use super::subject::{self, PERSON_SHARE};
use crate::domain::garments::{self, GarmentCategory, Region};
use crate::failure::{FailureCode, JobError};
use figur_pixels::plane::Plane;
use figur_pixels::vision::dress::{self, Wearer};
use figur_pixels::vision::fit::{self, Body, FitError};
use figur_pixels::vision::garment::{self, Anchor, Family};
use figur_pixels::vision::pose::Landmark;
use figur_pixels::vision::{foreground, limbs, place, product, regions, skin};

type P = (f32, f32);

/// Where a garment's landmarks come from.
#[derive(Debug, Clone)]
pub enum Shape {
    /// A product shot: landmarks from the silhouette, and for a top with sleeves apart from
    /// its body or for trousers, the parts fitted one by one.
    Product(Vec<(Anchor, P)>, Option<Box<limbs::Parts>>),
    /// Worn in its photo: that wearer's pose.
    OnModel(Vec<Landmark>),
    /// Shoes and accessories: the item's box, and for shoes whether it holds a pair.
    Placed { item: (f32, f32, f32, f32), pair: bool },
}

/// A garment ready to fit.
#[derive(Debug, Clone)]
pub struct Garment {
    pub category: &'static GarmentCategory,
    pub family: Family,
    /// The cutout, straight alpha, background colours solved away at its edge.
    pub image: RgbaImage,
    pub shape: Shape,
}

fn mismatch(category: &GarmentCategory, why: impl Into<String>) -> JobError {
    FailureCode::CategoryMismatch.with(format!("the {} photo {}", category.key, why.into()))
}

/// The body region an on-model garment occupies in its photo.
fn worn_region(family: Family, region: Region) -> Option<regions::Region> {
    match (family, region) {
        (Family::Top, _) => Some(regions::Region::Upper),
        (Family::Legs | Family::Skirt, _) => Some(regions::Region::Lower),
        (Family::Full, _) => Some(regions::Region::Full),
        (Family::Placed, Region::Feet) => Some(regions::Region::Feet),
        _ => None,
    }
}

/// Turns a garment photo into a [`Garment`]. On-model photos use the wearer's pose; product
/// shots their silhouette.
pub fn prepare(
    ctx: &mut dyn ModelSource,
    photo: &RgbImage,
    cutout_alpha: Option<&Plane>,
    category: &'static GarmentCategory,
) -> Result<Garment, JobError> {
    let family = category.region.fit_family(category.key);
    if let Some(alpha) = cutout_alpha {
        // A cutout (transparent PNG): its own alpha is the best matte there is.
        return product(photo, alpha.clone(), category, family);
    }
    let seg = figur_pixels::vision::matte::segment(
        photo,
        &crate::workflow::models::ModelSegmenter(ctx.model(ModelKind::PersonMatte)?),
    )?;
    let matte = figur_pixels::vision::matte::refine(photo, &seg, &mut || ctx.checkpoint())?;
    let (w, h) = (photo.width() as usize, photo.height() as usize);
    if matte.coverage >= PERSON_SHARE && family != Family::Placed {
        let pose = ctx.model(ModelKind::Pose)?;
        let landmarks = person::landmarks(&*pose, photo, &matte.alpha)?;
        let wanted = worn_region(family, category.region).ok_or_else(|| mismatch(category, "shows a person"))?;
        let band = regions::bands(&landmarks, h as f32, family == Family::Full)
            .into_iter()
            .find(|(r, _, _)| *r == wanted)
            .ok_or_else(|| mismatch(category, format!("does not show the {} body", wanted.name())))?;
        // A top taken off a photo ends just above the hip joints: below is the other garment.
        let bottom = if family == Family::Top {
            let hips = (landmarks[23].y + landmarks[24].y) / 2.0;
            let shoulders = (landmarks[11].y + landmarks[12].y) / 2.0;
            band.2.min(hips - 0.1 * (hips - shoulders).abs())
        } else {
            band.2
        };
        let mut alpha = regions::cut(&matte.alpha, band.1, bottom, 0.01 * h as f32);
        // Keep the clothes, not the wearer: skin (arms, neck, legs) and the hands go.
        if let Some(skin) = skin::likelihood(photo, &landmarks) {
            for (a, s) in alpha.data.iter_mut().zip(&skin.data) {
                *a *= 1.0 - s;
            }
        }
        let coverage = alpha.data.iter().filter(|a| **a > 0.5).count() as f32 / (w * h) as f32;
        if coverage < 0.01 {
            return Err(mismatch(category, format!("shows no garment on the {} body", wanted.name())));
        }
        return Ok(Garment {
            category,
            family,
            image: foreground::cutout(photo, &alpha),
            shape: Shape::OnModel(landmarks),
        });
    }
    let learned = subject::product_matte(ctx)?;
    let alpha = subject::product_alpha(photo, &learned)?
        .ok_or_else(|| FailureCode::GarmentNotFound.with(format!("no {} was found in its photo", category.key)))?;
    product(photo, alpha, category, family)
}

/// A product shot's garment from its matte: the largest item (shoes: a pair), its landmarks.
fn product(
    photo: &RgbImage,
    alpha: Plane,
    category: &'static GarmentCategory,
    family: Family,
) -> Result<Garment, JobError> {
    let items = product::items(&alpha, 0.01);
    let first = items.first().ok_or_else(|| FailureCode::GarmentNotFound.with("the garment photo is empty"))?;
    // Shoes often come as a pair: keep both; anything else is its largest item.
    let pair = category.region == Region::Feet && items.len() >= 2;
    let alpha = if pair {
        let mut both = first.alpha.clone();
        for (a, b) in both.data.iter_mut().zip(&items[1].alpha.data) {
            *a = a.max(*b);
        }
        both
    } else {
        first.alpha.clone()
    };
    let shape = if family == Family::Placed {
        let (x0, y0, x1, y1) = figur_pixels::vision::composite::subject_box(&alpha)
            .ok_or_else(|| FailureCode::GarmentNotFound.with("the garment photo is empty"))?;
        Shape::Placed { item: (x0 as f32, y0 as f32, x1 as f32, y1 as f32), pair }
    } else {
        let anchors = garment::anchors(&alpha, family)
            .ok_or_else(|| mismatch(category, "has no garment shape the studio can read"))?;
        if family == Family::Legs && garment::find(&anchors, Anchor::Crotch).is_none() {
            return Err(mismatch(category, "shows no two legs: is it a skirt?"));
        }
        let parts = match family {
            Family::Top | Family::Full => limbs::sleeves(&alpha, &anchors),
            Family::Legs => limbs::legs(&alpha, &anchors),
            _ => None,
        }
        .map(Box::new);
        Shape::Product(anchors, parts)
    };
    Ok(Garment { category, family, image: foreground::cutout(photo, &alpha), shape })
}

/// Drawing order: bottoms, then full pieces and tops (a tucked top goes under the bottoms),
/// outerwear, shoes, accessories; inside a slot, the category's layer.
pub fn order(garments: &mut [Garment], tuck: bool) {
    garments.sort_by_key(|g| {
        let slot = match (g.category.region, tuck) {
            (Region::Lower, false) => 1,
            (Region::Lower, true) => 3,
            (Region::Full, _) => 2,
            (Region::Upper, _) => 2,
            (Region::Outer, _) => 4,
            (Region::Feet, _) => 5,
            _ => 6,
        };
        (slot, g.category.layer)
    });
}

fn fit_error(g: &Garment, e: FitError) -> JobError {
    match e {
        FitError::NotVisible(part) => FailureCode::RegionNotVisible
            .with(format!("the person photo does not show the {part} needed for the {}", g.category.key)),
        FitError::Shape(why) => mismatch(g.category, why),
    }
}

/// One warp of a garment: the share of its alpha it moves (all of it when `None`) and the
/// garment → person point pairs.
pub struct Piece<'a> {
    pub mask: Option<&'a Plane>,
    pub pairs: Vec<(P, P)>,
}

impl<'a> Piece<'a> {
    fn whole(pairs: Vec<(P, P)>) -> Piece<'a> {
        Piece { mask: None, pairs }
    }
}

/// The warps (garment → person) for one garment: a top cut into body and sleeves gives three,
/// shoes one per foot, anything else one.
pub fn pieces<'a>(g: &'a Garment, person: &Analysis) -> Result<Vec<Piece<'a>>, JobError> {
    let body = Body::from_landmarks(&person.landmarks).ok_or_else(|| JobError::internal("no landmarks"))?;
    let matte = &person.matte.alpha;
    let reach = |from: P, dir: P| regions::silhouette_reach(matte, from, dir);
    match &g.shape {
        Shape::Product(anchors, None) => {
            Ok(vec![Piece::whole(fit::targets(&body, g.family, anchors, Some(&reach)).map_err(|e| fit_error(g, e))?)])
        }
        Shape::Product(anchors, Some(parts)) => {
            // The body piece takes the garment's own points but the limbs'.
            let limb_anchors =
                [Anchor::SleeveL, Anchor::SleeveR, Anchor::LegOutL, Anchor::LegInL, Anchor::LegInR, Anchor::LegOutR];
            let own: Vec<(Anchor, P)> = anchors.iter().copied().filter(|(a, _)| !limb_anchors.contains(a)).collect();
            let mut out = vec![Piece {
                mask: Some(&parts.body),
                pairs: fit::targets(&body, g.family, &own, Some(&reach)).map_err(|e| fit_error(g, e))?,
            }];
            // Each limb follows its arm or leg from where the body's frame puts its root.
            let sides = parts.limbs.iter().zip([true, false]);
            let paths: Vec<(Vec<P>, f32)> = if g.family == Family::Legs {
                let hip = fit::HipFrame::new(&body, &own).map_err(|e| fit_error(g, e))?;
                sides.map(|(limb, left)| (hip.leg_path(&body, hip.map(limb.root), left), hip.scale)).collect()
            } else {
                let frame = fit::TorsoFrame::new(&body, &own).map_err(|e| fit_error(g, e))?;
                sides.map(|(limb, left)| (fit::arm_path(&body, &frame, frame.map(limb.root), left), frame.s)).collect()
            };
            for (limb, (path, scale)) in parts.limbs.iter().zip(paths) {
                out.push(Piece { mask: Some(&limb.mask), pairs: limbs::pairs(limb, &path, scale) });
            }
            Ok(out)
        }
        Shape::OnModel(from) => {
            let mut set = fit::between_people(from, &person.landmarks, g.family).map_err(|e| fit_error(g, e))?;
            if matches!(g.family, Family::Top | Family::Full) {
                set.extend(torso_sides(g, from, person));
            }
            Ok(vec![Piece::whole(set)])
        }
        Shape::Placed { item, pair } if g.category.region == Region::Feet => {
            let feet = place::feet(&person.landmarks).map_err(|e| fit_error(g, e))?;
            let (x0, y0, x1, y1) = *item;
            let cx = (x0 + x1) / 2.0;
            // A pair: the image-left shoe goes on the image-left foot.
            let halves = if *pair { vec![(x0, y0, cx, y1), (cx, y0, x1, y1)] } else { vec![*item, *item] };
            Ok(feet
                .iter()
                .enumerate()
                .map(|(i, ((a, b), toe_left))| {
                    let half = halves[i.min(halves.len() - 1)];
                    let toe_left_in_photo = garment::toe_points_left(&g.image, half);
                    Piece::whole(place::onto(half, *a, *b, toe_left_in_photo != *toe_left))
                })
                .collect())
        }
        Shape::Placed { item, .. } => {
            let mesh = person.face.as_ref().and_then(|f| f.mesh.as_ref());
            let (a, b) = place::slot(g.category.key, &person.landmarks, mesh).map_err(|e| fit_error(g, e))?;
            Ok(vec![Piece::whole(place::onto(*item, a, b, false))])
        }
    }
}

/// The garment's sides at two heights of the torso, onto the person's silhouette there (at most
/// 1.6 shoulder widths wide): a garment from a slimmer wearer widens to cover a broader body.
fn torso_sides(g: &Garment, from: &[Landmark], person: &Analysis) -> Vec<(P, P)> {
    let extent = |row: usize, width: usize, opaque: &dyn Fn(usize) -> bool| {
        let first = (0..width).find(|&x| opaque(row * width + x))?;
        let last = (0..width).rev().find(|&x| opaque(row * width + x))?;
        Some((first as f32, last as f32 + 1.0))
    };
    let to = &person.landmarks;
    let mut out = Vec::new();
    for t in [0.35f32, 0.75] {
        let at = |l: &[Landmark]| {
            let s = ((l[11].x + l[12].x) / 2.0, (l[11].y + l[12].y) / 2.0);
            let h = ((l[23].x + l[24].x) / 2.0, (l[23].y + l[24].y) / 2.0);
            (s.0 + (h.0 - s.0) * t, s.1 + (h.1 - s.1) * t, (l[11].x - l[12].x).hypot(l[11].y - l[12].y))
        };
        let (gx, gy, _) = at(from);
        let (px, py, sw) = at(to);
        let (gw, gh) = (g.image.width() as usize, g.image.height() as usize);
        let (mw, mh) = (person.matte.alpha.width, person.matte.alpha.height);
        if gy < 0.0 || py < 0.0 || gy as usize >= gh || py as usize >= mh {
            continue;
        }
        let raw = g.image.as_raw();
        let garment = extent(gy as usize, gw, &|k| raw[k * 4 + 3] > 127);
        let body = extent(py as usize, mw, &|k| person.matte.alpha.data[k] > 0.5);
        if let (Some((gl, gr)), Some((bl, br))) = (garment, body) {
            let (bl, br) = (bl.max(px - 0.8 * sw), br.min(px + 0.8 * sw));
            if gl < gx && gr > gx && bl < px && br > px {
                out.push(((gl, gy), (bl, py)));
                out.push(((gr, gy), (br, py)));
            }
        }
    }
    out
}

/// What the person keeps in front of every garment: the face (from the mesh, grown a little)
/// and the hands.
pub fn protect(person: &Analysis, width: usize, height: usize) -> Plane {
    let l = &person.landmarks;
    let sw = (l[11].x - l[12].x).hypot(l[11].y - l[12].y).max(8.0);
    let hands: Vec<(P, f32)> =
        (15..=22).filter(|&i| l[i].visibility >= VISIBLE).map(|i| ((l[i].x, l[i].y), sw * 0.09)).collect();
    let mut mask = dress::discs(width, height, &hands);
    if let Some(mesh) = person.face.as_ref().and_then(|f| f.mesh.as_ref()) {
        let face = dress::allowed(&mesh.mask(width, height), (sw * 0.02) as usize + 1);
        for (m, f) in mask.data.iter_mut().zip(&face.data) {
            *m = m.max(if *f > 0.0 { 1.0 } else { 0.0 });
        }
    }
    mask
}

/// Dresses `photo` (the person of `person`) in `garments`, in the order given; `shading` (0..1)
/// scales how much of the photo's own light and folds the garments take (low for a drawn
/// figure, whose lines are not folds). Returns the dressed photo and each garment's warped layer.
pub fn dress(
    photo: &RgbImage,
    person: &Analysis,
    garments: &[Garment],
    shading: f32,
    check: &mut dyn FnMut() -> Result<(), JobError>,
) -> Result<(RgbImage, Vec<RgbaImage>), JobError> {
    let (w, h) = (photo.width(), photo.height());
    let long = w.max(h) as usize;
    let wearer = Wearer {
        allowed: dress::allowed(&person.matte.alpha, long / 40),
        protect: protect(person, w as usize, h as usize),
        shading: dress::shading(photo),
    };
    let mut canvas = photo.clone();
    let mut layers = Vec::new();
    for g in garments {
        check()?;
        let mut layer = RgbaImage::new(w, h);
        for piece in pieces(g, person)? {
            let masked;
            let source = match piece.mask {
                Some(mask) => {
                    masked = dress::masked(&g.image, mask);
                    &masked
                }
                None => &g.image,
            };
            let warped = dress::warp(source, &piece.pairs, w, h)
                .ok_or_else(|| mismatch(g.category, "could not be fitted (its landmarks are degenerate)"))?;
            dress::over(&mut layer, &warped);
        }
        let shade = if matches!(g.shape, Shape::OnModel(_)) { 0.5 } else { 0.8 } * shading;
        dress::wear(&mut canvas, &layer, &wearer, shade);
        layers.push(layer);
    }
    Ok((canvas, layers))
}

/// A garment category by key (the request was validated against the list).
pub fn category(key: &str) -> Result<&'static GarmentCategory, JobError> {
    garments::by_key(key).ok_or_else(|| JobError::internal(format!("unknown garment category {key}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn garment(key: &str) -> Garment {
        let category = garments::by_key(key).unwrap();
        Garment {
            category,
            family: category.region.fit_family(key),
            image: RgbaImage::new(1, 1),
            shape: Shape::Product(Vec::new(), None),
        }
    }

    #[test]
    fn layers_go_on_in_wardrobe_order_and_tucking_puts_tops_under_bottoms() {
        let mut g = vec![garment("coat"), garment("jeans"), garment("t-shirt"), garment("hat"), garment("shoes")];
        order(&mut g, false);
        let keys: Vec<&str> = g.iter().map(|g| g.category.key).collect();
        assert_eq!(keys, ["jeans", "t-shirt", "coat", "shoes", "hat"]);
        order(&mut g, true);
        let keys: Vec<&str> = g.iter().map(|g| g.category.key).collect();
        assert_eq!(keys, ["t-shirt", "jeans", "coat", "shoes", "hat"]);
    }
}
