//! Try-on without the server, for looking at results while working on the fit:
//! `cargo run --release -p figur-engine --example try_on -- PERSON GARMENT CATEGORY OUT.png [1K]`

use std::time::Duration;

use figur_engine::domain::requests::Resolution;
use figur_engine::workflow::models::Direct;
use figur_engine::workflow::try_on::Session;
use figur_engine::workflow::{person, wear};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [person_path, garment_path, category, out, ..] = &args[..] else {
        eprintln!("usage: try_on PERSON GARMENT CATEGORY OUT.png [0.5K|1K|2K|4K]");
        std::process::exit(2);
    };
    let resolution: Resolution =
        serde_json::from_value(serde_json::json!(args.get(4).map(String::as_str).unwrap_or("1K"))).unwrap();
    let cache = figur_models::Cache::new(figur_engine::engine::default_cache_dir().unwrap());
    let models = figur_models::Sessions::new(cache, figur_models::Providers::auto(), Duration::from_secs(60));
    let load = |p: &str| figur_pixels::vision::decode::decode(&std::fs::read(p).unwrap()).unwrap();
    let photo = Session::at_resolution(load(person_path), resolution);
    let t = std::time::Instant::now();
    let analysis = person::analyse(&mut Direct(&models), &photo).unwrap();
    let garment =
        wear::prepare(&mut Direct(&models), &load(garment_path), None, wear::category(category).unwrap()).unwrap();
    println!(
        "garment shape: {:?}",
        match &garment.shape {
            wear::Shape::Product(a, _) => format!("{a:?}"),
            other => format!("{:?}", std::mem::discriminant(other)),
        }
    );
    garment.image.save(format!("{out}.garment.png")).unwrap();
    let (dressed, layers) = wear::dress(&photo, &analysis, &[garment], 1.0, &mut || Ok(())).unwrap();
    println!("dressed in {:?}", t.elapsed());
    dressed.save(out).unwrap();
    layers[0].save(format!("{out}.layer.png")).unwrap();
}
