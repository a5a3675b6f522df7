//! Vision benchmark — `cargo bench --bench vision` (after `figur models fetch`).
//!
//! In one run, on the same photo (scikit-image's `astronaut`, 512²) and the same model
//! (`person-matte` on the CPU provider, or `FIGUR_PROVIDERS`):
//! 1. bare ONNX Runtime inference from Rust;
//! 2. the engine's background swap end to end (decode → matte → refine → composite with edge
//!    foreground solve and colour balance → PNG encode), its model time measured inside, so
//!    "engine overhead" = end to end − model time;
//! 3. a plain Python onnxruntime + NumPy + Pillow pipeline doing the same steps
//!    (`benches/vision_pipeline.py`, in a venv this bench makes under target/);
//! 4. peak and current RSS across 100 swaps in a row (flat means no leak);
//! 5. the resolution sweep: the real background-swap job at 1K, 2K and 4K (`FIGUR_SWEEP=1024,2048`
//!    to choose, `FIGUR_SWEEP_ONLY=1` for it alone), each size's end to end against what decode +
//!    model + encode must cost.

#[path = "../tests/api/photos.rs"]
mod photos;
#[path = "common/sweep.rs"]
mod sweep;

use std::time::{Duration, Instant};

use figur_engine::workflow::models::ModelSegmenter;
use figur_engine::JobError;
use figur_pixels::vision::matte::{refine, segment, Segmenter};
use figur_pixels::vision::{composite, decode};

/// Wraps the real segmenter to time its calls.
struct Timed<'a>(&'a ModelSegmenter, std::cell::Cell<Duration>);

impl Segmenter for Timed<'_> {
    type Error = JobError;
    fn person_probability(&self, rgb: &[f32]) -> Result<Vec<f32>, JobError> {
        let t = Instant::now();
        let out = self.0.person_probability(rgb);
        self.1.set(self.1.get() + t.elapsed());
        out
    }
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

fn swap(photo: &[u8], background: &image::RgbImage, model: &dyn Segmenter<Error = JobError>) -> Vec<u8> {
    let img = decode::decode(photo).unwrap();
    let seg = segment(&img, model).unwrap();
    let matte = refine(&img, &seg, &mut || Ok::<(), JobError>(())).unwrap();
    let boxed = composite::subject_box(&matte.alpha).unwrap();
    let size = img.dimensions();
    let at = composite::place(boxed, size, size, true);
    let bg = composite::cover(background, size.0, size.1);
    let out = composite::composite(&img, &matte.alpha, &bg, at, 0.35);
    let mut png = Vec::new();
    out.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    png
}

fn main() {
    let cache_dir = figur_engine::engine::default_cache_dir().expect("a cache folder");
    let cache = figur_models::Cache::new(&cache_dir);
    let sessions = figur_models::Sessions::new(
        cache.clone(),
        figur_models::Providers::parse(&std::env::var("FIGUR_PROVIDERS").unwrap_or_else(|_| "cpu".into())).unwrap(),
        Duration::from_secs(600),
    );
    let loaded = sessions.get("person-matte").expect("run `figur models fetch` first");
    let segmenter = ModelSegmenter(loaded.clone());
    let photo = photos::astronaut();
    let plan = figur_pixels::render::backdrop::plan("studio_sweep", "soft", &[], 512, 512, 3);
    let background = figur_pixels::render::backdrop::render(&plan);
    let work = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&work).unwrap();
    let (photo_path, bg_path) = (work.join("bench-photo.png"), work.join("bench-background.png"));
    std::fs::write(&photo_path, &photo).unwrap();
    background.save(&bg_path).unwrap();
    println!(
        "vision benchmark — person-matte on {}, photo 512×512 (astronaut), {} cores",
        loaded.provider.name(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );

    // FIGUR_SWEEP_ONLY=1: the sweep alone (profiling).
    if std::env::var_os("FIGUR_SWEEP_ONLY").is_none() {
        // 1. Bare inference.
        let input = figur_pixels::vision::matte::to_model_input(&decode::decode(&photo).unwrap());
        segmenter.person_probability(&input).unwrap();
        let n = 100;
        let t = Instant::now();
        for _ in 0..n {
            segmenter.person_probability(&input).unwrap();
        }
        let bare = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
        println!("  bare ONNX Runtime inference (Rust) ................. {bare:>8.2} ms");

        // 2. Engine end to end.
        let timed = Timed(&segmenter, std::cell::Cell::new(Duration::ZERO));
        swap(&photo, &background, &timed);
        timed.1.set(Duration::ZERO);
        let n = 20;
        let t = Instant::now();
        for _ in 0..n {
            swap(&photo, &background, &timed);
        }
        let total = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
        let model = timed.1.get().as_secs_f64() * 1000.0 / n as f64;
        println!("  engine swap end to end ............................. {total:>8.2} ms  (model {model:.2} ms)");
        println!(
            "  engine overhead (end to end − model) ............... {:>8.2} ms  = {:.0} % of model time",
            total - model,
            (total - model) / model * 100.0
        );

        // 3. Python.
        let venv = work.join("bench-venv");
        let python = venv.join("bin/python");
        if !python.is_file() {
            let ok = std::process::Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
                && std::process::Command::new(&python)
                    .args(["-m", "pip", "install", "--quiet", "onnxruntime==1.31.1", "numpy<2", "pillow==10.4.0"])
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false);
            if !ok {
                println!("  python baseline: could not create its venv");
            }
        }
        let out = std::process::Command::new(&python)
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/benches/vision_pipeline.py"))
            .arg(cache.model_file("person-matte"))
            .arg(&photo_path)
            .arg(&bg_path)
            .arg("20")
            .output();
        match out.ok().filter(|o| o.status.success()).map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()) {
            Some(line) => {
                let v: Vec<f64> = line.split_whitespace().filter_map(|x| x.parse().ok()).collect();
                println!(
                    "  python onnxruntime + numpy + Pillow, same steps .... {:>8.2} ms  (model {:.2} ms)",
                    v[0], v[1]
                );
                println!(
                    "  engine / python end to end ......................... {:>8.2}x  (below 1: the engine is faster)",
                    total / v[0]
                );
            }
            None => println!("  python baseline failed to run"),
        }

        // 4. Memory across 100 swaps.
        let mut after = Vec::new();
        for i in 1..=100 {
            swap(&photo, &background, &segmenter);
            if [1, 10, 50, 100].contains(&i) {
                after.push((i, rss_kib("VmRSS:") / 1024));
            }
        }
        let shown: Vec<String> = after.iter().map(|(i, mb)| format!("{i}: {mb} MiB")).collect();
        println!("  RSS after swaps  {}  (peak {} MiB)", shown.join(", "), rss_kib("VmHWM:") / 1024);
    }

    // 5. The resolution sweep, through the real job.
    let sides: Vec<u32> = std::env::var("FIGUR_SWEEP")
        .unwrap_or_else(|_| "1024,2048,4096".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let runs = std::env::var("FIGUR_SWEEP_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let source = decode::decode(&photo).unwrap();
    sweep::print(&sweep::sweep(&work, &source, &sides, runs));
}
