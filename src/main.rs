//! `figur`: serve the Figur Studio /v1 API, and manage its keys, jobs and credits from a shell.

mod batch;
mod cli;
mod commands;
mod config;
mod contact_sheet;
mod farm;
mod generate;
mod hub;
mod models;
mod place;
mod run;
mod upscale;
mod watch;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FIGUR_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("figur: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("figur: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
