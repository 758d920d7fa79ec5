//! What a batch run tells the user on stderr: a progress bar when a person watches a terminal, one
//! plain line per file otherwise (logs, CI, schedulers), only errors with `--quiet`; then a final report.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::manifest::{Entry, Status};

/// How much of the run to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Lines,
    Bar,
}

/// Failures kept for the final report; the manifest has them all.
const REPORTED_FAILURES: usize = 200;

/// Progress of a run, shared by the stages.
pub struct Progress {
    verbosity: Verbosity,
    bar: Option<ProgressBar>,
    started: Instant,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    total: u64,
    ok: u64,
    failed: u64,
    skipped: u64,
    current: String,
    failures: Vec<(String, String)>,
}

/// Counts at the end of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub ok: u64,
    pub failed: u64,
    pub skipped: u64,
}

impl Progress {
    pub fn new(verbosity: Verbosity, total: u64) -> Progress {
        let bar = (verbosity == Verbosity::Bar).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{spinner} {elapsed_precise} [{bar:25}] {pos}/{len} files · ETA {eta} · {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            verbosity,
            bar,
            started: Instant::now(),
            state: Mutex::new(State {
                total,
                ..State::default()
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves counts that are still worth reporting.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The file the translation stage is working on (shown on the bar).
    pub fn working_on(&self, rel: &str) {
        if let Some(bar) = &self.bar {
            let mut st = self.state();
            st.current = rel.to_string();
            bar.set_message(self.message(&st));
        }
    }

    /// A file is finished (its manifest line written).
    pub fn finished(&self, entry: &Entry) {
        let mut st = self.state();
        match entry.status {
            Status::Ok => st.ok += 1,
            Status::Skipped => st.skipped += 1,
            Status::Failed => {
                st.failed += 1;
                if st.failures.len() < REPORTED_FAILURES {
                    let error = entry.error.clone().unwrap_or_default();
                    st.failures.push((entry.path.clone(), error));
                }
            }
        }
        let done = st.ok + st.failed + st.skipped;
        let failed_line = || {
            format!(
                "warta: {}: failed: {}",
                entry.path,
                entry.error.as_deref().unwrap_or("")
            )
        };
        match self.verbosity {
            Verbosity::Quiet => {
                if entry.status == Status::Failed {
                    eprintln!("{}", failed_line());
                }
            }
            Verbosity::Lines => {
                let what = match entry.status {
                    Status::Ok => format!(
                        "ok -> {}{}",
                        entry.output.as_deref().unwrap_or(""),
                        entry
                            .timings
                            .as_ref()
                            .map(|t| format!(
                                " ({:.2} s)",
                                t.read_s + t.clean_s + t.translate_s + t.summarize_s + t.write_s
                            ))
                            .unwrap_or_default()
                    ),
                    Status::Skipped => "skipped (already done)".to_string(),
                    Status::Failed => format!("failed: {}", entry.error.as_deref().unwrap_or("")),
                };
                eprintln!("warta: [{done}/{}] {}: {what}", st.total, entry.path);
            }
            Verbosity::Bar => {
                if let Some(bar) = &self.bar {
                    if entry.status == Status::Failed {
                        bar.println(failed_line());
                    }
                    bar.set_position(done);
                    bar.set_message(self.message(&st));
                }
            }
        }
    }

    /// A warning or note for the user (not an error): hidden by `--quiet`.
    pub fn note(&self, message: &str) {
        match (&self.bar, self.verbosity) {
            (_, Verbosity::Quiet) => {}
            (Some(bar), _) => bar.println(format!("warta: {message}")),
            (None, _) => eprintln!("warta: {message}"),
        }
    }

    fn message(&self, st: &State) -> String {
        let rate = per_minute(st.ok + st.failed, self.started.elapsed());
        format!("{rate:.1} articles/min · {}", st.current)
    }

    pub fn counts(&self) -> Counts {
        let st = self.state();
        Counts {
            ok: st.ok,
            failed: st.failed,
            skipped: st.skipped,
        }
    }

    /// Clear the bar and print the final report (counts, failures with reasons, speed, time).
    pub fn finish(&self, manifest: &std::path::Path, interrupted: bool) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.verbosity == Verbosity::Quiet {
            return;
        }
        let st = self.state();
        let elapsed = self.started.elapsed();
        let seen = st.ok + st.failed + st.skipped;
        let scope = if interrupted {
            format!("{seen} of {} files before the interruption", st.total)
        } else {
            format!("{seen} files")
        };
        eprintln!(
            "warta: batch {} after {}: {scope}: {} ok, {} failed, {} skipped (already done); {:.1} \
             articles/min",
            if interrupted { "stopped" } else { "finished" },
            duration(elapsed),
            st.ok,
            st.failed,
            st.skipped,
            per_minute(st.ok + st.failed, elapsed),
        );
        if !st.failures.is_empty() {
            eprintln!("warta: failed files:");
            for (path, error) in &st.failures {
                eprintln!("  {path}: {error}");
            }
            if st.failed > st.failures.len() as u64 {
                eprintln!("  … and {} more", st.failed - st.failures.len() as u64);
            }
        }
        eprintln!("warta: manifest: {}", manifest.display());
    }
}

fn per_minute(n: u64, elapsed: Duration) -> f64 {
    let minutes = elapsed.as_secs_f64() / 60.0;
    if minutes > 0.0 {
        n as f64 / minutes
    } else {
        0.0
    }
}

/// `1h 02m 03s`, `2m 03s`, `4.2s`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{:.1}s", d.as_secs_f64()),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m {:02}s", s / 3600, s / 60 % 60, s % 60),
    }
}

/// UTC time as RFC 3339 (`2024-05-01T12:00:00Z`), without a date library.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The command line as a shell would need it typed again, leaving out `leave_out` flags.
pub fn shell_command(args: impl IntoIterator<Item = String>, leave_out: &[&str]) -> String {
    args.into_iter()
        .filter(|a| !leave_out.contains(&a.as_str()))
        .map(|a| shell_quote(&a))
        .collect::<Vec<_>>()
        .join(" ")
}

fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./=:,+@%-".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400 + 3_723); // 2000-02-29 01:02:03
        assert_eq!(rfc3339(t), "2000-02-29T01:02:03Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_735_689_599); // last second of 2024
        assert_eq!(rfc3339(t), "2024-12-31T23:59:59Z");
    }

    #[test]
    fn resume_command_is_quoted_and_drops_force() {
        let args = [
            "warta", "batch", "my dir", "-o", "it's", "--force", "--jobs", "2",
        ]
        .map(String::from);
        assert_eq!(
            shell_command(args, &["--force"]),
            r"warta batch 'my dir' -o 'it'\''s' --jobs 2"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(duration(Duration::from_millis(4200)), "4.2s");
        assert_eq!(duration(Duration::from_secs(123)), "2m 03s");
        assert_eq!(duration(Duration::from_secs(3723)), "1h 02m 03s");
    }
}
