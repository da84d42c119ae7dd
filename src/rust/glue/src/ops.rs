//! The bindings of the lecture's operations and of whole passes: `mm()`,
//! `sigmoid()`, `forward()`, `init_weights()` (their R wrappers validate
//! and coerce first), the core's thresholds that R decides by, and a
//! deliberate panic for the tests.

use extendr_api::prelude::*;
use fwdprop_core::forward::{forward_into, forward_trace_into};
use fwdprop_core::init::{init_weights_into, InitMethod};

use crate::fast;
use crate::convert::{
    alloc_real_matrix, alloc_real_vector, matrix_view, other, real_slice_mut, scalar_count, sigmoid_of_ints, NetworkParts,
};

/// Matrix product of two double matrices (`x %*% y`), written into a new
/// R matrix. Shapes are checked by the R wrapper `mm()`.
/// @keywords internal
/// @noRd
#[extendr]
fn mm_impl(x: Robj, y: Robj) -> extendr_api::Result<Robj> {
    let a = matrix_view(&x, "x")?;
    let b = matrix_view(&y, "y")?;
    if a.ncols() != b.nrows() {
        return Err(Error::Other(format!(
            "cannot multiply `x` ({}x{}) by `y` ({}x{})",
            a.nrows(),
            a.ncols(),
            b.nrows(),
            b.ncols()
        )));
    }
    let (mut out, mut view) = alloc_real_matrix(a.nrows(), b.ncols())?;
    fwdprop_core::matmul_into(a, b, view.view_mut());
    Ok(std::mem::take(&mut out))
}

/// Elementwise logistic function of a double, integer or logical vector;
/// returns a plain double vector (the R wrapper copies attributes).
/// Vectorised on CPUs with AVX2 and FMA: within 2 ulp of `plogis()`.
/// Large double input is split over up to `threads` threads (>= 1), with
/// the same result whatever their number.
/// @keywords internal
/// @noRd
#[extendr]
fn sigmoid_impl(x: Robj, threads: Robj) -> extendr_api::Result<Robj> {
    let threads = scalar_count(&threads, "threads")?;
    let mut out = alloc_real_vector(x.len());
    let dst = real_slice_mut(&mut out)?;
    if let Some(src) = x.as_real_slice() {
        // only plain memory crosses into the threads
        fwdprop_core::activation::sigmoid_into_threads(src, dst, threads);
    } else if let Some(src) = x.as_integer_slice() {
        sigmoid_of_ints(src.iter().copied(), dst);
    } else if let Some(src) = x.as_logical_slice() {
        sigmoid_of_ints(src.iter().map(|b| b.0), dst);
    } else {
        return Err(Error::Other(format!(
            "`x` must be a numeric or logical vector, not {:?}",
            x.rtype()
        )));
    }
    Ok(out)
}

/// Forward pass of a dense network in one call: `x` (n x d0 double
/// matrix), `weights` (list of L double matrices, `weights[[l]]` is
/// d_{l-1} x d_l), `biases` (list of L, each NULL or a double vector of
/// length d_l), `activations` (L names), `trace` (TRUE/FALSE), `threads`
/// (>= 1). Returns the n x d_L output (fused, row-blocked, threaded), or
/// with `trace = TRUE` `list(z = list(...), a = list(...))` of every layer
/// (unfused). R validates and coerces everything first; shapes are
/// re-checked here and reported as errors.
/// @keywords internal
/// @noRd
#[extendr]
fn forward_impl(
    x: Robj,
    weights: Robj,
    biases: Robj,
    activations: Robj,
    trace: Robj,
    threads: Robj,
) -> extendr_api::Result<Robj> {
    let x_view = matrix_view(&x, "x")?;
    let trace = trace
        .as_bool()
        .ok_or_else(|| other("`trace` must be TRUE or FALSE".to_string()))?;
    let threads = scalar_count(&threads, "threads")?;
    let parts = NetworkParts::new(&weights, &biases, &activations)?;
    let net = parts.network()?;
    let n_layers = net.layers().len();
    if x_view.ncols() != net.n_inputs() {
        return Err(other(format!(
            "`x` has {} columns but `weights[[1]]` has {} rows",
            x_view.ncols(),
            net.n_inputs()
        )));
    }
    let n = x_view.nrows();

    if !trace {
        // Only plain memory crosses into the core (which may use threads);
        // R is touched again only after it returns.
        let (mut out, view) = alloc_real_matrix(n, net.n_outputs())?;
        forward_into(x_view, &net, view, threads).map_err(|e| other(format!("forward pass: {e}")))?;
        return Ok(std::mem::take(&mut out));
    }
    let mut z_objs = Vec::with_capacity(n_layers);
    let mut a_objs = Vec::with_capacity(n_layers);
    let mut z_views = Vec::with_capacity(n_layers);
    let mut a_views = Vec::with_capacity(n_layers);
    for layer in net.layers() {
        let (z, zv) = alloc_real_matrix(n, layer.weights.ncols())?;
        let (a, av) = alloc_real_matrix(n, layer.weights.ncols())?;
        z_objs.push(z);
        a_objs.push(a);
        z_views.push(zv);
        a_views.push(av);
    }
    forward_trace_into(x_view, &net, &mut z_views, &mut a_views)
        .map_err(|e| other(format!("forward pass: {e}")))?;
    let list = List::from_names_and_values(["z", "a"], [List::from_values(z_objs), List::from_values(a_objs)])?;
    Ok(list.into())
}

/// Seeded `n_in x n_out` weight matrix (ChaCha20 stream, filled in
/// column-major order): `method` one of "uniform" (U(0, 1)), "normal"
/// (N(0, 1), Box-Muller), "xavier" (U(-a, a), a = sqrt(6 / (n_in +
/// n_out))), "he" (N(0, 2 / n_in)); `seed` a whole number in [0, 2^53].
/// Validated by the R wrapper `init_weights()`.
/// @keywords internal
/// @noRd
#[extendr]
fn init_weights_impl(n_in: Robj, n_out: Robj, method: Robj, seed: Robj) -> extendr_api::Result<Robj> {
    let n_in = scalar_count(&n_in, "n_in")?;
    let n_out = scalar_count(&n_out, "n_out")?;
    let method = method.as_str().and_then(InitMethod::from_name).ok_or_else(|| {
        other("`method` must be one of \"uniform\", \"normal\", \"xavier\", \"he\"".to_string())
    })?;
    let seed_value = seed
        .as_real()
        .or_else(|| seed.as_integer().map(f64::from))
        .ok_or_else(|| other("`seed` must be a single number".to_string()))?;
    const MAX_SEED: f64 = 9_007_199_254_740_992.0; // 2^53
    if !(0.0..=MAX_SEED).contains(&seed_value) || seed_value.fract() != 0.0 {
        return Err(other(format!("`seed` must be a whole number between 0 and 2^53, not {seed_value}")));
    }
    let (mut out, _) = alloc_real_matrix(n_in, n_out)?;
    let data = real_slice_mut(&mut out)?;
    init_weights_into(data, n_in, n_out, method, seed_value as u64);
    Ok(std::mem::take(&mut out))
}

/// Panics on purpose: lets the test suite check that a Rust panic (a bug
/// that slipped through) surfaces as an ordinary R error and R survives.
/// @keywords internal
/// @noRd
#[extendr]
fn panic_impl() -> Robj {
    panic!("fwdprop: deliberate panic for testing")
}

/// The core's thresholds that the R side decides by, defined once here:
/// `list(sigmoid_chunk, fast_max_rows)`: `sigmoid()` splits inputs of at
/// least `sigmoid_chunk` values over threads; `forward()` runs inputs of
/// fewer than `fast_max_rows` rows on the calling thread.
/// @keywords internal
/// @noRd
#[extendr]
fn core_limits_impl() -> extendr_api::Result<Robj> {
    let limits = [fwdprop_core::activation::SIGMOID_CHUNK as f64, fast::FAST_MAX_ROWS as f64];
    Ok(List::from_names_and_values(["sigmoid_chunk", "fast_max_rows"], limits.map(Robj::from))?.into())
}

extendr_module! {
    mod ops;
    fn core_limits_impl;
    fn panic_impl;
    fn mm_impl;
    fn sigmoid_impl;
    fn forward_impl;
    fn init_weights_impl;
}
