//! Backward pass: the gradient of a loss with respect to every weight and
//! bias of a dense network, by the chain rule.
//!
//! For a block of rows, the forward pass keeps each layer's output `a_l`
//! (and the output layer's `z_L`); then, from the output back,
//! `delta_L = dL/dz_L` (see [`crate::loss::output_delta`]),
//! `dL/dW_l = a_{l-1}^T delta_l`, `dL/db_l = colSums(delta_l)` and
//! `delta_{l-1} = (delta_l W_l^T) * act'_{l-1}` (see
//! [`crate::activation::activation_backward`]).
//!
//! Two ways through it, as for the forward pass:
//! * [`gradient_into`], the blocked path: rows are cut into blocks of at
//!   most [`BLOCK_ROWS`] that go forward and back while in cache, so no
//!   full activation matrix of the batch exists. A full-batch gradient is
//!   a sum over rows: the blocks are grouped into a fixed number of
//!   *shards* (a function of the number of rows and of the network only),
//!   each shard sums its blocks in order into its own buffer, and the
//!   shards are added in order at the end. Threads take whole shards, so
//!   the result is the same, bit for bit, whatever the number of threads.
//! * [`gradient_trace`], the unfused path: every layer's `z`, `a` and
//!   `delta` as full matrices, the products by [`matmul_into`] (base R's
//!   `%*%`). For `backward(trace = TRUE)`, and the reference the blocked
//!   path is tested against.
//!
//! Parameters live in one flat vector ([`ParamLayout`]): layer by layer,
//! the weights (column-major, `d_in x d_out`) and then the bias, if the
//! layer has one. The gradient has the same layout, so optimisers update
//! the network with one loop.

use ndarray::{s, Array2, ArrayView2, ArrayViewMut2, Axis, ShapeBuilder};
use rand_chacha::ChaCha20Rng;

use crate::activation::{activation_backward, activation_backward_z, apply_activation};
use crate::forward::{BLOCK_ROWS, PARALLEL_MIN_WORK, SCRATCH_MAX_VALUES};
use crate::gemm::{gemm_packed_add_into, gemm_packed_into, GemmWork, PackedB};
use crate::loss::{block_loss_weighted, output_delta, output_delta_weighted, Loss};
use crate::matmul::matmul_into;
use crate::memory::try_filled;
use crate::network::{err, CoreError, Network, ParamLayout};
use crate::parallel::run_jobs;
use crate::product::{add_bias, col_major, col_major_ref, product_into, SMALL_PRODUCT};

/// `loss += lambda / 2 * sum(W^2)`, `grad += lambda * W` over the weights
/// (not the biases) of `params`; returns the loss term.
pub fn add_weight_decay(layout: &ParamLayout, params: &[f64], grad: &mut [f64], lambda: f64) -> f64 {
    add_decay(layout, params, grad, lambda, 0.0)
}

/// [`add_weight_decay`] with `lambda` over the weights and `lambda_bias`
/// over the biases (`lambda_bias / 2 * sum(b^2)`, `lambda_bias * b`);
/// returns the loss term.
pub fn add_decay(layout: &ParamLayout, params: &[f64], grad: &mut [f64], lambda: f64, lambda_bias: f64) -> f64 {
    let mut term = 0.0;
    for (lam, ranges) in [(lambda, layout.weight_ranges().collect::<Vec<_>>()), (lambda_bias, layout.bias_ranges().collect())] {
        if lam == 0.0 {
            continue;
        }
        let mut sq = 0.0;
        for r in ranges {
            for (g, &w) in grad[r.clone()].iter_mut().zip(&params[r]) {
                sq += w * w;
                *g += lam * w;
            }
        }
        term += 0.5 * lam * sq;
    }
    term
}

/// The subgradient of `|w|`: its sign, 0 at 0.
#[inline]
pub fn l1_sign(w: f64) -> f64 {
    if w > 0.0 {
        1.0
    } else if w < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// `loss += lambda * sum(|W|)`, `grad += lambda * sign(W)` (0 at 0) over
/// the weights (not the biases) of `params`; returns the loss term.
pub fn add_l1(layout: &ParamLayout, params: &[f64], grad: &mut [f64], lambda: f64) -> f64 {
    if lambda == 0.0 {
        return 0.0;
    }
    let mut sum = 0.0;
    for r in layout.weight_ranges() {
        for (g, &w) in grad[r.clone()].iter_mut().zip(&params[r]) {
            sum += w.abs();
            *g += lambda * l1_sign(w);
        }
    }
    lambda * sum
}

/// What a gradient needs besides the network: the loss and how many rows
/// the mean is over.
#[derive(Clone, Copy, Debug)]
pub struct Objective {
    /// The loss.
    pub loss: Loss,
    /// The count the mean divides by (see [`Loss::mean_over`]) for the
    /// whole batch, which may span many blocks.
    pub mean_over: f64,
}

/// What a block's gradient may have besides its rows: a weight per row,
/// dropout on the hidden layers.
#[derive(Clone, Copy, Default)]
pub struct BlockExtra<'a> {
    /// One weight per row of the block (`None`: all 1).
    pub weights: Option<&'a [f64]>,
    /// Dropout of the hidden units (needs a scratch made by
    /// [`BlockScratch::with_dropout`]).
    pub dropout: Option<Dropout<'a>>,
}

/// Inverted dropout, as torch's `nn_dropout()` in training: each hidden
/// unit of each row is kept with probability `keep` (`1 - p`) and then
/// scaled by `1 / keep`, or set to 0. The masks come from a ChaCha20
/// stream: row `r` of a run (counted over the whole run) takes the words
/// from `r * words_per_row` on, two per hidden unit (one `u64` each, layer
/// by layer, unit by unit), so a row's masks do not depend on how rows
/// are cut into blocks, shards or threads.
#[derive(Clone, Copy)]
pub struct Dropout<'a> {
    /// Probability of keeping a unit, in `(0, 1]`.
    pub keep: f64,
    /// The stream (its seed and stream number; its position is set here).
    pub rng: &'a ChaCha20Rng,
    /// The run's number of the block's first row.
    pub first_row: u64,
}

/// Draws the dropout masks of `m` rows (from `d.first_row` on) for the
/// hidden layers of widths `widths`: `masks[l]` (column-major `m x
/// widths[l]`) gets `1 / keep` for a kept unit, 0 for a dropped one.
pub fn dropout_masks(d: &Dropout, widths: &[usize], m: usize, masks: &mut [Vec<f64>]) {
    let per_row: u128 = 2 * widths.iter().sum::<usize>() as u128;
    let mut rng = d.rng.clone();
    rng.set_word_pos(d.first_row as u128 * per_row);
    let scale = 1.0 / d.keep;
    for i in 0..m {
        for (mask, &w) in masks.iter_mut().zip(widths) {
            for j in 0..w {
                let u = crate::init::uniform01(&mut rng);
                mask[i + j * m] = if u < d.keep { scale } else { 0.0 };
            }
        }
    }
}

/// How a gradient (or loss) call runs a network over its blocks: each
/// layer's product is chosen once (from the call's total rows, so that it
/// does not depend on how the rows are split), and the weights are packed
/// once for the GEMM, shared by the threads. Owns its buffers (no borrow
/// of the network), so a training loop keeps one and repacks it after
/// every update ([`Plan::repack`]).
pub struct Plan {
    layout: ParamLayout,
    /// Rows per block.
    block_rows: usize,
    /// Per layer: the forward product `a W` is small (plain loops).
    small_fwd: Vec<bool>,
    /// Per layer: `W` packed for the forward product.
    packed_w: Vec<Option<PackedB>>,
    /// Per layer: `delta W^T` is small (plain loops).
    small_bwd: Vec<bool>,
    /// Per layer: `W^T` packed for `delta W^T` (not for the first layer).
    packed_wt: Vec<Option<PackedB>>,
    /// Per layer: `a^T delta` is small (plain loops).
    small_dw: Vec<bool>,
}

impl Plan {
    /// The plan of a call over `rows` rows in blocks of at most
    /// `block_rows` (0: [`BLOCK_ROWS`]), packing with up to `threads`
    /// threads. `backward` says whether `W^T` is needed.
    pub fn new(net: &Network, rows: usize, block_rows: usize, threads: usize, backward: bool) -> Self {
        let mut rb = if block_rows == 0 { BLOCK_ROWS } else { block_rows };
        // every layer's output of a block is kept: cap the block's memory
        let widest = net.layers().iter().map(|l| l.weights.ncols()).max().unwrap_or(1).max(1);
        rb = rb.min((SCRATCH_MAX_VALUES / widest).max(1)).min(rows.max(1));
        let small = |k: usize, d: usize| rows.saturating_mul(k).saturating_mul(d) <= SMALL_PRODUCT;
        let uses_gemm = |k: usize, d: usize, small: bool| d > 1 && k > 0 && !small;
        let small_fwd: Vec<bool> = net.layers().iter().map(|l| small(l.weights.nrows(), l.weights.ncols())).collect();
        let small_bwd: Vec<bool> = net.layers().iter().map(|l| small(l.weights.ncols(), l.weights.nrows())).collect();
        let small_dw = small_fwd.clone();
        let packed_w = net
            .layers()
            .iter()
            .zip(&small_fwd)
            .map(|(l, &sm)| {
                let (k, d) = l.weights.dim();
                uses_gemm(k, d, sm).then(|| PackedB::new(l.weights, threads)).flatten()
            })
            .collect();
        let packed_wt = net
            .layers()
            .iter()
            .zip(&small_bwd)
            .enumerate()
            .map(|(i, (l, &sm))| {
                // delta (rows x d_out) %*% t(W) (d_out x d_in)
                let (d_in, d_out) = l.weights.dim();
                (backward && i > 0 && uses_gemm(d_out, d_in, sm)).then(|| PackedB::new(l.weights.t(), threads)).flatten()
            })
            .collect();
        Plan { layout: ParamLayout::of(net), block_rows: rb, small_fwd, packed_w, small_bwd, packed_wt, small_dw }
    }

    /// Packs the weights of `net` (the network the plan was made for, with
    /// new values) into the plan's buffers, on the calling thread.
    pub fn repack(&mut self, net: &Network) {
        for ((layer, w), wt) in net.layers().iter().zip(&mut self.packed_w).zip(&mut self.packed_wt) {
            if let Some(p) = w {
                p.repack(layer.weights);
            }
            if let Some(p) = wt {
                p.repack(layer.weights.t());
            }
        }
    }

    /// Every packed matrix with what it packs (layer, transposed), for a
    /// training loop that shares the repacking out among its threads.
    pub(crate) fn packed_mut(&mut self) -> Vec<(&mut PackedB, usize, bool)> {
        let w = self.packed_w.iter_mut().enumerate().filter_map(|(l, p)| p.as_mut().map(|p| (p, l, false)));
        let wt = self.packed_wt.iter_mut().enumerate().filter_map(|(l, p)| p.as_mut().map(|p| (p, l, true)));
        w.chain(wt).collect()
    }

    /// The layout of the network's parameters (and of its gradient).
    pub fn layout(&self) -> &ParamLayout {
        &self.layout
    }

    /// Rows per block.
    pub fn block_rows(&self) -> usize {
        self.block_rows
    }
}

/// Per-thread buffers of the blocked backward pass.
pub struct BlockScratch {
    /// Per layer, the block's `a_l` (the last: `z_L`), column-major; with
    /// dropout, a hidden layer's after its mask.
    acts: Vec<Vec<f64>>,
    /// Per hidden layer whose activation's derivative needs `z`
    /// ([`crate::activation::Activation::needs_z`]), the block's `z_l`
    /// (empty for the others).
    zs: Vec<Vec<f64>>,
    /// With dropout: per hidden layer, `a_l` before the mask (for the
    /// activation's derivative) and the mask.
    unmasked: Vec<Vec<f64>>,
    masks: Vec<Vec<f64>>,
    /// Two `delta` buffers (ping-pong), `rows x widest layer`.
    delta: [Vec<f64>; 2],
    /// Per-row workspace (softmax, losses).
    rows: Vec<f64>,
    gemm: GemmWork,
}

impl BlockScratch {
    /// Buffers for blocks of up to `p.block_rows()` rows of `net`.
    pub fn new(net: &Network, p: &Plan) -> Self {
        let rb = p.block_rows;
        let widths: Vec<usize> = net.layers().iter().map(|l| l.weights.ncols()).collect();
        let widest = widths.iter().copied().max().unwrap_or(0);
        let last = widths.len().saturating_sub(1);
        BlockScratch {
            acts: widths.iter().map(|&d| vec![0.0; rb * d]).collect(),
            zs: net
                .layers()
                .iter()
                .enumerate()
                .map(|(l, layer)| if l < last && layer.activation.needs_z() { vec![0.0; rb * widths[l]] } else { Vec::new() })
                .collect(),
            delta: [vec![0.0; rb * widest], vec![0.0; rb * widest]],
            rows: vec![0.0; 3 * rb],
            gemm: GemmWork::new(),
            unmasked: Vec::new(),
            masks: Vec::new(),
        }
    }

    /// [`BlockScratch::new`] with the buffers of dropout.
    pub fn with_dropout(net: &Network, p: &Plan) -> Self {
        let mut s = Self::new(net, p);
        let rb = p.block_rows;
        let hidden = &net.layers()[..net.layers().len() - 1];
        s.unmasked = hidden.iter().map(|l| vec![0.0; rb * l.weights.ncols()]).collect();
        s.masks = s.unmasked.clone();
        s
    }
}

/// The widths of the hidden layers of `net`.
fn hidden_widths(net: &Network) -> Vec<usize> {
    let layers = net.layers();
    layers[..layers.len() - 1].iter().map(|l| l.weights.ncols()).collect()
}

/// The forward pass of one block, keeping every layer's output in
/// `acts` (the output layer's `z`, before its activation, in the last),
/// and in `zs` the `z` of the hidden layers that have a buffer there.
fn block_forward(
    x: ArrayView2<f64>,
    net: &Network,
    p: &Plan,
    acts: &mut [Vec<f64>],
    zs: &mut [Vec<f64>],
    rows: &mut [f64],
    gemm: &mut GemmWork,
) {
    block_forward_masked(x, net, p, acts, zs, rows, gemm, None)
}

/// The buffers of dropout in a forward pass: the hidden layers' outputs
/// before their masks (written), and the masks.
type DropoutBuffers<'b> = (&'b mut [Vec<f64>], &'b [Vec<f64>]);

/// [`block_forward`], with dropout when `dropout` gives the buffers (see
/// [`BlockScratch`]) filled with the block's masks: a hidden layer's
/// output is kept in the first before the mask is applied.
#[allow(clippy::too_many_arguments)]
fn block_forward_masked(
    x: ArrayView2<f64>,
    net: &Network,
    p: &Plan,
    acts: &mut [Vec<f64>],
    zs: &mut [Vec<f64>],
    rows: &mut [f64],
    gemm: &mut GemmWork,
    mut dropout: Option<DropoutBuffers>,
) {
    let m = x.nrows();
    let n_layers = net.layers().len();
    for (l, layer) in net.layers().iter().enumerate() {
        let d = layer.weights.ncols();
        let (done, rest) = acts.split_at_mut(l);
        let input = if l == 0 { x.view() } else { col_major_ref(&done[l - 1], m, layer.weights.nrows()) };
        let mut out = col_major(&mut rest[0], m, d);
        product_into(input, layer.weights, p.packed_w[l].as_ref(), p.small_fwd[l], out.view_mut(), gemm);
        if let Some(b) = layer.bias {
            add_bias(out.view_mut(), b);
        }
        if l + 1 < n_layers {
            if !zs[l].is_empty() {
                col_major(&mut zs[l], m, d).assign(&out);
            }
            apply_activation(out, layer.activation, rows);
            if let Some((unmasked, masks)) = dropout.as_mut() {
                let a = &mut rest[0][..m * d];
                unmasked[l][..m * d].copy_from_slice(a);
                a.iter_mut().zip(&masks[l][..m * d]).for_each(|(v, &k)| *v *= k);
            }
        }
    }
}

/// (`a`: m x k, `d`: m x n, `out`: k x n)
/// `out += t(a) %*% d`, or `out = t(a) %*% d` when `!add` (`out` may then
/// hold anything).
fn crossprod_into(a: ArrayView2<f64>, d: ArrayView2<f64>, mut out: ArrayViewMut2<f64>, small: bool, add: bool, gemm: &mut GemmWork) {
    if d.ncols() == 1 || small {
        // column by column: dot products of contiguous columns
        for (mut oc, dc) in out.axis_iter_mut(Axis(1)).zip(d.axis_iter(Axis(1))) {
            for (o, ac) in oc.iter_mut().zip(a.axis_iter(Axis(1))) {
                let mut s = 0.0;
                for (&x, &y) in ac.iter().zip(dc.iter()) {
                    s += x * y;
                }
                *o = if add { *o + s } else { s };
            }
        }
    } else if add {
        gemm_packed_add_into(a.t(), d, out, gemm);
    } else {
        gemm_packed_into(a.t(), d, out, gemm);
    }
}

/// Adds the gradient of one block's loss to `grad` (the flat layout of
/// `net`), or with `accumulate` false writes it there (whatever `grad`
/// held: the first block of a sum needs no zeroed buffer), and returns the
/// block's loss, summed (not divided). `x` is the
/// block's input (`m x d_0`, any strides, `m <= p.block_rows()`), `y`
/// its target (`m x d_L`); `p` the plan made for `net`.
pub fn block_gradient(
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
    net: &Network,
    p: &Plan,
    obj: Objective,
    grad: &mut [f64],
    accumulate: bool,
    scratch: &mut BlockScratch,
) -> f64 {
    block_gradient_with(x, y, net, p, obj, BlockExtra::default(), grad, accumulate, scratch)
}

/// [`block_gradient`] with row weights (`extra`).
#[allow(clippy::too_many_arguments)]
pub fn block_gradient_with(
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
    net: &Network,
    p: &Plan,
    obj: Objective,
    extra: BlockExtra,
    grad: &mut [f64],
    accumulate: bool,
    scratch: &mut BlockScratch,
) -> f64 {
    let m = x.nrows();
    let layers = net.layers();
    let n_layers = layers.len();
    let BlockScratch { acts, zs, delta, rows, gemm, unmasked, masks } = scratch;
    let dropout = extra.dropout.filter(|_| n_layers > 1);
    if let Some(d) = &dropout {
        assert_eq!(masks.len(), n_layers - 1, "block_gradient: dropout needs BlockScratch::with_dropout");
        dropout_masks(d, &hidden_widths(net), m, masks);
    }
    let masked = dropout.is_some().then_some((unmasked.as_mut_slice(), masks.as_slice()));
    block_forward_masked(x, net, p, acts, zs, rows, gemm, masked);
    let out_layer = &layers[n_layers - 1];
    let d_out = out_layer.weights.ncols();
    let [da, db] = delta;
    let (mut cur, mut next) = (da, db);
    let loss = output_delta_weighted(
        col_major(&mut acts[n_layers - 1], m, d_out),
        out_layer.activation,
        obj.loss,
        y,
        extra.weights,
        obj.mean_over,
        col_major(cur, m, d_out),
        rows,
    );
    for l in (0..n_layers).rev() {
        let layer = &layers[l];
        let (d_in, d) = layer.weights.dim();
        let slots = &p.layout.layers[l];
        let input = if l == 0 { x.view() } else { col_major_ref(&acts[l - 1], m, d_in) };
        let dl = col_major_ref(cur, m, d);
        crossprod_into(input, dl, p.layout.weights_mut(l, grad), p.small_dw[l], accumulate, gemm);
        if let Some(off) = slots.bias {
            for (g, col) in grad[off..off + d].iter_mut().zip(dl.axis_iter(Axis(1))) {
                *g = if accumulate { *g + col.sum() } else { col.sum() };
            }
        }
        if l > 0 {
            let mut g = col_major(next, m, d_in);
            product_into(dl, layer.weights.t(), p.packed_wt[l].as_ref(), p.small_bwd[l], g.view_mut(), gemm);
            let a_prev = if dropout.is_some() {
                // through the mask: d(a k)/da = k; the activation's
                // derivative at the unmasked output (or at z)
                ndarray::Zip::from(&mut g).and(col_major_ref(&masks[l - 1], m, d_in)).for_each(|v, &k| *v *= k);
                &unmasked[l - 1]
            } else {
                &acts[l - 1]
            };
            let act = layers[l - 1].activation;
            if zs[l - 1].is_empty() {
                activation_backward(act, col_major_ref(a_prev, m, d_in), g, rows);
            } else {
                activation_backward_z(act, col_major_ref(&zs[l - 1], m, d_in), g);
            }
            std::mem::swap(&mut cur, &mut next);
        }
    }
    loss
}

/// The loss alone of one block, summed (validation data).
pub fn block_loss_only(
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
    net: &Network,
    p: &Plan,
    loss: Loss,
    w: Option<&[f64]>,
    scratch: &mut BlockScratch,
) -> f64 {
    let m = x.nrows();
    let n_layers = net.layers().len();
    let BlockScratch { acts, zs, rows, gemm, .. } = scratch;
    block_forward(x, net, p, acts, zs, rows, gemm);
    let out = &net.layers()[n_layers - 1];
    block_loss_weighted(col_major(&mut acts[n_layers - 1], m, out.weights.ncols()), out.activation, loss, y, w, rows)
}

/// Largest number of shards of a full-batch gradient (each has a
/// gradient buffer of its own).
pub const MAX_SHARDS: usize = 16;

/// Most memory (bytes) the shards' gradient buffers may take together
/// beyond the first one.
pub const SHARD_BUFFER_BYTES: usize = 64 << 20;

/// The number of shards for `blocks` blocks of a network of `params`
/// parameters: a function of these alone (never of the thread count), so
/// that the order of the sums is fixed.
pub fn shard_count(blocks: usize, params: usize) -> usize {
    let by_memory = (SHARD_BUFFER_BYTES / (params.max(1) * std::mem::size_of::<f64>())).max(1);
    MAX_SHARDS.min(blocks).min(by_memory).max(1)
}

/// Row weights: one per row, finite and `>= 0`.
pub fn check_row_weights(w: Option<&[f64]>, rows: usize) -> Result<(), CoreError> {
    match w {
        Some(w) if w.len() != rows => err(format!("{} weights for {} rows", w.len(), rows)),
        Some(w) if w.iter().any(|v| !(v.is_finite() && *v >= 0.0)) => err("the weights must be finite and >= 0".into()),
        _ => Ok(()),
    }
}

/// Checks the shapes of a gradient call.
fn check_shapes(x: &ArrayView2<f64>, y: &ArrayView2<f64>, net: &Network, loss: Loss) -> Result<(), CoreError> {
    if x.ncols() != net.n_inputs() {
        return err(format!("the input has {} columns but the network expects {} inputs", x.ncols(), net.n_inputs()));
    }
    if y.dim() != (x.nrows(), net.n_outputs()) {
        return err(format!(
            "the target is {}x{} but should be {}x{}",
            y.nrows(),
            y.ncols(),
            x.nrows(),
            net.n_outputs()
        ));
    }
    let out = net.layers()[net.layers().len() - 1].activation;
    if !loss.fits(out) {
        return err(format!("the {} loss does not fit a {} output layer", loss.name(), out.name()));
    }
    Ok(())
}

/// The full-batch gradient of the mean loss over the rows of `x` (target
/// `y`), written into `grad` (the flat layout of `net`, see
/// [`ParamLayout`]; every value is written). Returns the mean loss. Uses
/// up to `threads` threads; the result does not depend on their number.
/// Weight decay is not included (see [`add_weight_decay`]).
pub fn gradient_into(
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
    net: &Network,
    loss: Loss,
    grad: &mut [f64],
    threads: usize,
) -> Result<f64, CoreError> {
    gradient_into_with_block(x, y, net, loss, grad, threads, 0)
}

/// [`gradient_into`] with a given number of rows per block (0: the
/// default), for tests and benchmarks.
pub fn gradient_into_with_block(
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
    net: &Network,
    loss: Loss,
    grad: &mut [f64],
    threads: usize,
    block_rows: usize,
) -> Result<f64, CoreError> {
    gradient_into_weighted(x, y, None, net, loss, grad, threads, block_rows)
}

/// [`gradient_into_with_block`] of the weighted mean loss
/// `sum_i w_i l_i / sum_i w_i` (`w`: one weight per row; `None`: all 1).
#[allow(clippy::too_many_arguments)]
pub fn gradient_into_weighted(
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
    w: Option<&[f64]>,
    net: &Network,
    loss: Loss,
    grad: &mut [f64],
    threads: usize,
    block_rows: usize,
) -> Result<f64, CoreError> {
    check_shapes(&x, &y, net, loss)?;
    check_row_weights(w, x.nrows())?;
    let layout = ParamLayout::of(net);
    if grad.len() != layout.len {
        return err(format!("the gradient has {} values but the network {} parameters", grad.len(), layout.len));
    }
    let n = x.nrows();
    if n == 0 {
        grad.fill(0.0);
        // the mean over no rows, as torch: NaN
        return Ok(f64::NAN);
    }
    let obj = Objective { loss, mean_over: loss.weighted_mean_over(n, w.map(|w| w.iter().fold(0.0, |a, &b| a + b)), net.n_outputs()) };
    let work = n.saturating_mul(net.work_per_row()).saturating_mul(3);
    let threads = if work < PARALLEL_MIN_WORK { 1 } else { threads.max(1) };
    let p = Plan::new(net, n, block_rows, threads, true);
    let rb = p.block_rows;
    let blocks = n.div_ceil(rb);
    let shards = shard_count(blocks, layout.len);
    // shard s: blocks [s * blocks / shards, (s + 1) * blocks / shards)
    let rows_of = |s: usize| ((s * blocks / shards) * rb, ((s + 1) * blocks / shards * rb).min(n));
    let run_shard = |s: usize, buf: &mut [f64], scratch: &mut BlockScratch| -> f64 {
        let (r0, r1) = rows_of(s);
        let mut total = 0.0;
        let mut r = r0;
        while r < r1 {
            let e = (r + rb).min(r1);
            let extra = BlockExtra { weights: w.map(|w| &w[r..e]), dropout: None };
            total += block_gradient_with(x.slice(s![r..e, ..]), y.slice(s![r..e, ..]), net, &p, obj, extra, buf, r > r0, scratch);
            r = e;
        }
        total
    };
    let mut others: Vec<Vec<f64>> = Vec::with_capacity(shards - 1);
    for _ in 1..shards {
        others.push(try_filled(layout.len, 0.0, "the gradient buffers")?);
    }
    let mut losses = vec![0.0; shards];
    {
        let mut bufs: Vec<&mut [f64]> = Vec::with_capacity(shards);
        bufs.push(&mut *grad);
        bufs.extend(others.iter_mut().map(|b| b.as_mut_slice()));
        let jobs = bufs.into_iter().zip(losses.iter_mut()).enumerate();
        run_jobs(jobs, threads.min(shards), || BlockScratch::new(net, &p), |(s, (buf, l)), scratch| {
            *l = run_shard(s, buf, scratch)
        });
    }
    // the shards in order
    for other in &others {
        grad.iter_mut().zip(other).for_each(|(g, &o)| *g += o);
    }
    let total = losses.iter().fold(0.0, |a, &b| a + b);
    Ok(total / obj.mean_over)
}

/// The mean loss alone over the rows of `x` (no gradient), blocked as
/// [`gradient_into`] and as independent of the thread count.
pub fn mean_loss(x: ArrayView2<f64>, y: ArrayView2<f64>, net: &Network, loss: Loss, threads: usize) -> Result<f64, CoreError> {
    mean_loss_weighted(x, y, None, net, loss, threads)
}

/// [`mean_loss`] weighted as [`gradient_into_weighted`].
pub fn mean_loss_weighted(
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
    w: Option<&[f64]>,
    net: &Network,
    loss: Loss,
    threads: usize,
) -> Result<f64, CoreError> {
    check_shapes(&x, &y, net, loss)?;
    check_row_weights(w, x.nrows())?;
    let n = x.nrows();
    if n == 0 {
        return Ok(f64::NAN);
    }
    let mean_over = loss.weighted_mean_over(n, w.map(|w| w.iter().fold(0.0, |a, &b| a + b)), net.n_outputs());
    let work = n.saturating_mul(net.work_per_row());
    let threads = if work < PARALLEL_MIN_WORK { 1 } else { threads.max(1) };
    let p = Plan::new(net, n, 0, threads, false);
    let rb = p.block_rows;
    let blocks = n.div_ceil(rb);
    // one loss per block, added in order at the end
    let mut losses = vec![0.0; blocks];
    let jobs = losses.iter_mut().enumerate();
    let run = |b: usize, l: &mut f64, scratch: &mut BlockScratch| {
        let (r0, r1) = (b * rb, ((b + 1) * rb).min(n));
        *l = block_loss_only(x.slice(s![r0..r1, ..]), y.slice(s![r0..r1, ..]), net, &p, loss, w.map(|w| &w[r0..r1]), scratch);
    };
    run_jobs(jobs, threads.min(blocks), || BlockScratch::new(net, &p), |(b, l), scratch| run(b, l, scratch));
    Ok(losses.iter().fold(0.0, |a, &b| a + b) / mean_over)
}

/// Everything the unfused backward pass computes.
#[derive(Clone, Debug)]
pub struct Trace {
    /// The mean loss.
    pub loss: f64,
    /// The gradient, in the flat layout of the network.
    pub grad: Vec<f64>,
    /// Per layer, `z` (before the activation).
    pub z: Vec<Array2<f64>>,
    /// Per layer, `a` (after it).
    pub a: Vec<Array2<f64>>,
    /// Per layer, `delta = dL/dz`.
    pub delta: Vec<Array2<f64>>,
}

/// The unfused backward pass: every layer's `z`, `a` and `delta` as full
/// matrices, products by [`matmul_into`] (base R's `%*%`). The same
/// gradient as [`gradient_into`] up to rounding.
pub fn gradient_trace(x: ArrayView2<f64>, y: ArrayView2<f64>, net: &Network, loss: Loss) -> Result<Trace, CoreError> {
    check_shapes(&x, &y, net, loss)?;
    let layout = ParamLayout::of(net);
    let layers = net.layers();
    let n_layers = layers.len();
    let n = x.nrows();
    let mut rows = vec![0.0; 3 * n];
    let mut z: Vec<Array2<f64>> = Vec::with_capacity(n_layers);
    let mut a: Vec<Array2<f64>> = Vec::with_capacity(n_layers);
    for (l, layer) in layers.iter().enumerate() {
        let mut zl = Array2::zeros((n, layer.weights.ncols()).f());
        {
            let input = if l == 0 { x.view() } else { a[l - 1].view() };
            matmul_into(input, layer.weights, zl.view_mut());
        }
        if let Some(b) = layer.bias {
            add_bias(zl.view_mut(), b);
        }
        let mut al = zl.clone();
        apply_activation(al.view_mut(), layer.activation, &mut rows);
        z.push(zl);
        a.push(al);
    }
    let out = &layers[n_layers - 1];
    let mut delta: Vec<Array2<f64>> = layers.iter().map(|l| Array2::zeros((n, l.weights.ncols()).f())).collect();
    let mean_over = loss.mean_over(n, net.n_outputs());
    let mut zl = z[n_layers - 1].clone();
    let total = output_delta(zl.view_mut(), out.activation, loss, y, mean_over, delta[n_layers - 1].view_mut(), &mut rows);
    let mut grad = vec![0.0; layout.len];
    for l in (0..n_layers).rev() {
        let layer = &layers[l];
        let input = if l == 0 { x.view() } else { a[l - 1].view() };
        matmul_into(input.t(), delta[l].view(), layout.weights_mut(l, &mut grad));
        if let Some(off) = layout.layers[l].bias {
            for (g, col) in grad[off..].iter_mut().zip(delta[l].axis_iter(Axis(1))) {
                *g = col.sum();
            }
        }
        if l > 0 {
            let (before, after) = delta.split_at_mut(l);
            let mut g = before[l - 1].view_mut();
            matmul_into(after[0].view(), layer.weights.t(), g.view_mut());
            let act = layers[l - 1].activation;
            if act.needs_z() {
                activation_backward_z(act, z[l - 1].view(), g);
            } else {
                activation_backward(act, a[l - 1].view(), g, &mut rows);
            }
        }
    }
    let loss_value = if n == 0 { f64::NAN } else { total / mean_over };
    Ok(Trace { loss: loss_value, grad, z, a, delta })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::Activation;
    use crate::network::Layer;
    use crate::test_util::{random_scaled, Spec};
    use Activation::*;

    /// A target that fits the loss: values in [0, 1] for bce, rows of
    /// class probabilities (some one-hot, some soft) for cross-entropy.
    fn target(n: usize, d: usize, loss: Loss, seed: u64) -> Array2<f64> {
        let r = random_scaled(n, d, seed, 1.0);
        match loss {
            Loss::Mse => r,
            Loss::Bce => r.mapv(|v| (v + 1.0) / 2.0),
            Loss::CrossEntropy => {
                let mut y = Array2::zeros((n, d).f());
                for i in 0..n {
                    if i % 2 == 0 {
                        y[(i, (i * 7 + seed as usize) % d)] = 1.0;
                    } else {
                        let w: Vec<f64> = (0..d).map(|j| (r[(i, j)] + 1.0) / 2.0).collect();
                        let t: f64 = w.iter().sum();
                        (0..d).for_each(|j| y[(i, j)] = w[j] / t);
                    }
                }
                y
            }
        }
    }

    fn grad_of(x: &Array2<f64>, y: &Array2<f64>, net: &Network, loss: Loss, threads: usize, block: usize) -> (f64, Vec<f64>) {
        let mut g = vec![f64::NAN; ParamLayout::of(net).len];
        let l = gradient_into_with_block(x.view(), y.view(), net, loss, &mut g, threads, block).expect("shapes fit");
        (l, g)
    }

    /// Central differences of the loss in every parameter (the five-point
    /// stencil: error O(h^4), so that rounding, not the stencil, limits
    /// the comparison).
    fn finite_differences(x: &Array2<f64>, y: &Array2<f64>, spec: &Spec, loss: Loss) -> Vec<f64> {
        let net = spec.net();
        let layout = ParamLayout::of(&net);
        let mut flat = vec![0.0; layout.len];
        layout.gather(&net, &mut flat);
        (0..layout.len)
            .map(|i| {
                let h = 2e-4 * flat[i].abs().max(1.0);
                let at = |v: f64| {
                    let mut p = flat.clone();
                    p[i] = v;
                    let net = layout.network(&p, &spec.acts).expect("layout fits");
                    mean_loss(x.view(), y.view(), &net, loss, 1).expect("shapes fit")
                };
                let w = flat[i];
                (at(w - 2.0 * h) - 8.0 * at(w - h) + 8.0 * at(w + h) - at(w + 2.0 * h)) / (12.0 * h)
            })
            .collect()
    }

    fn assert_gradient_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            let err = (g - w).abs() / w.abs().max(1e-3 * scale).max(1e-12);
            assert!(err <= tol, "{what}: parameter {i}: got {g:e}, finite differences {w:e} (relative error {err:e})");
        }
    }

    #[test]
    fn gradients_match_finite_differences_on_many_networks() {
        let hidden = [Sigmoid, Tanh, Relu, Identity, Softmax, LeakyRelu, Elu, Gelu, Softplus];
        let shapes: [&[usize]; 6] = [&[3, 2], &[2, 3, 1], &[5, 4, 3], &[3, 7, 2, 4], &[4, 3, 5, 2, 3], &[2, 5, 3, 4, 3, 2]];
        let mut cases = 0;
        for (si, sizes) in shapes.iter().enumerate() {
            for (hi, &h) in hidden.iter().enumerate() {
                for (loss, out) in [
                    (Loss::Mse, Identity),
                    (Loss::Mse, Sigmoid),
                    (Loss::Mse, Softmax),
                    (Loss::Mse, Tanh),
                    (Loss::Bce, Sigmoid),
                    (Loss::CrossEntropy, Softmax),
                    // (a leaky relu output is tested in R: its kink at 0
                    // meets the finite differences of these seeds)
                    (Loss::Mse, Elu),
                    (Loss::Mse, Gelu),
                    (Loss::Mse, Softplus),
                ] {
                    let bias = (si + hi) % 2 == 0;
                    let n_layers = sizes.len() - 1;
                    if out == Softmax && sizes[n_layers] == 1 {
                        continue; // always 1: no gradient (an error in R)
                    }
                    let mut acts = vec![h; n_layers];
                    acts[n_layers - 1] = out;
                    let seed = (si * 31 + hi * 7) as u64;
                    let mut spec = Spec::new(sizes, &acts, bias, seed);
                    spec.acts = acts;
                    let n = 7 + si;
                    let x = random_scaled(n, sizes[0], seed + 1000, 1.5);
                    let y = target(n, sizes[n_layers], loss, seed + 2000);
                    let net = spec.net();
                    let (_, g) = grad_of(&x, &y, &net, loss, 1, 3);
                    let fd = finite_differences(&x, &y, &spec, loss);
                    // ELU's second derivative jumps at 0, which costs the
                    // five-point differences some of their accuracy there
                    let tol = if h == Elu || out == Elu { 1e-5 } else { 1e-6 };
                    assert_gradient_close(&g, &fd, tol, &format!("sizes {sizes:?}, hidden {h:?}, {loss:?} on {out:?}, bias {bias}"));
                    cases += 1;
                }
            }
        }
        assert_eq!(cases, 6 * 9 * 9 - 9 * 2);
    }

    #[test]
    fn decay_of_weights_and_biases() {
        // layers 2 -> 2 (bias) -> 1 (no bias): weights 0..4, bias 4..6, weights 6..8
        let layout = ParamLayout::new(&[2, 2, 1], &[true, false]);
        assert_eq!(layout.bias_ranges().collect::<Vec<_>>(), vec![4..6]);
        let params: Vec<f64> = (1..=8).map(f64::from).collect();
        let sq_w: f64 = [1.0, 2.0, 3.0, 4.0, 7.0, 8.0].iter().map(|v| v * v).sum();
        let sq_b = 25.0 + 36.0;
        let mut g = vec![1.0; 8];
        let term = add_decay(&layout, &params, &mut g, 0.5, 0.25);
        assert_eq!(term, 0.25 * sq_w + 0.125 * sq_b);
        let want: Vec<f64> = params.iter().enumerate().map(|(i, &w)| 1.0 + if (4..6).contains(&i) { 0.25 } else { 0.5 } * w).collect();
        assert_eq!(g, want);
        // the weights only: add_weight_decay
        let mut g = vec![0.0; 8];
        assert_eq!(add_weight_decay(&layout, &params, &mut g, 0.5), 0.25 * sq_w);
        assert_eq!(&g[4..6], &[0.0, 0.0]);
    }

    #[test]
    fn blocked_equals_unfused_trace_and_forward() {
        for (sizes, acts, loss) in [
            (&[6, 9, 4][..], &[Tanh, Softmax][..], Loss::CrossEntropy),
            (&[5, 13, 11, 1][..], &[Sigmoid, Relu, Sigmoid][..], Loss::Bce),
            (&[3, 8, 2][..], &[Relu, Identity][..], Loss::Mse),
            // activations whose derivative needs z (kept per block)
            (&[4, 7, 5, 6, 3][..], &[Gelu, Elu, Softplus, Gelu][..], Loss::Mse),
            (&[4, 9, 6, 3][..], &[Softplus, LeakyRelu, Softmax][..], Loss::CrossEntropy),
            (&[4, 9, 1][..], &[Elu, Sigmoid][..], Loss::Bce),
        ] {
            let spec = Spec::new(sizes, acts, true, 5);
            let net = spec.net();
            let n = 301;
            let x = random_scaled(n, sizes[0], 77, 2.0);
            let y = target(n, *sizes.last().expect("sizes"), loss, 78);
            let tr = gradient_trace(x.view(), y.view(), &net, loss).expect("shapes fit");
            let (fwd_z, fwd_a) = crate::forward::forward_trace(x.view(), &net).expect("shapes fit");
            assert_eq!(tr.z, fwd_z);
            assert_eq!(tr.a, fwd_a);
            for block in [1, 7, 64, 128, 301, 1000] {
                let (l, g) = grad_of(&x, &y, &net, loss, 1, block);
                assert!((l - tr.loss).abs() <= 1e-13 * tr.loss.abs().max(1.0), "loss {l} vs {}", tr.loss);
                assert_gradient_close(&g, &tr.grad, 1e-11, &format!("block {block}"));
            }
            // the trace's delta of the output layer is dL/dz
            assert_eq!(tr.delta.len(), sizes.len() - 1);
        }
    }

    #[test]
    fn threads_give_the_same_bits_as_one_thread() {
        let spec = Spec::new(&[20, 64, 32, 3], &[Sigmoid, Tanh, Softmax], true, 9);
        let net = spec.net();
        let n = 20_011;
        let x = random_scaled(n, 20, 3, 1.0);
        let y = target(n, 3, Loss::CrossEntropy, 4);
        let (l1, g1) = grad_of(&x, &y, &net, Loss::CrossEntropy, 1, 0);
        for threads in [2, 3, 5] {
            let (l, g) = grad_of(&x, &y, &net, Loss::CrossEntropy, threads, 0);
            assert_eq!(l.to_bits(), l1.to_bits(), "loss with {threads} threads");
            assert!(g.iter().zip(&g1).all(|(a, b)| a.to_bits() == b.to_bits()), "gradient with {threads} threads");
        }
        let l_only = mean_loss(x.view(), y.view(), &net, Loss::CrossEntropy, 1).expect("fits");
        let l_only2 = mean_loss(x.view(), y.view(), &net, Loss::CrossEntropy, 2).expect("fits");
        assert_eq!(l_only.to_bits(), l_only2.to_bits());
        assert!((l_only - l1).abs() <= 1e-12 * l1);
    }

    #[test]
    fn integer_row_weights_equal_duplicated_rows() {
        for (sizes, acts, loss) in [
            (&[4, 6, 3][..], &[Tanh, Softmax][..], Loss::CrossEntropy),
            (&[3, 5, 2][..], &[Sigmoid, Sigmoid][..], Loss::Bce),
            (&[3, 7, 2][..], &[Relu, Softmax][..], Loss::Mse),
        ] {
            let spec = Spec::new(sizes, acts, true, 4);
            let net = spec.net();
            let n = 157;
            let (d_in, d_out) = (sizes[0], *sizes.last().expect("sizes"));
            let x = random_scaled(n, d_in, 5, 1.5);
            let y = target(n, d_out, loss, 6);
            let w: Vec<f64> = (0..n).map(|i| ((i * 7) % 4) as f64).collect();
            // every row repeated w_i times
            let rep: Vec<usize> = (0..n).flat_map(|i| std::iter::repeat_n(i, w[i] as usize)).collect();
            let xd = Array2::from_shape_fn((rep.len(), d_in).f(), |(i, j)| x[(rep[i], j)]);
            let yd = Array2::from_shape_fn((rep.len(), d_out).f(), |(i, j)| y[(rep[i], j)]);
            let (ld, gd) = grad_of(&xd, &yd, &net, loss, 1, 0);
            for (threads, block) in [(1, 0), (3, 7), (2, 64)] {
                let mut g = vec![f64::NAN; gd.len()];
                let l = gradient_into_weighted(x.view(), y.view(), Some(&w), &net, loss, &mut g, threads, block).expect("fits");
                assert!((l - ld).abs() <= 1e-12 * ld.abs(), "{loss:?}: {l} vs {ld}");
                assert_gradient_close(&g, &gd, 1e-12, &format!("{loss:?} weighted, block {block}"));
                let lm = mean_loss_weighted(x.view(), y.view(), Some(&w), &net, loss, threads).expect("fits");
                assert!((lm - ld).abs() <= 1e-12 * ld.abs(), "{loss:?}: mean loss {lm} vs {ld}");
            }
            // weights of 1 are no weights, to the bit
            let ones = vec![1.0; n];
            let (l1, g1) = grad_of(&x, &y, &net, loss, 1, 0);
            let mut g = vec![0.0; g1.len()];
            let l = gradient_into_weighted(x.view(), y.view(), Some(&ones), &net, loss, &mut g, 1, 0).expect("fits");
            assert!((l - l1).abs() <= 1e-14 * l1.abs());
            assert_gradient_close(&g, &g1, 1e-13, "weights of 1");
            let bad = vec![-1.0; n];
            assert!(gradient_into_weighted(x.view(), y.view(), Some(&bad), &net, loss, &mut g, 1, 0).is_err());
            assert!(gradient_into_weighted(x.view(), y.view(), Some(&ones[1..]), &net, loss, &mut g, 1, 0).is_err());
        }
    }

    #[test]
    fn the_l1_penalty_is_lambda_sum_abs_w_with_its_subgradient() {
        let spec = Spec::new(&[3, 4, 2], &[Tanh, Identity], true, 8);
        let net = spec.net();
        let layout = ParamLayout::of(&net);
        let mut p = vec![0.0; layout.len];
        layout.gather(&net, &mut p);
        let zeroed = p[2];
        p[2] = 0.0; // a weight (layer 1 has 12) at 0: subgradient 0
        let lambda = 0.3;
        let mut g = vec![0.0; p.len()];
        let value = add_l1(&layout, &p, &mut g, lambda);
        // by hand: the weights' absolute values (the biases excluded)
        let by_hand: f64 = spec.weights.iter().flat_map(|w| w.iter()).map(|v| v.abs()).sum::<f64>() - zeroed.abs();
        assert!((value - lambda * by_hand).abs() <= 1e-14 * value);
        let pen = |q: &[f64]| {
            let mut scratch = vec![0.0; q.len()];
            add_l1(&layout, q, &mut scratch, lambda)
        };
        for i in 0..p.len() {
            if p[i] == 0.0 {
                assert_eq!(g[i], 0.0);
                continue;
            }
            let h = 1e-6 * p[i].abs().min(1.0);
            let (mut a, mut b) = (p.clone(), p.clone());
            a[i] += h;
            b[i] -= h;
            let fd = (pen(&a) - pen(&b)) / (2.0 * h);
            assert!((g[i] - fd).abs() <= 1e-6 * lambda, "parameter {i}: {} vs {fd}", g[i]);
        }
        assert!(layout.layers.iter().all(|l| l.bias.is_none_or(|o| g[o..o + l.d_out].iter().all(|&v| v == 0.0))));
    }

    /// The loss and gradient of one block with dropout (keep, rows from
    /// `first`) through the blocked pass.
    fn dropout_grad(x: &Array2<f64>, y: &Array2<f64>, net: &Network, loss: Loss, keep: f64, first: u64) -> (f64, Vec<f64>) {
        let rng = crate::optim::dropout_rng(9);
        let p = Plan::new(net, x.nrows(), 0, 1, true);
        let mut scratch = BlockScratch::with_dropout(net, &p);
        let obj = Objective { loss, mean_over: loss.mean_over(x.nrows(), net.n_outputs()) };
        let extra = BlockExtra { weights: None, dropout: Some(Dropout { keep, rng: &rng, first_row: first }) };
        let mut g = vec![0.0; ParamLayout::of(net).len];
        let l = block_gradient_with(x.view(), y.view(), net, &p, obj, extra, &mut g, false, &mut scratch);
        (l / obj.mean_over, g)
    }

    #[test]
    fn dropout_masks_keep_1_minus_p_and_preserve_the_expected_activation() {
        let rng = crate::optim::dropout_rng(3);
        let (m, widths) = (4000, [7, 5]);
        let keep = 0.7;
        let mut masks: Vec<Vec<f64>> = widths.iter().map(|&w| vec![0.0; m * w]).collect();
        dropout_masks(&Dropout { keep, rng: &rng, first_row: 11 }, &widths, m, &mut masks);
        let all: Vec<f64> = masks.iter().flatten().copied().collect();
        let kept = all.iter().filter(|&&v| v != 0.0).count() as f64 / all.len() as f64;
        let mean = all.iter().sum::<f64>() / all.len() as f64;
        // 48,000 draws: standard errors 0.0021 (kept) and 0.003 (mean)
        assert!((kept - keep).abs() < 0.01, "kept {kept}");
        assert!((mean - 1.0).abs() < 0.015, "mean {mean}");
        assert!(all.iter().all(|&v| v == 0.0 || v == 1.0 / keep));
        // a row's masks do not depend on the block it is drawn in
        let (a, b) = (1234, m - 1234);
        let mut first: Vec<Vec<f64>> = widths.iter().map(|&w| vec![0.0; a * w]).collect();
        let mut second: Vec<Vec<f64>> = widths.iter().map(|&w| vec![0.0; b * w]).collect();
        dropout_masks(&Dropout { keep, rng: &rng, first_row: 11 }, &widths, a, &mut first);
        dropout_masks(&Dropout { keep, rng: &rng, first_row: 11 + a as u64 }, &widths, b, &mut second);
        for (l, &w) in widths.iter().enumerate() {
            for j in 0..w {
                for i in 0..m {
                    let part = if i < a { first[l][i + j * a] } else { second[l][i - a + j * b] };
                    assert_eq!(masks[l][i + j * m].to_bits(), part.to_bits());
                }
            }
        }
    }

    #[test]
    fn dropout_gradients_match_finite_differences_of_the_masked_loss() {
        // (gelu, elu and softplus take their derivative at z: with dropout,
        // z is kept before the activation and the mask)
        for (acts, loss) in [
            (&[Tanh, Sigmoid, Identity][..], Loss::Mse),
            (&[Relu, Softmax, Softmax][..], Loss::CrossEntropy),
            (&[Gelu, Elu, Identity][..], Loss::Mse),
            (&[Softplus, LeakyRelu, Softmax][..], Loss::CrossEntropy),
        ] {
            let spec = Spec::new(&[3, 6, 5, 3], acts, true, 12);
            let x = random_scaled(11, 3, 13, 1.5);
            let y = target(11, 3, loss, 14);
            let net = spec.net();
            let (_, g) = dropout_grad(&x, &y, &net, loss, 0.6, 40);
            let layout = ParamLayout::of(&net);
            let mut flat = vec![0.0; layout.len];
            layout.gather(&net, &mut flat);
            let fd: Vec<f64> = (0..layout.len)
                .map(|i| {
                    let h = 2e-4 * flat[i].abs().max(1.0);
                    let at = |v: f64| {
                        let mut p = flat.clone();
                        p[i] = v;
                        dropout_grad(&x, &y, &layout.network(&p, &spec.acts).expect("fits"), loss, 0.6, 40).0
                    };
                    let w = flat[i];
                    (at(w - 2.0 * h) - 8.0 * at(w - h) + 8.0 * at(w + h) - at(w + 2.0 * h)) / (12.0 * h)
                })
                .collect();
            assert_gradient_close(&g, &fd, 1e-6, &format!("dropout, {loss:?}"));
            // keep = 1: no unit dropped, the gradient without dropout to the bit
            let (l1, g1) = dropout_grad(&x, &y, &net, loss, 1.0, 40);
            let (l0, g0) = grad_of(&x, &y, &net, loss, 1, 0);
            assert_eq!(l1.to_bits(), l0.to_bits());
            assert!(g1.iter().zip(&g0).all(|(a, b)| a.to_bits() == b.to_bits()));
        }
        // the masked loss by hand: one identity hidden layer, mse
        let spec = Spec::new(&[2, 4, 1], &[Identity, Identity], true, 15);
        let x = random_scaled(6, 2, 16, 1.0);
        let y = random_scaled(6, 1, 17, 1.0);
        let (l, _) = dropout_grad(&x, &y, &spec.net(), Loss::Mse, 0.5, 3);
        let mut masks = vec![vec![0.0; 6 * 4]];
        dropout_masks(&Dropout { keep: 0.5, rng: &crate::optim::dropout_rng(9), first_row: 3 }, &[4], 6, &mut masks);
        let (w1, b1, w2, b2) = (&spec.weights[0], spec.biases[0].as_ref().expect("bias"), &spec.weights[1], spec.biases[1].as_ref().expect("bias"));
        let mut want = 0.0;
        for i in 0..6 {
            let mut out = b2[0];
            for j in 0..4 {
                let a = (x[(i, 0)] * w1[(0, j)] + x[(i, 1)] * w1[(1, j)] + b1[j]) * masks[0][i + j * 6];
                out += a * w2[(j, 0)];
            }
            want += (out - y[(i, 0)]).powi(2) / 6.0;
        }
        assert!((l - want).abs() <= 1e-13 * want, "{l} vs {want}");
    }

    #[test]
    fn one_linear_layer_has_the_closed_form_gradient() {
        // mse of x W against y: dL/dW = 2 / (n d) t(x) (x W - y)
        let (n, k, d) = (9, 4, 3);
        let spec = Spec::new(&[k, d], &[Identity], false, 1);
        let net = spec.net();
        let x = random_scaled(n, k, 2, 1.0);
        let y = random_scaled(n, d, 3, 1.0);
        let (_, g) = grad_of(&x, &y, &net, Loss::Mse, 1, 0);
        let r = x.dot(&spec.weights[0]) - &y;
        let want = x.t().dot(&r) * (2.0 / (n * d) as f64);
        let want: Vec<f64> = want.t().iter().copied().collect(); // column-major
        assert_gradient_close(&g, &want, 1e-13, "closed form");
    }

    #[test]
    fn losses_stay_finite_at_extreme_logits() {
        // z = +-800: sigmoid and softmax saturate to exactly 0 and 1
        let w = Array2::from_shape_vec((1, 2).f(), vec![800.0, -800.0]).expect("shape");
        let x = Array2::from_shape_vec((2, 1).f(), vec![1.0, -1.0]).expect("shape");
        for (act, loss, y) in [
            (Sigmoid, Loss::Bce, Array2::from_shape_vec((2, 2).f(), vec![0.0, 1.0, 1.0, 0.0]).expect("shape")),
            (Softmax, Loss::CrossEntropy, Array2::from_shape_vec((2, 2).f(), vec![0.0, 1.0, 1.0, 0.0]).expect("shape")),
        ] {
            let net = Network::new(vec![Layer { weights: w.view(), bias: None, activation: act }]).expect("net");
            let (l, g) = grad_of(&x, &y, &net, loss, 1, 0);
            // every prediction is confidently wrong by 800 (bce: 2 of 4
            // elements each 1600/... see below); finite, exact
            assert!(l.is_finite() && g.iter().all(|v| v.is_finite()), "{loss:?}: {l} {g:?}");
            match loss {
                // all four elements wrong by |z| = 800: mean 800
                Loss::Bce => assert_eq!(l, 800.0),
                // both rows wrong by a margin of 1600
                _ => assert_eq!(l, 1600.0),
            }
            // right answers: loss exactly 0 (bce: log1p(exp(-800)) = 0)
            let y_right = y.mapv(|v| 1.0 - v);
            let (l0, _) = grad_of(&x, &y_right, &net, loss, 1, 0);
            assert_eq!(l0, 0.0, "{loss:?}");
        }
    }

    #[test]
    fn shapes_and_losses_that_do_not_fit_are_errors() {
        let spec = Spec::new(&[3, 2], &[Sigmoid], false, 1);
        let net = spec.net();
        let x = random_scaled(4, 3, 1, 1.0);
        let mut g = vec![0.0; 6];
        let y_bad = random_scaled(4, 3, 1, 1.0);
        assert!(gradient_into(x.view(), y_bad.view(), &net, Loss::Mse, &mut g, 1).is_err());
        let y = random_scaled(4, 2, 1, 1.0);
        assert!(gradient_into(x.view(), y.view(), &net, Loss::CrossEntropy, &mut g, 1).is_err());
        let mut g_short = vec![0.0; 5];
        assert!(gradient_into(x.view(), y.view(), &net, Loss::Mse, &mut g_short, 1).is_err());
        let x_bad = random_scaled(4, 2, 1, 1.0);
        assert!(gradient_into(x_bad.view(), y.view(), &net, Loss::Mse, &mut g, 1).is_err());
        // no rows: NaN loss, zero gradient
        let x0 = Array2::zeros((0, 3));
        let y0 = Array2::zeros((0, 2));
        let l = gradient_into(x0.view(), y0.view(), &net, Loss::Mse, &mut g, 1).expect("fits");
        assert!(l.is_nan() && g.iter().all(|&v| v == 0.0));
    }
}
