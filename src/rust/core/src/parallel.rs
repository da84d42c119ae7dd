//! The core's threads, all started one way: scoped threads
//! (`std::thread::scope`), the calling thread being one of them, so no
//! thread outlives the call that needs it and no pool is kept.
//!
//! * [`run_jobs`] hands out jobs (blocks of rows, chunks of values, parts
//!   of a matrix to pack) in order, as threads become free: the forward
//!   pass, the full-batch gradient, the threaded sigmoid and the packing
//!   of weights.
//! * [`Crew`] (with [`BreakCrewOnPanic`]) runs a training epoch phase by
//!   phase: the pieces of a phase are handed out as threads become free,
//!   and a phase ends when its pieces are done (no thread waits for
//!   another that has no piece in hand).
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

/// A raw pointer handed to scoped threads. The memory it points into must
/// outlive the threads, and its users must keep their accesses apart
/// (only reads, or writes to disjoint parts, or phases of a [`Crew`]);
/// each use says how, beside its `unsafe` block.
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

/// The most pieces a phase of a [`Crew`] may have.
pub(crate) const CREW_MAX_PIECES: usize = 0xffff;

/// Spins (pause instructions) before a thread waiting on a [`Crew`] sleeps.
const CREW_SPINS: u32 = 4000;

/// The threads of a training epoch, run phase by phase by a leader (the
/// calling thread). The leader publishes a phase (a tag saying what to do,
/// and a number of pieces); every thread, the leader included, takes the
/// phase's pieces one at a time from a shared counter until none are left,
/// and the leader waits until every piece is done before it publishes the
/// next phase. A phase ends when its pieces are done, not when every
/// thread has arrived: a thread that is slow to wake up, or whose core is
/// busy with another program, takes fewer pieces (or none) and holds up no
/// one, unless it is in the middle of a piece. Which thread runs a piece
/// must not change the piece's result (the callers' results do not depend
/// on the number of threads).
///
/// Everything written in a piece is visible to every piece of the later
/// phases, and to the leader after [`Crew::run_phase`].
pub(crate) struct Crew {
    /// The phase's number (high 32 bits), its number of pieces (16 bits)
    /// and its next piece (low 16 bits).
    ticket: std::sync::atomic::AtomicU64,
    /// The phase's tag (set before `ticket`).
    tag: std::sync::atomic::AtomicU64,
    /// Pieces of the phase done.
    done: AtomicUsize,
    /// The helpers are to stop (the epoch is over, or a thread panicked).
    quit: AtomicBool,
    /// A thread panicked: the phase will never be complete.
    broken: AtomicBool,
    /// Threads asleep (helpers waiting for a phase, the leader waiting for
    /// the pieces), and what they sleep on.
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
}

impl Crew {
    pub(crate) fn new() -> Self {
        Crew {
            ticket: std::sync::atomic::AtomicU64::new(0),
            tag: std::sync::atomic::AtomicU64::new(0),
            done: AtomicUsize::new(0),
            quit: AtomicBool::new(false),
            broken: AtomicBool::new(false),
            sleepers: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        }
    }

    /// Takes the next piece of phase `seq` (`None` when none is left, or
    /// the phase is over). The phase's number, its count of pieces and
    /// its next piece are one atomic value, so a piece is only ever taken
    /// from the phase whose count it is checked against.
    fn take(&self, seq: u64) -> Option<(usize, usize)> {
        let mut t = self.ticket.load(Ordering::Acquire);
        loop {
            let piece = (t & 0xffff) as usize;
            let pieces = ((t >> 16) & 0xffff) as usize;
            if t >> 32 != seq || piece >= pieces {
                return None;
            }
            match self.ticket.compare_exchange_weak(t, t + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Some((piece, pieces)),
                Err(now) => t = now,
            }
        }
    }

    /// Wakes every sleeper (if any: a thread that goes to sleep checks its
    /// condition under the lock, after counting itself as a sleeper).
    fn wake_all(&self) {
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            self.wake.notify_all();
        }
    }

    /// Waits (spinning first, then asleep) until `ready` holds.
    fn wait_until(&self, ready: impl Fn() -> bool) {
        for _ in 0..CREW_SPINS {
            if ready() {
                return;
            }
            std::hint::spin_loop();
        }
        let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        while !ready() {
            guard = self.wake.wait(guard).unwrap_or_else(PoisonError::into_inner);
        }
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
    }

    /// Runs the pieces of phase `seq` that are left, with `work`.
    fn work_on(&self, seq: u64, tag: u64, work: &mut impl FnMut(u64, usize)) {
        while let Some((piece, pieces)) = self.take(seq) {
            if self.broken.load(Ordering::Relaxed) {
                return;
            }
            work(tag, piece);
            if self.done.fetch_add(1, Ordering::SeqCst) + 1 == pieces {
                self.wake_all();
            }
        }
    }

    /// The leader: runs a phase of `pieces` pieces (at most
    /// [`CREW_MAX_PIECES`]) tagged `tag` (the leader's share with `work`)
    /// and returns once all are done: `true`, or `false` as soon as a
    /// thread has panicked.
    pub(crate) fn run_phase(&self, tag: u64, pieces: usize, work: &mut impl FnMut(u64, usize)) -> bool {
        assert!(pieces <= CREW_MAX_PIECES, "Crew::run_phase: {pieces} pieces");
        let seq = ((self.ticket.load(Ordering::Acquire) >> 32) + 1) & 0xffff_ffff;
        self.tag.store(tag, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
        self.ticket.store(seq << 32 | (pieces as u64) << 16, Ordering::SeqCst);
        self.wake_all();
        self.work_on(seq, tag, work);
        self.wait_until(|| self.done.load(Ordering::SeqCst) >= pieces || self.broken.load(Ordering::SeqCst));
        !self.broken.load(Ordering::Acquire)
    }

    /// A helper: runs pieces of every phase the leader publishes, with
    /// `work`, until [`Crew::finish`].
    pub(crate) fn serve(&self, mut work: impl FnMut(u64, usize)) {
        let mut seen = 0;
        loop {
            self.wait_until(|| self.ticket.load(Ordering::SeqCst) >> 32 != seen || self.quit.load(Ordering::SeqCst));
            if self.quit.load(Ordering::Acquire) {
                return;
            }
            seen = self.ticket.load(Ordering::Acquire) >> 32;
            let tag = self.tag.load(Ordering::Relaxed);
            self.work_on(seen, tag, &mut work);
        }
    }

    /// The leader: tells the helpers that no phase is to come.
    pub(crate) fn finish(&self) {
        {
            let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            self.quit.store(true, Ordering::SeqCst);
        }
        self.wake.notify_all();
    }

    /// Stops everything (a thread panicked): no phase completes, every
    /// helper stops.
    fn break_all(&self) {
        {
            let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            self.broken.store(true, Ordering::SeqCst);
            self.quit.store(true, Ordering::SeqCst);
        }
        self.wake.notify_all();
    }
}

/// Breaks its crew when dropped while its thread unwinds from a panic, so
/// that the other threads of the epoch stop waiting for it.
pub(crate) struct BreakCrewOnPanic<'a>(pub(crate) &'a Crew);

impl Drop for BreakCrewOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.break_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crew_runs_every_piece_once_and_sees_the_phases_before() {
        // phase k writes slot i = k * 1000 + i (+ the slot's value in
        // phase k - 1, so a piece reads what any thread wrote before)
        let slots: Vec<AtomicUsize> = (0..64).map(|_| AtomicUsize::new(0)).collect();
        let runs = AtomicUsize::new(0);
        let crew = Crew::new();
        let work = |tag: u64, i: usize| {
            let before = slots[i].load(Ordering::Relaxed);
            slots[i].store(before + tag as usize * 1000 + i, Ordering::Relaxed);
            runs.fetch_add(1, Ordering::Relaxed);
        };
        std::thread::scope(|scope| {
            for _ in 0..3 {
                scope.spawn(|| crew.serve(work));
            }
            let mut leader = work;
            for k in 1..=200u64 {
                let pieces = (k as usize * 7) % 65;
                assert!(crew.run_phase(k, pieces, &mut leader));
                for (i, s) in slots.iter().enumerate() {
                    // the sum over the phases so far that covered slot i
                    let want: usize = (1..=k).filter(|&j| i < (j as usize * 7) % 65).map(|j| j as usize * 1000 + i).sum();
                    assert_eq!(s.load(Ordering::Relaxed), want, "phase {k}, slot {i}");
                }
            }
            crew.finish();
        });
        let total: usize = (1..=200).map(|k| (k * 7) % 65).sum();
        assert_eq!(runs.load(Ordering::Relaxed), total);
    }

    #[test]
    fn a_piece_is_never_taken_from_a_phase_it_does_not_belong_to() {
        // phases of 2 and 3 pieces in turn, back to back: a helper still
        // in the old phase must not take piece 2 of the new one under
        // the old tag
        let crew = Crew::new();
        let runs = AtomicUsize::new(0);
        let work = |tag: u64, i: usize| {
            assert!(i < 2 + (tag % 2) as usize, "piece {i} of phase {tag}");
            runs.fetch_add(1, Ordering::Relaxed);
        };
        std::thread::scope(|scope| {
            for _ in 0..3 {
                scope.spawn(|| {
                    let _guard = BreakCrewOnPanic(&crew);
                    crew.serve(work)
                });
            }
            let mut leader = work;
            for k in 0..20_000u64 {
                assert!(crew.run_phase(k, 2 + (k % 2) as usize, &mut leader), "phase {k}");
            }
            crew.finish();
        });
        assert_eq!(runs.load(Ordering::Relaxed), 50_000);
    }

    #[test]
    fn a_slow_helper_takes_fewer_pieces() {
        // a helper stuck in one piece holds up no other piece: the leader
        // takes the rest
        let crew = Crew::new();
        let by_leader = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                crew.serve(|_, _| std::thread::sleep(std::time::Duration::from_millis(200)));
            });
            let mut leader = |_: u64, _: usize| {
                by_leader.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(std::time::Duration::from_millis(1));
            };
            assert!(crew.run_phase(1, 50, &mut leader));
            crew.finish();
        });
        assert!(by_leader.load(Ordering::Relaxed) >= 49, "{}", by_leader.load(Ordering::Relaxed));
    }
}
