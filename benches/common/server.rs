//! A real `figur serve` for benchmarks: its own data folder, a key, and the address it listens
//! on (port 0, read from its first line of output). Stopped when dropped.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct BenchServer {
    child: Child,
    pub base: String,
    pub key: String,
}

impl BenchServer {
    /// Starts `figur serve` on `data` with extra `args` and `env`, after making a key.
    pub fn start(data: &Path, args: &[&str], env: &[(&str, &str)]) -> BenchServer {
        let figur = env!("CARGO_BIN_EXE_figur");
        let key = Command::new(figur).arg("--data-dir").arg(data).args(["keys", "create", "--name", "bench"]).output();
        let key = String::from_utf8_lossy(&key.unwrap().stdout).lines().last().unwrap().trim().to_string();
        let mut child = Command::new(figur)
            .arg("--data-dir")
            .arg(data)
            .args(["serve", "--listen", "127.0.0.1:0", "--rate-limit", "0"])
            .args(args)
            .env("FIGUR_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let base = loop {
            let mut line = String::new();
            assert!(out.read_line(&mut line).unwrap() > 0, "figur serve exited");
            if let Some(at) = line.find("http://127.0.0.1:") {
                break line[at..].split_whitespace().next().unwrap().trim_end_matches('/').to_string();
            }
        };
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        BenchServer { child, base, key }
    }

    /// The server's process id (for its /proc entries).
    #[allow(dead_code)] // each bench compiles this module; not every one reads the pid
    pub fn pid(&self) -> String {
        self.child.id().to_string()
    }
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
