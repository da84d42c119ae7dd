//! The core's threads, all started one way: scoped threads
//! (`std::thread::scope`), the calling thread being one of them, so no
//! thread outlives the call that needs it and no pool is kept.
//!
//! * [`run_jobs`] hands out jobs (blocks of rows, chunks of values, parts
//!   of a matrix to pack) in order, as threads become free: the forward
//!   pass, the full-batch gradient, the threaded sigmoid and the packing
//!   of weights.
//! * [`SpinBarrier`] (with [`BreakOnPanic`]) makes the threads of a
//!   training epoch meet between the phases of a step.
//! * [`SharedPtr`] hands a raw pointer to the threads where a borrow cannot
//!   say who may touch what when (the phases of an epoch, the parts of a
//!   packed matrix); each user states why its accesses do not overlap.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};

/// Runs `work` on every job of `jobs` with up to `workers` threads (the
/// calling thread included), each with its own state made by `init`. Jobs
/// are handed out in order as threads become free; a job's result must not
/// depend on which thread runs it (the callers' results are the same
/// whatever the number of threads).
pub(crate) fn run_jobs<J, I, S>(jobs: I, workers: usize, init: impl Fn() -> S + Sync, work: impl Fn(J, &mut S) + Sync)
where
    I: Iterator<Item = J> + Send,
    J: Send,
{
    if workers <= 1 {
        let mut state = init();
        jobs.for_each(|job| work(job, &mut state));
        return;
    }
    let queue = Mutex::new(jobs);
    let work_loop = || {
        let mut state = init();
        loop {
            let job = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
            match job {
                Some(job) => work(job, &mut state),
                None => break,
            }
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..workers {
            scope.spawn(work_loop);
        }
        work_loop();
    });
}

/// A barrier for the few threads of a training epoch, which meet three
/// times per step (every few hundred microseconds): a waiting thread spins
/// for a few tens of microseconds first, and only then sleeps (on a
/// condition variable), because a wake-up from sleep takes tens of
/// microseconds on this project's machines (`std::sync::Barrier` always
/// sleeps) while spinning for long wastes the core when the machine is busy
/// and the other thread is not running.
pub(crate) struct SpinBarrier {
    n: usize,
    arrived: AtomicUsize,
    generation: AtomicUsize,
    /// Set when a thread panicked: it will never arrive, so every wait
    /// returns at once (with `false`) instead of waiting for ever.
    broken: AtomicBool,
    lock: Mutex<()>,
    wake: Condvar,
}

/// Spins (pause instructions) before a waiting thread sleeps: about 20-50
/// microseconds.
const BARRIER_SPINS: u32 = 2000;

impl SpinBarrier {
    pub(crate) fn new(n: usize) -> Self {
        SpinBarrier {
            n,
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
            broken: AtomicBool::new(false),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        }
    }

    /// Returns `true` once all `n` threads have called `wait` (for this
    /// meeting), or `false` as soon as the barrier is broken (a thread
    /// panicked: the meeting will never be complete). Everything a thread
    /// wrote before `wait` is visible to every thread after it.
    pub(crate) fn wait(&self) -> bool {
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.n {
            // the last to arrive opens the next meeting, then releases all
            // (under the lock, so that no sleeper misses the change)
            self.arrived.store(0, Ordering::Relaxed);
            {
                let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
                self.generation.fetch_add(1, Ordering::Release);
            }
            self.wake.notify_all();
            return !self.broken.load(Ordering::Acquire);
        }
        for _ in 0..BARRIER_SPINS {
            if self.generation.load(Ordering::Acquire) != generation {
                return !self.broken.load(Ordering::Acquire);
            }
            if self.broken.load(Ordering::Acquire) {
                return false;
            }
            std::hint::spin_loop();
        }
        let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        while self.generation.load(Ordering::Acquire) == generation {
            if self.broken.load(Ordering::Acquire) {
                return false;
            }
            guard = self.wake.wait(guard).unwrap_or_else(PoisonError::into_inner);
        }
        !self.broken.load(Ordering::Acquire)
    }

    /// Breaks the barrier: every present and future `wait` returns `false`.
    fn break_all(&self) {
        {
            let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            self.broken.store(true, Ordering::Release);
        }
        self.wake.notify_all();
    }
}

/// Breaks its barrier when dropped while its thread unwinds from a panic,
/// so that the other threads of the epoch stop waiting for it.
pub(crate) struct BreakOnPanic<'a>(pub(crate) &'a SpinBarrier);

impl Drop for BreakOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.break_all();
        }
    }
}

/// A raw pointer handed to scoped threads. The memory it points into must
/// outlive the threads, and its users must keep their accesses apart
/// (only reads, or writes to disjoint parts, or phases separated by a
/// [`SpinBarrier`]); each use says how, beside its `unsafe` block.
pub(crate) struct SharedPtr<T>(pub(crate) *mut T);

impl<T> Clone for SharedPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for SharedPtr<T> {}

// SAFETY: a SharedPtr is only made for memory that outlives the scoped
// threads it is sent to; whether an access through it races is the
// business of each `unsafe` block that dereferences it (see above).
unsafe impl<T> Send for SharedPtr<T> {}
unsafe impl<T> Sync for SharedPtr<T> {}

impl<T> SharedPtr<T> {
    /// The pointer (a method, so that closures capture the whole
    /// `SharedPtr`, not its field).
    pub(crate) fn get(self) -> *mut T {
        self.0
    }
}
