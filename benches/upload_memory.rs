//! Memory of hostile uploads — `cargo bench --bench upload_memory`.
//!
//! The file: a PNG of about 0.6 MB declaring 9000×9000 pixels at 16 bits per channel (RGBA: 648
//! MB of pixels). Four of them are uploaded at once. Side by side, in one run:
//! 1. the baseline: the check the studio made before (one full decode through the `image` crate
//!    per upload, two at a time as its server allowed) in a process of its own — its peak RSS;
//! 2. a real `figur serve`: its peak RSS idle, then after the four concurrent uploads (the PNG is
//!    now checked row by row; other formats reserve their decode from the memory budget).
//!
//! Target: the server's peak ≤ 512 MiB (it was 1.26 GiB).

#[path = "common/server.rs"]
mod server;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use server::BenchServer;

const SIDE: u32 = 9000;
const CONCURRENT: usize = 4;

/// Peak resident memory of a process, from /proc (kB → MiB).
fn peak_rss_mib(pid: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb / 1024.0
}

/// The 16-bit bomb, written row by row (never held whole) and cached between runs.
fn bomb(dir: &Path) -> PathBuf {
    let path = dir.join(format!("bomb-{SIDE}x{SIDE}-rgba16.png"));
    if path.exists() {
        return path;
    }
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut encoder = png::Encoder::new(file, SIDE, SIDE);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Sixteen);
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder.write_header().unwrap().into_stream_writer().unwrap();
    let row: Vec<u8> = (0..SIDE as usize * 8).map(|i| if i % 8 < 6 { 0x80 } else { 0xFF }).collect();
    for _ in 0..SIDE {
        writer.write_all(&row).unwrap();
    }
    writer.finish().unwrap();
    path
}

/// The old upload check of the four uploads, in this process (run as a child by `main`): a full
/// decode each, at most two at once (the old server's limit on concurrent checks).
fn baseline(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..CONCURRENT / 2 {
                    let mut reader =
                        image::ImageReader::with_format(std::io::Cursor::new(&bytes), image::ImageFormat::Png);
                    let mut limits = image::Limits::default();
                    limits.max_alloc = Some(SIDE as u64 * SIDE as u64 * 8 + 64 * 1024 * 1024);
                    reader.limits(limits);
                    reader.decode().unwrap();
                }
            });
        }
    });
    println!("{}", peak_rss_mib("self"));
}

fn main() {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&base).unwrap();
    let file = bomb(&base);
    if std::env::var_os("FIGUR_BENCH_BASELINE_CHILD").is_some() {
        return baseline(&file);
    }
    let size = std::fs::metadata(&file).unwrap().len();
    println!(
        "upload memory — {CONCURRENT} concurrent uploads of a {:.0} KB PNG declaring {SIDE}×{SIDE} RGBA at 16 bits",
        size as f64 / 1024.0
    );

    let me = std::env::current_exe().unwrap();
    let out = Command::new(me).env("FIGUR_BENCH_BASELINE_CHILD", "1").output().unwrap();
    let before: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    println!("  baseline: the previous check (a full decode each), peak RSS ...... {before:>7.0} MiB");

    let dir = tempfile::tempdir_in(&base).unwrap();
    let server = BenchServer::start(dir.path(), &["--paused"], &[]);
    let (pid, addr, key) = (server.pid(), server.base.clone(), server.key.clone());
    std::thread::sleep(std::time::Duration::from_millis(500));
    let idle = peak_rss_mib(&pid);

    let bytes = std::fs::read(&file).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let statuses = rt.block_on(async {
        let http = reqwest::Client::new();
        let uploads = (0..CONCURRENT).map(|i| {
            let form = reqwest::multipart::Form::new()
                .part("file", reqwest::multipart::Part::bytes(bytes.clone()).file_name(format!("bomb{i}.png")));
            http.post(format!("{addr}/v1/uploads")).bearer_auth(&key).multipart(form).send()
        });
        futures_util::future::join_all(uploads)
            .await
            .into_iter()
            .map(|r| r.unwrap().status().as_u16())
            .collect::<Vec<_>>()
    });
    let after = peak_rss_mib(&pid);
    drop(server);
    println!("  figur serve: peak RSS idle ....................................... {idle:>7.0} MiB");
    println!("  figur serve: peak RSS after the {CONCURRENT} uploads (answers {statuses:?}) .. {after:>7.0} MiB");
    println!(
        "  ratio server peak / baseline peak ................................ {:>7.2}   (target: server ≤ 512 MiB)",
        after / before
    );
}
