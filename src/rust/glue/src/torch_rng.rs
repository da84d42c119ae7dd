//! The bindings of the torch-compatible random streams
//! (`fwdprop_core::torch_rng`): one global state per R session, behind a
//! mutex, that R's own generator never touches. Their R wrappers (in
//! `R/init.R`) validate and coerce first; the checks here repeat the ones
//! that protect memory and the seed's range.

use std::sync::{Mutex, MutexGuard};

use extendr_api::prelude::*;
use fwdprop_core::torch_rng::{Dtype, SeedBehavior, TorchStreams};

use crate::convert::{alloc_real_matrix, alloc_real_vector, other, real_slice_mut};

/// The session's streams; `None` until first used.
static STREAMS: Mutex<Option<TorchStreams>> = Mutex::new(None);

/// A seed that differs from session to session (as libtorch's default
/// generator and torch for R's second one start), from the clock and the
/// process, never from R's generator.
fn fresh_seed(salt: u64) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.write_u128(nanos);
    h.write_u32(std::process::id());
    h.write_u64(salt);
    h.finish()
}

/// Runs `f` on the session's streams (created on first use).
fn with_streams<T>(f: impl FnOnce(&mut TorchStreams) -> T) -> T {
    let mut guard: MutexGuard<'_, Option<TorchStreams>> =
        STREAMS.lock().unwrap_or_else(|e| e.into_inner());
    let streams = guard.get_or_insert_with(|| TorchStreams::new(fresh_seed(1), fresh_seed(2)));
    f(streams)
}

/// A whole number in `[0, max]` from an R integer or double scalar.
fn whole_number(x: &Robj, arg: &str, max: f64) -> extendr_api::Result<f64> {
    let v = x.as_real().or_else(|| x.as_integer().map(f64::from));
    match v {
        Some(v) if (0.0..=max).contains(&v) && v.fract() == 0.0 => Ok(v),
        _ => Err(other(format!(
            "`{arg}` must be a single whole number between 0 and {max}"
        ))),
    }
}

const MAX_SEED: f64 = 9_007_199_254_740_992.0; // 2^53
const MAX_LEN: f64 = i32::MAX as f64;

fn dtype_arg(double: &Robj) -> extendr_api::Result<Dtype> {
    match double.as_bool() {
        Some(true) => Ok(Dtype::Double),
        Some(false) => Ok(Dtype::Float),
        None => Err(other("`double` must be TRUE or FALSE".to_string())),
    }
}

fn real_vector(values: &[f64]) -> extendr_api::Result<Robj> {
    let mut out = alloc_real_vector(values.len());
    real_slice_mut(&mut out)?.copy_from_slice(values);
    Ok(out)
}

/// `torch_manual_seed(seed)`: seeds the default generator; with
/// `lecture = TRUE` also draws `randint(1, 1e6)` from it and seeds the
/// initialisers' generator with that (torch for R of 2021), else the
/// initialisers draw from the default generator (PyTorch).
/// @keywords internal
/// @noRd
#[extendr]
fn torch_rng_seed_impl(seed: Robj, lecture: Robj) -> extendr_api::Result<Robj> {
    let seed = whole_number(&seed, "seed", MAX_SEED)? as u64;
    let behavior = match lecture.as_bool() {
        Some(true) => SeedBehavior::Lecture,
        Some(false) => SeedBehavior::PyTorch,
        None => return Err(other("`lecture` must be TRUE or FALSE".to_string())),
    };
    with_streams(|s| s.manual_seed(seed, behavior));
    Ok(Robj::from(()))
}

/// Seeds only the initialisers' own generator and makes them draw from it.
/// @keywords internal
/// @noRd
#[extendr]
fn torch_rng_seed_init_impl(seed: Robj) -> extendr_api::Result<Robj> {
    let seed = whole_number(&seed, "seed", MAX_SEED)? as u64;
    with_streams(|s| s.seed_init(seed));
    Ok(Robj::from(()))
}

/// `n` values of `torch_rand(n)` (`normal = FALSE`) or `torch_randn(n)`
/// from the default generator, float (`double = FALSE`) or double.
/// @keywords internal
/// @noRd
#[extendr]
fn torch_rng_draw_impl(n: Robj, normal: Robj, double: Robj) -> extendr_api::Result<Robj> {
    let n = whole_number(&n, "n", MAX_LEN)? as usize;
    let dtype = dtype_arg(&double)?;
    let normal = normal
        .as_bool()
        .ok_or_else(|| other("`normal` must be TRUE or FALSE".to_string()))?;
    let values = with_streams(|s| {
        if normal {
            s.normal(n, dtype)
        } else {
            s.uniform(n, dtype)
        }
    });
    real_vector(&values)
}

/// `n` values of `torch_randint(low, high)` from the default generator,
/// as doubles; `low < high`, both whole numbers below 2^53 in size.
/// @keywords internal
/// @noRd
#[extendr]
fn torch_rng_randint_impl(n: Robj, low: Robj, high: Robj) -> extendr_api::Result<Robj> {
    let n = whole_number(&n, "n", MAX_LEN)? as usize;
    let bound = |x: &Robj, arg: &str| match x.as_real().or_else(|| x.as_integer().map(f64::from)) {
        Some(v) if v.abs() <= MAX_SEED && v.fract() == 0.0 => Ok(v as i64),
        _ => Err(other(format!(
            "`{arg}` must be a whole number below 2^53 in size"
        ))),
    };
    let (low, high) = (bound(&low, "low")?, bound(&high, "high")?);
    if low >= high {
        return Err(other("`low` must be less than `high`".to_string()));
    }
    let mut values = vec![0i64; n];
    with_streams(|s| s.default_generator().randint(low, high, &mut values));
    let values: Vec<f64> = values.into_iter().map(|v| v as f64).collect();
    real_vector(&values)
}

/// `nn_linear(n_in, n_out, bias)`'s initial values from the initialisers'
/// generator: `list(weight = n_out x n_in matrix, bias = vector or NULL)`.
/// @keywords internal
/// @noRd
#[extendr]
fn torch_rng_linear_impl(
    n_in: Robj,
    n_out: Robj,
    bias: Robj,
    double: Robj,
) -> extendr_api::Result<Robj> {
    let n_in = whole_number(&n_in, "n_in", i32::MAX as f64)? as usize;
    let n_out = whole_number(&n_out, "n_out", i32::MAX as f64)? as usize;
    if n_in == 0 || n_out == 0 {
        return Err(other("`n_in` and `n_out` must be at least 1".to_string()));
    }
    let bias = bias
        .as_bool()
        .ok_or_else(|| other("`bias` must be TRUE or FALSE".to_string()))?;
    let dtype = dtype_arg(&double)?;
    let (w, b) = with_streams(|s| s.linear_init(n_in, n_out, bias, dtype));
    let (mut weight, mut view) = alloc_real_matrix(n_out, n_in)?;
    // torch's row-major n_out x n_in into R's column-major matrix
    for (k, &v) in w.iter().enumerate() {
        view[[k / n_in, k % n_in]] = v;
    }
    let bias = if bias {
        real_vector(&b)?
    } else {
        Robj::from(())
    };
    Ok(
        List::from_names_and_values(["weight", "bias"], [std::mem::take(&mut weight), bias])?
            .into(),
    )
}

/// The whole state of the streams as a raw vector.
/// @keywords internal
/// @noRd
#[extendr]
fn torch_rng_state_impl() -> Robj {
    let bytes = with_streams(|s| s.to_bytes());
    Robj::from(Raw::from_bytes(&bytes))
}

/// Restores a state from `torch_rng_state_impl()`.
/// @keywords internal
/// @noRd
#[extendr]
fn torch_rng_restore_impl(state: Robj) -> extendr_api::Result<Robj> {
    let bytes = state
        .as_raw_slice()
        .ok_or_else(|| other("`state` must be a raw vector".to_string()))?;
    let restored = TorchStreams::from_bytes(bytes)
        .ok_or_else(|| other("`state` is not a state saved by torch_stream_state()".to_string()))?;
    with_streams(|s| *s = restored);
    Ok(Robj::from(()))
}

extendr_module! {
    mod torch_rng;
    fn torch_rng_seed_impl;
    fn torch_rng_seed_init_impl;
    fn torch_rng_draw_impl;
    fn torch_rng_randint_impl;
    fn torch_rng_linear_impl;
    fn torch_rng_state_impl;
    fn torch_rng_restore_impl;
}
