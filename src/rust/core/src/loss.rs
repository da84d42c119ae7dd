//! Losses and the derivatives that start the backward pass.
//!
//! Each loss is defined as torch (and torch for R) defines it by default,
//! with the mean taken over what torch averages over:
//! * [`Loss::Mse`]: mean over all elements of `(a - y)^2` (`nn_mse_loss`);
//! * [`Loss::Bce`]: mean over all elements of
//!   `-(y log a + (1 - y) log(1 - a))` for a sigmoid output, computed from
//!   `z` as `max(z, 0) - z y + log(1 + exp(-|z|))`
//!   (`nn_bce_with_logits_loss`), finite for any finite `z`;
//! * [`Loss::CrossEntropy`]: mean over rows of `-sum_j y_j log a_j` for a
//!   softmax output, computed from `z` as `sum_j y_j (lse(z) - z_j)` with a
//!   stable log-sum-exp (`nn_cross_entropy_loss` with class probabilities
//!   as the target).
//!
//! [`output_delta`] returns a block's loss (summed, not yet averaged) and
//! writes `dL/dz` of the output layer, already divided by the number the
//! mean divides by ([`Loss::mean_over`]).

use ndarray::{ArrayView2, ArrayViewMut2, Axis, Zip};

use crate::activation::{activation_backward, apply_activation, sigmoid, Activation};

/// A loss function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// Mean squared error.
    Mse,
    /// Binary cross-entropy of a sigmoid output.
    Bce,
    /// Cross-entropy of a softmax output.
    CrossEntropy,
}

impl Loss {
    /// The loss of an R name (`"mse"`, `"bce"`, `"cross_entropy"`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "mse" => Some(Loss::Mse),
            "bce" => Some(Loss::Bce),
            "cross_entropy" => Some(Loss::CrossEntropy),
            _ => None,
        }
    }

    /// The R name.
    pub fn name(self) -> &'static str {
        match self {
            Loss::Mse => "mse",
            Loss::Bce => "bce",
            Loss::CrossEntropy => "cross_entropy",
        }
    }

    /// Whether the loss is defined for this output activation (the R side
    /// says so in its own words first).
    pub fn fits(self, output: Activation) -> bool {
        match self {
            Loss::Mse => true,
            Loss::Bce => output == Activation::Sigmoid,
            Loss::CrossEntropy => output == Activation::Softmax,
        }
    }

    /// The number the loss of `rows` rows of `cols` outputs is divided by:
    /// every element for mse and bce, every row for cross-entropy.
    pub fn mean_over(self, rows: usize, cols: usize) -> f64 {
        match self {
            Loss::Mse | Loss::Bce => rows as f64 * cols as f64,
            Loss::CrossEntropy => rows as f64,
        }
    }
}

/// `max(z, 0) - z y + log(1 + exp(-|z|))`: binary cross-entropy of
/// `sigmoid(z)` against `y`, without forming `log(sigmoid(z))`.
#[inline]
pub fn bce_from_logit(z: f64, y: f64) -> f64 {
    z.max(0.0) - z * y + (-z.abs()).exp().ln_1p()
}

/// The output layer's part of the backward pass for a block of rows.
///
/// `z` holds the output layer's values before the activation (`m x d`;
/// used as workspace: it may hold the activation's output on return).
/// `y` is the target (`m x d`). Writes `dL/dz` into `delta` (`m x d`),
/// divided by `mean_over` (the count the mean divides by, for the whole
/// batch the block belongs to: see [`Loss::mean_over`]). Returns the
/// block's loss, summed (not divided). `rows` is a workspace of at least
/// `3 * m` values.
///
/// # Panics
/// When the loss does not fit the activation ([`Loss::fits`]) or the
/// shapes differ (callers check both).
pub fn output_delta(
    mut z: ArrayViewMut2<f64>,
    output: Activation,
    loss: Loss,
    y: ArrayView2<f64>,
    mean_over: f64,
    mut delta: ArrayViewMut2<f64>,
    rows: &mut [f64],
) -> f64 {
    assert!(z.dim() == y.dim() && z.dim() == delta.dim(), "output_delta: z, y and delta differ in shape");
    assert!(loss.fits(output), "output_delta: {} does not fit a {} output", loss.name(), output.name());
    let inv = 1.0 / mean_over;
    match loss {
        Loss::Bce => {
            let mut sum = 0.0;
            Zip::from(&mut delta).and(&z).and(&y).for_each(|d, &z, &y| {
                sum += bce_from_logit(z, y);
                *d = (sigmoid(z) - y) * inv;
            });
            sum
        }
        Loss::CrossEntropy => {
            let m = z.nrows();
            let (lse, rest) = rows.split_at_mut(m);
            let (ysum, rest) = rest.split_at_mut(m);
            let sums = &mut rest[..m];
            row_log_sum_exp(z.view(), lse, sums);
            ysum.fill(0.0);
            let mut total = 0.0;
            for (zc, yc) in z.axis_iter(Axis(1)).zip(y.axis_iter(Axis(1))) {
                for (((&v, &t), &l), ys) in zc.iter().zip(yc.iter()).zip(lse.iter()).zip(ysum.iter_mut()) {
                    // 0 log 0 = 0: a class with no weight adds nothing
                    if t != 0.0 {
                        total += t * (l - v);
                    }
                    *ys += t;
                }
            }
            // dL/dz_j = softmax_j * sum_k y_k - y_j
            for ((mut dc, zc), yc) in delta.axis_iter_mut(Axis(1)).zip(z.axis_iter(Axis(1))).zip(y.axis_iter(Axis(1))) {
                for ((((d, &v), &t), &l), &ys) in dc.iter_mut().zip(zc.iter()).zip(yc.iter()).zip(lse.iter()).zip(ysum.iter()) {
                    *d = ((v - l).exp() * ys - t) * inv;
                }
            }
            total
        }
        Loss::Mse if output.needs_z() => {
            // the derivative needs z: value and derivative in one pass
            let mut sum = 0.0;
            Zip::from(&mut delta).and(&mut z).and(&y).for_each(|d, z, &y| {
                let a = output.value(*z).unwrap_or(f64::NAN);
                let e = a - y;
                sum += e * e;
                *d = 2.0 * e * inv * output.derivative(*z).unwrap_or(f64::NAN);
                *z = a;
            });
            sum
        }
        Loss::Mse => {
            apply_activation(z.view_mut(), output, rows);
            let mut sum = 0.0;
            Zip::from(&mut delta).and(&z).and(&y).for_each(|d, &a, &y| {
                let e = a - y;
                sum += e * e;
                *d = 2.0 * e * inv;
            });
            activation_backward(output, z.view(), delta, rows);
            sum
        }
    }
}

/// `lse[i] = log(sum_j exp(z[i, j]))`, the row maximum subtracted first
/// (no overflow); `sums` is a workspace of `z.nrows()` values.
fn row_log_sum_exp(z: ArrayView2<f64>, lse: &mut [f64], sums: &mut [f64]) {
    lse.fill(f64::NEG_INFINITY);
    for col in z.axis_iter(Axis(1)) {
        lse.iter_mut().zip(col.iter()).for_each(|(mx, &v)| *mx = mx.max(v));
    }
    sums.fill(0.0);
    for col in z.axis_iter(Axis(1)) {
        for ((s, &mx), &v) in sums.iter_mut().zip(lse.iter()).zip(col.iter()) {
            *s += (v - mx).exp();
        }
    }
    lse.iter_mut().zip(sums.iter()).for_each(|(l, &s)| *l += s.ln());
}

/// The loss alone (no derivative) of a block, summed: as
/// [`output_delta`], for validation data. `z` is overwritten.
pub fn block_loss(mut z: ArrayViewMut2<f64>, output: Activation, loss: Loss, y: ArrayView2<f64>, rows: &mut [f64]) -> f64 {
    assert_eq!(z.dim(), y.dim(), "block_loss: z and y differ in shape");
    match loss {
        Loss::Bce => {
            let mut sum = 0.0;
            Zip::from(&z).and(&y).for_each(|&z, &y| sum += bce_from_logit(z, y));
            sum
        }
        Loss::CrossEntropy => {
            let m = z.nrows();
            let (lse, rest) = rows.split_at_mut(m);
            let sums = &mut rest[..m];
            row_log_sum_exp(z.view(), lse, sums);
            let mut total = 0.0;
            for (zc, yc) in z.axis_iter(Axis(1)).zip(y.axis_iter(Axis(1))) {
                for ((&v, &t), &l) in zc.iter().zip(yc.iter()).zip(lse.iter()) {
                    if t != 0.0 {
                        total += t * (l - v);
                    }
                }
            }
            total
        }
        Loss::Mse => {
            apply_activation(z.view_mut(), output, rows);
            let mut sum = 0.0;
            Zip::from(&z).and(&y).for_each(|&a, &y| sum += (a - y) * (a - y));
            sum
        }
    }
}
