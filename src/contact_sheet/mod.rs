//! `figur contact-sheet`: every workflow this build runs, on real photos, tiled into one PNG for
//! a person to look at — one row per photo: the photo, two background swaps, its extracted
//! cutouts (on a checkerboard, so transparency shows); then try-on with product shots (generated
//! flats), try-on from on-model photos (and the same drawn by a try-on model, when one is
//! added), a row of generated backdrops, the product mattes side by side and crops enlarged
//! ×4 (`quality`), and, when a diffusion model is added, a row it draws (backdrops from free
//! text and a model photo).

mod quality;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use figur_engine::Operation;
use figur_engine::{Caller, Engine, EngineConfig, Mode};
use image::{imageops, Rgba, RgbaImage};
use serde_json::{json, Value};

const TILE: u32 = 360;
const GAP: u32 = 12;

async fn run(engine: &Arc<Engine>, op: Operation, body: Value) -> Result<Vec<(String, RgbaImage)>> {
    let owner = Caller::owner(Mode::Live);
    let accepted = engine.dispatch(&owner, op, body, &figur_engine::ids::new_id(), None).await?;
    let event = engine.follow(Mode::Live, &accepted.job_id, 0, |_| {}).await?;
    if event.event_type != figur_engine::domain::job::EventType::Succeeded {
        eprintln!("  {} failed: {}", op.name(), event.message);
        return Ok(Vec::new());
    }
    let mut images = Vec::new();
    for a in &event.artifacts {
        let path = a.image_url.split("/v1/artifacts/live/").nth(1).and_then(|k| k.split('?').next()).unwrap_or("");
        let file = engine.data_dir().join("live/store").join(path);
        images.push((a.label.clone(), image::open(&file).with_context(|| file.display().to_string())?.to_rgba8()));
    }
    Ok(images)
}

fn tile(img: &RgbaImage) -> RgbaImage {
    let scale = TILE as f32 / img.height().max(1) as f32;
    let w = ((img.width() as f32 * scale).round() as u32).clamp(1, TILE * 2);
    let scaled = imageops::resize(img, w, TILE, imageops::FilterType::Triangle);
    let mut out = RgbaImage::from_fn(w, TILE, |x, y| {
        if (x / 12 + y / 12) % 2 == 0 {
            Rgba([235, 235, 235, 255])
        } else {
            Rgba([205, 205, 205, 255])
        }
    });
    imageops::overlay(&mut out, &scaled, 0, 0);
    out
}

/// Runs each job and adds its images to `row` as tiles.
async fn run_into(row: &mut Vec<RgbaImage>, engine: &Arc<Engine>, jobs: Vec<(Operation, Value)>) -> Result<()> {
    for (op, body) in jobs {
        for (label, img) in run(engine, op, body).await? {
            eprintln!("  {}: {label}", op.name());
            row.push(tile(&img));
        }
    }
    Ok(())
}

/// The two sample people — half body (`astronaut`), full body (`messi5`) — as (photo, upload
/// key), when both are among `photos`.
async fn sample_people(
    engine: &Arc<Engine>,
    owner: &Caller,
    photos: &[PathBuf],
) -> Result<Option<[(PathBuf, String); 2]>> {
    let find = |name: &str| photos.iter().find(|p| p.file_name().is_some_and(|n| n == name));
    let (Some(half_body), Some(full_body)) = (find("astronaut.png"), find("messi5.jpg")) else { return Ok(None) };
    let mut people = Vec::new();
    for path in [half_body, full_body] {
        people.push((path.clone(), engine.upload(owner, "photo.png", std::fs::read(path)?).await?.upload_key));
    }
    Ok(people.try_into().ok())
}

/// `runtime_config` naming the try-on model that draws (`None`: the fitted draft, even when
/// the studio has a try-on model).
fn drawn_by(model: Option<&str>) -> Value {
    json!({ "try_on_model": model.map_or(json!(false), |m| json!(m)) })
}

/// The try-on family with on-model photos: the two people, the full-body person's top on the
/// half-body one, then the half-body photo as the product on the full-body person made a catalog
/// model (product-to-model), and a model swap — fitted, or drawn by the try-on model `model`.
async fn try_on_row(
    engine: &Arc<Engine>,
    owner: &Caller,
    people: &[(PathBuf, String); 2],
    model: Option<&str>,
) -> Result<Vec<RgbaImage>> {
    let config = drawn_by(model);
    let mut row = Vec::new();
    for (path, _) in people {
        row.push(tile(&image::open(path)?.to_rgba8()));
    }
    let [(_, half_body), (_, full_body)] = people;
    let catalog = engine
        .add_catalog_model(
            owner,
            figur_engine::engine::NewCatalogModel {
                upload_key: full_body.clone(),
                display_name: "Full-body sample".into(),
                description: String::new(),
                gender: None,
            },
        )
        .await?;
    let jobs = vec![
        (
            Operation::TryOn,
            json!({"user_image": half_body, "items": [{"trial_image": full_body, "trial_item_category": "top"}],
                   "runtime_config": config}),
        ),
        (
            Operation::ProductToModelDirect,
            json!({"product_image_s3_key": half_body, "product_garment_category_public_id": "01JGC0GARMENTCATEG0RY00001",
                   "model_image_public_id": catalog.public_id, "runtime_config": config}),
        ),
        (
            Operation::ModelSwapWithImage,
            json!({"source_image_s3_key": half_body, "model_image_public_id": catalog.public_id, "output_preset": "original",
                   "runtime_config": config}),
        ),
    ];
    run_into(&mut row, engine, jobs).await?;
    Ok(row)
}

/// Flats drawn by the garment generator, used as product shots: (category id, colour, material,
/// pattern, the category's key for try-on).
const FLATS: [(&str, &str, &str, &str, &str); 4] = [
    ("01JGC0GARMENTCATEG0RY00003", "sky", "cotton", "stripes", "shirt"),
    ("01JGC0GARMENTCATEG0RY0000E", "navy", "denim", "solid", "jeans"),
    ("01JGC0GARMENTCATEG0RY00002", "burgundy", "knit", "solid", "t-shirt"),
    ("01JGC0GARMENTCATEG0RY00008", "camel", "wool", "solid", "jacket"),
];

/// Try-on with product shots (the everyday case): the generated flats, then shirt and jacket on
/// the half-body person, t-shirt + jeans and shirt + jeans + jacket on the full-body one.
async fn product_row(engine: &Arc<Engine>, owner: &Caller, people: &[(PathBuf, String); 2]) -> Result<Vec<RgbaImage>> {
    let mut row = Vec::new();
    let mut flats = Vec::new();
    for (category, color, material, pattern, key) in FLATS {
        let body = json!({"garment_category_public_id": category, "color": color, "material": material, "pattern": pattern, "resolution": "1K", "seed": 3});
        let Some((_, img)) = run(engine, Operation::ComplementaryGarmentGenerator, body).await?.into_iter().next()
        else {
            continue;
        };
        let mut png = std::io::Cursor::new(Vec::new());
        img.write_to(&mut png, image::ImageFormat::Png)?;
        flats.push((engine.upload(owner, "flat.png", png.into_inner()).await?.upload_key, key));
        row.push(tile(&img));
    }
    let [shirt, jeans, tee, jacket] = flats.as_slice() else { return Ok(row) };
    let item = |f: &(String, &str)| json!({"trial_image": f.0, "trial_item_category": f.1});
    let [(_, half_body), (_, full_body)] = people;
    let fitted = drawn_by(None);
    let jobs = vec![
        (Operation::TryOn, json!({"user_image": half_body, "items": [item(shirt)], "runtime_config": fitted})),
        (Operation::TryOn, json!({"user_image": half_body, "items": [item(jacket)], "runtime_config": fitted})),
        (
            Operation::TryOn,
            json!({"user_image": full_body, "items": [item(tee), item(jeans)], "runtime_config": fitted}),
        ),
        (
            Operation::TryOn,
            json!({"user_image": full_body, "items": [item(shirt), item(jeans), item(jacket)], "runtime_config": fitted}),
        ),
    ];
    run_into(&mut row, engine, jobs).await?;
    Ok(row)
}

/// The built-in background the image swap uses.
const BACKGROUND: &str = "01JBG0BACKGR0VND0000000005";

/// With a diffusion model added (`figur models add`), the first text-to-image one draws a row:
/// the same backdrops asked in free text, and a model photo (or a note when every draw was
/// rejected); with a VAE encoder it also refines the half-body try-on and harmonises a
/// background swap of the same person. Without one, the command says so and the sheet has no
/// such row.
async fn generative_row(
    engine: &Arc<Engine>,
    cache: &figur_models::Cache,
    people: Option<&[(PathBuf, String); 2]>,
) -> Result<Option<Vec<RgbaImage>>> {
    let added = figur_models::brought::list(cache);
    let Some(model) = added.iter().find(|m| m.pipeline == "text-to-image") else {
        eprintln!("generative row: no text-to-image model is added (`figur models add`), so none is drawn");
        return Ok(None);
    };
    let name = model.name.as_str();
    eprintln!("generative row: drawn by {name} (licence {})", model.licence);
    let mut row = Vec::new();
    for (scene, mood) in [
        ("white seamless studio", "bright and airy"),
        ("raw concrete loft", "moody"),
        ("draped linen", "warm golden hour"),
    ] {
        let body = json!({"scene_type": scene, "mood": mood, "image_model": name, "resolution": "0.5K", "aspect_ratio": "3:4", "seed": 1});
        for (_, img) in run(engine, Operation::BackgroundGenerator, body).await? {
            row.push(tile(&img));
        }
    }
    let body = json!({"gender": "FEMALE", "ethnicity": "", "body_type": "athletic", "age_range": "25-34",
                      "image_model": name, "resolution": "0.5K", "seed": 1});
    // A rejected model photo is said by `run` (its failure's message) and leaves no tile.
    for (_, img) in run(engine, Operation::ModelGenerator, body).await? {
        row.push(tile(&img));
    }
    // Refinement and harmonising start from a picture: the model needs a VAE encoder.
    let (Some([(_, half_body), (_, full_body)]), true) = (people, model.image_to_image) else {
        return Ok(Some(row));
    };
    let jobs = vec![
        (
            Operation::TryOn,
            json!({"user_image": half_body, "items": [{"trial_image": full_body, "trial_item_category": "top"}],
                   "runtime_config": {"refine": name, "try_on_model": false}}),
        ),
        (
            Operation::BackgroundSwapWithSpec,
            json!({"source_image_s3_key": half_body, "output_preset": "original", "scene_type": "warm studio",
                   "mood": "calm", "runtime_config": {"harmonize": name}}),
        ),
    ];
    run_into(&mut row, engine, jobs).await?;
    Ok(Some(row))
}

pub async fn contact_sheet(out: PathBuf, photos: Vec<PathBuf>) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut config = EngineConfig::new(dir.path());
    config.concurrency = 2;
    let engine = Engine::open(config)?;
    engine.start().await?;
    engine.set_public_base("");
    // Built-in backgrounds are rendered at start (once per cache): wait for the one used below.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while engine
        .catalog_entry_by_id(Mode::Live, figur_engine::domain::catalog::CatalogResource::Backgrounds, BACKGROUND)
        .await
        .is_err()
    {
        if std::time::Instant::now() > deadline {
            bail!("the built-in backgrounds were not ready after 2 minutes");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cache = figur_models::Cache::new(figur_engine::engine::default_cache_dir().context("no cache folder")?);
    let photos = if photos.is_empty() {
        figur_models::samples::SAMPLES
            .iter()
            .map(|s| figur_models::samples::get(&cache, s.name))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        photos
    };
    let owner = Caller::owner(Mode::Live);

    let mut rows: Vec<Vec<RgbaImage>> = Vec::new();
    for photo in &photos {
        eprintln!("{}:", photo.display());
        let bytes = std::fs::read(photo).with_context(|| photo.display().to_string())?;
        let name = photo.file_name().and_then(|n| n.to_str()).unwrap_or("photo");
        let upload = engine.upload(&owner, name, bytes).await?;
        let mut row = vec![tile(&image::open(photo)?.to_rgba8())];
        let source = json!(upload.upload_key);
        let jobs = vec![
            (
                Operation::BackgroundSwapWithSpec,
                json!({"source_image_s3_key": source, "output_preset": "lookbook", "scene_type": "studio_sweep", "mood": "soft", "dominant_colors": ["sky"]}),
            ),
            (
                Operation::BackgroundSwapWithImage,
                json!({"source_image_s3_key": source, "output_preset": "original", "background_image_public_id": BACKGROUND}),
            ),
            (Operation::Extract, json!({"trial_image": source, "extraction_context": {"max_items": 4}})),
        ];
        run_into(&mut row, &engine, jobs).await?;
        rows.push(row);
    }
    let people = sample_people(&engine, &owner, &photos).await?;
    if let Some(people) = &people {
        rows.push(product_row(&engine, &owner, people).await?);
        rows.push(try_on_row(&engine, &owner, people, None).await?);
        // With a try-on model added, the same family drawn by it.
        match figur_models::brought::list(&cache).into_iter().find(|m| m.is_try_on()) {
            Some(m) => {
                eprintln!("try-on model row: drawn by {} (licence {})", m.name, m.licence);
                rows.push(try_on_row(&engine, &owner, people, Some(&m.name)).await?);
            }
            None => eprintln!("try-on model row: no try-on model is added (`figur models add`), so none is drawn"),
        }
    }
    let mut backdrops = Vec::new();
    for (scene, mood, colour) in [
        ("studio_sweep", "bright", "ivory"),
        ("gradient", "soft", "sage"),
        ("paper", "dramatic", "charcoal"),
        ("concrete", "cool", "stone"),
        ("linen", "warm", "sand"),
    ] {
        let body = json!({"scene_type": scene, "mood": mood, "dominant_colors": [colour], "resolution": "0.5K", "aspect_ratio": "3:4", "seed": 1});
        for (_, img) in run(&engine, Operation::BackgroundGenerator, body).await? {
            backdrops.push(tile(&img));
        }
    }
    eprintln!("background-generator: {} backdrops", backdrops.len());
    rows.push(backdrops);
    rows.push(quality::matte_row(&engine, &photos).await?);
    let upscales = quality::upscale_row(&engine, &owner, &photos).await?;
    if !upscales.is_empty() {
        rows.push(upscales);
    }
    rows.extend(generative_row(&engine, &cache, people.as_ref()).await?);
    if rows.iter().all(|r| r.len() <= 1) {
        bail!("no workflow produced an image; is `figur models fetch` done?");
    }

    let width = rows.iter().map(|r| r.iter().map(|t| t.width() + GAP).sum::<u32>() + GAP).max().unwrap_or(0);
    let height = rows.len() as u32 * (TILE + GAP) + GAP;
    let mut sheet = RgbaImage::from_pixel(width, height, Rgba([255, 255, 255, 255]));
    for (r, row) in rows.iter().enumerate() {
        let mut x = GAP;
        for t in row {
            imageops::overlay(&mut sheet, t, x as i64, (GAP + r as u32 * (TILE + GAP)) as i64);
            x += t.width() + GAP;
        }
    }
    sheet.save(&out).with_context(|| out.display().to_string())?;
    engine.shutdown(Duration::from_secs(5)).await;
    println!("{}", out.display());
    Ok(())
}
