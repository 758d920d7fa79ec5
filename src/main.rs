use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    keep_freed_memory();
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

/// glibc maps every allocation above its threshold (128 KiB until a large block is freed) afresh and
/// returns it on free, so each of the LLM prefill's per-layer temporaries (megabytes to tens of
/// megabytes) page-faulted in anew: about a million faults and ~8% of the prefill of a 900-token
/// prompt. Blocks up to 32 MiB (glibc's maximum) now come from the heap, and up to 512 MiB of freed
/// heap is kept for reuse (freed memory is reused, not added: Qwen2.5-Coder-1.5B's peak resident size
/// grew by 34 MB, 2%).
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes thresholds, before any thread exists; a refused value (0) leaves
    // glibc's default.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
}
