//! `figur-studio`: the desktop app. The data folder is `FIGUR_DATA_DIR`, else the one chosen in
//! Settings, else the platform's.

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FIGUR_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match figur_desktop::run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("figur-studio: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
