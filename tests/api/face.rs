//! The face detector on a real photo: one face, where it is.

use std::time::Duration;

use figur_pixels::vision::face;

#[test]
fn the_astronauts_face_is_found_where_it_is() {
    let cache = figur_models::Cache::new(figur_engine::engine::default_cache_dir().unwrap());
    let sessions =
        figur_models::Sessions::new(cache, figur_models::Providers::parse("cpu").unwrap(), Duration::from_secs(60));
    let model = sessions.get("face-detector").expect("`figur models fetch` installs the face detector");
    let photo = image::load_from_memory(&crate::photos::astronaut()).unwrap().to_rgb8();
    let (input, letterbox) = face::input(&photo);
    let out = model.run_f32(vec![("input:0".into(), vec![1, face::INPUT_SIDE, face::INPUT_SIDE, 3], input)]).unwrap();
    let get = |name: &str| out.iter().find(|(n, _, _)| n == name).unwrap().2.clone();
    let scores = [get("Identity:0"), get("Identity_1:0")].concat();
    let boxes = [get("Identity_2:0"), get("Identity_3:0")].concat();
    let faces = face::decode(&scores, &boxes, letterbox);
    assert_eq!(faces.len(), 1, "{faces:?}");
    let f = faces[0];
    let (cx, cy) = ((f.x0 + f.x1) / 2.0, (f.y0 + f.y1) / 2.0);
    // The pose model puts her nose at (231, 116); the face box must sit around it (5 % of 512).
    assert!((cx - 231.0).abs() < 26.0 && (cy - 116.0).abs() < 26.0, "face centre ({cx}, {cy}): {f:?}");
    assert!(f.x1 - f.x0 > 50.0 && f.x1 - f.x0 < 160.0, "face width {}", f.x1 - f.x0);
}
