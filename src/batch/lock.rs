//! `OUTPUT_DIR/.warta-batch.lock`: one run at a time per output directory.
//!
//! The lock is a file created with `O_EXCL` that names its owner (pid, host, start time). A lock left
//! by a run that died (its pid is gone on this host, or the machine rebooted since) is taken over with a
//! warning; a live one is an error naming the other run. A lock from another host (a shared volume)
//! cannot be checked from here, so it is always respected.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::BatchError;

pub const FILE_NAME: &str = ".warta-batch.lock";

/// A lock file whose content never became readable is left by a run killed while creating it; after
/// this long it cannot belong to a run that is still starting.
const UNWRITTEN_GRACE: Duration = Duration::from_secs(30);

/// How a lock whose owner has not written its name yet is described.
const STARTING: &str = "a run that is starting right now";

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub pid: u32,
    pub host: String,
    /// When the run started (UTC, RFC 3339).
    pub started: String,
    /// Identifies the boot on Linux, so a lock from before a reboot is known stale.
    #[serde(default)]
    pub boot_id: Option<String>,
    /// The process's start time since boot (clock ticks) on Linux, so a recycled pid is not mistaken
    /// for the owner.
    #[serde(default)]
    pub proc_start: Option<u64>,
}

impl Owner {
    fn current() -> Owner {
        let pid = std::process::id();
        Owner {
            pid,
            host: hostname(),
            started: super::report::rfc3339(SystemTime::now()),
            boot_id: boot_id(),
            proc_start: proc_start(pid),
        }
    }

    fn describe(&self) -> String {
        format!(
            "pid {} on {}, started {}",
            self.pid, self.host, self.started
        )
    }

    /// Whether this owner is certainly gone (only decidable on the same host).
    fn is_dead(&self) -> bool {
        if self.host != hostname() {
            return false;
        }
        if let (Some(then), Some(now)) = (&self.boot_id, boot_id()) {
            if *then != now {
                return true;
            }
        }
        if !pid_alive(self.pid) {
            return true;
        }
        matches!((self.proc_start, proc_start(self.pid)), (Some(a), Some(b)) if a != b)
    }
}

/// A held lock; dropping it removes the file.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
}

impl Lock {
    /// Take the lock of `dir`. Returns a warning when a stale lock was taken over.
    pub fn acquire(dir: &Path) -> Result<(Lock, Option<String>), BatchError> {
        let path = dir.join(FILE_NAME);
        let me = Owner::current();
        let mut warning = None;
        // Two rounds: the second after taking over a stale lock.
        for _ in 0..2 {
            match create(&path, &me) {
                Ok(()) => return Ok((Lock { path }, warning)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(source) => return Err(BatchError::Lock { path, source }),
            }
            let held = read_owner(&path);
            match held {
                Some(owner) if !owner.is_dead() => {
                    return Err(BatchError::Locked {
                        path,
                        holder: owner.describe(),
                    })
                }
                None if !old_enough(&path) => {
                    return Err(BatchError::Locked {
                        path,
                        holder: STARTING.into(),
                    })
                }
                _ => {}
            }
            take_over(&path, held.as_ref())?;
            warning = Some(match held {
                Some(o) => format!(
                    "took over the lock {} left by run {} on {} (started {}), which is no longer \
                     running",
                    path.display(),
                    o.pid,
                    o.host,
                    o.started
                ),
                None => format!("took over the unreadable stale lock {}", path.display()),
            });
        }
        let holder = read_owner(&path).map_or_else(|| STARTING.into(), |o| o.describe());
        Err(BatchError::Locked { path, holder })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

fn create(path: &Path, owner: &Owner) -> std::io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    // Serialising an `Owner` cannot fail.
    let text = serde_json::to_string(owner).unwrap_or_default();
    file.write_all(format!("{text}\n").as_bytes())?;
    file.sync_all()
}

fn read_owner(path: &Path) -> Option<Owner> {
    serde_json::from_str(&fs::read_to_string(path).ok()?).ok()
}

fn old_enough(path: &Path) -> bool {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age > UNWRITTEN_GRACE)
}

/// Remove a stale lock without removing a fresh one another run may have created meanwhile: rename it
/// aside (only one taker can), then check it is still the stale owner's; if not, put it back.
fn take_over(path: &Path, stale: Option<&Owner>) -> Result<(), BatchError> {
    let aside = path.with_file_name(format!("{FILE_NAME}.stale.{}", std::process::id()));
    match fs::rename(path, &aside) {
        Ok(()) => {}
        // Someone else took it over first; the next round sees their lock.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(BatchError::Lock {
                path: path.to_path_buf(),
                source,
            })
        }
    }
    if read_owner(&aside).as_ref() != stale {
        let _ = fs::hard_link(&aside, path);
    }
    let _ = fs::remove_file(&aside);
    Ok(())
}

fn hostname() -> String {
    #[cfg(unix)]
    {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it on success.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc == 0 {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            return String::from_utf8_lossy(&buf[..end]).into_owned();
        }
    }
    std::env::var("HOSTNAME")
        .or_else(|_| std::env::var("COMPUTERNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

fn boot_id() -> Option<String> {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
}

/// Field 22 of `/proc/PID/stat`: the process's start time in clock ticks since boot.
fn proc_start(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces: count from after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn pid_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // SAFETY: signal 0 only checks whether the process exists; nothing is sent.
        let rc = unsafe { libc::kill(pid, 0) };
        rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_lock_is_refused_naming_its_pid() {
        let dir = tempfile::tempdir().unwrap();
        let (lock, warning) = Lock::acquire(dir.path()).unwrap();
        assert!(warning.is_none());
        let err = Lock::acquire(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(lock);
        assert!(!dir.path().join(FILE_NAME).exists());
        Lock::acquire(dir.path()).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_dead_runs_lock_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        // A child that has exited and been reaped: its pid is no longer alive.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let stale = Owner {
            pid,
            host: hostname(),
            started: "2020-01-01T00:00:00Z".into(),
            boot_id: boot_id(),
            proc_start: Some(1),
        };
        create(&dir.path().join(FILE_NAME), &stale).unwrap();
        let (lock, warning) = Lock::acquire(dir.path()).unwrap();
        assert!(warning.unwrap().contains(&format!("run {pid}")));
        assert_eq!(read_owner(lock.path()).unwrap().pid, std::process::id());
    }

    #[test]
    fn another_hosts_lock_is_respected() {
        let dir = tempfile::tempdir().unwrap();
        let other = Owner {
            pid: 1,
            host: "some-other-host.invalid".into(),
            started: "2020-01-01T00:00:00Z".into(),
            boot_id: None,
            proc_start: None,
        };
        create(&dir.path().join(FILE_NAME), &other).unwrap();
        let err = Lock::acquire(dir.path()).unwrap_err().to_string();
        assert!(err.contains("some-other-host.invalid"), "{err}");
    }

    #[test]
    fn pid_reuse_is_detected_on_linux() {
        let me = std::process::id();
        if let Some(start) = proc_start(me) {
            let o = Owner {
                proc_start: Some(start + 1),
                ..Owner::current()
            };
            assert!(o.is_dead());
            assert!(!Owner::current().is_dead());
        }
    }
}
