//! Training: minibatch gradient descent (SGD with momentum, Adam) over
//! epochs, entirely in Rust.
//!
//! A [`Trainer`] owns the network's parameters (in the flat layout of
//! [`ParamLayout`]), the optimiser's state, a row-major copy of the
//! training rows (so that a shuffled minibatch is gathered from whole
//! rows, not from one cache line per value) and a ChaCha20 stream for the
//! validation split and the shuffling. [`Trainer::epoch`] runs one epoch:
//! the rows in a new random order, a step per minibatch; the caller (R)
//! is visited between epochs only, and, through the `interrupt` callback,
//! on the calling thread between steps.
//!
//! Every step is the same arithmetic whatever the number of threads: a
//! minibatch is cut into blocks whose count and size depend on the batch
//! size only ([`minibatch_block_rows`]), grouped into shards as in the
//! full-batch gradient; each shard's gradient goes into a buffer of its
//! own (threads take whole shards), and the buffers are added in order
//! during the update. Same seed, same data: the same fitted weights, bit
//! for bit, on 1 or many threads. The threads of an epoch meet at a
//! barrier between the three phases of a step (gradients, update,
//! repacking of the weights; see `Epoch`).
//!
//! The optimisers follow torch's definitions (`optim_sgd`, `optim_adam`):
//! * SGD: `v <- momentum v + g` (`v = g` at the first step), `w <- w - lr v`;
//! * Adam: `m <- b1 m + (1 - b1) g`, `v <- b2 v + (1 - b2) g^2`,
//!   `w <- w - (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)`.
//!
//! Weight decay `lambda` adds `lambda w` to the gradient of every weight
//! (not the biases), i.e. `lambda / 2 sum(W^2)` to the loss.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};

use ndarray::{Array2, ArrayView2, ShapeBuilder};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use crate::activation::Activation;
use crate::backward::{block_gradient, mean_loss, shard_count, Objective, Plan, BlockScratch};
use crate::gemm::PackedB;
use crate::loss::Loss;
use crate::memory::{try_filled, try_with_capacity};
use crate::network::{err, CoreError, Network, ParamLayout};
use crate::parallel::{BreakOnPanic, SharedPtr, SpinBarrier};
use crate::product::col_major_ref;

/// An optimiser and its settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    /// Stochastic gradient descent with (heavy-ball) momentum, 0 for none.
    Sgd {
        /// The momentum factor, in [0, 1).
        momentum: f64,
    },
    /// Adam with torch's defaults `(0.9, 0.999)` and `1e-8` unless given.
    Adam {
        /// Decay of the first moment.
        beta1: f64,
        /// Decay of the second moment.
        beta2: f64,
        /// Added to the denominator.
        eps: f64,
    },
}

/// What a training run does besides the data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    /// The loss.
    pub loss: Loss,
    /// The optimiser.
    pub optimizer: Optimizer,
    /// The step size.
    pub learn_rate: f64,
    /// `lambda` of the weight decay (0 for none).
    pub weight_decay: f64,
    /// Rows per minibatch (the last one of an epoch may be smaller).
    pub batch_size: usize,
    /// Threads to use (results do not depend on it).
    pub threads: usize,
}

/// Rows per block of a minibatch of `batch` rows: a function of the batch
/// size only. Small enough that a batch of 128 rows (a common size) gives
/// two blocks, one per thread of a two-core machine.
pub fn minibatch_block_rows(batch: usize) -> usize {
    if batch <= 2048 {
        64
    } else {
        128
    }
}

/// The outcome of one epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochResult {
    /// Mean training loss over the epoch's rows, each row's loss taken at
    /// the weights of its step (as keras and most torch loops report it).
    pub loss: f64,
    /// Steps done (all of the epoch's unless interrupted or diverged).
    pub steps: usize,
    /// Whether the `interrupt` callback asked to stop.
    pub interrupted: bool,
    /// Whether a step's loss was NaN or infinite (the epoch stopped
    /// there, before applying that step).
    pub diverged: bool,
}

/// A uniform integer in `[0, n)` (`n >= 1`) without modulo bias.
fn below(rng: &mut ChaCha20Rng, n: u64) -> u64 {
    let limit = u64::MAX - u64::MAX % n;
    loop {
        let v = rng.next_u64();
        if v < limit {
            return v % n;
        }
    }
}

/// Fisher–Yates shuffle of `v` with draws from `rng`.
fn shuffle(v: &mut [usize], rng: &mut ChaCha20Rng) {
    for i in (1..v.len()).rev() {
        let j = below(rng, i as u64 + 1) as usize;
        v.swap(i, j);
    }
}

/// The stream of a training run: seeded as [`crate::init`]'s, on a
/// stream of its own (so that a network's seed and a fit's seed may be the
/// same number without their draws coinciding).
pub fn training_rng(seed: u64) -> ChaCha20Rng {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    rng.set_stream(1);
    rng
}

/// The validation split of `n` rows: `n_val` rows drawn at random (in
/// the order drawn) and the rest (in their original order). The first
/// use of the run's stream.
pub fn validation_split(n: usize, n_val: usize, rng: &mut ChaCha20Rng) -> (Vec<usize>, Vec<usize>) {
    let mut idx: Vec<usize> = (0..n).collect();
    shuffle(&mut idx, rng);
    let mut val: Vec<usize> = idx[..n_val.min(n)].to_vec();
    let mut is_val = vec![false; n];
    val.iter().for_each(|&i| is_val[i] = true);
    let train = (0..n).filter(|&i| !is_val[i]).collect();
    val.sort_unstable();
    (train, val)
}

/// A training run's state.
pub struct Trainer {
    layout: ParamLayout,
    activations: Vec<Activation>,
    settings: Settings,
    params: Vec<f64>,
    best: Vec<f64>,
    /// First optimiser buffer (momentum, or Adam's first moment).
    state1: Vec<f64>,
    /// Adam's second moment.
    state2: Vec<f64>,
    /// Steps done (Adam's `t`).
    step: u64,
    /// Training rows, row-major (`n x d_in`), and their targets (`n x d_out`).
    x: Vec<f64>,
    y: Vec<f64>,
    d_in: usize,
    d_out: usize,
    /// Validation rows (column-major).
    x_val: Array2<f64>,
    y_val: Array2<f64>,
    order: Vec<usize>,
    rng: ChaCha20Rng,
    /// `lambda` of the decay of the biases (0: they are not decayed; see
    /// [`Trainer::set_bias_decay`]).
    bias_decay: f64,
}

impl Trainer {
    /// Sets up a run: `params` (the network's, in `layout`), the data
    /// (`x`: `n x d_in`, `y`: `n x d_out`, any strides), `n_val` rows held
    /// out for validation (drawn with the run's stream, seeded by `seed`).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        layout: ParamLayout,
        activations: Vec<Activation>,
        params: Vec<f64>,
        x: ArrayView2<f64>,
        y: ArrayView2<f64>,
        n_val: usize,
        settings: Settings,
        seed: u64,
    ) -> Result<Self, CoreError> {
        // a network view checks the layout against the activations
        let (d_in, d_out) = {
            let net = layout.network(&params, &activations)?;
            (net.n_inputs(), net.n_outputs())
        };
        let n = x.nrows();
        if x.ncols() != d_in || y.dim() != (n, d_out) {
            return err(format!(
                "the data ({}x{} and {}x{}) do not fit a network of {} inputs and {} outputs",
                x.nrows(),
                x.ncols(),
                y.nrows(),
                y.ncols(),
                d_in,
                d_out
            ));
        }
        if n_val >= n {
            return err(format!("{n_val} validation rows leave none of the {n} rows to train on"));
        }
        let out = activations[activations.len() - 1];
        if !settings.loss.fits(out) {
            return err(format!("the {} loss does not fit a {} output layer", settings.loss.name(), out.name()));
        }
        if settings.batch_size == 0 {
            return err("the batch size must be at least 1".into());
        }
        let mut rng = training_rng(seed);
        let (train, val) = validation_split(n, n_val, &mut rng);
        // the copies of the data and the optimiser's state are as large as
        // the user makes them: allocated fallibly (an error, not an abort)
        let mut xr = try_with_capacity(train.len().saturating_mul(d_in), "a row-major copy of the training rows")?;
        let mut yr = try_with_capacity(train.len().saturating_mul(d_out), "a row-major copy of the targets")?;
        for &i in &train {
            xr.extend(x.row(i).iter());
            yr.extend(y.row(i).iter());
        }
        let mut x_val = Array2::from_shape_vec((val.len(), d_in).f(), try_filled(val.len() * d_in, 0.0, "the validation rows")?)
            .map_err(|e| CoreError(format!("{e}")))?;
        let mut y_val = Array2::from_shape_vec((val.len(), d_out).f(), try_filled(val.len() * d_out, 0.0, "the validation targets")?)
            .map_err(|e| CoreError(format!("{e}")))?;
        for (r, &i) in val.iter().enumerate() {
            x_val.row_mut(r).assign(&x.row(i));
            y_val.row_mut(r).assign(&y.row(i));
        }
        let p = params.len();
        let state2 = if matches!(settings.optimizer, Optimizer::Adam { .. }) {
            try_filled(p, 0.0, "the optimiser's state")?
        } else {
            Vec::new()
        };
        let state1 = try_filled(p, 0.0, "the optimiser's state")?;
        let mut best = try_with_capacity(p, "a copy of the best weights")?;
        best.extend_from_slice(&params);
        Ok(Trainer {
            layout,
            activations,
            settings,
            best,
            params,
            state1,
            state2,
            step: 0,
            x: xr,
            y: yr,
            d_in,
            d_out,
            x_val,
            y_val,
            order: train.iter().enumerate().map(|(r, _)| r).collect(),
            rng,
            bias_decay: 0.0,
        })
    }

    /// Decays the biases too, with `lambda` (`loss += lambda / 2 *
    /// sum(b^2)`, `grad += lambda * b`), as nnet's `decay` does; 0 (the
    /// default) leaves them undecayed.
    pub fn set_bias_decay(&mut self, lambda: f64) {
        self.bias_decay = lambda;
    }

    /// The current parameters.
    pub fn params(&self) -> &[f64] {
        &self.params
    }

    /// The parameters last saved by [`Trainer::save_best`].
    pub fn best(&self) -> &[f64] {
        &self.best
    }

    /// Saves the current parameters as the best so far.
    pub fn save_best(&mut self) {
        self.best.copy_from_slice(&self.params);
    }

    /// Rows trained on, and rows held out.
    pub fn rows(&self) -> (usize, usize) {
        (self.order.len(), self.x_val.nrows())
    }

    /// The parameters' layout.
    pub fn layout(&self) -> &ParamLayout {
        &self.layout
    }

    /// The mean loss on the validation rows (NaN without any), at the
    /// current parameters.
    pub fn validation_loss(&self) -> Result<f64, CoreError> {
        let net = self.layout.network(&self.params, &self.activations)?;
        mean_loss(self.x_val.view(), self.y_val.view(), &net, self.settings.loss, self.settings.threads)
    }

    /// One epoch. `interrupt` is called on the calling thread between
    /// steps (every few milliseconds at most); when it returns `true`, the
    /// epoch stops after the current step. An error when the epoch's
    /// buffers cannot be allocated; a panic in any thread (a bug) is an
    /// error too, never a hang: the other threads stop waiting for it.
    pub fn epoch(&mut self, interrupt: &mut dyn FnMut() -> bool) -> Result<EpochResult, CoreError> {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run_epoch(interrupt)));
        match outcome {
            Ok(result) => result,
            Err(payload) => {
                let what = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".to_string());
                err(format!("internal error in a training epoch ({what}); please report it"))
            }
        }
    }

    fn run_epoch(&mut self, interrupt: &mut dyn FnMut() -> bool) -> Result<EpochResult, CoreError> {
        let n = self.order.len();
        shuffle(&mut self.order, &mut self.rng);
        let bs = self.settings.batch_size.min(n.max(1));
        let steps = n.div_ceil(bs);
        let mut plan = {
            let net = self.layout.network(&self.params, &self.activations)?;
            Plan::new(&net, bs, minibatch_block_rows(bs), 1, true)
        };
        // rows per block: the plan takes fewer than asked where a layer is
        // wide (its scratch memory is capped)
        let rb = plan.block_rows();
        let p = self.layout.len;
        // A step's blocks are grouped into shards, as in the full-batch
        // gradient: shard `s` of `k` holds the blocks `[s b / k, (s + 1) b
        // / k)`, its gradient in a buffer of its own. `k` depends on the
        // step's rows and the network only, never on the threads.
        let shards = shard_count(bs.div_ceil(rb), p);
        let threads = self.settings.threads.clamp(1, shards);
        let mut bufs = Vec::with_capacity(shards);
        for _ in 0..shards {
            bufs.push(try_filled(p, 0.0, "the gradient buffers of a training step")?);
        }
        let mut losses = vec![0.0; shards];
        // the packed weights, repacked after every update: matrix `i` by
        // thread `i % threads`
        let packs: Vec<(SharedPtr<PackedB>, usize, bool)> =
            plan.packed_mut().into_iter().map(|(p, l, tr)| (SharedPtr(p as *mut PackedB), l, tr)).collect();
        let packs = &packs;

        let stop = AtomicBool::new(false);
        let diverged = AtomicBool::new(false);
        let barrier = SpinBarrier::new(threads);
        // the buffers' memory, each written by one thread at a time (see
        // the phases of `Epoch`)
        let bufs_ptr: Vec<SharedPtr<f64>> = bufs.iter_mut().map(|b| SharedPtr(b.as_mut_ptr())).collect();
        // weight decay applies to the weights; the biases have their own
        // lambda (0 unless set: nnet's decay covers them)
        let mut decay_ranges: Vec<(Range<usize>, f64)> = Vec::new();
        if self.settings.weight_decay != 0.0 {
            decay_ranges.extend(self.layout.weight_ranges().map(|r| (r, self.settings.weight_decay)));
        }
        if self.bias_decay != 0.0 {
            decay_ranges.extend(self.layout.bias_ranges().map(|r| (r, self.bias_decay)));
        }
        let epoch = Epoch {
            n,
            bs,
            rb,
            p,
            steps,
            threads,
            settings: self.settings,
            layout: &self.layout,
            activations: &self.activations,
            x: &self.x,
            y: &self.y,
            d_in: self.d_in,
            d_out: self.d_out,
            order: &self.order,
            step0: self.step,
            decay_ranges: &decay_ranges,
            params: SharedPtr(self.params.as_mut_ptr()),
            state1: SharedPtr(self.state1.as_mut_ptr()),
            state2: SharedPtr(self.state2.as_mut_ptr()),
            bufs: &bufs_ptr,
            losses: SharedPtr(losses.as_mut_ptr()),
            plan: SharedPtr(&mut plan as *mut Plan),
            packs,
            barrier: &barrier,
            stop: &stop,
            diverged: &diverged,
        };
        let interrupt: &mut dyn FnMut() -> bool = interrupt;
        let (total_loss, steps_done) = if threads <= 1 {
            epoch.worker(0, Some(interrupt))
        } else {
            std::thread::scope(|scope| {
                for t in 1..threads {
                    let epoch = &epoch;
                    scope.spawn(move || epoch.worker(t, None));
                }
                epoch.worker(0, Some(interrupt))
            })
        };
        self.step += steps_done as u64;
        let rows_done = (steps_done * bs).min(n);
        Ok(EpochResult {
            loss: total_loss / self.settings.loss.mean_over(rows_done, self.d_out),
            steps: steps_done,
            interrupted: stop.load(Ordering::Relaxed),
            diverged: diverged.load(Ordering::Relaxed),
        })
    }
}

/// What the threads of one epoch share: the run's settings and data (only
/// read), and pointers to the memory that the phases of a step take turns
/// to write. Each step has three phases, separated by the barrier (with
/// one thread there is no barrier, and the phases simply follow one
/// another):
/// * A ([`Epoch::gradients`]): thread `t` computes the gradients of the
///   shards `t, t + threads, ...` into their buffers, and their losses;
///   the parameters and the plan are only read.
/// * B ([`Epoch::step_loss`], [`Epoch::update_share`]): every thread reads
///   the shards' losses; thread `t` adds up the buffers over its own share
///   of the parameters (into the first buffer) and updates that share of
///   the parameters and of the optimiser's state. Shares are disjoint.
/// * C ([`Epoch::repack`]): the parameters are only read; packed matrix
///   `i` is rewritten by thread `i % threads` alone; thread 0 asks about
///   an interrupt.
///
/// The `unsafe` blocks below rely on this schedule; each says which part
/// of it makes its access free of races.
struct Epoch<'e> {
    /// Training rows, rows per step, rows per block, parameters, steps,
    /// threads.
    n: usize,
    bs: usize,
    rb: usize,
    p: usize,
    steps: usize,
    threads: usize,
    settings: Settings,
    layout: &'e ParamLayout,
    activations: &'e [Activation],
    /// The trainer's rows (row-major) and targets, and their widths.
    x: &'e [f64],
    y: &'e [f64],
    d_in: usize,
    d_out: usize,
    /// The epoch's shuffled order of the rows.
    order: &'e [usize],
    /// Steps done before this epoch.
    step0: u64,
    /// The ranges of the parameters that weight decay applies to.
    decay_ranges: &'e [(Range<usize>, f64)],
    /// The trainer's parameters and optimiser state (`p` values each).
    params: SharedPtr<f64>,
    state1: SharedPtr<f64>,
    state2: SharedPtr<f64>,
    /// One gradient buffer of `p` values per shard, and each shard's loss.
    bufs: &'e [SharedPtr<f64>],
    losses: SharedPtr<f64>,
    /// The plan, and the packed matrices it owns (with their layer and
    /// whether they are transposed).
    plan: SharedPtr<Plan>,
    packs: &'e [(SharedPtr<PackedB>, usize, bool)],
    barrier: &'e SpinBarrier,
    stop: &'e AtomicBool,
    diverged: &'e AtomicBool,
}

impl Epoch<'_> {
    /// Thread `t`'s part of every step (thread 0 gets the interrupt):
    /// phase A, barrier, phase B, barrier, phase C, barrier. Returns the
    /// summed loss of the steps done and their number. A broken barrier
    /// (another thread panicked) ends it early.
    fn worker(&self, t: usize, interrupt: Option<&mut dyn FnMut() -> bool>) -> (f64, usize) {
        let _guard = BreakOnPanic(self.barrier);
        let mut interrupt = interrupt;
        let mut scratch = None;
        let mut xb = vec![0.0; self.rb * self.d_in];
        let mut yb = vec![0.0; self.rb * self.d_out];
        let mut total = 0.0;
        let mut done = 0;
        let threads = self.threads;
        let share = (t * self.p / threads, (t + 1) * self.p / threads);
        for s in 0..self.steps {
            let rows = (s * self.bs, ((s + 1) * self.bs).min(self.n));
            let step_shards = shard_count((rows.1 - rows.0).div_ceil(self.rb), self.p);
            self.gradients(t, rows, step_shards, &mut scratch, &mut xb, &mut yb);
            if threads > 1 && !self.barrier.wait() {
                break;
            }
            let step_loss = self.step_loss(step_shards);
            if !step_loss.is_finite() {
                self.diverged.store(true, Ordering::Relaxed);
                break;
            }
            total += step_loss;
            done += 1;
            self.update_share(share, step_shards, self.step0 + done as u64);
            if threads > 1 && !self.barrier.wait() {
                break;
            }
            self.repack(t);
            if t == 0 {
                if let Some(f) = interrupt.as_mut() {
                    if f() {
                        self.stop.store(true, Ordering::Relaxed);
                    }
                }
            }
            if threads > 1 && !self.barrier.wait() {
                break;
            }
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
        }
        (total, done)
    }

    /// Phase A for the step of the shuffled rows `r0..r1`: the gradients
    /// of the shards `t, t + threads, ...` (of `step_shards`) into their
    /// buffers, their losses into `losses`. `xb` and `yb` hold a block's
    /// rows, gathered column-major.
    fn gradients(
        &self,
        t: usize,
        (r0, r1): (usize, usize),
        step_shards: usize,
        scratch: &mut Option<BlockScratch>,
        xb: &mut [f64],
        yb: &mut [f64],
    ) {
        let (p, rb, d_in, d_out) = (self.p, self.rb, self.d_in, self.d_out);
        let m = r1 - r0;
        let blocks = m.div_ceil(rb);
        // SAFETY: the parameters and the plan are only read in phase A
        // (written in phases B and C, after a barrier).
        let params = unsafe { std::slice::from_raw_parts(self.params.get() as *const f64, p) };
        let plan = unsafe { &*self.plan.get() };
        let net = own_network(self.layout, params, self.activations);
        let scratch = scratch.get_or_insert_with(|| BlockScratch::new(&net, plan));
        let obj = Objective { loss: self.settings.loss, mean_over: self.settings.loss.mean_over(m, d_out) };
        for sh in (t..step_shards).step_by(self.threads) {
            // SAFETY: shard `sh` (hence buffer and loss `sh`) is this
            // thread's alone in phase A; `sh < step_shards <= shards`, the
            // number of buffers (shard_count grows with the blocks, and a
            // step has at most the blocks of a full batch).
            let buf = unsafe { std::slice::from_raw_parts_mut(self.bufs[sh].get(), p) };
            let loss = unsafe { &mut *self.losses.get().add(sh) };
            let (k0, k1) = (sh * blocks / step_shards, (sh + 1) * blocks / step_shards);
            let mut shard_loss = 0.0;
            for b in k0..k1 {
                let (b0, b1) = (r0 + b * rb, (r0 + (b + 1) * rb).min(r1));
                let mb = b1 - b0;
                for (i, &row) in self.order[b0..b1].iter().enumerate() {
                    let xr = &self.x[row * d_in..(row + 1) * d_in];
                    let yr = &self.y[row * d_out..(row + 1) * d_out];
                    xr.iter().enumerate().for_each(|(j, &v)| xb[i + j * mb] = v);
                    yr.iter().enumerate().for_each(|(j, &v)| yb[i + j * mb] = v);
                }
                let xv = col_major_ref(xb, mb, d_in);
                let yv = col_major_ref(yb, mb, d_out);
                // the shard's first block writes its buffer, the others
                // add to it
                shard_loss += block_gradient(xv, yv, &net, plan, obj, buf, b > k0, scratch);
            }
            *loss = shard_loss;
        }
    }

    /// Phase B: the step's loss, the first `step_shards` shards' losses
    /// added in order (every thread computes it).
    fn step_loss(&self, step_shards: usize) -> f64 {
        // SAFETY: phase A is over: the losses are only read until the next
        // step's phase A, two barriers on.
        unsafe { std::slice::from_raw_parts(self.losses.get() as *const f64, step_shards) }
            .iter()
            .fold(0.0, |a, &b| a + b)
    }

    /// Phase B: the gradient over this thread's `share` of the parameters
    /// (the first `step_shards` buffers added in order into the first, plus
    /// weight decay), then the optimiser's step `t` on that share.
    fn update_share(&self, share: (usize, usize), step_shards: usize, t: u64) {
        let settings = &self.settings;
        let len = share.1 - share.0;
        // SAFETY: phase A is over; in phase B each thread reads and writes
        // only its own share of the parameters, of the optimiser's state
        // and of the buffers (the shares are disjoint), and no one else
        // touches them until the barrier that ends phase B.
        let w = unsafe { std::slice::from_raw_parts_mut(self.params.get().add(share.0), len) };
        let s1 = unsafe { std::slice::from_raw_parts_mut(self.state1.get().add(share.0), len) };
        let s2 = if matches!(settings.optimizer, Optimizer::Adam { .. }) {
            unsafe { std::slice::from_raw_parts_mut(self.state2.get().add(share.0), len) }
        } else {
            &mut []
        };
        let g = unsafe { std::slice::from_raw_parts_mut(self.bufs[0].get().add(share.0), len) };
        for buf in &self.bufs[1..step_shards] {
            // SAFETY: as above (this thread's share of another buffer)
            let other = unsafe { std::slice::from_raw_parts(buf.get().add(share.0) as *const f64, len) };
            g.iter_mut().zip(other).for_each(|(a, &o)| *a += o);
        }
        for (r, lambda) in self.decay_ranges {
            let (a, e) = (r.start.max(share.0), r.end.min(share.1));
            if a < e {
                let lambda = *lambda;
                let (ga, wa) = (&mut g[a - share.0..e - share.0], &w[a - share.0..e - share.0]);
                ga.iter_mut().zip(wa).for_each(|(gi, &wi)| *gi += lambda * wi);
            }
        }
        update(w, s1, s2, g, settings, t);
    }

    /// Phase C: the new weights packed for the next step's products,
    /// packed matrix `i` by thread `i % threads`.
    fn repack(&self, t: usize) {
        // SAFETY: phase B is over: the parameters are only read from here
        // to the next step's phase B.
        let params = unsafe { std::slice::from_raw_parts(self.params.get() as *const f64, self.p) };
        let net = own_network(self.layout, params, self.activations);
        for (packed, l, transposed) in self.packs.iter().skip(t).step_by(self.threads) {
            let w = net.layers()[*l].weights.view();
            let w = if *transposed { w.reversed_axes() } else { w };
            // SAFETY: each packed matrix is written by one thread (this
            // one) in phase C, and neither it nor the plan that owns it is
            // read until the barrier that ends phase C.
            unsafe { (*packed.get()).repack(w) };
        }
    }
}

/// The network of the trainer's own parameters in its own layout (checked
/// when the trainer was made, so this cannot fail).
fn own_network<'f>(layout: &ParamLayout, params: &'f [f64], activations: &[Activation]) -> Network<'f> {
    match layout.network(params, activations) {
        Ok(net) => net,
        Err(e) => unreachable!("the trainer's own layout: {e}"),
    }
}

/// The optimiser's step `t` (counted from 1) on a share of the
/// parameters `w`, of its gradient `g` and of the optimiser's state (`s1`,
/// and `s2` for Adam). Element by element, in loops the compiler
/// vectorises.
fn update(w: &mut [f64], s1: &mut [f64], s2: &mut [f64], g: &[f64], settings: &Settings, t: u64) {
    let lr = settings.learn_rate;
    match settings.optimizer {
        Optimizer::Sgd { momentum: 0.0 } => {
            w.iter_mut().zip(g).for_each(|(w, &g)| *w -= lr * g);
        }
        Optimizer::Sgd { momentum } => {
            if t == 1 {
                s1.copy_from_slice(g);
            } else {
                s1.iter_mut().zip(g).for_each(|(v, &g)| *v = momentum * *v + g);
            }
            w.iter_mut().zip(s1.iter()).for_each(|(w, &v)| *w -= lr * v);
        }
        Optimizer::Adam { beta1, beta2, eps } => {
            let t = t.min(i32::MAX as u64) as i32;
            let step_size = lr / (1.0 - beta1.powi(t));
            let bc2_sqrt = (1.0 - beta2.powi(t)).sqrt();
            for (((w, m), v), &g) in w.iter_mut().zip(s1.iter_mut()).zip(s2.iter_mut()).zip(g) {
                *m = beta1 * *m + (1.0 - beta1) * g;
                *v = beta2 * *v + (1.0 - beta2) * g * g;
                *w -= step_size * *m / (v.sqrt() / bc2_sqrt + eps);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backward::gradient_into;
    use crate::test_util::{random_scaled, Spec};
    use Activation::*;

    fn setup(sizes: &[usize], acts: &[Activation], n: usize) -> (Spec, Array2<f64>, Array2<f64>) {
        let spec = Spec::new(sizes, acts, true, 3);
        let x = random_scaled(n, sizes[0], 11, 2.0);
        let d = *sizes.last().expect("sizes");
        // a target the network can learn: a smooth function of x
        let mut y = Array2::zeros((n, d).f());
        for i in 0..n {
            for j in 0..d {
                let s: f64 = x.row(i).iter().enumerate().map(|(k, v)| v * ((k + j) as f64).cos()).sum();
                y[(i, j)] = 1.0 / (1.0 + (-s).exp());
            }
        }
        (spec, x, y)
    }

    fn trainer(spec: &Spec, x: &Array2<f64>, y: &Array2<f64>, n_val: usize, settings: Settings, seed: u64) -> Trainer {
        let net = spec.net();
        let layout = ParamLayout::of(&net);
        let mut params = vec![0.0; layout.len];
        layout.gather(&net, &mut params);
        Trainer::new(layout, spec.acts.clone(), params, x.view(), y.view(), n_val, settings, seed).expect("fits")
    }

    fn settings(optimizer: Optimizer, batch_size: usize, threads: usize) -> Settings {
        Settings { loss: Loss::Bce, optimizer, learn_rate: 0.05, weight_decay: 0.01, batch_size, threads }
    }

    const ADAM: Optimizer = Optimizer::Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8 };

    fn never() -> impl FnMut() -> bool {
        || false
    }

    #[test]
    fn threads_give_the_same_fitted_weights_bit_for_bit() {
        let (spec, x, y) = setup(&[7, 33, 17, 2], &[Tanh, Relu, Sigmoid], 1001);
        for (opt, bs) in [(ADAM, 128), (Optimizer::Sgd { momentum: 0.9 }, 300), (ADAM, 1001), (ADAM, 5000)] {
            let run = |threads: usize| {
                let mut t = trainer(&spec, &x, &y, 100, settings(opt, bs, threads), 42);
                let losses: Vec<u64> = (0..3).map(|_| t.epoch(&mut never()).expect("epoch").loss.to_bits()).collect();
                (t.params().to_vec(), losses, t.validation_loss().expect("fits").to_bits())
            };
            let one = run(1);
            for threads in [2, 3] {
                let other = run(threads);
                assert!(one.0.iter().zip(&other.0).all(|(a, b)| a.to_bits() == b.to_bits()), "{opt:?} batch {bs}, {threads} threads");
                assert_eq!(one.1, other.1);
                assert_eq!(one.2, other.2);
            }
        }
    }

    #[test]
    fn batches_past_the_buffer_limit_train_and_agree_across_threads() {
        // more blocks per step than gradient buffers (16 at most): batch
        // sizes of 1,025 rows and up, and the last, shorter, step
        let (spec, x, y) = setup(&[5, 32, 16, 1], &[Tanh, Relu, Identity], 3001);
        for bs in [1025, 1088, 2000, 2049, 2100, 5000] {
            let run = |threads: usize| {
                let mut s = settings(Optimizer::Sgd { momentum: 0.9 }, bs, threads);
                s.loss = Loss::Mse;
                let mut t = trainer(&spec, &x, &y, 1, s, 9);
                let losses: Vec<u64> = (0..2).map(|_| t.epoch(&mut never()).expect("epoch").loss.to_bits()).collect();
                (t.params().iter().map(|v| v.to_bits()).collect::<Vec<u64>>(), losses)
            };
            let one = run(1);
            assert!(f64::from_bits(one.1[1]).is_finite(), "batch {bs}");
            for threads in [2, 3, 7] {
                assert_eq!(one, run(threads), "batch {bs}, {threads} threads");
            }
        }
    }

    #[test]
    fn a_wide_layer_takes_shorter_blocks_and_trains() {
        // a layer so wide that the plan caps a block below the 64 rows a
        // minibatch asks for (its scratch memory is capped)
        let (spec, x, y) = setup(&[1, 66_000, 1], &[Tanh, Identity], 130);
        let run = |threads: usize| {
            let mut s = settings(ADAM, 129, threads);
            s.loss = Loss::Mse;
            let mut t = trainer(&spec, &x, &y, 0, s, 2);
            let r = t.epoch(&mut never()).expect("epoch");
            assert_eq!(r.steps, 2);
            (t.params().iter().map(|v| v.to_bits()).collect::<Vec<u64>>(), r.loss.to_bits())
        };
        let one = run(1);
        assert!(f64::from_bits(one.1).is_finite());
        assert_eq!(one, run(2));
    }

    #[test]
    fn a_full_batch_step_is_the_full_batch_gradient_to_the_bit() {
        // one SGD step over all rows equals the full-batch gradient of the
        // same rows in the same (shuffled) order, blocked alike: bit for bit,
        // for batches of fewer and of more blocks than gradient buffers
        for n in [700, 1025, 2049, 4100] {
            let (spec, x, y) = setup(&[4, 9, 2], &[Tanh, Sigmoid], n);
            let mut s = settings(Optimizer::Sgd { momentum: 0.0 }, n, 3);
            s.weight_decay = 0.0;
            let mut t = trainer(&spec, &x, &y, 0, s, 5);
            let before = t.params().to_vec();
            // the trainer's order: its stream, the split, then the shuffle
            let mut rng = training_rng(5);
            let (train, _) = validation_split(n, 0, &mut rng);
            let mut order: Vec<usize> = (0..train.len()).collect();
            shuffle(&mut order, &mut rng);
            let xs = Array2::from_shape_fn((n, 4).f(), |(i, j)| x[(train[order[i]], j)]);
            let ys = Array2::from_shape_fn((n, 2).f(), |(i, j)| y[(train[order[i]], j)]);
            let r = t.epoch(&mut never()).expect("epoch");
            let net = spec.net();
            let mut g = vec![0.0; before.len()];
            let rb = minibatch_block_rows(n);
            let loss = crate::backward::gradient_into_with_block(xs.view(), ys.view(), &net, Loss::Bce, &mut g, 1, rb)
                .expect("fits");
            assert_eq!(r.loss.to_bits(), loss.to_bits(), "n {n}");
            for ((&b, &a), &gi) in before.iter().zip(t.params()).zip(&g) {
                assert_eq!(a.to_bits(), (b - 0.05 * gi).to_bits(), "n {n}");
            }
        }
    }

    #[test]
    fn a_panicking_thread_breaks_the_barrier_instead_of_hanging() {
        let barrier = SpinBarrier::new(3);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            std::thread::scope(|scope| {
                for _ in 0..2 {
                    scope.spawn(|| {
                        // both wait for a third that never comes
                        let mut met = 0;
                        while barrier.wait() {
                            met += 1;
                        }
                        met
                    });
                }
                let _guard = BreakOnPanic(&barrier);
                panic!("a bug");
            })
        }));
        assert!(result.is_err());
        assert!(!barrier.wait());
    }

    #[test]
    fn same_seed_same_run_other_seed_other_run() {
        let (spec, x, y) = setup(&[3, 5, 1], &[Sigmoid], 200);
        let run = |seed: u64| {
            let mut t = trainer(&spec, &x, &y, 20, settings(ADAM, 16, 1), seed);
            t.epoch(&mut never()).expect("epoch");
            t.params().to_vec()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn full_batch_sgd_is_one_gradient_step() {
        let (spec, x, y) = setup(&[4, 6, 3], &[Tanh, Sigmoid], 50);
        let mut s = settings(Optimizer::Sgd { momentum: 0.0 }, 50, 1);
        s.weight_decay = 0.0;
        let mut t = trainer(&spec, &x, &y, 0, s, 7);
        let before = t.params().to_vec();
        let r = t.epoch(&mut never()).expect("epoch");
        assert_eq!(r.steps, 1);
        let net = spec.net();
        let mut g = vec![0.0; before.len()];
        let loss = gradient_into(x.view(), y.view(), &net, Loss::Bce, &mut g, 1).expect("fits");
        assert!((r.loss - loss).abs() <= 1e-14 * loss);
        for ((&b, &a), &gi) in before.iter().zip(t.params()).zip(&g) {
            // the rows' order differs (shuffled), so the sums round differently
            assert!((a - (b - 0.05 * gi)).abs() <= 1e-14 * b.abs().max(1.0));
        }
    }

    #[test]
    fn adam_and_momentum_follow_torchs_formulas() {
        let (spec, x, y) = setup(&[2, 3, 1], &[Sigmoid], 10);
        for opt in [ADAM, Optimizer::Sgd { momentum: 0.5 }] {
            let s = Settings { loss: Loss::Mse, optimizer: opt, learn_rate: 0.1, weight_decay: 0.2, batch_size: 10, threads: 1 };
            let mut t = trainer(&spec, &x, &y, 0, s, 1);
            let layout = t.layout().clone();
            let mut w = t.params().to_vec();
            let (mut m, mut v) = (vec![0.0; w.len()], vec![0.0; w.len()]);
            for step in 1..=3 {
                let net = layout.network(&w, &spec.acts).expect("fits");
                let mut g = vec![0.0; w.len()];
                gradient_into(x.view(), y.view(), &net, Loss::Mse, &mut g, 1).expect("fits");
                for r in layout.weight_ranges() {
                    for i in r {
                        g[i] += 0.2 * w[i];
                    }
                }
                for i in 0..w.len() {
                    match opt {
                        Optimizer::Adam { .. } => {
                            m[i] = 0.9 * m[i] + 0.1 * g[i];
                            v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
                            let mhat = m[i] / (1.0 - 0.9f64.powi(step));
                            let vhat = v[i] / (1.0 - 0.999f64.powi(step));
                            w[i] -= 0.1 * mhat / (vhat.sqrt() + 1e-8);
                        }
                        Optimizer::Sgd { .. } => {
                            m[i] = if step == 1 { g[i] } else { 0.5 * m[i] + g[i] };
                            w[i] -= 0.1 * m[i];
                        }
                    }
                }
                t.epoch(&mut never()).expect("epoch");
                for (a, b) in t.params().iter().zip(&w) {
                    assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{opt:?} step {step}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn training_learns_and_validation_is_held_out() {
        let (spec, x, y) = setup(&[3, 16, 1], &[Tanh, Sigmoid], 600);
        let mut t = trainer(&spec, &x, &y, 120, settings(ADAM, 32, 2), 5);
        assert_eq!(t.rows(), (480, 120));
        let first_val = t.validation_loss().expect("fits");
        let first = t.epoch(&mut never()).expect("epoch").loss;
        let mut last = first;
        for _ in 0..60 {
            last = t.epoch(&mut never()).expect("epoch").loss;
        }
        let val = t.validation_loss().expect("fits");
        // the targets are probabilities: the loss cannot go below their
        // entropy; most of the way there
        let entropy = y.iter().map(|&p| -(p * p.ln() + (1.0 - p) * (1.0 - p).ln())).sum::<f64>() / y.len() as f64;
        assert!(last - entropy < 0.2 * (first - entropy), "training loss {first} -> {last} (entropy {entropy})");
        assert!(val - entropy < 0.3 * (first_val - entropy), "validation loss {first_val} -> {val} (entropy {entropy})");
    }

    #[test]
    fn divergence_and_interrupts_stop_the_epoch() {
        let (spec, x, y) = setup(&[3, 8, 1], &[Relu, Identity], 300);
        let s = Settings { loss: Loss::Mse, optimizer: Optimizer::Sgd { momentum: 0.9 }, learn_rate: 1e6, weight_decay: 0.0, batch_size: 10, threads: 2 };
        let mut t = trainer(&spec, &x, &y, 0, s, 1);
        let r = t.epoch(&mut never()).expect("epoch");
        assert!(r.diverged && r.steps < 30, "{r:?}");
        let mut calls = 0;
        let s = Settings { loss: Loss::Mse, learn_rate: 0.01, ..s };
        let mut t = trainer(&spec, &x, &y, 0, s, 1);
        let r = t.epoch(&mut || {
            calls += 1;
            calls == 3
        }).expect("epoch");
        assert!(r.interrupted && r.steps == 3 && !r.diverged, "{r:?}");
        assert!(r.loss.is_finite());
    }

    #[test]
    fn validation_split_is_a_seeded_partition() {
        let (train, val) = validation_split(100, 20, &mut training_rng(3));
        assert_eq!((train.len(), val.len()), (80, 20));
        let mut all: Vec<usize> = train.iter().chain(&val).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_eq!(validation_split(100, 20, &mut training_rng(3)).1, val);
        assert_ne!(validation_split(100, 20, &mut training_rng(4)).1, val);
        assert!(Trainer::new(
            ParamLayout::new(&[1, 1], &[false]),
            vec![Identity],
            vec![1.0],
            Array2::zeros((5, 1)).view(),
            Array2::zeros((5, 1)).view(),
            5,
            settings(ADAM, 1, 1),
            1
        )
        .is_err());
    }
}
