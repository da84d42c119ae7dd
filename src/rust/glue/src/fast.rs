//! The fast paths of `mm()`, `sigmoid()` and `forward()` for small
//! inputs: raw `.Call` entry points that take and return `SEXP`s directly.
//! `fwdprop_mm_fast()` and `fwdprop_sigmoid_fast()` follow the same rules
//! as the forward pass described next: they compute only a case they fully
//! recognise (plain numeric matrices or vectors without a class, small
//! results; `mm()` also only without dimnames) and otherwise return `NULL`
//! for the R function's ordinary path, which runs the same core function.
//!
//! An `#[extendr]` function costs about half a microsecond per argument
//! (extendr's protection bookkeeping), more than the whole forward pass of
//! the lecture's 3-sample network. `fwdprop_forward_fast()` reads R memory
//! with the C API instead, and does not validate: it either computes the
//! result of a case it fully recognises (an unclassed double matrix `x`
//! with fewer than [`FAST_MAX_ROWS`] rows and the right number of columns,
//! a plain `fwdprop_network` whose parts are all consistent, `trace =
//! FALSE`, `threads = NULL`) or returns `NULL`, and the R function
//! `forward()` then takes its ordinary path (R validation with its error
//! messages, then `forward_impl()`). Both paths run the core's fused pass
//! on one thread, so they give identical results: for tiny inputs (the
//! lecture's) the fast path runs `forward_small_into()`, the same
//! arithmetic with stack buffers and no allocation, tested bit for bit
//! against `forward_into()`, which runs whenever it declines.
//!
//! Rules kept here: no R call while a Rust value that owns memory is alive
//! (an R error longjmps over Rust frames without running destructors), and
//! a panic never crosses into R: it is caught and turned into an R error
//! after everything Rust owns is dropped.

use extendr_ffi::{
    R_CHAR, R_ClassSymbol, R_DimNamesSymbol, R_DimSymbol, R_NamesSymbol, R_NilValue, R_xlen_t, Rboolean,
    Rf_allocMatrix, Rf_allocVector, Rf_coerceVector, Rf_error, Rf_getAttrib, Rf_isObject, Rf_protect,
    Rf_setAttrib, Rf_unprotect, Rf_xlength, INTEGER, LENGTH, LOGICAL, REAL, SET_VECTOR_ELT, SEXP, SEXPTYPE, STRING_ELT,
    TYPEOF, VECTOR_ELT,
};
use fwdprop_core::activation::Activation;
use fwdprop_core::forward::{forward_into, forward_small_into, SmallLayer};
use fwdprop_core::network::{Layer, Network};
use ndarray::{ArrayView2, ArrayViewMut2, ShapeBuilder};

#[allow(improper_ctypes)] // SEXP is an opaque pointer, as in extendr-ffi
extern "C" {
    // R's C API (Rinternals.h), not bound by extendr-ffi: copies every
    // attribute of `from` to `to`, as `attributes(to) <- attributes(from)`.
    fn DUPLICATE_ATTRIB(to: SEXP, from: SEXP);
}

/// Largest result (in elements) of the fast paths of `mm()` and
/// `sigmoid()`; larger ones take the ordinary path, whose result memory is
/// advised to use huge pages (and where the call's overhead is lost in the
/// arithmetic anyway).
pub const FAST_MAX_LEN: usize = 1 << 16;

/// `.Call(fwdprop_mm_fast, x, y)`: `x %*% y` for plain numeric matrices
/// without dimnames whose product has at most [`FAST_MAX_LEN`] elements,
/// else `NULL`.
///
/// # Safety
/// Called by R's `.Call` with two valid `SEXP`s, on R's main thread.
#[no_mangle]
pub unsafe extern "C" fn fwdprop_mm_fast(x: SEXP, y: SEXP) -> SEXP {
    let outcome = std::panic::catch_unwind(|| mm_fast(x, y));
    match outcome {
        Ok(sexp) => sexp,
        Err(payload) => {
            drop(payload);
            raise("fwdprop internal error: the fast path of mm() panicked")
        }
    }
}

/// `(nrow, ncol)` of a double, integer or logical matrix that is no object
/// (no class: S3 methods and `as_double_matrix()`'s messages stay in R) and
/// has no dimnames; else `None`.
unsafe fn plain_numeric_matrix(x: SEXP) -> Option<(usize, usize)> {
    if !matches!(TYPEOF(x), SEXPTYPE::REALSXP | SEXPTYPE::INTSXP | SEXPTYPE::LGLSXP)
        || Rf_isObject(x) != Rboolean::FALSE
        || Rf_getAttrib(x, R_DimNamesSymbol) != R_NilValue
    {
        return None;
    }
    matrix_dims(x)
}

/// `(nrow, ncol)` from `x`'s dim attribute if it has two non-negative
/// extents whose product is `x`'s length (R's own functions keep dim and
/// length consistent, but unserialize() of a damaged or crafted file does
/// not check); else `None`.
unsafe fn matrix_dims(x: SEXP) -> Option<(usize, usize)> {
    let dim = Rf_getAttrib(x, R_DimSymbol);
    if TYPEOF(dim) != SEXPTYPE::INTSXP || Rf_xlength(dim) != 2 {
        return None;
    }
    let d = INTEGER(dim);
    let (r, c) = (*d, *d.add(1));
    (r >= 0 && c >= 0 && Rf_xlength(x) as usize == r as usize * c as usize).then_some((r as usize, c as usize))
}

/// `x` as doubles: `x` itself, or a protected coerced copy (R's coercion,
/// so NA stays NA); `protected` counts the copies.
unsafe fn as_doubles(x: SEXP, protected: &mut i32) -> *const f64 {
    if TYPEOF(x) == SEXPTYPE::REALSXP {
        return REAL(x);
    }
    let copy = Rf_protect(Rf_coerceVector(x, SEXPTYPE::REALSXP));
    *protected += 1;
    REAL(copy)
}

fn mm_fast(x: SEXP, y: SEXP) -> SEXP {
    // SAFETY: `x`, `y` are arguments of the current .Call; every R call
    // happens on R's main thread while no Rust value owns memory.
    unsafe {
        let (Some((m, k)), Some((k2, n))) = (plain_numeric_matrix(x), plain_numeric_matrix(y)) else {
            return R_NilValue;
        };
        // empty operands take the ordinary path (R's data pointer of an
        // empty vector need not be aligned, which a view requires)
        if k != k2 || m == 0 || k == 0 || n == 0 || m.checked_mul(n).map_or(true, |len| len > FAST_MAX_LEN) {
            return R_NilValue;
        }
        let out = Rf_protect(Rf_allocMatrix(SEXPTYPE::REALSXP, m as i32, n as i32));
        let mut protected = 1;
        let xp = as_doubles(x, &mut protected);
        let yp = as_doubles(y, &mut protected);
        let a = ArrayView2::from_shape_ptr((m, k).f(), xp);
        let b = ArrayView2::from_shape_ptr((k, n).f(), yp);
        let o = ArrayViewMut2::from_shape_ptr((m, n).f(), REAL(out));
        fwdprop_core::matmul_into(a, b, o);
        Rf_unprotect(protected);
        out
    }
}

/// `.Call(fwdprop_sigmoid_fast, x)`: the logistic function of a double,
/// integer or logical vector, matrix or array that is no object, with at
/// most [`FAST_MAX_LEN`] elements, keeping all its attributes; else `NULL`.
///
/// # Safety
/// Called by R's `.Call` with a valid `SEXP`, on R's main thread.
#[no_mangle]
pub unsafe extern "C" fn fwdprop_sigmoid_fast(x: SEXP) -> SEXP {
    let outcome = std::panic::catch_unwind(|| sigmoid_fast(x));
    match outcome {
        Ok(sexp) => sexp,
        Err(payload) => {
            drop(payload);
            raise("fwdprop internal error: the fast path of sigmoid() panicked")
        }
    }
}

fn sigmoid_fast(x: SEXP) -> SEXP {
    // SAFETY: `x` is an argument of the current .Call; R calls happen on
    // R's main thread while no Rust value owns memory.
    unsafe {
        let ty = TYPEOF(x);
        if !matches!(ty, SEXPTYPE::REALSXP | SEXPTYPE::INTSXP | SEXPTYPE::LGLSXP) || Rf_isObject(x) != Rboolean::FALSE
        {
            return R_NilValue;
        }
        let n = Rf_xlength(x) as usize;
        // empty input takes the ordinary path (see mm_fast)
        if n == 0 || n > FAST_MAX_LEN {
            return R_NilValue;
        }
        let out = Rf_protect(Rf_allocVector(SEXPTYPE::REALSXP, n as R_xlen_t));
        let dst = std::slice::from_raw_parts_mut(REAL(out), n);
        match ty {
            SEXPTYPE::REALSXP => fwdprop_core::activation::sigmoid_into(std::slice::from_raw_parts(REAL(x), n), dst),
            SEXPTYPE::INTSXP => crate::convert::sigmoid_of_ints(std::slice::from_raw_parts(INTEGER(x), n).iter().copied(), dst),
            _ => crate::convert::sigmoid_of_ints(std::slice::from_raw_parts(LOGICAL(x), n).iter().copied(), dst),
        }
        DUPLICATE_ATTRIB(out, x);
        Rf_unprotect(1);
        out
    }
}

/// Inputs with at least this many rows take the ordinary path (where R
/// picks the number of threads); below it `forward()` uses one thread.
pub const FAST_MAX_ROWS: usize = 256;

/// Most layers the fast path handles (a stack array, no allocation before
/// the result is allocated).
const MAX_LAYERS: usize = 16;

/// `.Call(fwdprop_forward_fast, net, x, trace, threads)`: the output
/// matrix, or `NULL` when the ordinary path must run.
///
/// # Safety
/// Called by R's `.Call` with four valid `SEXP`s, on R's main thread.
#[no_mangle]
pub unsafe extern "C" fn fwdprop_forward_fast(net: SEXP, x: SEXP, trace: SEXP, threads: SEXP) -> SEXP {
    let outcome = std::panic::catch_unwind(|| forward_fast(net, x, trace, threads));
    let msg = match outcome {
        Ok(Ok(sexp)) => return sexp,
        Ok(Err(msg)) => msg,
        Err(payload) => {
            drop(payload); // before the longjmp of the R error
            "fwdprop internal error: the fast forward path panicked"
        }
    };
    raise(msg)
}

/// Raises an R error with `msg`: the message is copied to a stack buffer
/// (no destructor is skipped by the longjmp).
fn raise(msg: &'static str) -> SEXP {
    let mut buf = [0u8; 128];
    let n = msg.len().min(buf.len() - 1);
    buf[..n].copy_from_slice(&msg.as_bytes()[..n]);
    // SAFETY: `buf` is NUL-terminated; nothing on this frame owns memory.
    unsafe { Rf_error(c"%s".as_ptr(), buf.as_ptr() as *const std::os::raw::c_char) }
}

/// The bytes of a CHARSXP (its length from R: no `strlen`).
unsafe fn char_bytes<'a>(c: SEXP) -> &'a [u8] {
    let len = LENGTH(c) as usize;
    if len == 0 {
        &[]
    } else {
        std::slice::from_raw_parts(R_CHAR(c) as *const u8, len)
    }
}

/// The elements of a list named `names` (the first of each name, as `$`
/// finds exact names), in one pass over the names; `None` if any is
/// missing. Looks first whether they are the list's first elements, in
/// this order (as `network()` makes them).
unsafe fn list_get<const N: usize>(list: SEXP, names: [&[u8]; N]) -> Option<[SEXP; N]> {
    let list_names = Rf_getAttrib(list, R_NamesSymbol);
    if TYPEOF(list_names) != SEXPTYPE::STRSXP {
        return None;
    }
    let n = Rf_xlength(list);
    if Rf_xlength(list_names) != n {
        return None;
    }
    let mut found: [SEXP; N] = [std::ptr::null_mut(); N];
    if n >= N as R_xlen_t
        && names.iter().enumerate().all(|(i, want)| char_bytes(STRING_ELT(list_names, i as R_xlen_t)) == *want)
    {
        for (i, slot) in found.iter_mut().enumerate() {
            *slot = VECTOR_ELT(list, i as R_xlen_t);
        }
        return Some(found);
    }
    let mut left = N;
    for i in 0..n {
        let name = char_bytes(STRING_ELT(list_names, i));
        for (slot, want) in found.iter_mut().zip(names) {
            if slot.is_null() && name == want {
                *slot = VECTOR_ELT(list, i);
                left -= 1;
                break;
            }
        }
        if left == 0 {
            return Some(found);
        }
    }
    None
}

/// `(nrow, ncol, data)` of a double matrix that is no object (no class),
/// else `None`.
unsafe fn double_matrix(x: SEXP) -> Option<(usize, usize, *const f64)> {
    if TYPEOF(x) != SEXPTYPE::REALSXP || Rf_isObject(x) != Rboolean::FALSE {
        return None;
    }
    let (r, c) = matrix_dims(x)?;
    Some((r, c, REAL(x) as *const f64))
}

/// `len` values at `p` (R memory alive for the call; a dangling but
/// aligned pointer for an empty slice, as R's data pointer of a length-0
/// vector may be anything).
unsafe fn raw_slice<'a>(p: *const f64, len: usize) -> &'a [f64] {
    if len == 0 {
        &[]
    } else {
        std::slice::from_raw_parts(p, len)
    }
}

/// [`raw_slice`], writable.
unsafe fn raw_slice_mut<'a>(p: *mut f64, len: usize) -> &'a mut [f64] {
    if len == 0 {
        &mut []
    } else {
        std::slice::from_raw_parts_mut(p, len)
    }
}

/// Element `i` (0-based) of a dimnames attribute, or `R_NilValue`.
unsafe fn dimnames_part(x: SEXP, i: R_xlen_t) -> SEXP {
    let dn = Rf_getAttrib(x, R_DimNamesSymbol);
    if TYPEOF(dn) == SEXPTYPE::VECSXP && Rf_xlength(dn) > i {
        VECTOR_ELT(dn, i)
    } else {
        R_NilValue
    }
}

/// Element `i` of `sizes` (R integer or double) as a whole number; `None`
/// if it is not one (or out of range).
unsafe fn size_at(sizes: SEXP, i: R_xlen_t) -> Option<usize> {
    // no objects (a factor's codes are no sizes)
    if i >= Rf_xlength(sizes) || Rf_isObject(sizes) != Rboolean::FALSE {
        return None;
    }
    match TYPEOF(sizes) {
        SEXPTYPE::INTSXP => usize::try_from(*INTEGER(sizes).offset(i)).ok(),
        SEXPTYPE::REALSXP => {
            let v = *REAL(sizes).offset(i);
            (v >= 0.0 && v.fract() == 0.0 && v < i32::MAX as f64).then_some(v as usize)
        }
        _ => None,
    }
}

/// The fast path; `Ok(R_NilValue)` means "not recognised".
fn forward_fast(net: SEXP, x: SEXP, trace: SEXP, threads: SEXP) -> Result<SEXP, &'static str> {
    // SAFETY: every SEXP read here is an argument of the current .Call or
    // an element or attribute of one, alive for the whole call (and so is
    // the R memory the layers' slices point into); R API calls happen on
    // R's main thread.
    unsafe {
        let mut layers = [EMPTY_LAYER; MAX_LAYERS];
        match recognise(net, x, trace, threads, &mut layers) {
            Some(r) => compute(&layers[..r.n_layers], x, r),
            None => Ok(R_NilValue),
        }
    }
}

const EMPTY_LAYER: SmallLayer<'static> =
    SmallLayer { weights: &[], d_in: 0, d_out: 0, bias: None, activation: Activation::Identity };

/// What [`recognise`] found besides the layers.
struct Recognised<'a> {
    n_layers: usize,
    /// Rows of `x`.
    n: usize,
    /// `x`'s values, column-major.
    x: &'a [f64],
    /// Column names of the last weight matrix (or `R_NilValue`).
    colnames: SEXP,
}

/// The activation named by a CHARSXP.
unsafe fn activation_of(c: SEXP) -> Option<Activation> {
    let name = char_bytes(c);
    Activation::ALL.into_iter().find(|a| a.name().as_bytes() == name)
}

/// Fills `layers` (slices into R memory, alive for the call) if the case
/// is one the fast path handles.
unsafe fn recognise<'a>(
    net: SEXP,
    x: SEXP,
    trace: SEXP,
    threads: SEXP,
    layers: &mut [SmallLayer<'a>; MAX_LAYERS],
) -> Option<Recognised<'a>> {
    if threads != R_NilValue
        || TYPEOF(trace) != SEXPTYPE::LGLSXP
        || Rf_xlength(trace) != 1
        || *LOGICAL(trace) != 0
    {
        return None;
    }
    // a network of class exactly "fwdprop_network" (no subclass methods)
    if TYPEOF(net) != SEXPTYPE::VECSXP {
        return None;
    }
    let class = Rf_getAttrib(net, R_ClassSymbol);
    if TYPEOF(class) != SEXPTYPE::STRSXP
        || Rf_xlength(class) != 1
        || char_bytes(STRING_ELT(class, 0)) != b"fwdprop_network"
    {
        return None;
    }
    let (n, d0, xp) = double_matrix(x)?;
    if n >= FAST_MAX_ROWS {
        return None;
    }
    let [sizes, weights, biases, activations] = list_get(net, [b"sizes", b"weights", b"biases", b"activations"])?;
    if size_at(sizes, 0)? != d0 {
        return None;
    }
    if TYPEOF(weights) != SEXPTYPE::VECSXP
        || TYPEOF(biases) != SEXPTYPE::VECSXP
        || TYPEOF(activations) != SEXPTYPE::STRSXP
    {
        return None;
    }
    let n_layers = Rf_xlength(weights);
    if n_layers < 1
        || n_layers as usize > MAX_LAYERS
        || Rf_xlength(biases) != n_layers
        || Rf_xlength(activations) != n_layers
        || Rf_xlength(sizes) != n_layers + 1
    {
        return None;
    }
    let mut d_prev = d0;
    for (l, layer) in (0..n_layers).zip(layers.iter_mut()) {
        let w = VECTOR_ELT(weights, l);
        let (rows, cols, data) = double_matrix(w)?;
        if rows != d_prev || rows == 0 || cols == 0 || size_at(sizes, l + 1)? != cols {
            return None;
        }
        let b = VECTOR_ELT(biases, l);
        let bias = if b == R_NilValue {
            None
        } else if TYPEOF(b) == SEXPTYPE::REALSXP && Rf_xlength(b) as usize == cols {
            Some(raw_slice(REAL(b), cols))
        } else {
            return None;
        };
        let activation = activation_of(STRING_ELT(activations, l))?;
        *layer = SmallLayer { weights: raw_slice(data, rows * cols), d_in: rows, d_out: cols, bias, activation };
        d_prev = cols;
    }
    let colnames = dimnames_part(VECTOR_ELT(weights, n_layers - 1), 1);
    Some(Recognised { n_layers: n_layers as usize, n, x: raw_slice(xp, n * d0), colnames })
}

/// Allocates the result, runs the core (no R call while Rust owns memory)
/// and sets the dimnames.
unsafe fn compute(layers: &[SmallLayer], x: SEXP, r: Recognised) -> Result<SEXP, &'static str> {
    let n = r.n;
    let d = layers[layers.len() - 1].d_out;
    let out = Rf_protect(Rf_allocMatrix(SEXPTYPE::REALSXP, n as i32, d as i32));
    let op = REAL(out);
    // tiny inputs (the lecture's): stack buffers, no allocation; the same
    // arithmetic as forward_into, which runs when it declines
    let ok = forward_small_into(r.x, n, layers, raw_slice_mut(op, n * d)) || {
        let views: Vec<Layer> = layers
            .iter()
            .map(|l| Layer {
                weights: ArrayView2::from_shape_ptr((l.d_in, l.d_out).f(), l.weights.as_ptr()),
                bias: l.bias,
                activation: l.activation,
            })
            .collect();
        match Network::new(views) {
            Ok(net) => {
                let xv = ArrayView2::from_shape_ptr((n, layers[0].d_in).f(), r.x.as_ptr());
                let ov = ArrayViewMut2::from_shape_ptr((n, d).f(), op);
                forward_into(xv, &net, ov, 1).is_ok()
            }
            Err(_) => false,
        }
    };
    if !ok {
        // cannot happen for a recognised case; the ordinary path reports it
        Rf_unprotect(1);
        return Ok(R_NilValue);
    }
    let rn = dimnames_part(x, 0);
    if rn != R_NilValue || r.colnames != R_NilValue {
        let dn = Rf_protect(Rf_allocVector(SEXPTYPE::VECSXP, 2));
        SET_VECTOR_ELT(dn, 0, rn);
        SET_VECTOR_ELT(dn, 1, r.colnames);
        Rf_setAttrib(out, R_DimNamesSymbol, dn);
        Rf_unprotect(1);
    }
    Rf_unprotect(1);
    Ok(out)
}
