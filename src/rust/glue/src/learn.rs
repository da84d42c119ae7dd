//! R bindings of the learning part of the core: gradients
//! (`backward()`), the flat loss-and-gradient function of the full-batch
//! optimiser, and the training loop (`fit()`), whose state lives in an
//! external pointer between epochs.
//!
//! Everything here is internal: the R wrappers in `R/backward.R` and
//! `R/fit.R` validate and coerce the arguments first.

use extendr_api::prelude::*;
use fwdprop_core::activation::Activation;
use fwdprop_core::backward::{add_decay, gradient_into, gradient_trace};
use fwdprop_core::loss::Loss;
use fwdprop_core::memory::try_filled;
use fwdprop_core::network::ParamLayout;
use fwdprop_core::optim::{validation_split, Optimizer, Settings, Trainer};

use crate::convert::{alloc_real_matrix, matrix_view, scalar_count, NetworkParts};
use crate::convert::other;

fn loss_of(name: &Robj) -> extendr_api::Result<Loss> {
    name.as_str()
        .and_then(Loss::from_name)
        .ok_or_else(|| other("`loss` must be one of \"mse\", \"bce\", \"cross_entropy\"".to_string()))
}

/// The decay's `lambda`s, weights and biases: `weight_decay` is one number
/// (the weights only) or two (weights, biases).
fn decay_of(x: &Robj) -> extendr_api::Result<(f64, f64)> {
    let v: Vec<f64> = x
        .as_real_slice()
        .map(|s| s.to_vec())
        .or_else(|| x.as_integer_slice().map(|s| s.iter().map(|&i| f64::from(i)).collect()))
        .unwrap_or_default();
    match v[..] {
        [w] if w.is_finite() => Ok((w, 0.0)),
        [w, b] if w.is_finite() && b.is_finite() => Ok((w, b)),
        _ => Err(other("`weight_decay` must be one or two finite numbers".to_string())),
    }
}

fn real_of(x: &Robj, arg: &str) -> extendr_api::Result<f64> {
    x.as_real()
        .or_else(|| x.as_integer().map(f64::from))
        .filter(|v| v.is_finite())
        .ok_or_else(|| other(format!("`{arg}` must be a finite number")))
}

/// An R double vector holding `values`.
fn doubles(values: &[f64]) -> Robj {
    values.iter().copied().collect_robj()
}

/// `list(weights = list(...), biases = list(...))` of the flat vector
/// `flat` in `layout`: weight matrices and bias vectors (`NULL` for a
/// layer without bias), as R's network holds them.
fn parameter_lists(layout: &ParamLayout, flat: &[f64]) -> extendr_api::Result<(Robj, Robj)> {
    let mut ws = Vec::with_capacity(layout.layers.len());
    let mut bs = Vec::with_capacity(layout.layers.len());
    for (l, slots) in layout.layers.iter().enumerate() {
        let (w, mut view) = alloc_real_matrix(slots.d_in, slots.d_out)?;
        view.assign(&layout.weights(l, flat));
        ws.push(w);
        bs.push(match layout.bias(l, flat) {
            Some(b) => doubles(b),
            None => Robj::from(()),
        });
    }
    Ok((List::from_values(ws).into(), List::from_values(bs).into()))
}

/// Gradient of the mean loss of a network (`weights`, `biases`,
/// `activations`, as `forward_impl()`) on `x` (n x d0) against `y` (n x
/// dL), plus `weight_decay / 2 * sum(W^2)` (`weight_decay` may be two
/// numbers: the weights' and the biases' lambda). Returns `list(loss, weights,
/// biases)` with the gradients in the network's shapes; with `trace =
/// TRUE` also `z`, `a` and `delta` (lists of n x d_l matrices, from the
/// unfused pass). `threads` >= 1; the result does not depend on it.
/// @keywords internal
/// @noRd
#[extendr]
#[allow(clippy::too_many_arguments)]
fn backward_impl(
    x: Robj,
    y: Robj,
    weights: Robj,
    biases: Robj,
    activations: Robj,
    loss: Robj,
    weight_decay: Robj,
    trace: Robj,
    threads: Robj,
) -> extendr_api::Result<Robj> {
    let xv = matrix_view(&x, "x")?;
    let yv = matrix_view(&y, "y")?;
    let loss = loss_of(&loss)?;
    let (lambda, lambda_bias) = decay_of(&weight_decay)?;
    let trace = trace.as_bool().ok_or_else(|| other("`trace` must be TRUE or FALSE".to_string()))?;
    let threads = scalar_count(&threads, "threads")?;
    let parts = NetworkParts::new(&weights, &biases, &activations)?;
    let net = parts.network()?;
    let layout = ParamLayout::of(&net);
    let mut params = try_filled(layout.len, 0.0, "the network's parameters").map_err(|e| other(e.to_string()))?;
    layout.gather(&net, &mut params);
    let fail = |e: fwdprop_core::network::CoreError| other(format!("backward pass: {e}"));
    if !trace {
        let mut grad = try_filled(layout.len, 0.0, "the gradient").map_err(|e| other(e.to_string()))?;
        let mut value = gradient_into(xv, yv, &net, loss, &mut grad, threads).map_err(fail)?;
        value += add_decay(&layout, &params, &mut grad, lambda, lambda_bias);
        let (w, b) = parameter_lists(&layout, &grad)?;
        return Ok(List::from_names_and_values(["loss", "weights", "biases"], [Robj::from(value), w, b])?.into());
    }
    let mut tr = gradient_trace(xv, yv, &net, loss).map_err(fail)?;
    let value = tr.loss + add_decay(&layout, &params, &mut tr.grad, lambda, lambda_bias);
    let (w, b) = parameter_lists(&layout, &tr.grad)?;
    let mats = |ms: &[ndarray::Array2<f64>]| -> extendr_api::Result<Robj> {
        let mut out = Vec::with_capacity(ms.len());
        for m in ms {
            let (r, mut view) = alloc_real_matrix(m.nrows(), m.ncols())?;
            view.assign(m);
            out.push(r);
        }
        Ok(List::from_values(out).into())
    };
    let (z, a, delta) = (mats(&tr.z)?, mats(&tr.a)?, mats(&tr.delta)?);
    Ok(List::from_names_and_values(
        ["loss", "weights", "biases", "z", "a", "delta"],
        [Robj::from(value), w, b, z, a, delta],
    )?
    .into())
}

/// Whether a double matrix or vector holds NA, NaN or an infinity (one
/// vectorised pass, no allocation: `backward()` and `fit()` refuse such
/// data, and R's `is.finite()` would allocate a logical copy first).
/// @keywords internal
/// @noRd
#[extendr]
fn any_non_finite_impl(x: Robj) -> extendr_api::Result<Robj> {
    let v = x.as_real_slice().ok_or_else(|| other("`x` must be a double vector or matrix".to_string()))?;
    Ok(Robj::from(v.iter().fold(false, |acc, v| acc | !v.is_finite())))
}

/// The layout of a network given by `sizes` (widths, input first) and
/// `bias` (one logical per layer).
fn layout_of(sizes: &Robj, bias: &Robj) -> extendr_api::Result<ParamLayout> {
    let sizes: Vec<usize> = match (sizes.as_integer_slice(), sizes.as_real_slice()) {
        (Some(s), _) => s.iter().map(|&v| usize::try_from(v).unwrap_or(0)).collect(),
        (_, Some(s)) => s.iter().map(|&v| if v >= 1.0 && v.fract() == 0.0 { v as usize } else { 0 }).collect(),
        _ => return Err(other("`sizes` must be a numeric vector".to_string())),
    };
    let bias: Vec<bool> = bias
        .as_logical_slice()
        .ok_or_else(|| other("`bias` must be a logical vector".to_string()))?
        .iter()
        .map(|b| b.is_true())
        .collect();
    if sizes.len() < 2 || sizes.contains(&0) || bias.len() + 1 != sizes.len() {
        return Err(other("`sizes` and `bias` do not describe a network".to_string()));
    }
    Ok(ParamLayout::new(&sizes, &bias))
}

fn activations_of(x: &Robj) -> extendr_api::Result<Vec<Activation>> {
    x.as_str_vector()
        .ok_or_else(|| other("`activations` must be a character vector".to_string()))?
        .into_iter()
        .map(|n| Activation::from_name(n).ok_or_else(|| other(format!("unknown activation \"{n}\""))))
        .collect()
}

/// The flat parameter vector of a network (`weights`, `biases`,
/// `activations`, as `forward_impl()`), in the core's layout (the one
/// `flat_gradient_impl()` takes), and which of its values are weights
/// rather than biases: `list(par, is_weight)`. The layout is defined once,
/// in the core's `ParamLayout`; R reads it from here.
/// @keywords internal
/// @noRd
#[extendr]
fn flat_params_impl(weights: Robj, biases: Robj, activations: Robj) -> extendr_api::Result<Robj> {
    let parts = NetworkParts::new(&weights, &biases, &activations)?;
    let net = parts.network()?;
    let layout = ParamLayout::of(&net);
    let mut par = try_filled(layout.len, 0.0, "the network's parameters").map_err(|e| other(e.to_string()))?;
    layout.gather(&net, &mut par);
    let mut is_weight = vec![false; layout.len];
    for r in layout.weight_ranges() {
        is_weight[r].iter_mut().for_each(|w| *w = true);
    }
    let is_weight: Robj = is_weight.iter().map(|&b| Rbool::from(b)).collect::<Logicals>().into();
    Ok(List::from_names_and_values(["par", "is_weight"], [doubles(&par), is_weight])?.into())
}

/// A flat parameter vector `par` (as `flat_params_impl()` makes) back into
/// `list(weights, biases)` of the network of `sizes` and `bias`.
/// @keywords internal
/// @noRd
#[extendr]
fn unflatten_params_impl(par: Robj, sizes: Robj, bias: Robj) -> extendr_api::Result<Robj> {
    let layout = layout_of(&sizes, &bias)?;
    let par = par.as_real_slice().ok_or_else(|| other("`par` must be a double vector".to_string()))?;
    if par.len() != layout.len {
        return Err(other(format!("`par` has {} values but the network {} parameters", par.len(), layout.len)));
    }
    let (w, b) = parameter_lists(&layout, par)?;
    Ok(List::from_names_and_values(["weights", "biases"], [w, b])?.into())
}

/// Mean loss and its gradient at the flat parameter vector `par` (layer
/// by layer: the weights column by column, then the bias if the layer has
/// one) of the network of `sizes`, `bias`, `activations`, plus weight
/// decay: `list(loss, gradient)`. For the full-batch optimiser.
/// @keywords internal
/// @noRd
#[extendr]
#[allow(clippy::too_many_arguments)]
fn flat_gradient_impl(
    par: Robj,
    x: Robj,
    y: Robj,
    sizes: Robj,
    bias: Robj,
    activations: Robj,
    loss: Robj,
    weight_decay: Robj,
    threads: Robj,
) -> extendr_api::Result<Robj> {
    let layout = layout_of(&sizes, &bias)?;
    let acts = activations_of(&activations)?;
    let par = par.as_real_slice().ok_or_else(|| other("`par` must be a double vector".to_string()))?;
    let net = layout.network(par, &acts).map_err(|e| other(format!("{e}")))?;
    let xv = matrix_view(&x, "x")?;
    let yv = matrix_view(&y, "y")?;
    let loss = loss_of(&loss)?;
    let (lambda, lambda_bias) = decay_of(&weight_decay)?;
    let threads = scalar_count(&threads, "threads")?;
    let mut grad = try_filled(layout.len, 0.0, "the gradient").map_err(|e| other(e.to_string()))?;
    let mut value = gradient_into(xv, yv, &net, loss, &mut grad, threads).map_err(|e| other(format!("{e}")))?;
    value += add_decay(&layout, par, &mut grad, lambda, lambda_bias);
    Ok(List::from_names_and_values(["loss", "gradient"], [Robj::from(value), doubles(&grad)])?.into())
}

/// The validation split of `n` rows with `n_val` held out, from the
/// training stream seeded by `seed` (the same split `fit()`'s trainer
/// makes): `list(train, validation)`, 1-based row numbers.
/// @keywords internal
/// @noRd
#[extendr]
fn validation_split_impl(n: Robj, n_val: Robj, seed: Robj) -> extendr_api::Result<Robj> {
    let n = real_of(&n, "n")? as usize;
    let n_val = real_of(&n_val, "n_val")? as usize;
    let seed = real_of(&seed, "seed")? as u64;
    let mut rng = fwdprop_core::optim::training_rng(seed);
    let (train, val) = validation_split(n, n_val, &mut rng);
    let one_based = |v: Vec<usize>| v.into_iter().map(|i| (i + 1) as f64).collect::<Vec<f64>>();
    Ok(List::from_names_and_values(["train", "validation"], [doubles(&one_based(train)), doubles(&one_based(val))])?.into())
}

/// A training run: the network (`weights`, `biases`, `activations`), the
/// data (`x`, `y`), `n_val` rows held out (drawn from the stream seeded by
/// `seed`) and `settings`, a list of `loss`, `optimizer` ("sgd" or
/// "adam"), `learn_rate`, `momentum`, `beta1`, `beta2`, `eps`,
/// `weight_decay`, `batch_size`, `threads` and optionally `bias_decay`
/// (the biases' lambda, 0 by default). Returns an external pointer.
/// @keywords internal
/// @noRd
#[extendr]
#[allow(clippy::too_many_arguments)]
fn trainer_new_impl(
    x: Robj,
    y: Robj,
    weights: Robj,
    biases: Robj,
    activations: Robj,
    settings: Robj,
    n_val: Robj,
    seed: Robj,
) -> extendr_api::Result<Robj> {
    let xv = matrix_view(&x, "x")?;
    let yv = matrix_view(&y, "y")?;
    let parts = NetworkParts::new(&weights, &biases, &activations)?;
    let net = parts.network()?;
    let layout = ParamLayout::of(&net);
    let mut params = try_filled(layout.len, 0.0, "the network's parameters").map_err(|e| other(e.to_string()))?;
    layout.gather(&net, &mut params);
    let acts = parts.activations()?;
    let s = List::try_from(&settings)?;
    let get = |name: &str| -> extendr_api::Result<Robj> {
        s.iter().find(|(n, _)| *n == name).map(|(_, v)| v).ok_or_else(|| other(format!("settings lack `{name}`")))
    };
    let optimizer = match get("optimizer")?.as_str() {
        Some("sgd") => Optimizer::Sgd { momentum: real_of(&get("momentum")?, "momentum")? },
        Some("adam") => Optimizer::Adam {
            beta1: real_of(&get("beta1")?, "beta1")?,
            beta2: real_of(&get("beta2")?, "beta2")?,
            eps: real_of(&get("eps")?, "eps")?,
        },
        _ => return Err(other("`optimizer` must be \"sgd\" or \"adam\"".to_string())),
    };
    let settings = Settings {
        loss: loss_of(&get("loss")?)?,
        optimizer,
        learn_rate: real_of(&get("learn_rate")?, "learn_rate")?,
        weight_decay: real_of(&get("weight_decay")?, "weight_decay")?,
        batch_size: scalar_count(&get("batch_size")?, "batch_size")?,
        threads: scalar_count(&get("threads")?, "threads")?,
    };
    let n_val = real_of(&n_val, "n_val")? as usize;
    let seed = real_of(&seed, "seed")? as u64;
    let mut trainer = Trainer::new(layout, acts, params, xv, yv, n_val, settings, seed).map_err(|e| other(format!("{e}")))?;
    // optional: the biases' decay (nnet's `decay` covers them)
    if let Ok(b) = get("bias_decay") {
        trainer.set_bias_decay(real_of(&b, "bias_decay")?);
    }
    Ok(ExternalPtr::new(trainer).into())
}

fn trainer_mut(ptr: &mut Robj) -> extendr_api::Result<&mut Trainer> {
    let p: &mut ExternalPtr<Trainer> =
        ptr.try_into().map_err(|_| other("the training state is gone (was it saved and reloaded?)".to_string()))?;
    p.try_addr_mut().map_err(|_| other("the training state is gone (was it saved and reloaded?)".to_string()))
}

#[allow(improper_ctypes)] // SEXP-free signatures; R's C API
extern "C" {
    fn R_ToplevelExec(fun: extern "C" fn(*mut std::ffi::c_void), data: *mut std::ffi::c_void) -> extendr_ffi::Rboolean;
    fn R_CheckUserInterrupt();
}

extern "C" fn check_interrupt(_: *mut std::ffi::c_void) {
    // SAFETY: called by R_ToplevelExec on R's main thread.
    unsafe { R_CheckUserInterrupt() };
}

/// Whether the user pressed Ctrl-C (or R received SIGINT): asked of R in a
/// top-level context of its own, so that R's interrupt jumps no further
/// than that context and never over Rust frames.
fn interrupt_pending() -> bool {
    // SAFETY: on R's main thread (this is only called from the thread that
    // entered `.Call`); `check_interrupt` ignores its argument.
    unsafe { R_ToplevelExec(check_interrupt, std::ptr::null_mut()) == extendr_ffi::Rboolean::FALSE }
}

/// Runs one epoch: `c(loss, steps, interrupted, diverged)` (mean training
/// loss over the epoch's rows; 1/0 flags). R is asked about interrupts
/// between steps, at most every 20 ms.
/// @keywords internal
/// @noRd
#[extendr]
fn trainer_epoch_impl(mut ptr: Robj) -> extendr_api::Result<Robj> {
    let trainer = trainer_mut(&mut ptr)?;
    let mut last = std::time::Instant::now();
    let mut ask = || {
        if last.elapsed() < std::time::Duration::from_millis(20) {
            return false;
        }
        last = std::time::Instant::now();
        interrupt_pending()
    };
    let r = trainer.epoch(&mut ask).map_err(|e| other(e.to_string()))?;
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    Ok(doubles(&[r.loss, r.steps as f64, flag(r.interrupted), flag(r.diverged)]))
}

/// The mean loss on the held-out rows at the current parameters (NaN
/// without any).
/// @keywords internal
/// @noRd
#[extendr]
fn trainer_validation_loss_impl(mut ptr: Robj) -> extendr_api::Result<Robj> {
    let trainer = trainer_mut(&mut ptr)?;
    Ok(Robj::from(trainer.validation_loss().map_err(|e| other(format!("{e}")))?))
}

/// Saves the current parameters as the best so far.
/// @keywords internal
/// @noRd
#[extendr]
fn trainer_save_best_impl(mut ptr: Robj) -> extendr_api::Result<Robj> {
    trainer_mut(&mut ptr)?.save_best();
    Ok(Robj::from(()))
}

/// The parameters, current or best: `list(weights, biases)`.
/// @keywords internal
/// @noRd
#[extendr]
fn trainer_params_impl(mut ptr: Robj, best: Robj) -> extendr_api::Result<Robj> {
    let best = best.as_bool().ok_or_else(|| other("`best` must be TRUE or FALSE".to_string()))?;
    let trainer = trainer_mut(&mut ptr)?;
    let flat = if best { trainer.best() } else { trainer.params() };
    let (w, b) = parameter_lists(trainer.layout(), flat)?;
    Ok(List::from_names_and_values(["weights", "biases"], [w, b])?.into())
}

extendr_module! {
    mod learn;
    fn any_non_finite_impl;
    fn backward_impl;
    fn flat_gradient_impl;
    fn flat_params_impl;
    fn unflatten_params_impl;
    fn validation_split_impl;
    fn trainer_new_impl;
    fn trainer_epoch_impl;
    fn trainer_validation_loss_impl;
    fn trainer_save_best_impl;
    fn trainer_params_impl;
}
