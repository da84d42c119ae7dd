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
//! own, and the buffers are added in order during the update. Same seed,
//! same data: the same fitted weights, bit for bit, on 1 or many threads.
//!
//! A step has two phases (three with clipping): the gradients, one piece
//! per shard, then the update, one piece per layer (the layer's sums,
//! penalties and optimiser step, then its weights repacked for the next
//! step's products). The pieces are handed out as threads become free and
//! a phase ends when its pieces are done (see [`crate::parallel`]'s
//! `Crew`), so a thread whose core is busy elsewhere takes fewer pieces
//! instead of holding up the others at a barrier. An epoch takes no more
//! threads than its steps' work pays for ([`step_threads`]): a small
//! network trains on one thread, with no meetings at all.
//!
//! The optimisers follow torch's definitions (`optim_sgd`, `optim_adam`):
//! * SGD: `v <- momentum v + g` (`v = g` at the first step), `w <- w - lr v`;
//! * Adam: `m <- b1 m + (1 - b1) g`, `v <- b2 v + (1 - b2) g^2`,
//!   `w <- w - (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)`.
//!
//! Weight decay `lambda` adds `lambda w` to the gradient of every weight
//! (not the biases), i.e. `lambda / 2 sum(W^2)` to the loss.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use ndarray::{Array2, ArrayView2, ShapeBuilder};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use crate::activation::Activation;
use crate::backward::{
    block_gradient_with, check_row_weights, l1_sign, mean_loss_weighted, shard_count, BlockExtra, BlockScratch, Dropout, Objective, Plan,
};
use crate::gemm::PackedB;
use crate::loss::Loss;
use crate::memory::{try_filled, try_with_capacity};
use crate::network::{err, CoreError, Network, ParamLayout};
use crate::parallel::{BreakCrewOnPanic, Crew, SharedPtr, CREW_MAX_PIECES};
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
    /// `lambda` of the L1 penalty `lambda sum|W|` over the weights (0 for
    /// none).
    pub l1: f64,
    /// The largest L2 norm of a step's gradient (the data loss's, over all
    /// parameters), scaled down to it when larger, as torch's
    /// `clip_grad_norm_`; 0 for no clipping.
    pub clip_norm: f64,
    /// The probability of dropping a hidden unit in training (0 for none).
    pub dropout: f64,
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

/// The stream of a training run's dropout masks: seeded as
/// [`training_rng`], on a stream of its own.
pub fn dropout_rng(seed: u64) -> ChaCha20Rng {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    rng.set_stream(2);
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
    /// The data's rows trained on and held out (in the order of `x` and
    /// `x_val`), to split row weights alike.
    train_rows: Vec<usize>,
    val_rows: Vec<usize>,
    /// Row weights of the training and validation rows (`None`: all 1).
    w: Option<Vec<f64>>,
    w_val: Option<Vec<f64>>,
    /// The stream of the dropout masks, and the rows of the epochs done
    /// (the run's number of the next epoch's first row).
    dropout_rng: ChaCha20Rng,
    rows_seen: u64,
    /// Least work of a step per thread (see [`step_threads`]).
    min_step_work: usize,
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
        if !(0.0..1.0).contains(&settings.dropout) {
            return err(format!("the dropout probability must be in [0, 1), not {}", settings.dropout));
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
            train_rows: train,
            val_rows: val,
            w: None,
            w_val: None,
            dropout_rng: dropout_rng(seed),
            rows_seen: 0,
            min_step_work: STEP_MIN_WORK_PER_THREAD,
        })
    }

    /// Decays the biases too, with `lambda` (`loss += lambda / 2 *
    /// sum(b^2)`, `grad += lambda * b`), as nnet's `decay` does; 0 (the
    /// default) leaves them undecayed.
    pub fn set_bias_decay(&mut self, lambda: f64) {
        self.bias_decay = lambda;
    }

    /// Weighs the rows' losses by `w` (one weight per row of the data
    /// given to [`Trainer::new`], finite, `>= 0`): the loss of a step, of
    /// an epoch and of the validation rows becomes `sum_i w_i l_i / sum_i
    /// w_i` over their rows.
    pub fn set_row_weights(&mut self, w: &[f64]) -> Result<(), CoreError> {
        check_row_weights(Some(w), self.train_rows.len() + self.val_rows.len())?;
        let mut wt = try_with_capacity(self.train_rows.len(), "the training rows' weights")?;
        wt.extend(self.train_rows.iter().map(|&i| w[i]));
        let mut wv = try_with_capacity(self.val_rows.len(), "the validation rows' weights")?;
        wv.extend(self.val_rows.iter().map(|&i| w[i]));
        self.w = Some(wt);
        self.w_val = Some(wv);
        Ok(())
    }

    /// Sets the least work of a step per thread (multiply-adds; the
    /// default is [`STEP_MIN_WORK_PER_THREAD`]): tests set 0 to run small
    /// networks on every thread they ask for.
    pub fn set_min_step_work(&mut self, work: usize) {
        self.min_step_work = work;
    }

    /// Sets the step size of the steps to come (a learning-rate schedule
    /// changes it between epochs; Adam's moments are kept).
    pub fn set_learn_rate(&mut self, learn_rate: f64) {
        self.settings.learn_rate = learn_rate;
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
        mean_loss_weighted(self.x_val.view(), self.y_val.view(), self.w_val.as_deref(), &net, self.settings.loss, self.settings.threads)
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
        let mut bufs = Vec::with_capacity(shards);
        for _ in 0..shards {
            bufs.push(try_filled(p, 0.0, "the gradient buffers of a training step")?);
        }
        let mut losses = vec![0.0; shards];
        // the packed weights, repacked after every update by the piece
        // that updates their layer
        let packs: Vec<(SharedPtr<PackedB>, usize, bool)> =
            plan.packed_mut().into_iter().map(|(p, l, tr)| (SharedPtr(p as *mut PackedB), l, tr)).collect();
        let units = update_units(&self.layout);
        let threads = {
            let net = self.layout.network(&self.params, &self.activations)?;
            step_threads(self.settings.threads, bs, net.work_per_row(), shards.max(units.len()), self.min_step_work)
        };

        let stop = AtomicBool::new(false);
        let diverged = AtomicBool::new(false);
        // the buffers' memory, each written by one piece at a time (see
        // the phases of `Epoch`)
        let bufs_ptr: Vec<SharedPtr<f64>> = bufs.iter_mut().map(|b| SharedPtr(b.as_mut_ptr())).collect();
        // weight decay and L1 apply to the weights; the biases have their
        // own decay lambda (0 unless set: nnet's decay covers them) and no L1
        let mut penalty_ranges: Vec<(Range<usize>, f64, f64)> = Vec::new();
        if self.settings.weight_decay != 0.0 || self.settings.l1 != 0.0 {
            penalty_ranges.extend(self.layout.weight_ranges().map(|r| (r, self.settings.weight_decay, self.settings.l1)));
        }
        if self.bias_decay != 0.0 {
            penalty_ranges.extend(self.layout.bias_ranges().map(|r| (r, self.bias_decay, 0.0)));
        }
        let epoch = Epoch {
            n,
            bs,
            rb,
            p,
            steps,
            settings: self.settings,
            layout: &self.layout,
            activations: &self.activations,
            x: &self.x,
            y: &self.y,
            d_in: self.d_in,
            d_out: self.d_out,
            order: &self.order,
            w: self.w.as_deref(),
            dropout: (self.settings.dropout > 0.0).then_some((1.0 - self.settings.dropout, &self.dropout_rng)),
            rows0: self.rows_seen,
            step0: self.step,
            penalty_ranges: &penalty_ranges,
            params: SharedPtr(self.params.as_mut_ptr()),
            state1: SharedPtr(self.state1.as_mut_ptr()),
            state2: SharedPtr(self.state2.as_mut_ptr()),
            bufs: &bufs_ptr,
            losses: SharedPtr(losses.as_mut_ptr()),
            plan: SharedPtr(&mut plan as *mut Plan),
            packs: &packs,
            units: &units,
            clip_scale: AtomicU64::new(1.0f64.to_bits()),
            stop: &stop,
            diverged: &diverged,
        };
        let (total_loss, steps_done) = epoch.run(threads, interrupt);
        self.step += steps_done as u64;
        self.rows_seen += n as u64;
        let rows_done = (steps_done * bs).min(n);
        let weight_done = epoch.rows_weight(0, rows_done);
        Ok(EpochResult {
            loss: total_loss / self.settings.loss.weighted_mean_over(rows_done, weight_done, self.d_out),
            steps: steps_done,
            interrupted: stop.load(Ordering::Relaxed),
            diverged: diverged.load(Ordering::Relaxed),
        })
    }
}

/// Least work (multiply-adds) of a step per thread: below it, a thread
/// more costs more in meetings (a few microseconds each, tens when a
/// thread has to be woken) than it saves.
pub const STEP_MIN_WORK_PER_THREAD: usize = 1 << 19;

/// The threads of an epoch whose steps take `batch` rows of a network of
/// `work_per_row` multiply-adds forward (about three times that forward
/// and back) in at most `pieces` pieces per phase: no more than `threads`,
/// than the pieces, and than the work pays for (one thread for a small
/// network: no meetings at all).
/// `min_work` is the least work per thread (normally
/// [`STEP_MIN_WORK_PER_THREAD`]).
pub fn step_threads(threads: usize, batch: usize, work_per_row: usize, pieces: usize, min_work: usize) -> usize {
    let work = batch.saturating_mul(work_per_row).saturating_mul(3);
    threads.min(work / min_work.max(1)).min(pieces).max(1)
}

/// What one piece of an update phase covers: the parameters of a layer
/// (weights and bias, contiguous in the layout), whose packed matrices it
/// repacks once they are updated.
struct Unit {
    range: Range<usize>,
    layer: usize,
}

/// The update's pieces: one per layer, so that a piece can repack its
/// layer's weights right after updating them (no meeting in between).
fn update_units(layout: &ParamLayout) -> Vec<Unit> {
    let starts: Vec<usize> = layout.layers.iter().map(|s| s.weights).collect();
    (0..starts.len())
        .map(|l| Unit { range: starts[l]..starts.get(l + 1).copied().unwrap_or(layout.len), layer: l })
        .collect()
}

/// The phases of a step (a piece's tag: the phase in the low 2 bits, the
/// epoch's step above).
const PHASE_GRADIENTS: u64 = 0;
const PHASE_UPDATE: u64 = 1;
const PHASE_SUM: u64 = 2;
const PHASE_UPDATE_SUMMED: u64 = 3;

/// One thread's buffers: a block's scratch, its rows gathered
/// column-major (inputs, targets, weights).
struct ThreadScratch {
    block: Option<BlockScratch>,
    xb: Vec<f64>,
    yb: Vec<f64>,
    wb: Vec<f64>,
}

/// What the threads of one epoch share: the run's settings and data (only
/// read), and pointers to the memory that the phases of a step take turns
/// to write. The calling thread leads (see [`Crew`]); each step has two
/// phases (three with clipping), each cut into pieces whose number and
/// extent depend on the step's rows and the network only, never on the
/// threads, so that every sum is added in the same order whatever the
/// threads:
/// * gradients ([`Epoch::shard_gradient`]): piece `sh` computes the
///   gradient of the step's shard `sh` into buffer `sh`, and its loss; the
///   parameters and the plan are only read;
/// * update ([`Epoch::update_unit`]): the leader has checked the step's
///   loss; piece `u` adds up the buffers over unit `u`'s parameters (a
///   layer's) in order, into the first buffer, updates those parameters
///   and their optimiser state, then repacks the layer's packed matrices.
///   The units are disjoint, and so are the packed matrices they write.
///   With clipping, the sums come first (a phase of their own), then the
///   leader reads the whole gradient for its norm, then the update.
///
/// The `unsafe` blocks below rely on this schedule; each says which part
/// of it makes its access free of races.
struct Epoch<'e> {
    /// Training rows, rows per step, rows per block, parameters, steps.
    n: usize,
    bs: usize,
    rb: usize,
    p: usize,
    steps: usize,
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
    /// The rows' weights (`None`: all 1).
    w: Option<&'e [f64]>,
    /// Dropout: the probability of keeping a unit, and the masks' stream.
    dropout: Option<(f64, &'e ChaCha20Rng)>,
    /// The run's number of the epoch's first row (for the masks).
    rows0: u64,
    /// Steps done before this epoch.
    step0: u64,
    /// The ranges of the parameters that the penalties apply to, each
    /// with its decay `lambda` and its L1 `lambda` (empty without any).
    penalty_ranges: &'e [(Range<usize>, f64, f64)],
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
    /// The pieces of an update.
    units: &'e [Unit],
    /// The clipping factor of the step (bits of an `f64`), set by the
    /// leader before the update's phase.
    clip_scale: AtomicU64,
    stop: &'e AtomicBool,
    diverged: &'e AtomicBool,
}

impl Epoch<'_> {
    fn scratch(&self) -> ThreadScratch {
        ThreadScratch {
            block: None,
            xb: vec![0.0; self.rb * self.d_in],
            yb: vec![0.0; self.rb * self.d_out],
            wb: vec![0.0; if self.w.is_some() { self.rb } else { 0 }],
        }
    }

    /// Runs the epoch on `threads` threads (the calling thread leads and
    /// gets the interrupt). Returns the summed loss of the steps done and
    /// their number.
    fn run(&self, threads: usize, interrupt: &mut dyn FnMut() -> bool) -> (f64, usize) {
        let mut scratch = self.scratch();
        if threads <= 1 || self.units.len() > CREW_MAX_PIECES {
            let mut phase = |tag: u64, pieces: usize| {
                (0..pieces).for_each(|i| self.piece(tag, i, &mut scratch));
                true
            };
            return self.lead(&mut phase, interrupt);
        }
        let crew = Crew::new();
        std::thread::scope(|scope| {
            for _ in 1..threads {
                let crew = &crew;
                scope.spawn(move || {
                    let _guard = BreakCrewOnPanic(crew);
                    let mut scratch = self.scratch();
                    crew.serve(|tag, i| self.piece(tag, i, &mut scratch));
                });
            }
            let _guard = BreakCrewOnPanic(&crew);
            let mut phase = |tag: u64, pieces: usize| crew.run_phase(tag, pieces, &mut |tag, i| self.piece(tag, i, &mut scratch));
            let result = self.lead(&mut phase, interrupt);
            crew.finish();
            result
        })
    }

    /// The leader's loop over the steps: for each, the gradients' phase,
    /// the step's loss (a divergence stops the epoch before the update),
    /// the update's phase(s), then the interrupt. `phase(tag, pieces)`
    /// runs a phase to its end (`false`: a thread panicked).
    fn lead(&self, phase: &mut dyn FnMut(u64, usize) -> bool, interrupt: &mut dyn FnMut() -> bool) -> (f64, usize) {
        let mut total = 0.0;
        let mut done = 0;
        for s in 0..self.steps {
            let tag = (s as u64) << 2;
            let rows = self.step_rows(s);
            if !phase(tag | PHASE_GRADIENTS, self.step_shards(rows)) {
                break;
            }
            let step_loss = self.step_loss(self.step_shards(rows));
            if !step_loss.is_finite() {
                self.diverged.store(true, Ordering::Relaxed);
                break;
            }
            total += step_loss;
            done += 1;
            let units = self.units.len();
            let completed = if self.settings.clip_norm > 0.0 {
                phase(tag | PHASE_SUM, units) && {
                    self.clip_scale.store(self.clip_scale_of_sum().to_bits(), Ordering::Relaxed);
                    phase(tag | PHASE_UPDATE_SUMMED, units)
                }
            } else {
                phase(tag | PHASE_UPDATE, units)
            };
            if !completed {
                break;
            }
            if interrupt() {
                self.stop.store(true, Ordering::Relaxed);
                break;
            }
        }
        (total, done)
    }

    /// The shuffled rows of step `s`.
    fn step_rows(&self, s: usize) -> (usize, usize) {
        (s * self.bs, ((s + 1) * self.bs).min(self.n))
    }

    /// The shards of a step of the shuffled rows `r0..r1`.
    fn step_shards(&self, (r0, r1): (usize, usize)) -> usize {
        shard_count((r1 - r0).div_ceil(self.rb), self.p)
    }

    /// Runs piece `i` of the phase tagged `tag`.
    fn piece(&self, tag: u64, i: usize, scratch: &mut ThreadScratch) {
        let s = (tag >> 2) as usize;
        match tag & 3 {
            PHASE_GRADIENTS => self.shard_gradient(self.step_rows(s), i, scratch),
            PHASE_SUM => self.sum_unit(i, s),
            PHASE_UPDATE => {
                self.sum_unit(i, s);
                self.update_unit(i, 1.0, self.step0 + s as u64 + 1);
            }
            _ => {
                let scale = f64::from_bits(self.clip_scale.load(Ordering::Relaxed));
                self.update_unit(i, scale, self.step0 + s as u64 + 1);
            }
        }
    }

    /// The gradients' piece `sh` for the step of the shuffled rows
    /// `r0..r1`: the gradient of shard `sh` into its buffer, its loss into
    /// `losses`. `xb` and `yb` hold a block's rows, gathered column-major.
    fn shard_gradient(&self, (r0, r1): (usize, usize), sh: usize, scratch: &mut ThreadScratch) {
        let (p, rb, d_in, d_out) = (self.p, self.rb, self.d_in, self.d_out);
        let m = r1 - r0;
        let blocks = m.div_ceil(rb);
        let step_shards = self.step_shards((r0, r1));
        // SAFETY: the parameters and the plan are only read in the
        // gradients' phase (written in the update's, after the leader saw
        // every piece of this phase done).
        let params = unsafe { std::slice::from_raw_parts(self.params.get() as *const f64, p) };
        let plan = unsafe { &*self.plan.get() };
        let net = own_network(self.layout, params, self.activations);
        let ThreadScratch { block, xb, yb, wb } = scratch;
        let block = block.get_or_insert_with(|| {
            if self.dropout.is_some() {
                BlockScratch::with_dropout(&net, plan)
            } else {
                BlockScratch::new(&net, plan)
            }
        });
        let weight = self.rows_weight(r0, r1);
        let obj = Objective {
            loss: self.settings.loss,
            mean_over: self.settings.loss.weighted_mean_over(m, weight, d_out),
        };
        // SAFETY: piece `sh` (hence buffer and loss `sh`) is this thread's
        // alone in this phase; `sh < step_shards <= shards`, the number of
        // buffers (shard_count grows with the blocks, and a step has at
        // most the blocks of a full batch).
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
                if let Some(w) = self.w {
                    wb[i] = w[row];
                }
            }
            let xv = col_major_ref(xb, mb, d_in);
            let yv = col_major_ref(yb, mb, d_out);
            // the shard's first block writes its buffer, the others add to it
            let dropout = self.dropout.map(|(keep, rng)| Dropout { keep, rng, first_row: self.rows0 + b0 as u64 });
            let extra = BlockExtra { weights: self.w.map(|_| &wb[..mb]), dropout };
            shard_loss += block_gradient_with(xv, yv, &net, plan, obj, extra, buf, b > k0, block);
        }
        *loss = shard_loss;
    }

    /// The sum of the weights of the shuffled rows `r0..r1`, added in
    /// order (`None` without weights).
    fn rows_weight(&self, r0: usize, r1: usize) -> Option<f64> {
        self.w.map(|w| self.order[r0..r1].iter().fold(0.0, |a, &i| a + w[i]))
    }

    /// The leader, after the gradients' phase: the step's loss, the
    /// `step_shards` shards' losses added in order.
    fn step_loss(&self, step_shards: usize) -> f64 {
        // SAFETY: the gradients' phase is over: the losses are only read
        // until the next step's.
        unsafe { std::slice::from_raw_parts(self.losses.get() as *const f64, step_shards) }
            .iter()
            .fold(0.0, |a, &b| a + b)
    }

    /// An update's piece `u` of step `s`: the step's buffers added in
    /// order over unit `u`'s parameters, into the first buffer.
    fn sum_unit(&self, u: usize, s: usize) {
        let range = &self.units[u].range;
        let step_shards = self.step_shards(self.step_rows(s));
        let len = range.end - range.start;
        // SAFETY: the gradients' phase is over; in the update's each piece
        // reads and writes only its own unit's part of the buffers (the
        // units are disjoint).
        let g = unsafe { std::slice::from_raw_parts_mut(self.bufs[0].get().add(range.start), len) };
        for buf in &self.bufs[1..step_shards] {
            let other = unsafe { std::slice::from_raw_parts(buf.get().add(range.start) as *const f64, len) };
            g.iter_mut().zip(other).for_each(|(a, &o)| *a += o);
        }
    }

    /// The leader, after the sums' phase (clipping): the factor that
    /// scales the step's gradient to an L2 norm of at most `clip_norm`, as
    /// torch's `clip_grad_norm_`: `min(1, clip_norm / (norm + 1e-6))`
    /// (the whole gradient, in order).
    fn clip_scale_of_sum(&self) -> f64 {
        // SAFETY: every unit of the first buffer is summed (the phase is
        // over); it is written again only in the next phase.
        let g = unsafe { std::slice::from_raw_parts(self.bufs[0].get() as *const f64, self.p) };
        let norm = g.iter().fold(0.0, |a, &v| a + v * v).sqrt();
        let coef = self.settings.clip_norm / (norm + 1e-6);
        if coef < 1.0 {
            coef
        } else {
            1.0
        }
    }

    /// An update's piece `u`: the summed gradient over unit `u`'s
    /// parameters, scaled by `scale` (clipping), plus the penalties'
    /// gradients (weight decay `lambda w`, L1 `lambda sign(w)`), then the
    /// optimiser's step `t` on those parameters, then the unit's layer's
    /// packed matrices rewritten.
    fn update_unit(&self, u: usize, scale: f64, t: u64) {
        let settings = &self.settings;
        let Unit { range, layer } = &self.units[u];
        let share = (range.start, range.end);
        let len = share.1 - share.0;
        {
            // SAFETY: in the update's phase each piece reads and writes only
            // its own unit's part of the parameters, of the optimiser's
            // state and of the first buffer (the units are disjoint), and
            // no one reads them until the phase is over.
            let w = unsafe { std::slice::from_raw_parts_mut(self.params.get().add(share.0), len) };
            let s1 = unsafe { std::slice::from_raw_parts_mut(self.state1.get().add(share.0), len) };
            let s2 = if matches!(settings.optimizer, Optimizer::Adam { .. }) {
                unsafe { std::slice::from_raw_parts_mut(self.state2.get().add(share.0), len) }
            } else {
                &mut []
            };
            let g = unsafe { std::slice::from_raw_parts_mut(self.bufs[0].get().add(share.0), len) };
            if scale != 1.0 {
                g.iter_mut().for_each(|v| *v *= scale);
            }
            for (r, lambda, l1) in self.penalty_ranges {
                let (a, e) = (r.start.max(share.0), r.end.min(share.1));
                if a < e {
                    let (ga, wa) = (&mut g[a - share.0..e - share.0], &w[a - share.0..e - share.0]);
                    let (lambda, l1) = (*lambda, *l1);
                    if lambda != 0.0 {
                        ga.iter_mut().zip(wa).for_each(|(gi, &wi)| *gi += lambda * wi);
                    }
                    if l1 != 0.0 {
                        ga.iter_mut().zip(wa).for_each(|(gi, &wi)| *gi += l1 * l1_sign(wi));
                    }
                }
            }
            update(w, s1, s2, g, settings, t);
        }
        self.repack_layer(*layer);
    }

    /// The new weights of `layer` packed for the next step's products.
    fn repack_layer(&self, layer: usize) {
        let s = &self.layout.layers[layer];
        // SAFETY: the layer's weights are this piece's (its unit's), done
        // being written above; no one else touches them in this phase.
        let flat = unsafe { std::slice::from_raw_parts(self.params.get().add(s.weights) as *const f64, s.d_in * s.d_out) };
        let w = match ArrayView2::from_shape((s.d_in, s.d_out).f(), flat) {
            Ok(v) => v,
            Err(e) => unreachable!("the trainer's own layout: {e}"),
        };
        for (packed, _, transposed) in self.packs.iter().filter(|(_, l, _)| *l == layer) {
            let w = if *transposed { w.reversed_axes() } else { w };
            // SAFETY: each packed matrix belongs to one layer, hence to one
            // piece of this phase, and the plan that owns it is not read
            // until the phase is over.
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
        let mut t = Trainer::new(layout, spec.acts.clone(), params, x.view(), y.view(), n_val, settings, seed).expect("fits");
        // the tests' small networks on every thread they ask for
        t.set_min_step_work(0);
        t
    }

    fn settings(optimizer: Optimizer, batch_size: usize, threads: usize) -> Settings {
        Settings { loss: Loss::Bce, optimizer, learn_rate: 0.05, weight_decay: 0.01, l1: 0.0, clip_norm: 0.0, dropout: 0.0, batch_size, threads }
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
    fn every_thread_count_trains_to_the_same_bits() {
        // odd sizes, batch 128 (and a last step of 13 rows), dropout, row
        // weights, decay of weights and biases, L1, clipping, Adam and
        // momentum: several epochs on 1, 2, 3, 7 and 16 threads
        let (spec, x, y) = setup(&[13, 37, 19, 3], &[Tanh, Relu, Sigmoid], 1037);
        let w: Vec<f64> = (0..1037).map(|i| ((i * 7) % 4) as f64 * 0.5).collect();
        // (a batch of 1,000 rows: 16 blocks, 16 gradient pieces a step)
        for (opt, clip, bs) in [(ADAM, 0.0, 128), (ADAM, 0.05, 128), (Optimizer::Sgd { momentum: 0.9 }, 0.0, 128), (ADAM, 0.0, 1000)] {
            let run = |threads: usize| {
                let mut s = settings(opt, bs, threads);
                (s.dropout, s.l1, s.clip_norm) = (0.2, 0.001, clip);
                let mut t = trainer(&spec, &x, &y, 12, s, 4);
                t.set_row_weights(&w).expect("weights");
                t.set_bias_decay(0.003);
                let losses: Vec<u64> = (0..4).map(|_| t.epoch(&mut never()).expect("epoch").loss.to_bits()).collect();
                (t.params().iter().map(|v| v.to_bits()).collect::<Vec<u64>>(), losses, t.validation_loss().expect("fits").to_bits())
            };
            let one = run(1);
            assert!(one.1.iter().all(|&l| f64::from_bits(l).is_finite()));
            for threads in [2, 3, 7, 16] {
                assert_eq!(one, run(threads), "{opt:?}, clip {clip}, batch {bs}, {threads} threads");
            }
        }
        // the default least work per thread: a network large enough to
        // take several threads trains to the same bits as one thread
        let (spec, x, y) = setup(&[40, 120, 61, 2], &[Sigmoid, Tanh, Sigmoid], 700);
        let run = |threads: usize| {
            let mut t = trainer(&spec, &x, &y, 0, settings(ADAM, 128, threads), 6);
            t.set_min_step_work(STEP_MIN_WORK_PER_THREAD);
            (0..2).for_each(|_| {
                t.epoch(&mut never()).expect("epoch");
            });
            t.params().iter().map(|v| v.to_bits()).collect::<Vec<u64>>()
        };
        let one = run(1);
        for threads in [2, 3, 7, 16] {
            assert_eq!(one, run(threads), "default work, {threads} threads");
        }
    }

    #[test]
    fn a_step_takes_no_more_threads_than_pay() {
        // the work of a step: rows x multiply-adds per row x 3 (forward
        // and back)
        let wpr = |sizes: &[usize]| sizes.windows(2).map(|s| s[1] * (s[0] + 1 + 4)).sum::<usize>();
        // iris-sized (4 -> 5 -> 3), batch 32: 4,800 multiply-adds, one thread
        assert_eq!(step_threads(16, 32, wpr(&[4, 5, 3]), 4, STEP_MIN_WORK_PER_THREAD), 1);
        // the benchmark's 100 -> 256 -> 128 -> 1, batch 128: 23 million,
        // as many threads as the pieces allow (2 shards, 3 layers)
        let big = wpr(&[100, 256, 128, 1]);
        assert_eq!(step_threads(2, 128, big, 3, STEP_MIN_WORK_PER_THREAD), 2);
        assert_eq!(step_threads(16, 128, big, 3, STEP_MIN_WORK_PER_THREAD), 3);
        // in between: the work decides (3 * 64 * 8,200 / 2^19 = 3)
        assert_eq!(step_threads(16, 64, 8200, 16, STEP_MIN_WORK_PER_THREAD), 3);
        assert_eq!(step_threads(0, 128, big, 3, STEP_MIN_WORK_PER_THREAD), 1);
        // the trainer asks for it alike: a tiny network trains the same on
        // 1 and 8 threads (it runs on one)
        let (spec, x, y) = setup(&[4, 5, 3], &[Tanh, Sigmoid], 150);
        let run = |threads: usize| {
            let mut t = trainer(&spec, &x, &y, 0, settings(ADAM, 32, threads), 1);
            t.set_min_step_work(STEP_MIN_WORK_PER_THREAD);
            t.epoch(&mut never()).expect("epoch").loss.to_bits()
        };
        assert_eq!(run(1), run(8));
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
    fn row_weights_train_alike_on_any_threads_and_weigh_the_full_batch_step() {
        let (spec, x, y) = setup(&[5, 17, 2], &[Tanh, Sigmoid], 700);
        let w: Vec<f64> = (0..700).map(|i| ((i * 13) % 5) as f64 * 0.5).collect();
        for (opt, bs) in [(ADAM, 64), (Optimizer::Sgd { momentum: 0.9 }, 300)] {
            let run = |threads: usize| {
                let mut t = trainer(&spec, &x, &y, 70, settings(opt, bs, threads), 3);
                t.set_row_weights(&w).expect("weights");
                let losses: Vec<u64> = (0..2).map(|_| t.epoch(&mut never()).expect("epoch").loss.to_bits()).collect();
                (t.params().iter().map(|v| v.to_bits()).collect::<Vec<u64>>(), losses, t.validation_loss().expect("fits").to_bits())
            };
            let one = run(1);
            for threads in [2, 3, 7] {
                assert_eq!(one, run(threads), "{opt:?}, {threads} threads");
            }
        }
        // one full-batch sgd step: the weighted full-batch gradient
        let n = 700;
        let mut s = settings(Optimizer::Sgd { momentum: 0.0 }, n, 2);
        s.weight_decay = 0.0;
        let mut t = trainer(&spec, &x, &y, 0, s, 5);
        t.set_row_weights(&w).expect("weights");
        let before = t.params().to_vec();
        let r = t.epoch(&mut never()).expect("epoch");
        let mut g = vec![0.0; before.len()];
        let loss = crate::backward::gradient_into_weighted(x.view(), y.view(), Some(&w), &spec.net(), Loss::Bce, &mut g, 1, 0)
            .expect("fits");
        assert!((r.loss - loss).abs() <= 1e-13 * loss, "{} vs {loss}", r.loss);
        for ((&b, &a), &gi) in before.iter().zip(t.params()).zip(&g) {
            assert!((a - (b - 0.05 * gi)).abs() <= 1e-14 * b.abs().max(1.0));
        }
        assert!(t.set_row_weights(&w[1..]).is_err());
    }

    #[test]
    fn clipping_and_l1_follow_torch_and_agree_across_threads() {
        let (spec, x, y) = setup(&[4, 9, 2], &[Tanh, Sigmoid], 300);
        let net = spec.net();
        let mut g = vec![0.0; ParamLayout::of(&net).len];
        gradient_into(x.view(), y.view(), &net, Loss::Bce, &mut g, 1).expect("fits");
        let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
        // one full-batch sgd step, clipped to a third of the norm (and
        // not clipped at three times the norm), with an L1 penalty
        for (c, l1) in [(norm / 3.0, 0.0), (3.0 * norm, 0.0), (norm / 3.0, 0.02), (0.0, 0.02)] {
            for threads in [1, 2, 3, 7] {
                let mut s = settings(Optimizer::Sgd { momentum: 0.0 }, 300, threads);
                (s.weight_decay, s.clip_norm, s.l1) = (0.0, c, l1);
                let mut t = trainer(&spec, &x, &y, 0, s, 7);
                let before = t.params().to_vec();
                t.epoch(&mut never()).expect("epoch");
                let coef = if c > 0.0 { (c / (norm + 1e-6)).min(1.0) } else { 1.0 };
                let is_weight: Vec<bool> = {
                    let mut v = vec![false; before.len()];
                    t.layout().weight_ranges().for_each(|r| v[r].iter_mut().for_each(|b| *b = true));
                    v
                };
                for i in 0..before.len() {
                    let pen = if is_weight[i] { l1 * before[i].signum() } else { 0.0 };
                    let want = before[i] - 0.05 * (g[i] * coef + pen);
                    let got = t.params()[i];
                    assert!((got - want).abs() <= 1e-13 * want.abs().max(1.0), "clip {c}, l1 {l1}, {threads} threads: {got} vs {want}");
                }
            }
        }
        // many steps with clipping and L1: the same bits on any threads
        let run = |threads: usize| {
            let mut s = settings(ADAM, 64, threads);
            (s.clip_norm, s.l1) = (0.05, 0.001);
            let mut t = trainer(&spec, &x, &y, 30, s, 2);
            (0..3).for_each(|_| {
                t.epoch(&mut never()).expect("epoch");
            });
            t.params().iter().map(|v| v.to_bits()).collect::<Vec<u64>>()
        };
        let one = run(1);
        for threads in [2, 3, 7] {
            assert_eq!(one, run(threads), "{threads} threads");
        }
    }

    #[test]
    fn dropout_trains_alike_on_any_threads_and_draws_new_masks_each_epoch() {
        let (spec, x, y) = setup(&[5, 40, 20, 2], &[Tanh, Relu, Sigmoid], 900);
        for (opt, bs) in [(ADAM, 128), (Optimizer::Sgd { momentum: 0.9 }, 900)] {
            let run = |threads: usize, dropout: f64| {
                let mut s = settings(opt, bs, threads);
                s.dropout = dropout;
                let mut t = trainer(&spec, &x, &y, 50, s, 8);
                let losses: Vec<u64> = (0..3).map(|_| t.epoch(&mut never()).expect("epoch").loss.to_bits()).collect();
                (t.params().iter().map(|v| v.to_bits()).collect::<Vec<u64>>(), losses, t.validation_loss().expect("fits").to_bits())
            };
            let one = run(1, 0.3);
            for threads in [2, 3, 7] {
                assert_eq!(one, run(threads, 0.3), "{opt:?}, {threads} threads");
            }
            assert_ne!(one.0, run(1, 0.0).0);
        }
        // with the same weights, two epochs' masks differ (their losses do)
        let mut s = settings(Optimizer::Sgd { momentum: 0.0 }, 900, 1);
        (s.learn_rate, s.dropout) = (1e-300, 0.5);
        let mut t = trainer(&spec, &x, &y, 0, s, 8);
        let (a, b) = (t.epoch(&mut never()).expect("epoch").loss, t.epoch(&mut never()).expect("epoch").loss);
        assert_ne!(a, b);
        s.dropout = 1.0;
        assert!(Trainer::new(t.layout().clone(), spec.acts.clone(), t.params().to_vec(), x.view(), y.view(), 0, s, 1).is_err());
    }

    #[test]
    fn a_panicking_thread_breaks_the_crew_instead_of_hanging() {
        // a helper panics in a piece: the leader's phase returns false
        // instead of waiting for ever, and the helpers stop
        let crew = Crew::new();
        let pieces_run = std::sync::atomic::AtomicUsize::new(0);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            std::thread::scope(|scope| {
                for _ in 0..2 {
                    scope.spawn(|| {
                        let _guard = BreakCrewOnPanic(&crew);
                        crew.serve(|tag, _| {
                            if tag == 1 {
                                panic!("a bug");
                            }
                            pieces_run.fetch_add(1, Ordering::SeqCst);
                        });
                    });
                }
                let _guard = BreakCrewOnPanic(&crew);
                let mut leader = |tag: u64, _: usize| {
                    if tag == 1 {
                        // let the helpers take this phase's pieces
                        std::thread::sleep(std::time::Duration::from_millis(50));
                    } else {
                        pieces_run.fetch_add(1, Ordering::SeqCst);
                    }
                };
                assert!(crew.run_phase(0, 100, &mut leader));
                let completed = crew.run_phase(1, 100, &mut leader);
                crew.finish();
                completed
            })
        }));
        // every piece of the first phase ran once; the second broke
        assert_eq!(pieces_run.load(Ordering::SeqCst), 100);
        assert!(result.is_err());
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
            let s = Settings { loss: Loss::Mse, optimizer: opt, learn_rate: 0.1, weight_decay: 0.2, batch_size: 10, threads: 1, ..settings(opt, 10, 1) };
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
        let s = Settings { loss: Loss::Mse, learn_rate: 1e6, weight_decay: 0.0, ..settings(Optimizer::Sgd { momentum: 0.9 }, 10, 2) };
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
