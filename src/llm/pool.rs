//! The threads that share the LLM's products and attention: a pool whose calls never wait for a
//! thread that has not started.
//!
//! candle's barrier pool, which these kernels used before, ends each call by spinning until every
//! worker has reported, even one that never got a core: with one busy process beside warta on a
//! 2-core machine, 2-thread decoding of Qwen2.5-0.5B fell to 2.1 tokens/s, against 7.5 with one
//! thread. Here a call's items are claimed from a shared cursor by whoever runs, the calling thread
//! included, and the caller waits only for items already claimed: a worker without a core leaves
//! its share to the others, so a loaded machine degrades to fewer threads' speed instead of
//! collapsing. Workers spin briefly for the next call (decoding makes one every few microseconds),
//! then sleep on a condition variable.
//!
//! The number of threads is rayon's (`RAYON_NUM_THREADS`, which `--threads` sets).

use std::cell::Cell;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

/// Polls of a worker for the next call before it sleeps (a few tens of microseconds).
const WORKER_SPINS: u32 = 20_000;
/// Polls of the caller for claimed items before it yields its core between polls.
const CALLER_SPINS: u32 = 2_000;

/// One call: `f` over `0..n` in chunks.
struct Job {
    /// The caller's closure, its lifetime erased: it is only called for items claimed before the
    /// caller has seen them all done, and the caller returns only after that.
    f: *const (dyn Fn(Range<usize>) + Sync),
    n: usize,
    chunk: usize,
    cursor: AtomicUsize,
    done: AtomicUsize,
}

// SAFETY: `f` is Sync and outlives every use (see `Job::f`).
unsafe impl Send for Job {}
unsafe impl Sync for Job {}

impl Job {
    /// Claim and run chunks until none are left.
    fn work(&self) {
        loop {
            let start = self.cursor.fetch_add(self.chunk, Ordering::AcqRel);
            if start >= self.n {
                return;
            }
            let end = (start + self.chunk).min(self.n);
            // SAFETY: a claimed item: the caller is still waiting for it (see `Job::f`).
            unsafe { (*self.f)(start..end) };
            self.done.fetch_add(end - start, Ordering::AcqRel);
        }
    }
}

struct Shared {
    /// Bumped for each call; workers compare it with the last one they saw.
    epoch: AtomicU64,
    job: Mutex<Option<Arc<Job>>>,
    sleeping: AtomicUsize,
    wake: Mutex<()>,
    cv: Condvar,
    stop: AtomicBool,
}

pub struct Pool {
    shared: Arc<Shared>,
    workers: usize,
}

thread_local! {
    /// Set on pool workers: a call from inside a call runs inline.
    static IN_POOL: Cell<bool> = const { Cell::new(false) };
}

impl Pool {
    /// A pool of `threads` threads in all, the caller being one of them.
    pub fn new(threads: usize) -> Pool {
        let shared = Arc::new(Shared {
            epoch: AtomicU64::new(0),
            job: Mutex::new(None),
            sleeping: AtomicUsize::new(0),
            wake: Mutex::new(()),
            cv: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let mut workers = 0;
        for i in 1..threads.max(1) {
            let s = shared.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("warta-llm-{i}"))
                .spawn(move || worker(&s));
            // Without the thread the caller does its share: fewer threads, same results.
            if spawned.is_ok() {
                workers += 1;
            }
        }
        Pool { shared, workers }
    }

    /// Threads that take part in a call, the caller included.
    pub fn threads(&self) -> usize {
        self.workers + 1
    }

    /// `f` over the items `0..n`, each item in exactly one call of `f`, spread over the threads;
    /// returns when all are done.
    pub fn run<F: Fn(Range<usize>) + Sync>(&self, n: usize, f: F) {
        if n == 0 {
            return;
        }
        if self.workers == 0 || n == 1 || IN_POOL.with(|p| p.get()) {
            f(0..n);
            return;
        }
        // About eight claims per thread: a late thread's share is small.
        let chunk = n.div_ceil(self.threads() * 8).max(1);
        let f: &(dyn Fn(Range<usize>) + Sync) = &f;
        let job = Arc::new(Job {
            // SAFETY: erases the lifetime only; see `Job::f`.
            f: unsafe { std::mem::transmute(f as *const (dyn Fn(Range<usize>) + Sync + '_)) },
            n,
            chunk,
            cursor: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
        });
        let s = &self.shared;
        *lock(&s.job) = Some(job.clone());
        s.epoch.fetch_add(1, Ordering::SeqCst);
        if s.sleeping.load(Ordering::SeqCst) > 0 {
            let _g = lock(&s.wake);
            s.cv.notify_all();
        }
        job.work();
        let mut spins = 0;
        while job.done.load(Ordering::Acquire) < n {
            if spins < CALLER_SPINS {
                std::hint::spin_loop();
                spins += 1;
            } else {
                std::thread::yield_now();
            }
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let s = &self.shared;
        s.stop.store(true, Ordering::SeqCst);
        s.epoch.fetch_add(1, Ordering::SeqCst);
        let _g = lock(&s.wake);
        s.cv.notify_all();
    }
}

/// A poisoned lock only means a panic elsewhere; the data (a job handle) is still whole.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn worker(s: &Shared) {
    IN_POOL.with(|p| p.set(true));
    let mut seen = 0;
    loop {
        let mut spins = 0;
        loop {
            let e = s.epoch.load(Ordering::Acquire);
            if e != seen {
                seen = e;
                break;
            }
            if spins < WORKER_SPINS {
                std::hint::spin_loop();
                spins += 1;
                continue;
            }
            s.sleeping.fetch_add(1, Ordering::SeqCst);
            let mut g = lock(&s.wake);
            while s.epoch.load(Ordering::SeqCst) == seen {
                g = s.cv.wait(g).unwrap_or_else(|p| p.into_inner());
            }
            drop(g);
            s.sleeping.fetch_sub(1, Ordering::SeqCst);
        }
        if s.stop.load(Ordering::SeqCst) {
            return;
        }
        let job = lock(&s.job).clone();
        if let Some(job) = job {
            job.work();
        }
    }
}

/// The pool of this process, made on first use with rayon's thread count.
pub fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool::new(candle_core::utils::get_num_threads()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every item runs exactly once, for many sizes and back-to-back calls, from several callers
    /// at once.
    #[test]
    fn every_item_once() {
        let pool = Arc::new(Pool::new(3));
        let callers: Vec<_> = (0..3)
            .map(|c| {
                let pool = pool.clone();
                std::thread::spawn(move || {
                    for n in [1, 2, 3, 7, 64, 1000] {
                        let hits: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
                        pool.run(n, |r| {
                            for i in r {
                                hits[i].fetch_add(1, Ordering::Relaxed);
                            }
                        });
                        assert!(
                            hits.iter().all(|h| h.load(Ordering::Relaxed) == 1),
                            "{c} {n}"
                        );
                    }
                })
            })
            .collect();
        for c in callers {
            c.join().unwrap();
        }
    }

    /// A call completes while the worker cannot run its share: here it is held inside an item of
    /// another caller's call, released only once the second call has returned (a pool that waited
    /// for it would never return; the 60 s bound only turns that hang into a failure).
    #[test]
    fn a_missing_worker_does_not_block_a_call() {
        let pool = Arc::new(Pool::new(2));
        let release = Arc::new(AtomicBool::new(false));
        let held = Arc::new(AtomicUsize::new(0));
        let first = {
            let (pool, release, held) = (pool.clone(), release.clone(), held.clone());
            std::thread::spawn(move || {
                pool.run(2, |_| {
                    held.fetch_add(1, Ordering::SeqCst);
                    while !release.load(Ordering::SeqCst) {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                })
            })
        };
        // Both threads of the pool (the first caller and the worker) are now held.
        while held.load(Ordering::SeqCst) < 2 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let pool = pool.clone();
            std::thread::spawn(move || {
                let sum = AtomicUsize::new(0);
                pool.run(100, |r| {
                    sum.fetch_add(r.len(), Ordering::Relaxed);
                });
                let _ = tx.send(sum.load(Ordering::Relaxed));
            });
        }
        let got = rx.recv_timeout(std::time::Duration::from_secs(60));
        release.store(true, Ordering::SeqCst);
        assert_eq!(got, Ok(100), "the second call waited for the held worker");
        first.join().unwrap();
        // And after the worker has gone to sleep, a call wakes it or runs without it.
        std::thread::sleep(std::time::Duration::from_millis(50));
        let sum = AtomicUsize::new(0);
        pool.run(10, |r| {
            sum.fetch_add(r.len(), Ordering::Relaxed);
        });
        assert_eq!(sum.load(Ordering::Relaxed), 10);
    }

    #[test]
    fn one_thread_runs_inline() {
        let pool = Pool::new(1);
        assert_eq!(pool.threads(), 1);
        let seen = Mutex::new(Vec::new());
        pool.run(5, |r| lock(&seen).push(r));
        assert_eq!(*lock(&seen), vec![0..5]);
    }
}
