use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = warta::cli::Cli::parse();
    match warta::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("warta: {}", anyhow::Error::from(err));
            ExitCode::FAILURE
        }
    }
}
