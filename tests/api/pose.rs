//! Pose, face and face mesh on real photos against golden keypoints: every landmark the golden
//! marks visible must be within 2 % of the image's longer side. `FIGUR_BLESS=1` rewrites the
//! golden file and draws overlays under `target/tmp/pose-*.png` — look at them before committing.

use std::time::Duration;

use figur_engine::workflow::person::{self, Analysis, VISIBLE};
use image::{Rgb, RgbImage};
use serde_json::{json, Value};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/pose-keypoints.json");
const TOLERANCE: f32 = 0.02;

fn sessions() -> figur_models::Sessions {
    let cache = figur_models::Cache::new(figur_engine::engine::default_cache_dir().unwrap());
    figur_models::Sessions::new(cache, figur_models::Providers::parse("cpu").unwrap(), Duration::from_secs(60))
}

fn photo(name: &str) -> RgbImage {
    let cache = figur_models::Cache::new(figur_engine::engine::default_cache_dir().unwrap());
    let path = figur_models::samples::get(&cache, name).expect("`figur samples` fetches the sample photos");
    figur_pixels::vision::decode::decode(&std::fs::read(path).unwrap()).unwrap()
}

/// What the golden file records per photo: people seen, the 33 landmarks, the face mesh's centre.
fn summary(a: &Analysis) -> Value {
    let face = a.face.as_ref().and_then(|f| f.mesh.as_ref()).map(|m| {
        let outline = m.outline();
        let n = outline.len() as f32;
        let (x, y) = outline.iter().fold((0.0, 0.0), |(sx, sy), p| (sx + p.0, sy + p.1));
        json!([(x / n).round(), (y / n).round()])
    });
    json!({
        "people": a.matte.people,
        "landmarks": a.landmarks.iter().map(|l| json!([l.x.round(), l.y.round(), (l.visibility as f64 * 100.0).round() / 100.0])).collect::<Vec<_>>(),
        "face_centre": face,
    })
}

fn dot(img: &mut RgbImage, x: f32, y: f32, r: i32, c: Rgb<u8>) {
    for dy in -r..=r {
        for dx in -r..=r {
            let (px, py) = (x as i32 + dx, y as i32 + dy);
            if dx * dx + dy * dy <= r * r
                && px >= 0
                && py >= 0
                && (px as u32) < img.width()
                && (py as u32) < img.height()
            {
                img.put_pixel(px as u32, py as u32, c);
            }
        }
    }
}

fn overlay(photo: &RgbImage, a: &Analysis) -> RgbImage {
    let mut img = photo.clone();
    if let Some(mesh) = a.face.as_ref().and_then(|f| f.mesh.as_ref()) {
        for p in &mesh.points {
            dot(&mut img, p[0], p[1], 0, Rgb([0, 255, 255]));
        }
        for (x, y) in mesh.outline() {
            dot(&mut img, x, y, 1, Rgb([255, 0, 255]));
        }
    }
    for l in &a.landmarks {
        let c = if l.visibility >= VISIBLE { Rgb([255, 40, 40]) } else { Rgb([120, 120, 255]) };
        dot(&mut img, l.x, l.y, 3, c);
    }
    img
}

/// One photo per block, one landmark per line: a reviewable diff when the golden changes.
fn compact(found: &serde_json::Map<String, Value>) -> String {
    let photos: Vec<String> = found
        .iter()
        .map(|(name, v)| {
            let marks: Vec<String> = v["landmarks"].as_array().unwrap().iter().map(|l| format!("      {l}")).collect();
            format!(
                "  \"{name}\": {{\n    \"people\": {},\n    \"face_centre\": {},\n    \"landmarks\": [\n{}\n    ]\n  }}",
                v["people"],
                v["face_centre"],
                marks.join(",\n")
            )
        })
        .collect();
    format!("{{\n{}\n}}\n", photos.join(",\n"))
}

#[test]
fn landmarks_and_faces_on_real_photos_match_the_golden_within_2_percent() {
    let models = sessions();
    let bless = std::env::var("FIGUR_BLESS").is_ok_and(|v| v == "1");
    let golden: Value =
        if bless { json!({}) } else { serde_json::from_str(&std::fs::read_to_string(GOLDEN).unwrap()).unwrap() };
    let mut found = serde_json::Map::new();
    let mut failures = Vec::new();
    for name in ["astronaut.png", "messi5.jpg", "basketball1.png"] {
        let img = photo(name);
        let analysis = person::analyse(&mut figur_engine::workflow::models::Direct(&models), &img).unwrap();
        let now = summary(&analysis);
        if bless {
            let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("pose-{name}.png"));
            overlay(&img, &analysis).save(out).unwrap();
            found.insert(name.into(), now);
            continue;
        }
        let want = &golden[name];
        let limit = TOLERANCE * img.width().max(img.height()) as f32;
        assert_eq!(now["people"], want["people"], "{name}: people seen");
        let near = |a: &Value, b: &Value| {
            let (ax, ay, bx, by) = (a[0].as_f64(), a[1].as_f64(), b[0].as_f64(), b[1].as_f64());
            matches!((ax, ay, bx, by), (Some(ax), Some(ay), Some(bx), Some(by)) if ((ax - bx).hypot(ay - by) as f32) <= limit)
        };
        for (i, (w, n)) in
            want["landmarks"].as_array().unwrap().iter().zip(now["landmarks"].as_array().unwrap()).enumerate()
        {
            if w[2].as_f64().unwrap_or(0.0) >= VISIBLE as f64 && !near(w, n) {
                failures.push(format!("{name}: landmark {i} at {n}, golden {w} (limit {limit:.1} px)"));
            }
        }
        if !want["face_centre"].is_null() && !near(&want["face_centre"], &now["face_centre"]) {
            failures.push(format!("{name}: face centre {} vs golden {}", now["face_centre"], want["face_centre"]));
        }
    }
    if bless {
        std::fs::write(GOLDEN, compact(&found)).unwrap();
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn in_a_two_person_photo_the_largest_person_is_analysed_and_counted() {
    let models = sessions();
    let img = photo("basketball1.png");
    let a = person::analyse(&mut figur_engine::workflow::models::Direct(&models), &img).unwrap();
    assert_eq!(a.matte.people, 2, "both players are seen");
    // The larger person is the one on the right (the nearer player); the left one is dropped.
    let (mut left, mut right) = (0.0, 0.0);
    for y in 0..a.matte.alpha.height {
        for x in 0..a.matte.alpha.width {
            let v = a.matte.alpha.at(x, y);
            if x < a.matte.alpha.width / 3 {
                left += v
            } else if x > a.matte.alpha.width * 2 / 3 {
                right += v
            }
        }
    }
    assert!(right > 20.0 * left.max(1.0), "kept the right-hand person: left {left}, right {right}");
    let hips = (a.landmarks[23].x + a.landmarks[24].x) / 2.0;
    assert!(hips > img.width() as f32 * 0.6, "pose on the kept person, hips at x={hips}");
}
