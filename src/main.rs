use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = warta::cli::Cli::parse();
    if let Some(n) = cli.threads() {
        // candle and rayon size their thread pools from this variable; set it before any pool exists.
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
    match warta::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("warta: {}", anyhow::Error::from(err));
            ExitCode::FAILURE
        }
    }
}
