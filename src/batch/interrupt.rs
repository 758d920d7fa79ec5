//! Ctrl-C (and SIGTERM, which schedulers send before killing a job): the first stops taking new files
//! and lets the run finish what is in flight; the second exits at once with code 130.
//!
//! Either way nothing partial is left: outputs appear by rename only, manifest lines are single writes.
//! On the immediate exit the handler removes the run's lock; a temporary output file being written at
//! that instant stays behind as a hidden `.NAME.XXXXXX.tmp`, which the next run removes.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use super::BatchError;

/// Exit code of a run stopped by a signal (128 + SIGINT), as shells report it.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Whether the run was asked to stop.
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub fn request(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

struct Handler {
    stop: Mutex<Stop>,
    lock: Mutex<Option<PathBuf>>,
    resume: Mutex<String>,
    signals: AtomicUsize,
}

static HANDLER: OnceLock<Handler> = OnceLock::new();

/// Route Ctrl-C and SIGTERM to `stop`; `lock` is removed on an immediate exit, and `resume` (the command
/// that resumes the run) is printed. The process-wide handler is installed once; later calls (another run
/// in the same process) just point it at their run.
pub fn install(stop: &Stop, lock: PathBuf, resume: String) -> Result<(), BatchError> {
    let mut fresh = false;
    let handler = HANDLER.get_or_init(|| {
        fresh = true;
        Handler {
            stop: Mutex::new(stop.clone()),
            lock: Mutex::new(None),
            resume: Mutex::new(String::new()),
            signals: AtomicUsize::new(0),
        }
    });
    *handler.stop.lock().unwrap_or_else(|e| e.into_inner()) = stop.clone();
    *handler.lock.lock().unwrap_or_else(|e| e.into_inner()) = Some(lock);
    *handler.resume.lock().unwrap_or_else(|e| e.into_inner()) = resume;
    handler.signals.store(0, Ordering::Relaxed);
    if fresh {
        ctrlc::set_handler(on_signal).map_err(|e| BatchError::Signal(e.to_string()))?;
    }
    Ok(())
}

/// Forget the lock (the run released it itself).
pub fn uninstall() {
    if let Some(h) = HANDLER.get() {
        *h.lock.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

fn on_signal() {
    let Some(h) = HANDLER.get() else { return };
    if h.signals.fetch_add(1, Ordering::SeqCst) == 0 {
        h.stop.lock().unwrap_or_else(|e| e.into_inner()).request();
        eprintln!(
            "\nwarta: stopping after the files in flight (press Ctrl-C again to quit at once; \
             nothing partial is left either way)"
        );
    } else {
        if let Some(lock) = h.lock.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = std::fs::remove_file(lock);
        }
        let resume = h.resume.lock().unwrap_or_else(|e| e.into_inner()).clone();
        eprintln!("\nwarta: quit at once; to resume, run:\n  {resume}");
        std::process::exit(i32::from(EXIT_INTERRUPTED));
    }
}
