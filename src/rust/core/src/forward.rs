//! Forward pass through a dense network: `z_l = a_{l-1} W_l (+ b_l)`,
//! `a_l = act_l(z_l)`, `a_0 = x` (weights `d_{l-1} x d_l`, as `X %*% W`).
//!
//! Two ways through the same arithmetic:
//! * [`forward_into`], the fused path: the rows of `x` are cut into blocks;
//!   each block goes through every layer in small per-thread scratch
//!   buffers, and only the last layer's result is written, straight into
//!   the output (an R matrix's memory). No full intermediate matrix exists.
//!   Blocks are shared out over threads; each thread's GEMM runs on that
//!   thread alone.
//! * [`forward_trace_into`], the unfused path: every layer's `z` and `a` as
//!   full matrices, each product by [`matmul_into`] on the whole matrix, i.e.
//!   R's own rule for `%*%`. Used for `trace = TRUE` and as the reference
//!   the fused path is tested against.
//!
//! Products: where the operands of a product hold a non-finite value, R's
//! plain loop runs ([`simple_matmul_into`]), so NA/NaN come out as in base
//! R, NA versus NaN included; otherwise a GEMM (matrixmultiply in the
//! unfused path, as `mm()`; [`crate::gemm`]'s in the fused path). The fused
//! path makes that choice per block (R makes it per matrix), and finds out
//! about non-finite operands from the product itself (see `layer_into`),
//! so finite results may differ from the unfused ones by rounding only.

use std::mem::MaybeUninit;
use std::sync::OnceLock;

use ndarray::{ArrayView2, ArrayViewMut2, Axis, ShapeBuilder};

use crate::activation::{
    activate_small_into, apply_activation, apply_activation_checked, Activation, SMALL_SOFTMAX_WORK,
};
use crate::gemm::{GemmWork, PackedB};
use crate::matmul::{matmul_into, simple_matmul_into};
use crate::nan::{add_nan_first, view_has_non_finite};
use crate::network::{err, CoreError, Layer, Network};
use crate::parallel::run_jobs;
use crate::product::{add_bias, col_major, col_major_ref, product_into, SMALL_PRODUCT};

/// Default rows per block of the fused path. Chosen by measurement (see
/// `benches/forward.rs`, blocks of 64 to 1024 rows on 2 threads, repeated
/// runs): 128 rows was fastest on W1 and W2, by about 5 % over 512. A
/// block's hidden layers then stay in L2 (W2's 128 x 256 layer is 256 KiB),
/// and the last blocks even out the threads' shares of rows.
pub const BLOCK_ROWS: usize = 128;

/// Below this much work (multiply-adds, see `Network::work_per_row`) the
/// fused path stays on the calling thread: starting a thread costs tens of
/// microseconds.
pub const PARALLEL_MIN_WORK: usize = 1 << 21;

/// Most values in one hidden-layer scratch buffer (32 MiB): a very wide
/// hidden layer gets fewer rows per block rather than a buffer of
/// `rows x width` that might not fit in memory (a failed allocation would
/// abort R).
pub const SCRATCH_MAX_VALUES: usize = 1 << 22;

/// The fused forward pass: writes the network's output for the rows of `x`
/// into `out` (`x.nrows() x net.n_outputs()`, any strides, may be
/// uninitialised memory: every element is written).
///
/// Uses up to `threads` threads (the caller's included) when the work is
/// large enough; `threads` 0 is taken as 1. The result does not depend on
/// the number of threads (every block is computed the same way).
pub fn forward_into(
    x: ArrayView2<f64>,
    net: &Network,
    out: ArrayViewMut2<f64>,
    threads: usize,
) -> Result<(), CoreError> {
    // A single layer gains nothing from small blocks (there is no
    // intermediate to keep in cache): one block per thread. (The weights
    // are packed once per call either way; with W3, 2000x2000 by
    // 2000x2000, blocks of 64 to 512 rows measured no faster.)
    let block = if net.layers.len() == 1 {
        BLOCK_ROWS.max(x.nrows().div_ceil(threads.max(1)))
    } else {
        BLOCK_ROWS
    };
    forward_into_with_block(x, net, out, threads, block)
}

/// [`forward_into`] with a given number of rows per block (for tests and
/// benchmarks); `block_rows` 0 is taken as 1.
pub fn forward_into_with_block(
    x: ArrayView2<f64>,
    net: &Network,
    mut out: ArrayViewMut2<f64>,
    threads: usize,
    block_rows: usize,
) -> Result<(), CoreError> {
    net.check_input(&x)?;
    let n = x.nrows();
    if out.dim() != (n, net.n_outputs()) {
        return err(format!(
            "the output is {}x{} but should be {}x{}",
            out.nrows(),
            out.ncols(),
            n,
            net.n_outputs()
        ));
    }
    if n == 0 || net.n_outputs() == 0 {
        return Ok(());
    }
    let mut rb = block_rows.max(1).min(n);
    if net.layers.len() > 1 {
        rb = rb.min((SCRATCH_MAX_VALUES / net.max_hidden_width().max(1)).max(1));
    }
    let work = n.saturating_mul(net.work_per_row());
    let mut workers = if work < PARALLEL_MIN_WORK { 1 } else { threads.max(1) };
    if workers > 1 {
        // enough blocks for every thread, of about equal size
        let per_thread = n.div_ceil(workers);
        if per_thread < rb {
            rb = per_thread;
        }
        workers = workers.min(n.div_ceil(rb));
    }
    // every block multiplies by the same weights: pack them once (shared
    // by the threads) where more than one block uses the GEMM
    // (no allocation at all for a single block: the lecture's network is
    // timed in microseconds)
    let blocks = n.div_ceil(rb);
    // each layer's product is chosen once for the whole call, from all `n`
    // rows (not per block: blocks differ in size with the thread count and
    // at the end, and the two products round differently, so the result
    // would depend on the threads)
    let small: Vec<bool> = net
        .layers
        .iter()
        .map(|l| {
            let (k, d) = l.weights.dim();
            n.saturating_mul(k).saturating_mul(d) <= SMALL_PRODUCT
        })
        .collect();
    let small = &small[..];
    let uses_gemm = |(l, small): (&Layer, &bool)| {
        let (k, d) = l.weights.dim();
        d > 1 && k > 0 && !small
    };
    let packed: Vec<Option<PackedB>> = if blocks > 1 && net.layers.iter().zip(small).any(uses_gemm) {
        net.layers.iter().zip(small).map(|ls| if uses_gemm(ls) { PackedB::new(ls.0.weights, workers) } else { None }).collect()
    } else {
        Vec::new()
    };
    let packed = &packed[..];
    let jobs = x.axis_chunks_iter(Axis(0), rb).zip(out.axis_chunks_iter_mut(Axis(0), rb));
    run_jobs(jobs, workers, || ForwardScratch::new(net, rb), |(xb, ob), scratch| {
        forward_block(xb, net, packed, small, ob, scratch)
    });
    Ok(())
}

/// Per-thread buffers of the fused path, allocated once per call.
struct ForwardScratch {
    /// Two hidden-layer buffers (ping-pong), each `rows x max width`,
    /// column-major.
    a: Vec<f64>,
    b: Vec<f64>,
    /// Per-row workspace of the softmax (3 values per row).
    rows: Vec<f64>,
    /// Packing buffers of the GEMM.
    gemm: GemmWork,
}

impl ForwardScratch {
    fn new(net: &Network, rows: usize) -> Self {
        let w = net.max_hidden_width();
        let len = if net.layers.len() > 1 { rows * w } else { 0 };
        let b_len = if net.layers.len() > 2 { len } else { 0 };
        let softmax = net.layers.iter().any(|l| l.activation == Activation::Softmax);
        ForwardScratch {
            a: vec![0.0; len],
            b: vec![0.0; b_len],
            rows: vec![0.0; if softmax { 3 * rows } else { 0 }],
            gemm: GemmWork::new(),
        }
    }
}

/// One block of rows through every layer.
fn forward_block(
    x: ArrayView2<f64>,
    net: &Network,
    packed: &[Option<PackedB>],
    small: &[bool],
    mut out: ArrayViewMut2<f64>,
    scratch: &mut ForwardScratch,
) {
    let m = x.nrows();
    let n_layers = net.layers.len();
    let ForwardScratch { a, b, rows, gemm } = scratch;
    // `prev` holds a_{l-1} for l >= 1: alternately buffer a and buffer b
    let mut prev_in_a = false;
    for (l, layer) in net.layers.iter().enumerate() {
        let d = layer.weights.ncols();
        let last = l + 1 == n_layers;
        let (src, dst): (&Vec<f64>, &mut Vec<f64>) = if prev_in_a { (&*a, &mut *b) } else { (&*b, &mut *a) };
        let d_in = layer.weights.nrows();
        let input = if l == 0 { x.view() } else { col_major_ref(src, m, d_in) };
        let weights = Weights {
            view: layer.weights,
            packed: packed.get(l).and_then(Option::as_ref),
            small: small[l],
            non_finite: &net.weights_non_finite[l],
        };
        if last {
            layer_into(input, layer, weights, out.view_mut(), rows, gemm);
        } else {
            layer_into(input, layer, weights, col_major(dst, m, d), rows, gemm);
            prev_in_a = !prev_in_a;
        }
    }
}

/// A layer's weights as the fused path uses them.
#[derive(Clone, Copy)]
struct Weights<'w, 'a> {
    view: ArrayView2<'a, f64>,
    /// Packed once per call for the GEMM (see [`PackedB`]), or `None`.
    packed: Option<&'w PackedB>,
    /// Whether the call's product is small enough for the plain loop
    /// (decided once per call, see [`product_into`]).
    small: bool,
    /// Whether the weights hold a non-finite value, once known.
    non_finite: &'w OnceLock<bool>,
}

/// `out = act(input %*% W + bias)`, the product chosen as in R: the plain
/// loop if `input` or the weights hold a non-finite value, else GEMM.
///
/// The inputs are not scanned beforehand: the fast product runs first, and
/// only if `z` (before the activation) holds a non-finite value are the
/// inputs looked at, and the layer redone with the plain loop when they
/// hold one. This is exact: a NaN or an infinity in row `i` of `input` (in
/// column `j` of the weights) makes every element of row `i` (column `j`)
/// of the product NaN or infinite, whatever the order of the sums (NaN
/// times anything and infinity times 0 are NaN, infinity times a non-zero
/// is infinite, and a sum with a NaN or infinite term is NaN or infinite),
/// and the activation sees `z`, so finite values in `z` prove finite
/// inputs. (Finite inputs may still overflow to infinity: then the scan
/// finds them finite and the fast product stands, as in R.) The sigmoid
/// reports non-finite values of `z` as it goes, at no cost; other
/// activations scan `z` first.
fn layer_into(
    input: ArrayView2<f64>,
    layer: &Layer,
    weights: Weights,
    mut out: ArrayViewMut2<f64>,
    rows: &mut [f64],
    gemm: &mut GemmWork,
) {
    let w = weights.view;
    let weights_non_finite = weights.non_finite;
    if weights_non_finite.get() != Some(&true) {
        product_into(input, w, weights.packed, weights.small, out.view_mut(), gemm);
        if let Some(bias) = layer.bias {
            add_bias(out.view_mut(), bias);
        }
        let z_non_finite = apply_activation_checked(out.view_mut(), layer.activation, rows);
        if !z_non_finite
            || input.ncols() == 0
            || !(*weights_non_finite.get_or_init(|| view_has_non_finite(&w)) || view_has_non_finite(&input))
        {
            return;
        }
    }
    simple_matmul_into(input, w, out.view_mut());
    if let Some(bias) = layer.bias {
        add_bias(out.view_mut(), bias);
    }
    apply_activation(out, layer.activation, rows);
}

/// The unfused forward pass (`trace = TRUE`): writes every layer's `z`
/// (before the activation) into `zs[l]` and `a` (after it) into `acts[l]`,
/// each `x.nrows() x d_l` (any strides, may be uninitialised). Each product
/// is [`matmul_into`] on the whole matrix, as base R's `%*%`.
pub fn forward_trace_into(
    x: ArrayView2<f64>,
    net: &Network,
    zs: &mut [ArrayViewMut2<f64>],
    acts: &mut [ArrayViewMut2<f64>],
) -> Result<(), CoreError> {
    net.check_input(&x)?;
    let n = x.nrows();
    let n_layers = net.layers.len();
    if zs.len() != n_layers || acts.len() != n_layers {
        return err(format!(
            "need {n_layers} z and a matrices, got {} and {}",
            zs.len(),
            acts.len()
        ));
    }
    for (l, layer) in net.layers.iter().enumerate() {
        let want = (n, layer.weights.ncols());
        if zs[l].dim() != want || acts[l].dim() != want {
            return err(format!("layer {}'s z and a must be {}x{}", l + 1, want.0, want.1));
        }
    }
    let mut rows = vec![0.0; 3 * n];
    for (l, layer) in net.layers.iter().enumerate() {
        let (done, rest) = acts.split_at_mut(l);
        let input = if l == 0 { x.view() } else { done[l - 1].view() };
        let z = &mut zs[l];
        matmul_into(input, layer.weights, z.view_mut());
        if let Some(bias) = layer.bias {
            add_bias(z.view_mut(), bias);
        }
        let a = &mut rest[0];
        a.assign(z);
        apply_activation(a.view_mut(), layer.activation, &mut rows);
    }
    Ok(())
}

/// A layer of [`forward_small_into`]: column-major `d_in x d_out` weights
/// in one slice (as an R matrix's memory).
#[derive(Clone, Copy, Debug)]
pub struct SmallLayer<'a> {
    /// `d_in * d_out` values, column-major.
    pub weights: &'a [f64],
    /// Rows of the weights (inputs of the layer).
    pub d_in: usize,
    /// Columns of the weights (outputs of the layer).
    pub d_out: usize,
    /// `None`, or `d_out` values.
    pub bias: Option<&'a [f64]>,
    /// Applied to `z`.
    pub activation: Activation,
}

/// Most values (`rows x width`) of one layer that [`forward_small_into`]
/// keeps in its stack buffers.
pub const SMALL_MAX_VALUES: usize = 128;

/// The fused forward pass for a tiny input (the lecture's 3 samples), with
/// no allocation: every layer's `z` and activation live in stack buffers.
///
/// `x` is `n x layers[0].d_in` and `out` `n x d_out` of the last layer,
/// both column-major in one slice. Computes exactly what [`forward_into`]
/// computes (the same arithmetic in the same order, bit for bit) and
/// returns `true`, or returns `false` when it does not handle the case,
/// leaving `out` in an unspecified state; the caller then runs
/// [`forward_into`]. Not handled: shapes that do not chain, a layer with
/// more than [`SMALL_MAX_VALUES`] values (`n x d_out`), or (`d_out > 1`)
/// a product larger than the small-product limit (where [`forward_into`]
/// uses GEMM); and any layer whose `z` holds a NaN or an infinity (R's
/// NaN rules then need the plain loop of [`forward_into`]).
pub fn forward_small_into(x: &[f64], n: usize, layers: &[SmallLayer], out: &mut [f64]) -> bool {
    let Some(last) = layers.last() else {
        return false;
    };
    if n > BLOCK_ROWS || x.len() != n * layers[0].d_in || out.len() != n * last.d_out {
        return false;
    }
    let mut d_prev = layers[0].d_in;
    for l in layers {
        let values = n * l.d_out;
        if l.d_in != d_prev
            || l.weights.len() != l.d_in * l.d_out
            || l.bias.is_some_and(|b| b.len() != l.d_out)
            || values > SMALL_MAX_VALUES
            || (l.d_out > 1 && values * l.d_in > SMALL_PRODUCT)
            || (l.activation == Activation::Softmax && 3 * n > SMALL_SOFTMAX_WORK)
        {
            return false;
        }
        d_prev = l.d_out;
    }
    if n == 0 || last.d_out == 0 {
        return true; // nothing to write, as forward_into
    }
    // not zero-filled (the lecture's network uses 9 of 128 values): each
    // layer writes the part it uses before it is read
    let mut a_buf = [MaybeUninit::<f64>::uninit(); SMALL_MAX_VALUES];
    let mut z_buf = [MaybeUninit::<f64>::uninit(); SMALL_MAX_VALUES];
    let n_layers = layers.len();
    for (l, layer) in layers.iter().enumerate() {
        let (k, d) = (layer.d_in, layer.d_out);
        let len = n * d;
        // SAFETY: the previous layer wrote its `n * k` activations into
        // `a_buf` (`dst` below)
        let input: &[f64] =
            if l == 0 { x } else { unsafe { std::slice::from_raw_parts(a_buf.as_ptr() as *const f64, n * k) } };
        let zs = small_layer_z(input, n, layer, &mut z_buf[..len]);
        let dst: &mut [f64] = if l + 1 == n_layers { &mut out[..] } else { zeroed(&mut a_buf[..len]) };
        if activate_small_into(layer.activation, zs, dst, n) {
            return false;
        }
    }
    true
}

/// `buf` filled with zeros, as initialised values.
fn zeroed(buf: &mut [MaybeUninit<f64>]) -> &mut [f64] {
    for v in buf.iter_mut() {
        v.write(0.0);
    }
    // SAFETY: every element was just written; `MaybeUninit<f64>` and `f64`
    // have the same layout.
    unsafe { std::slice::from_raw_parts_mut(buf.as_mut_ptr() as *mut f64, buf.len()) }
}

/// `z = a %*% w (+ bias)` for `a` `n x k` and the layer's `k x d`
/// weights, all column-major, written into `z` (`n x d`), which is returned
/// as initialised values. Per element the arithmetic of [`crate::product::matvec_into`]
/// (which [`product_into`] uses for every product [`forward_small_into`]
/// takes) and [`add_bias`]: `0 + a[i,0] w[0] + a[i,1] w[1] + ...`, summed in
/// order, then the bias added with R's NaN rule.
#[inline]
fn small_layer_z<'z>(a: &[f64], n: usize, layer: &SmallLayer, z: &'z mut [MaybeUninit<f64>]) -> &'z mut [f64] {
    let k = layer.d_in;
    let len = z.len();
    if k == 0 {
        z.iter_mut().for_each(|v| {
            v.write(0.0);
        });
    } else {
        let a = &a[..n * k];
        for (zc, wc) in z.chunks_exact_mut(n).zip(layer.weights.chunks_exact(k)) {
            for (i, zi) in zc.iter_mut().enumerate() {
                let mut s = 0.0;
                let mut at = i;
                for &wj in wc {
                    s += a[at] * wj;
                    at += n;
                }
                zi.write(s);
            }
        }
    }
    // SAFETY: every element was written: `z` holds `n * d` values, `d`
    // whole columns of `n` (checked by the caller: `len == n * d`,
    // `weights.len() == k * d`).
    let z = unsafe { std::slice::from_raw_parts_mut(z.as_mut_ptr() as *mut f64, len) };
    if let Some(bias) = layer.bias {
        for (zc, &bc) in z.chunks_exact_mut(n).zip(bias) {
            zc.iter_mut().for_each(|v| *v = add_nan_first(*v, bc));
        }
    }
    z
}

/// Convenience: the fused pass into a new column-major array.
pub fn forward(x: ArrayView2<f64>, net: &Network, threads: usize) -> Result<ndarray::Array2<f64>, CoreError> {
    let mut out = ndarray::Array2::zeros((x.nrows(), net.n_outputs()).f());
    forward_into(x, net, out.view_mut(), threads)?;
    Ok(out)
}

/// Convenience: the unfused pass into new column-major arrays, `(zs, as)`.
#[allow(clippy::type_complexity)]
pub fn forward_trace(
    x: ArrayView2<f64>,
    net: &Network,
) -> Result<(Vec<ndarray::Array2<f64>>, Vec<ndarray::Array2<f64>>), CoreError> {
    let n = x.nrows();
    let new = || -> Vec<ndarray::Array2<f64>> {
        net.layers.iter().map(|l| ndarray::Array2::zeros((n, l.weights.ncols()).f())).collect()
    };
    let (mut zs, mut acts) = (new(), new());
    {
        let mut zv: Vec<_> = zs.iter_mut().map(|a| a.view_mut()).collect();
        let mut av: Vec<_> = acts.iter_mut().map(|a| a.view_mut()).collect();
        forward_trace_into(x, net, &mut zv, &mut av)?;
    }
    Ok((zs, acts))
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::{relu, sigmoid, sigmoid_into, softmax_rows};
    use crate::nan::is_r_na;
    use crate::test_util::{random_scaled as random, Lcg, Spec};
    use ndarray::Array2;


    fn r_na() -> f64 {
        f64::from_bits(0x7FF0_0000_0000_07A2)
    }

    /// Independent naive reference: the textbook definitions, element by
    /// element, written without the implementation's helpers.
    fn naive_forward(x: &Array2<f64>, spec: &Spec) -> Array2<f64> {
        let mut a = x.clone();
        for l in 0..spec.weights.len() {
            let w = &spec.weights[l];
            let (n, k, d) = (a.nrows(), w.nrows(), w.ncols());
            let mut z = Array2::zeros((n, d));
            for i in 0..n {
                for j in 0..d {
                    let mut s = 0.0;
                    for t in 0..k {
                        s += a[(i, t)] * w[(t, j)];
                    }
                    if let Some(b) = &spec.biases[l] {
                        s += b[j];
                    }
                    z[(i, j)] = s;
                }
            }
            for i in 0..n {
                match spec.acts[l] {
                    Activation::Softmax => {
                        let m = (0..d).map(|j| z[(i, j)]).fold(f64::NEG_INFINITY, f64::max);
                        let e: Vec<f64> = (0..d).map(|j| (z[(i, j)] - m).exp()).collect();
                        let tot: f64 = e.iter().sum();
                        for j in 0..d {
                            z[(i, j)] = e[j] / tot;
                        }
                    }
                    act => {
                        for j in 0..d {
                            let v = z[(i, j)];
                            z[(i, j)] = match act {
                                Activation::Sigmoid => 1.0 / (1.0 + (-v).exp()),
                                // R's ifelse(z > 0, z, 0): an NA test gives NA
                                Activation::Relu => {
                                    if v > 0.0 || v.is_nan() {
                                        v
                                    } else {
                                        0.0
                                    }
                                }
                                Activation::Tanh => v.tanh(),
                                // torch's formulas, written out
                                Activation::LeakyRelu => {
                                    if v > 0.0 || v.is_nan() {
                                        v
                                    } else {
                                        0.01 * v
                                    }
                                }
                                Activation::Elu => {
                                    if v > 0.0 || v.is_nan() {
                                        v
                                    } else {
                                        v.exp_m1()
                                    }
                                }
                                Activation::Gelu if v.is_nan() => v,
                                Activation::Gelu => 0.5 * v * (1.0 + libm::erf(v / std::f64::consts::SQRT_2)),
                                Activation::Softplus => {
                                    if v > 20.0 || v.is_nan() {
                                        v
                                    } else {
                                        (1.0 + v.exp()).ln()
                                    }
                                }
                                _ => v,
                            };
                        }
                    }
                }
            }
            a = z;
        }
        a
    }

    fn assert_rel_close(got: &Array2<f64>, want: &Array2<f64>, tol: f64, what: &str) {
        assert_eq!(got.dim(), want.dim(), "{what}: shape");
        for ((idx, g), w) in got.indexed_iter().zip(want.iter()) {
            if g.is_nan() || w.is_nan() {
                assert!(g.is_nan() && w.is_nan(), "{what} at {idx:?}: got {g}, want {w}");
                assert_eq!(is_r_na(*g), is_r_na(*w), "{what} at {idx:?}: NA vs NaN");
                continue;
            }
            if g == w {
                continue; // infinities included
            }
            let scale = w.abs().max(1e-300);
            assert!((g - w).abs() <= tol * scale.max(1.0) || (g - w).abs() <= tol * scale, "{what} at {idx:?}: got {g:e}, want {w:e}");
        }
    }

    fn fused(x: &Array2<f64>, spec: &Spec, threads: usize, block: usize) -> Array2<f64> {
        let net = spec.net();
        // garbage first: every element must be written
        let mut out = Array2::from_elem((x.nrows(), net.n_outputs()).f(), 12345.0);
        forward_into_with_block(x.view(), &net, out.view_mut(), threads, block).expect("shapes fit");
        out
    }

    fn unfused(x: &Array2<f64>, spec: &Spec) -> (Vec<Array2<f64>>, Vec<Array2<f64>>) {
        forward_trace(x.view(), &spec.net()).expect("shapes fit")
    }

    use Activation::*;

    #[test]
    fn names_round_trip() {
        for a in Activation::ALL {
            assert_eq!(Activation::from_name(a.name()), Some(a));
        }
        assert_eq!(Activation::from_name("Sigmoid"), None);
        assert_eq!(Activation::from_name("softsign"), None);
        assert_eq!(Activation::from_name("leaky_relu"), Some(LeakyRelu));
    }

    #[test]
    fn every_activation_matches_the_naive_reference_on_odd_sizes() {
        for (i, act) in Activation::ALL.into_iter().enumerate() {
            for bias in [false, true] {
                let spec = Spec::new(&[63, 65, 67], &[act], bias, 10 + i as u64);
                let x = random(63, 63, 1, 2.0);
                let want = naive_forward(&x, &spec);
                let what = format!("{act:?} bias {bias}");
                assert_rel_close(&fused(&x, &spec, 1, BLOCK_ROWS), &want, 1e-13, &what);
                assert_rel_close(&fused(&x, &spec, 2, 8), &want, 1e-13, &what);
                assert_rel_close(&unfused(&x, &spec).1[1], &want, 1e-13, &what);
            }
        }
        // mixed, deeper, one output column (the matrix-vector path)
        let spec = Spec::new(&[13, 31, 17, 9, 1], &[Relu, Tanh, Sigmoid, Identity], true, 3);
        let x = random(301, 13, 2, 3.0);
        let want = naive_forward(&x, &spec);
        assert_rel_close(&fused(&x, &spec, 1, 64), &want, 1e-13, "mixed");
        let spec = Spec::new(&[13, 31, 5], &[Tanh, Softmax], true, 4);
        assert_rel_close(&fused(&x, &spec, 2, 50), &naive_forward(&x, &spec), 1e-13, "softmax out");
    }

    #[test]
    fn very_wide_hidden_layers_get_fewer_rows_per_block() {
        // 10,000 hidden nodes: at most 419 rows fit in the scratch budget,
        // so 600 rows take two blocks whatever block size is asked for
        let spec = Spec::new(&[2, 10_000, 3], &[Tanh, Sigmoid], true, 7);
        let x = random(600, 2, 8, 2.0);
        let want = naive_forward(&x, &spec);
        assert_rel_close(&fused(&x, &spec, 1, 4096), &want, 1e-13, "one thread");
        assert_rel_close(&fused(&x, &spec, 2, 4096), &want, 1e-13, "two threads");
        let mut out = Array2::zeros((600, 3).f());
        forward_into(x.view(), &spec.net(), out.view_mut(), 2).expect("shapes fit");
        assert_rel_close(&out, &want, 1e-13, "default blocks");
    }

    #[test]
    fn fused_equals_unfused_around_block_boundaries() {
        let shapes: &[&[usize]] = &[&[7, 9, 5, 3], &[1, 1], &[4, 2], &[5, 16, 1], &[3, 40, 40, 40, 2], &[2, 3, 1]];
        for (s, sizes) in shapes.iter().enumerate() {
            for bias in [false, true] {
                let spec = Spec::new(sizes, &[Tanh, Relu, Sigmoid, Softmax], bias, 50 + s as u64);
                for block in [1, 7, 64, BLOCK_ROWS] {
                    for n in [0, 1, 2, block.saturating_sub(1), block, block + 1, 2 * block + 1, 3 * block] {
                        let x = random(n, sizes[0], n as u64 + 7, 2.0);
                        let reference = unfused(&x, &spec).1.pop().expect("one layer at least");
                        for threads in [1, 2, 3] {
                            let got = fused(&x, &spec, threads, block);
                            assert_rel_close(&got, &reference, 1e-12, &format!("{sizes:?} n {n} block {block} threads {threads}"));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn threads_give_the_same_bits_as_one_thread() {
        // large enough to go parallel (work >= PARALLEL_MIN_WORK); the
        // second network's 6 -> 6 layer is a small product per block of
        // up to 113 rows but not for all 200 rows: the product is chosen
        // once per call, so blocks and threads still agree bit for bit
        for (sizes, n) in [(&[30, 64, 16, 1][..], 3001), (&[200, 200, 6, 6][..], 200)] {
            let spec = Spec::new(sizes, &[Sigmoid], true, 8);
            let x = random(n, sizes[0], 9, 2.0);
            assert!(n * spec.net().work_per_row() >= PARALLEL_MIN_WORK);
            let one = fused(&x, &spec, 1, BLOCK_ROWS);
            for threads in [1, 2, 3, 8] {
                for block in [7, 16, 100, BLOCK_ROWS] {
                    let got = fused(&x, &spec, threads, block);
                    let same = got.iter().zip(&one).all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(same, "{sizes:?}: threads {threads} block {block}");
                }
            }
            assert_rel_close(&one, &naive_forward(&x, &spec), 1e-12, "vs naive");
        }
    }

    #[test]
    fn trace_gives_every_z_and_a() {
        let spec = Spec::new(&[4, 6, 3], &[Relu, Softmax], true, 21);
        let x = random(9, 4, 3, 2.0);
        let (zs, acts) = unfused(&x, &spec);
        assert_eq!(zs.len(), 2);
        assert_eq!(zs[0].dim(), (9, 6));
        assert_eq!(acts[1].dim(), (9, 3));
        for i in 0..9 {
            for j in 0..6 {
                let mut z = spec.biases[0].as_ref().map_or(0.0, |b| b[j]);
                let mut s = 0.0;
                for t in 0..4 {
                    s += x[(i, t)] * spec.weights[0][(t, j)];
                }
                z += s;
                assert!((zs[0][(i, j)] - z).abs() <= 1e-14 * z.abs().max(1.0));
                assert_eq!(acts[0][(i, j)], relu(zs[0][(i, j)]));
            }
            let row_sum: f64 = acts[1].row(i).sum();
            assert!((row_sum - 1.0).abs() <= 4.0 * f64::EPSILON);
        }
    }

    #[test]
    fn relu_keeps_nan_payloads() {
        assert_eq!(relu(2.5), 2.5);
        assert_eq!(relu(-2.5), 0.0);
        assert_eq!(relu(0.0).to_bits(), 0.0f64.to_bits());
        assert_eq!(relu(-0.0).to_bits(), 0.0f64.to_bits());
        assert_eq!(relu(f64::INFINITY), f64::INFINITY);
        assert_eq!(relu(f64::NEG_INFINITY), 0.0);
        assert_eq!(relu(r_na()).to_bits(), r_na().to_bits());
        assert!(relu(f64::NAN).is_nan() && !is_r_na(relu(f64::NAN)));
    }

    fn softmax_of(rows: &[&[f64]]) -> Array2<f64> {
        let d = rows[0].len();
        let mut z = Array2::from_shape_fn((rows.len(), d).f(), |(i, j)| rows[i][j]);
        let mut ws = vec![0.0; 3 * rows.len()];
        softmax_rows(z.view_mut(), &mut ws);
        z
    }

    #[test]
    fn softmax_is_stable_and_matches_the_textbook_formula() {
        let z = softmax_of(&[&[1000.0, 999.0, 998.0], &[-1000.0, 0.0, 1000.0], &[1e300, 0.0, -1e300], &[1.0, 2.0, 3.0]]);
        // exp(0), exp(-1), exp(-2) normalised, computed by hand
        let e: [f64; 3] = [1.0, (-1.0f64).exp(), (-2.0f64).exp()];
        let tot = e[0] + e[1] + e[2];
        for j in 0..3 {
            assert!((z[(0, j)] - e[j] / tot).abs() <= 2.0 * f64::EPSILON * e[j] / tot);
            assert!((z[(3, 2 - j)] - e[j] / tot).abs() <= 2.0 * f64::EPSILON * e[j] / tot);
        }
        assert_eq!(z.row(1).to_vec(), vec![0.0, 0.0, 1.0]);
        assert_eq!(z.row(2).to_vec(), vec![1.0, 0.0, 0.0]);
        for i in 0..4 {
            assert!((z.row(i).sum() - 1.0).abs() <= 2.0 * f64::EPSILON);
        }
        // many columns: compensated sum keeps rows summing to 1
        let wide: Vec<f64> = (0..1000).map(|j| ((j * 37) % 101) as f64 * 0.01).collect();
        let z = softmax_of(&[&wide]);
        assert!((z.row(0).sum() - 1.0).abs() <= 1e-14);
    }

    #[test]
    fn softmax_na_nan_and_inf_rows_follow_r() {
        let z = softmax_of(&[
            &[1.0, r_na(), 2.0],
            &[1.0, f64::NAN, 2.0],
            &[f64::NAN, 1.0, r_na()],
            &[r_na(), 1.0, f64::NAN],
            &[f64::INFINITY, 1.0, 2.0],
            &[f64::NEG_INFINITY, 1.0, 1.0],
            &[f64::NEG_INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY],
        ]);
        // a row with NA: NA everywhere except NaN entries, which stay NaN
        // (R: the row max is NA, z - NA is NA, NaN - NA is NaN)
        for j in 0..3 {
            assert!(is_r_na(z[(0, j)]), "row 0 col {j}");
            assert!(z[(1, j)].is_nan() && !is_r_na(z[(1, j)]), "row 1 col {j}");
        }
        assert!(z[(2, 0)].is_nan() && !is_r_na(z[(2, 0)]));
        assert!(is_r_na(z[(2, 1)]) && is_r_na(z[(2, 2)]));
        assert!(is_r_na(z[(3, 0)]) && is_r_na(z[(3, 1)]));
        assert!(z[(3, 2)].is_nan() && !is_r_na(z[(3, 2)]));
        // +Inf: Inf - Inf is NaN, the row sum is NaN, so the whole row
        for j in 0..3 {
            assert!(z[(4, j)].is_nan(), "row 4 col {j}");
            assert!(z[(6, j)].is_nan(), "row 6 col {j}");
        }
        assert_eq!(z.row(5).to_vec(), vec![0.0, 0.5, 0.5]);
    }

    #[test]
    fn nan_and_inf_in_the_input_stay_in_their_rows() {
        let spec = Spec::new(&[3, 4, 2], &[Sigmoid], true, 5);
        let mut x = random(700, 3, 1, 1.0);
        x[(1, 0)] = r_na();
        x[(3, 2)] = f64::NAN;
        x[(600, 1)] = f64::INFINITY;
        x[(601, 0)] = f64::NEG_INFINITY;
        let reference = unfused(&x, &spec).1.pop().expect("layers");
        for (threads, block) in [(1, BLOCK_ROWS), (2, 8), (1, 1)] {
            let got = fused(&x, &spec, threads, block);
            // bits equal where NaN (NA stays NA, NaN stays NaN)
            assert_rel_close(&got, &reference, 1e-12, &format!("{threads} {block}"));
            for i in 0..700 {
                for j in 0..2 {
                    assert_eq!(got[(i, j)].is_nan(), i == 1 || i == 3, "({i},{j})");
                }
            }
            assert!(is_r_na(got[(1, 0)]) && !is_r_na(got[(3, 0)]));
        }
        // NaN in the weights: every row is NaN in that column's chain
        let mut spec = Spec::new(&[3, 4, 2], &[Relu, Identity], false, 6);
        spec.weights[0][(2, 1)] = f64::NAN;
        let x = random(20, 3, 2, 1.0);
        assert_rel_close(&fused(&x, &spec, 1, 7), &unfused(&x, &spec).1[1], 1e-12, "nan weights");
        assert_rel_close(&fused(&x, &spec, 1, 7), &naive_forward(&x, &spec), 1e-12, "nan weights naive");
    }

    #[test]
    fn non_finite_inputs_are_found_before_any_activation() {
        // infinities the activation turns finite (sigmoid(Inf) = 1,
        // tanh(-Inf) = -1, relu(-Inf) = 0): the check must look at z, not at
        // the layer's output; NA versus NaN as in the unfused path (R)
        for (s, act) in Activation::ALL.into_iter().enumerate() {
            for sizes in [&[6usize, 9, 7][..], &[6, 1], &[3, 40, 20, 2]] {
                let spec = Spec::new(sizes, &[act, Tanh], s % 2 == 0, 70 + s as u64);
                let mut x = random(700, sizes[0], 3 + s as u64, 1.0);
                x[(0, 0)] = f64::INFINITY;
                x[(130, 1)] = f64::NEG_INFINITY;
                x[(131, 2)] = r_na();
                x[(600, 0)] = f64::NAN;
                x[(601, 0)] = r_na();
                x[(601, 1)] = f64::NAN;
                let reference = unfused(&x, &spec).1.pop().expect("layers");
                for (threads, block) in [(1, BLOCK_ROWS), (2, 64), (1, 1), (3, 129)] {
                    let got = fused(&x, &spec, threads, block);
                    // (the unfused path is R's rule for NA meeting NaN in a
                    // row; the naive reference's `+` is up to the compiler)
                    assert_rel_close(&got, &reference, 1e-12, &format!("{act:?} {sizes:?} {threads} {block}"));
                }
            }
        }
    }

    #[test]
    fn non_finite_weights_in_a_later_layer_on_many_threads() {
        // the weights' flag is found lazily, by whichever thread meets it
        for act in Activation::ALL {
            let mut spec = Spec::new(&[20, 64, 16, 3], &[act], true, 90);
            spec.weights[1][(5, 3)] = r_na();
            spec.weights[2][(0, 1)] = f64::INFINITY;
            let x = random(3000, 20, 91, 1.0);
            let reference = unfused(&x, &spec).1.pop().expect("layers");
            let net = spec.net();
            for block in [7, 100, BLOCK_ROWS] {
                let mut out = Array2::from_elem((3000, 3).f(), 12345.0);
                forward_into_with_block(x.view(), &net, out.view_mut(), 2, block).expect("fits");
                assert_rel_close(&out, &reference, 1e-12, &format!("{act:?} block {block}"));
            }
        }
    }

    #[test]
    fn overflow_from_finite_inputs_keeps_the_fast_product() {
        // finite inputs whose product overflows: z is infinite, the inputs
        // are finite, so the GEMM result stands (as R's, which multiplies
        // finite matrices with BLAS)
        let w = Array2::from_elem((30, 8).f(), 1e307);
        let net = Network::new(vec![Layer { weights: w.view(), bias: None, activation: Identity }]).expect("ok");
        let mut x = random(50, 30, 5, 1.0);
        x.iter_mut().for_each(|v| *v = v.abs() + 1.0);
        x[(3, 0)] = -1e10;
        let got = forward(x.view(), &net, 1).expect("fits");
        for i in 0..50 {
            let want = if i == 3 { f64::NEG_INFINITY } else { f64::INFINITY };
            assert!(got.row(i).iter().all(|&v| v == want), "row {i}: {:?}", got.row(i));
        }
    }

    #[test]
    fn bias_nan_rule_prefers_z() {
        assert_eq!(add_nan_first(1.0, 2.0), 3.0);
        assert!(is_r_na(add_nan_first(r_na(), f64::NAN)));
        assert!(!is_r_na(add_nan_first(f64::NAN, r_na())));
        assert!(is_r_na(add_nan_first(1.0, r_na())));
        assert!(add_nan_first(f64::INFINITY, f64::NEG_INFINITY).is_nan());
    }

    #[test]
    fn strided_and_row_major_views_work() {
        let spec = Spec::new(&[5, 6, 4], &[Tanh, Softmax], true, 31);
        let xc = random(40, 5, 3, 1.0);
        let xr = xc.as_standard_layout().to_owned();
        let want = naive_forward(&xc, &spec);
        let net = spec.net();
        let mut out = Array2::from_elem((40, 4), f64::NAN); // row-major
        forward_into_with_block(xr.view(), &net, out.view_mut(), 2, 9).expect("fits");
        assert_rel_close(&out, &want, 1e-13, "row-major");
        // every other row of a bigger matrix
        let big = random(80, 5, 4, 1.0);
        let sub = big.slice(ndarray::s![..;2, ..]);
        let got = forward(sub, &net, 1).expect("fits");
        assert_rel_close(&got, &naive_forward(&sub.to_owned(), &spec), 1e-13, "strided");
    }

    #[test]
    fn zero_sized_networks_and_inputs() {
        let spec = Spec::new(&[3, 4, 2], &[Sigmoid], false, 1);
        let x = Array2::<f64>::zeros((0, 3).f());
        assert_eq!(fused(&x, &spec, 2, 8).dim(), (0, 2));
        let (zs, acts) = unfused(&x, &spec);
        assert_eq!((zs[0].dim(), acts[1].dim()), ((0, 4), (0, 2)));
        // zero inputs: z is all zeros (plus bias), as R's 3x0 %*% 0x2
        let w = Array2::<f64>::zeros((0, 2).f());
        let net = Network::new(vec![Layer { weights: w.view(), bias: None, activation: Sigmoid }]).expect("ok");
        let x = Array2::<f64>::zeros((3, 0).f());
        let out = forward(x.view(), &net, 1).expect("fits");
        assert_eq!(out, Array2::from_elem((3, 2), 0.5));
    }

    #[test]
    fn inconsistent_shapes_are_errors_not_panics() {
        let w1 = Array2::<f64>::zeros((3, 4));
        let w2 = Array2::<f64>::zeros((5, 2));
        fn layer<'a>(w: &'a Array2<f64>, b: Option<&'a [f64]>) -> Layer<'a> {
            Layer { weights: w.view(), bias: b, activation: Identity }
        }
        let e = Network::new(vec![layer(&w1, None), layer(&w2, None)]).unwrap_err();
        assert!(e.0.contains("layer 1 has 4 outputs but layer 2's weights are 5x2"), "{e}");
        let e = Network::new(vec![layer(&w1, Some(&[1.0, 2.0]))]).unwrap_err();
        assert!(e.0.contains("bias has length 2"), "{e}");
        assert!(Network::new(vec![]).is_err());
        let net = Network::new(vec![layer(&w1, None)]).expect("ok");
        let x = Array2::<f64>::zeros((2, 2));
        assert!(forward(x.view(), &net, 1).unwrap_err().0.contains("expects 3 inputs"));
        let x = Array2::<f64>::zeros((2, 3));
        let mut out = Array2::<f64>::zeros((2, 5));
        assert!(forward_into(x.view(), &net, out.view_mut(), 1).is_err());
        let mut zs = vec![out.view_mut()];
        assert!(forward_trace_into(x.view(), &net, &mut zs, &mut []).is_err());
    }

    /// `forward_small_into` if it handles the case, else `forward_into`
    /// (what the glue does); and whether the small path handled it.
    fn small_or_fused(x: &Array2<f64>, spec: &Spec) -> (Array2<f64>, bool) {
        let n = x.nrows();
        let xs: Vec<f64> = x.t().iter().copied().collect(); // column-major
        let layers: Vec<SmallLayer> = spec
            .weights
            .iter()
            .zip(&spec.biases)
            .zip(&spec.acts)
            .map(|((w, b), &activation)| SmallLayer {
                weights: w.as_slice_memory_order().expect("contiguous"),
                d_in: w.nrows(),
                d_out: w.ncols(),
                bias: b.as_deref(),
                activation,
            })
            .collect();
        assert!(spec.weights.iter().all(|w| w.t().is_standard_layout()), "column-major test weights");
        let d = spec.weights.last().expect("layers").ncols();
        let mut out = vec![12345.0; n * d];
        let handled = forward_small_into(&xs, n, &layers, &mut out);
        let got = if handled {
            Array2::from_shape_vec((n, d).f(), out).expect("shape")
        } else {
            fused(x, spec, 1, BLOCK_ROWS)
        };
        (got, handled)
    }

    fn assert_same_bits(got: &Array2<f64>, want: &Array2<f64>, what: &str) {
        assert_eq!(got.dim(), want.dim(), "{what}: shape");
        for ((idx, g), w) in got.indexed_iter().zip(want.iter()) {
            assert_eq!(g.to_bits(), w.to_bits(), "{what} at {idx:?}: got {g:e}, want {w:e}");
        }
    }

    #[test]
    fn small_path_equals_forward_into_bit_for_bit() {
        let specials = [f64::NAN, r_na(), f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, 800.0, -800.0, 1e308];
        let mut g = Lcg(99);
        let mut handled_count = 0;
        let mut cases = 0;
        for case in 0..3000u64 {
            let n_layers = 1 + (case % 4) as usize;
            let mut sizes = vec![(g.next().abs() * 5.0) as usize];
            for _ in 0..n_layers {
                sizes.push(1 + (g.next().abs() * 6.0) as usize);
            }
            if case % 50 == 0 {
                sizes[0] = 0; // no inputs
            }
            let n = [0, 1, 2, 3, 5, 8, 17][(case % 7) as usize];
            let acts: Vec<Activation> =
                (0..n_layers).map(|_| Activation::ALL[(g.next().abs() * 9.0) as usize % Activation::ALL.len()]).collect();
            let mut spec = Spec::new(&sizes, &acts, case % 3 != 0, case);
            let mut x = random(n, sizes[0], case + 1000, 3.0);
            // non-finite and extreme values in some cases: in x, the
            // weights or the biases
            let plant = |v: &mut f64, g: &mut Lcg| {
                if g.next() > 0.7 {
                    *v = specials[(g.next().abs() * specials.len() as f64) as usize % specials.len()];
                }
            };
            match case % 5 {
                1 => x.iter_mut().for_each(|v| plant(v, &mut g)),
                2 => spec.weights.iter_mut().for_each(|w| w.iter_mut().for_each(|v| plant(v, &mut g))),
                3 => spec.biases.iter_mut().flatten().for_each(|b| b.iter_mut().for_each(|v| plant(v, &mut g))),
                _ => {}
            }
            let want = fused(&x, &spec, 1, BLOCK_ROWS);
            let (got, handled) = small_or_fused(&x, &spec);
            assert_same_bits(&got, &want, &format!("case {case}: sizes {sizes:?} n {n} {acts:?}"));
            cases += 1;
            handled_count += handled as usize;
        }
        // most cases (all finite ones) take the small path
        assert!(handled_count * 2 > cases, "{handled_count} of {cases}");
        // the lecture's network, with each activation and with biases
        for act in Activation::ALL {
            let spec = Spec::new(&[2, 3, 1], &[act, Sigmoid], true, 5);
            let x = random(3, 2, 6, 4.0);
            let (got, handled) = small_or_fused(&x, &spec);
            assert!(handled);
            assert_same_bits(&got, &fused(&x, &spec, 1, BLOCK_ROWS), &format!("lecture {act:?}"));
        }
    }

    #[test]
    fn small_path_declines_what_it_does_not_handle() {
        let spec = Spec::new(&[2, 3, 1], &[Sigmoid], false, 5);
        let layers: Vec<SmallLayer> = spec
            .weights
            .iter()
            .map(|w| SmallLayer {
                weights: w.as_slice_memory_order().expect("contiguous"),
                d_in: w.nrows(),
                d_out: w.ncols(),
                bias: None,
                activation: Sigmoid,
            })
            .collect();
        let x = vec![0.5; 6];
        let mut out = vec![0.0; 3];
        assert!(forward_small_into(&x, 3, &layers, &mut out));
        assert!(!forward_small_into(&x, 3, &[], &mut out));
        assert!(!forward_small_into(&x, 3, &layers[1..], &mut out)); // shapes
        assert!(!forward_small_into(&x, 2, &layers, &mut out[..2])); // x too long
        let mut na_x = x.clone();
        na_x[4] = r_na();
        assert!(!forward_small_into(&na_x, 3, &layers, &mut out));
        // too many values for the stack buffers
        let n = SMALL_MAX_VALUES / 3 + 1;
        let big_x = vec![0.5; 2 * n];
        let mut big_out = vec![0.0; n];
        assert!(!forward_small_into(&big_x, n, &layers, &mut big_out));
    }

    #[test]
    fn sigmoid_layer_equals_the_sigmoid_kernel() {
        // identity weights: the layer is exactly sigmoid(x)
        let eye = Array2::from_shape_fn((3, 3), |(i, j)| if i == j { 1.0 } else { 0.0 });
        let net = Network::new(vec![Layer { weights: eye.view(), bias: None, activation: Sigmoid }]).expect("ok");
        let x = random(50, 3, 8, 40.0);
        let got = forward(x.view(), &net, 1).expect("fits");
        let xs: Vec<f64> = x.iter().copied().collect();
        let mut want = vec![0.0; xs.len()];
        sigmoid_into(&xs, &mut want);
        for ((g, w), v) in got.iter().zip(&want).zip(&xs) {
            assert_eq!(g.to_bits(), w.to_bits());
            assert!((g - sigmoid(*v)).abs() <= 4.0 * f64::EPSILON * g.abs());
        }
    }
}
