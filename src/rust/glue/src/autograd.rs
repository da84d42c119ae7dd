//! The hot path of the torch-style tensors (`R/tensor.R`, `R/autograd.R`):
//! raw `.Call` entry points that create a tensor object; compute and record
//! the elementwise arithmetic of the lectures (`x - mu`, `(.)^2`, `lr * g`),
//! `neg`/`exp`/`log`/`sigmoid`/`tanh`/`relu`, the mean or sum of all values
//! and the linear layer; run the backward pass over the recorded graph; and
//! do `$sub_()`/`$add_()` under `with_no_grad()`, the plain SGD step and
//! `$zero_grad()`.
//!
//! Why not R: a training step of lecture 6 is about ten tensor operations on
//! a few values, so its time is that of R's interpreter, not of arithmetic.
//! The same operations written in R cost 7 to 11 microseconds each (operand
//! coercion, shape checks, a closure for the backward step, the node list);
//! here each is one call of 2 to 3 microseconds, which puts lecture 6's step
//! and lecture 8's epoch at about two thirds of PyTorch's own time (see
//! `bench/lecture-speed.R`).
//!
//! Each entry point computes only the cases it fully recognises and returns
//! `NULL` otherwise; the R function then takes its ordinary path, which
//! computes the same values (the R code is the reference; the tests compare
//! both paths bit for bit). Recognised: float32 or float64 tensors of one
//! dtype (numbers take the tensor's dtype, as in torch), and shapes that
//! are equal or where one operand is a single value with no more
//! dimensions than the other (R's recycling gives torch's broadcasting
//! there). The values are R's own: `^` calls R's `R_pow` (and `x * x` for
//! `x^2`, as R does), `log` follows R's `log`, float32 results are rounded
//! to float32 after each step exactly as the R code rounds them, and sums
//! use PyTorch's order ([`crate::tensor::torch_sum_f32`]). The linear layer
//! sums each value in order (as R's reference BLAS does), whatever BLAS R
//! uses; beyond [`LINEAR_MAX_WORK`] products the R code (BLAS) computes it.
//!
//! A recorded operation's node is `list(name, inputs, backward, seq)` as
//! the R code makes it, except that `backward` is not an R function but a
//! list `list(info, saved...)` (integer codes and the saved values), which
//! [`node_grads`] turns into the inputs' gradients. The backward pass
//! ([`fwdprop_tensor_backward`]) calls the R functions of the operations
//! recorded in R, and frees a node as the R code does.
//!
//! Rules kept here (as in `fast.rs`): no panic crosses into R (the
//! arithmetic runs under `catch_unwind`; a panic there returns `NULL`, and
//! the R path computes the result instead), and no Rust value with a
//! destructor is alive while an R function runs: the Rust vectors of the
//! backward pass are held in `ManuallyDrop` while it calls the backward
//! functions of operations recorded in R, so an error in one of them leaks
//! those vectors instead of skipping their destructors. (Only an R
//! allocation failure, out of memory, can longjmp past a gradient vector
//! being handed on.)

use crate::tensor::{torch_sum_f32, torch_sum_f64};
use extendr_ffi::{
    R_ClassSymbol, R_NamesSymbol, R_NewEnv, R_NilValue, Rboolean, Rf_allocVector, Rf_defineVar,
    Rf_getAttrib, Rf_install, Rf_protect, Rf_setAttrib, Rf_unprotect, Rf_xlength, INTEGER, LOGICAL,
    REAL, SET_STRING_ELT, SET_VECTOR_ELT, SEXP, SEXPTYPE, STRING_ELT, TYPEOF, VECTOR_ELT,
};
use std::os::raw::{c_char, c_int};

#[allow(improper_ctypes)] // SEXP is an opaque pointer, as in extendr-ffi
extern "C" {
    // R's C API, not bound by extendr-ffi (Rinternals.h, Rmath.h).
    fn Rf_findVarInFrame(rho: SEXP, symbol: SEXP) -> SEXP;
    fn Rf_mkString(s: *const c_char) -> SEXP;
    fn Rf_mkChar(s: *const c_char) -> SEXP;
    fn Rf_ScalarReal(x: f64) -> SEXP;
    fn Rf_ScalarLogical(x: c_int) -> SEXP;
    fn R_pow(x: f64, y: f64) -> f64;
    fn ATTRIB(x: SEXP) -> SEXP;
    fn Rf_lang2(f: SEXP, x: SEXP) -> SEXP;
    fn Rf_eval(e: SEXP, rho: SEXP) -> SEXP;
    fn Rf_coerceVector(x: SEXP, t: SEXPTYPE) -> SEXP;
    fn Rf_isFunction(x: SEXP) -> Rboolean;
    static R_UnboundValue: SEXP;
    static R_EmptyEnv: SEXP;
}

const OP_ADD: i32 = 1;
const OP_SUB: i32 = 2;
const OP_MUL: i32 = 3;
const OP_DIV: i32 = 4;
const OP_POW: i32 = 5;

/// Node kinds in `info[0]` of a native node.
const NODE_ARITH: i32 = 1;
const NODE_REDUCE: i32 = 2;
const NODE_UNARY: i32 = 3;
const NODE_LINEAR: i32 = 4;

/// The symbols and strings of tensor objects and nodes, made once (R's
/// symbols are never collected; the strings are preserved): looking them up
/// on every call costs more than the arithmetic of a small operation.
struct Cached {
    data: SEXP,
    shape: SEXP,
    dtype: SEXP,
    requires_grad: SEXP,
    node: SEXP,
    grad: SEXP,
    seq: SEXP,
    enabled: SEXP,
    native: SEXP,
    ns: SEXP,
    /// `"fwdprop_tensor"`, `"float"`, `"double"` (character vectors)
    class: SEXP,
    float: SEXP,
    double: SEXP,
    /// `c("name", "inputs", "backward", "seq")`
    node_names: SEXP,
}

// SAFETY: the cache holds R objects that live for the whole session and is
// only used on R's main thread (every entry point is called by `.Call`).
unsafe impl Sync for Cached {}
unsafe impl Send for Cached {}

static CACHED: std::sync::OnceLock<Cached> = std::sync::OnceLock::new();

unsafe fn preserved(x: SEXP) -> SEXP {
    extendr_ffi::R_PreserveObject(x);
    x
}

fn syms() -> &'static Cached {
    CACHED.get_or_init(|| {
        // SAFETY: called on R's main thread; the names are NUL-terminated.
        unsafe {
            let install = |n: &std::ffi::CStr| Rf_install(n.as_ptr());
            let node_names = preserved(Rf_allocVector(SEXPTYPE::STRSXP, 4));
            for (i, n) in [c"name", c"inputs", c"backward", c"seq"].iter().enumerate() {
                SET_STRING_ELT(node_names, i as isize, Rf_mkChar(n.as_ptr()));
            }
            Cached {
                data: install(c"data"),
                shape: install(c"shape"),
                dtype: install(c"dtype"),
                requires_grad: install(c"requires_grad"),
                node: install(c"node"),
                grad: install(c"grad"),
                seq: install(c"seq"),
                enabled: install(c"enabled"),
                native: install(c"native"),
                ns: install(c"ns"),
                class: preserved(Rf_mkString(c"fwdprop_tensor".as_ptr())),
                float: preserved(Rf_mkString(c"float".as_ptr())),
                double: preserved(Rf_mkString(c"double".as_ptr())),
                node_names,
            }
        }
    })
}

/// A binding of an environment's own frame, or `None` when absent.
unsafe fn field(env: SEXP, name: SEXP) -> Option<SEXP> {
    let v = Rf_findVarInFrame(env, name);
    if v == R_UnboundValue {
        None
    } else {
        Some(v)
    }
}

unsafe fn is_tensor(x: SEXP) -> bool {
    if TYPEOF(x) != SEXPTYPE::ENVSXP {
        return false;
    }
    let cls = Rf_getAttrib(x, R_ClassSymbol);
    if TYPEOF(cls) != SEXPTYPE::STRSXP {
        return false;
    }
    (0..Rf_xlength(cls)).any(|i| cstr_eq(STRING_ELT(cls, i), b"fwdprop_tensor"))
}

unsafe fn cstr_eq(ch: SEXP, want: &[u8]) -> bool {
    // (a CHARSXP's length is its number of bytes: no strlen)
    usize::try_from(Rf_xlength(ch)).is_ok_and(|n| n == want.len())
        && std::slice::from_raw_parts(extendr_ffi::R_CHAR(ch) as *const u8, want.len()) == want
}

/// A tensor's fields as the fast path needs them, or `None` when any is
/// not of the expected type (the R path decides then).
struct Tensor {
    data: SEXP,
    len: usize,
    ndim: usize,
    float: bool,
    requires_grad: bool,
    env: SEXP,
}

unsafe fn read_tensor(x: SEXP) -> Option<Tensor> {
    let data = field(x, syms().data)?;
    let shape = field(x, syms().shape)?;
    let dtype = field(x, syms().dtype)?;
    let rg = field(x, syms().requires_grad)?;
    if TYPEOF(data) != SEXPTYPE::REALSXP
        || TYPEOF(shape) != SEXPTYPE::INTSXP
        || TYPEOF(dtype) != SEXPTYPE::STRSXP
        || Rf_xlength(dtype) != 1
        || TYPEOF(rg) != SEXPTYPE::LGLSXP
        || Rf_xlength(rg) != 1
    {
        return None;
    }
    let float = if cstr_eq(STRING_ELT(dtype, 0), b"float") {
        true
    } else if cstr_eq(STRING_ELT(dtype, 0), b"double") {
        false
    } else {
        return None;
    };
    let len = usize::try_from(Rf_xlength(data)).ok()?;
    // the values must fill the shape (as every tensor's do)
    let ndim = usize::try_from(Rf_xlength(shape)).ok()?;
    let dims = ints(shape, ndim);
    let mut prod: usize = 1;
    for &d in dims {
        prod = prod.checked_mul(usize::try_from(d).ok()?)?;
    }
    if prod != len {
        return None;
    }
    let requires_grad = *LOGICAL(rg) == 1;
    Some(Tensor {
        data,
        len,
        ndim,
        float,
        requires_grad,
        env: x,
    })
}

unsafe fn ints<'a>(x: SEXP, len: usize) -> &'a [i32] {
    if len == 0 {
        &[]
    } else {
        std::slice::from_raw_parts(INTEGER(x), len)
    }
}

unsafe fn slice<'a>(x: SEXP, len: usize) -> &'a [f64] {
    if len == 0 {
        &[]
    } else {
        std::slice::from_raw_parts(REAL(x), len)
    }
}

unsafe fn slice_mut<'a>(x: SEXP, len: usize) -> &'a mut [f64] {
    if len == 0 {
        &mut []
    } else {
        std::slice::from_raw_parts_mut(REAL(x), len)
    }
}

fn round_if(v: f64, float: bool) -> f64 {
    if float {
        f64::from(v as f32)
    } else {
        v
    }
}

/// R's `x^y` for doubles (arithmetic.c: `x * x` for `y == 2`, else `R_pow`).
fn r_pow(x: f64, y: f64) -> f64 {
    if y == 2.0 {
        x * x
    } else {
        // SAFETY: R_pow is a pure function of two doubles.
        unsafe { R_pow(x, y) }
    }
}

/// R's `log()` of one double (arithmetic.c's `R_log` inside `math1`: NaN and
/// NA pass through unchanged).
fn r_log(x: f64) -> f64 {
    if x.is_nan() {
        x
    } else if x > 0.0 {
        x.ln()
    } else if x == 0.0 {
        f64::NEG_INFINITY
    } else {
        f64::NAN
    }
}

/// PyTorch's sum of `v` in the dtype (the R code's `sum_torch()`).
fn torch_sum(v: &[f64], float: bool) -> f64 {
    if float {
        let w: Vec<f32> = v.iter().map(|&a| a as f32).collect();
        f64::from(torch_sum_f32(&w))
    } else {
        torch_sum_f64(v)
    }
}

/// A new tensor object: an environment (enclosed by `enclos`) with the
/// fields of `new_tensor_obj()` in `R/autograd.R`, classed
/// `fwdprop_tensor`. The caller protects nothing; the result is
/// unprotected.
unsafe fn new_tensor(
    enclos: SEXP,
    data: SEXP,
    shape: SEXP,
    dtype: SEXP,
    requires_grad: SEXP,
    node: SEXP,
) -> SEXP {
    let env = Rf_protect(R_NewEnv(enclos, 0, 6));
    Rf_defineVar(syms().grad, R_NilValue, env);
    Rf_defineVar(syms().node, node, env);
    Rf_defineVar(syms().requires_grad, requires_grad, env);
    Rf_defineVar(syms().dtype, dtype, env);
    Rf_defineVar(syms().shape, shape, env);
    Rf_defineVar(syms().data, data, env);
    Rf_setAttrib(env, R_ClassSymbol, syms().class);
    Rf_unprotect(1);
    env
}

/// `"float"` or `"double"`, unprotected.
unsafe fn dtype_string(float: bool) -> SEXP {
    if float {
        syms().float
    } else {
        syms().double
    }
}

/// The enclosure of new tensor objects: `state$ns` (the namespace), else
/// the empty environment.
unsafe fn enclosure(state: SEXP) -> SEXP {
    if TYPEOF(state) == SEXPTYPE::ENVSXP {
        if let Some(ns) = field(state, syms().ns) {
            if TYPEOF(ns) == SEXPTYPE::ENVSXP {
                return ns;
            }
        }
    }
    R_EmptyEnv
}

/// `.Call(fwdprop_tensor_new, data, shape, dtype, requires_grad, node,
/// state)`: the tensor object of `new_tensor_obj()` (its arguments stored
/// as given).
///
/// # Safety
/// Called by R's `.Call` with valid `SEXP`s, on R's main thread.
#[no_mangle]
pub unsafe extern "C" fn fwdprop_tensor_new(
    data: SEXP,
    shape: SEXP,
    dtype: SEXP,
    requires_grad: SEXP,
    node: SEXP,
    state: SEXP,
) -> SEXP {
    new_tensor(enclosure(state), data, shape, dtype, requires_grad, node)
}

/// `None` when the hot path is switched off (`state$native` FALSE: the
/// tests compare it with the R code that way).
unsafe fn native_on(state: SEXP) -> Option<()> {
    match field(state, syms().native) {
        Some(v) if TYPEOF(v) == SEXPTYPE::LGLSXP && Rf_xlength(v) == 1 && *LOGICAL(v) == 0 => None,
        _ => Some(()),
    }
}

/// Recording is on (`state$enabled`); `None` when the hot path is off.
unsafe fn recording(state: SEXP) -> Option<bool> {
    native_on(state)?;
    let en = field(state, syms().enabled)?;
    if TYPEOF(en) != SEXPTYPE::LGLSXP || Rf_xlength(en) != 1 {
        return None;
    }
    Some(*LOGICAL(en) == 1)
}

/// The next creation number (`state$seq + 1`, stored back), or `None`.
unsafe fn next_seq(state: SEXP) -> Option<SEXP> {
    let s = field(state, syms().seq)?;
    if TYPEOF(s) != SEXPTYPE::REALSXP || Rf_xlength(s) != 1 {
        return None;
    }
    let v = Rf_protect(Rf_ScalarReal(*REAL(s) + 1.0));
    Rf_defineVar(syms().seq, v, state);
    Rf_unprotect(1);
    Some(v)
}

/// `list(name = name, inputs = inputs, backward = backward, seq = seq)`,
/// unprotected. `inputs` and `backward` must be protected by the caller.
unsafe fn new_node(name: &[u8], inputs: SEXP, backward: SEXP, seq: SEXP) -> SEXP {
    let node = Rf_protect(Rf_allocVector(SEXPTYPE::VECSXP, 4));
    SET_VECTOR_ELT(node, 0, Rf_mkString(name.as_ptr() as *const c_char));
    SET_VECTOR_ELT(node, 1, inputs);
    SET_VECTOR_ELT(node, 2, backward);
    SET_VECTOR_ELT(node, 3, seq);
    Rf_setAttrib(node, R_NamesSymbol, syms().node_names);
    Rf_unprotect(1);
    node
}

/// The result tensor of an operation (`out`, `shape`, `dtype`): plain when
/// `record` is false, else recorded with a node named `name` whose
/// `backward` is `list(info, saved...)` and whose inputs are `inputs`.
/// `None` when the creation number cannot be read. The caller protects the
/// arguments; the result is unprotected.
#[allow(clippy::too_many_arguments)]
unsafe fn finish(
    state: SEXP,
    out: SEXP,
    shape: SEXP,
    dtype: SEXP,
    record: bool,
    name: &[u8],
    info: &[i32],
    saved: &[SEXP],
    inputs: &[SEXP],
) -> Option<SEXP> {
    let enclos = enclosure(state);
    if !record {
        let rg = Rf_protect(Rf_ScalarLogical(0));
        let res = new_tensor(enclos, out, shape, dtype, rg, R_NilValue);
        Rf_unprotect(1);
        return Some(res);
    }
    let seq = Rf_protect(next_seq(state)?);
    let info_s = Rf_protect(Rf_allocVector(SEXPTYPE::INTSXP, info.len() as isize));
    ints_mut(info_s, info.len()).copy_from_slice(info);
    let backward = Rf_protect(Rf_allocVector(SEXPTYPE::VECSXP, 1 + saved.len() as isize));
    SET_VECTOR_ELT(backward, 0, info_s);
    for (k, &v) in saved.iter().enumerate() {
        SET_VECTOR_ELT(backward, 1 + k as isize, v);
    }
    let inp = Rf_protect(Rf_allocVector(SEXPTYPE::VECSXP, inputs.len() as isize));
    for (k, &v) in inputs.iter().enumerate() {
        SET_VECTOR_ELT(inp, k as isize, v);
    }
    let node = Rf_protect(new_node(name, inp, backward, seq));
    let rg = Rf_protect(Rf_ScalarLogical(1));
    let res = new_tensor(enclos, out, shape, dtype, rg, node);
    Rf_unprotect(6);
    Some(res)
}

fn op_code(ch: &[u8]) -> Option<i32> {
    match ch {
        b"+" => Some(OP_ADD),
        b"-" => Some(OP_SUB),
        b"*" => Some(OP_MUL),
        b"/" => Some(OP_DIV),
        b"^" => Some(OP_POW),
        _ => None,
    }
}

/// The node names of `binary_names` in `R/autograd.R`: `kind` 1 for two
/// tensors, 2 for tensor op number, 3 for number op tensor.
fn node_name(op: i32, kind: i32) -> &'static [u8] {
    match (op, kind) {
        (OP_ADD, _) => b"AddBackward0\0",
        (OP_SUB, 3) => b"RsubBackward1\0",
        (OP_SUB, _) => b"SubBackward0\0",
        (OP_MUL, _) => b"MulBackward0\0",
        (OP_DIV, 3) => b"MulBackward0\0",
        (OP_DIV, _) => b"DivBackward0\0",
        (OP_POW, 1) => b"PowBackward1\0",
        (OP_POW, 2) => b"PowBackward0\0",
        _ => b"PowBackward2\0",
    }
}

/// A plain number (a double of length 1 without attributes).
unsafe fn is_number(x: SEXP) -> bool {
    TYPEOF(x) == SEXPTYPE::REALSXP && Rf_xlength(x) == 1 && ATTRIB(x) == R_NilValue
}

/// `e1 op e2` elementwise, the values of `R/autograd.R`'s `tensor_arith()`.
fn arith_values(op: i32, a: &[f64], b: &[f64], out: &mut [f64], float: bool) {
    let (la, lb) = (a.len(), b.len());
    for (i, o) in out.iter_mut().enumerate() {
        let x = a[if la == 1 { 0 } else { i }];
        let y = b[if lb == 1 { 0 } else { i }];
        let v = match op {
            OP_ADD => x + y,
            OP_SUB => x - y,
            OP_MUL => x * y,
            OP_DIV => x / y,
            _ => r_pow(x, y),
        };
        *o = round_if(v, float);
    }
}

/// `.Call(fwdprop_tensor_arith, op, e1, e2, state)`: `e1 op e2` for the
/// operators `+ - * / ^` as `Ops.fwdprop_tensor` computes and records it,
/// or `NULL` for a case left to the R code (see the module's notes).
///
/// # Safety
/// Called by R's `.Call` with valid `SEXP`s, on R's main thread.
#[no_mangle]
pub unsafe extern "C" fn fwdprop_tensor_arith(op: SEXP, e1: SEXP, e2: SEXP, state: SEXP) -> SEXP {
    if TYPEOF(op) != SEXPTYPE::STRSXP || Rf_xlength(op) != 1 || TYPEOF(state) != SEXPTYPE::ENVSXP {
        return R_NilValue;
    }
    let op = match op_code(
        std::ffi::CStr::from_ptr(extendr_ffi::R_CHAR(STRING_ELT(op, 0))).to_bytes(),
    ) {
        Some(o) => o,
        None => return R_NilValue,
    };
    let enabled = match recording(state) {
        Some(e) => e,
        None => return R_NilValue,
    };
    let (t1, t2) = (is_tensor(e1), is_tensor(e2));
    let kind = match (t1, t2) {
        (true, true) => 1,
        (true, false) if is_number(e2) => 2,
        (false, true) if is_number(e1) => 3,
        _ => return R_NilValue,
    };
    let like = if t1 { e1 } else { e2 };
    let tl = match read_tensor(like) {
        Some(t) => t,
        None => return R_NilValue,
    };
    let float = tl.float;
    let enclos = enclosure(state);
    let mut nprot = 0;
    // the other operand: a tensor, or the number as a 0-d tensor of
    // `like`'s dtype (as_operand() in R/tensor.R)
    let (ta, tb) = if kind == 1 {
        match read_tensor(e2) {
            Some(t2) if t2.float == float => (tl, t2),
            _ => return R_NilValue,
        }
    } else {
        let num = if kind == 2 { e2 } else { e1 };
        let data = Rf_protect(Rf_ScalarReal(round_if(*REAL(num), float)));
        let shape = Rf_protect(Rf_allocVector(SEXPTYPE::INTSXP, 0));
        let dtype = Rf_protect(dtype_string(float));
        let rg = Rf_protect(Rf_ScalarLogical(0));
        let env = Rf_protect(new_tensor(enclos, data, shape, dtype, rg, R_NilValue));
        nprot += 5;
        let t = Tensor {
            data,
            len: 1,
            ndim: 0,
            float,
            requires_grad: false,
            env,
        };
        if kind == 2 {
            (tl, t)
        } else {
            (t, tl)
        }
    };
    // the result's shape: equal shapes, or one single value with no more
    // dimensions (the only cases where R's recycling is torch's broadcasting
    // without copying; the R code does the others)
    let shape_a = match field(ta.env, syms().shape) {
        Some(s) => s,
        None => {
            Rf_unprotect(nprot);
            return R_NilValue;
        }
    };
    let shape_b = match field(tb.env, syms().shape) {
        Some(s) => s,
        None => {
            Rf_unprotect(nprot);
            return R_NilValue;
        }
    };
    let same = ta.ndim == tb.ndim && ints(shape_a, ta.ndim) == ints(shape_b, tb.ndim);
    let (shape, n) = if same || (tb.len == 1 && tb.ndim <= ta.ndim) {
        (shape_a, ta.len)
    } else if ta.len == 1 && ta.ndim <= tb.ndim {
        (shape_b, tb.len)
    } else {
        Rf_unprotect(nprot);
        return R_NilValue;
    };
    let out = Rf_protect(Rf_allocVector(SEXPTYPE::REALSXP, n as isize));
    nprot += 1;
    let ok = {
        let a = slice(ta.data, ta.len);
        let b = slice(tb.data, tb.len);
        let o = slice_mut(out, n);
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            arith_values(op, a, b, o, float)
        }))
        .is_ok()
    };
    if !ok {
        Rf_unprotect(nprot);
        return R_NilValue;
    }
    let out_shape = Rf_protect(extendr_ffi::Rf_duplicate(shape));
    let dtype = Rf_protect(dtype_string(float));
    nprot += 2;
    let record = enabled && (ta.requires_grad || tb.requires_grad);
    let info = [
        NODE_ARITH,
        op,
        ta.requires_grad as i32,
        tb.requires_grad as i32,
        float as i32,
    ];
    let res = finish(
        state,
        out,
        out_shape,
        dtype,
        record,
        node_name(op, kind),
        &info,
        &[ta.data, tb.data, out],
        &[ta.env, tb.env],
    );
    Rf_unprotect(nprot);
    res.unwrap_or(R_NilValue)
}

/// `.Call(fwdprop_tensor_reduce_all, x, mean, state)`: `mean(x)` (`mean`
/// TRUE) or `sum(x)` of all values of a float32 or float64 tensor, as
/// `tensor_reduce()` computes and records it, or `NULL`.
///
/// # Safety
/// Called by R's `.Call` with valid `SEXP`s, on R's main thread.
#[no_mangle]
pub unsafe extern "C" fn fwdprop_tensor_reduce_all(x: SEXP, mean: SEXP, state: SEXP) -> SEXP {
    if !is_tensor(x)
        || TYPEOF(mean) != SEXPTYPE::LGLSXP
        || Rf_xlength(mean) != 1
        || TYPEOF(state) != SEXPTYPE::ENVSXP
    {
        return R_NilValue;
    }
    let mean = *LOGICAL(mean) == 1;
    let (t, enabled) = match (read_tensor(x), recording(state)) {
        (Some(t), Some(e)) => (t, e),
        _ => return R_NilValue,
    };
    if t.len > i32::MAX as usize {
        return R_NilValue;
    }
    let value = {
        let d = slice(t.data, t.len);
        match std::panic::catch_unwind(|| torch_sum(d, t.float)) {
            Ok(s) => s,
            Err(_) => return R_NilValue,
        }
    };
    let value = round_if(if mean { value / t.len as f64 } else { value }, t.float);
    let out = Rf_protect(Rf_ScalarReal(value));
    let shape = Rf_protect(Rf_allocVector(SEXPTYPE::INTSXP, 0));
    let dtype = Rf_protect(dtype_string(t.float));
    let name: &[u8] = if mean {
        b"MeanBackward0\0"
    } else {
        b"SumBackward0\0"
    };
    let info = [NODE_REDUCE, mean as i32, 1, t.float as i32, t.len as i32];
    let res = finish(
        state,
        out,
        shape,
        dtype,
        enabled && t.requires_grad,
        name,
        &info,
        &[],
        &[x],
    );
    Rf_unprotect(3);
    res.unwrap_or(R_NilValue)
}

/// The gradient for one operand of `n` result values from `v` (the
/// result's gradient times the local derivative, already rounded): as it
/// is when the operand has all `n` values, else summed (PyTorch's order)
/// to its one value; rounded to the dtype (`back_fun()` in R).
fn back_operand(v: Vec<f64>, len: usize, n: usize, float: bool) -> Vec<f64> {
    if len == n {
        v.into_iter().map(|x| round_if(x, float)).collect()
    } else {
        vec![round_if(torch_sum(&v, float), float)]
    }
}

/// The gradients of a native arithmetic node (`tensor_arith()`'s backward
/// functions, value for value): `None` for an input that needs none.
fn arith_backward(
    info: &[i32],
    a: &[f64],
    b: &[f64],
    out: &[f64],
    g: &[f64],
) -> [Option<Vec<f64>>; 2] {
    let (op, ra, rb, float) = (info[1], info[2] == 1, info[3] == 1, info[4] == 1);
    let n = out.len();
    let (la, lb, lg) = (a.len(), b.len(), g.len());
    let at = |i: usize| a[if la == 1 { 0 } else { i }];
    let bt = |i: usize| b[if lb == 1 { 0 } else { i }];
    let gt = |i: usize| g[i % lg];
    let r = |v: f64| round_if(v, float);
    let each = |f: &dyn Fn(usize) -> f64| -> Vec<f64> { (0..n).map(f).collect() };
    if lg == 0 && n > 0 {
        return [None, None];
    }
    let ga = ra.then(|| {
        let v = match op {
            OP_ADD | OP_SUB => each(&gt),
            OP_MUL => each(&|i| r(gt(i) * bt(i))),
            OP_DIV => each(&|i| r(gt(i) / bt(i))),
            _ => each(&|i| {
                let y = bt(i);
                let d = if y == 0.0 {
                    0.0
                } else {
                    r(y * r(r_pow(at(i), y - 1.0)))
                };
                r(gt(i) * d)
            }),
        };
        back_operand(v, la, n, float)
    });
    let gb = rb.then(|| {
        let v = match op {
            OP_ADD => each(&gt),
            OP_SUB => each(&|i| -gt(i)),
            OP_MUL => each(&|i| r(gt(i) * at(i))),
            OP_DIV => each(&|i| r(-gt(i) * r(r(at(i) / bt(i)) / bt(i)))),
            _ => each(&|i| {
                let (x, y) = (at(i), bt(i));
                let d = if x == 0.0 && y >= 0.0 {
                    0.0
                } else {
                    r(out[i] * r_log(x))
                };
                r(gt(i) * d)
            }),
        };
        back_operand(v, lb, n, float)
    });
    [ga, gb]
}

/// The gradient of a native mean or sum of all `n` values.
fn reduce_backward(info: &[i32], g: &[f64]) -> Option<Vec<f64>> {
    let (mean, float, n) = (info[1] == 1, info[3] == 1, usize::try_from(info[4]).ok()?);
    let lg = g.len();
    if lg == 0 {
        return None;
    }
    Some(
        (0..n)
            .map(|i| {
                let v = g[i % lg];
                if mean {
                    round_if(v / n as f64, float)
                } else {
                    v
                }
            })
            .collect(),
    )
}

/// `.Call(fwdprop_tensor_node_backward, backward, g)`: the gradients of a
/// native node's inputs (a list, `NULL` where none is needed) from the
/// gradient `g` (a double vector) of its result. (For a graph that mixes
/// native nodes with nodes recorded in R, whose backward pass runs in R.)
///
/// # Safety
/// Called by R's `.Call` with valid `SEXP`s, on R's main thread.
#[no_mangle]
pub unsafe extern "C" fn fwdprop_tensor_node_backward(backward: SEXP, g: SEXP) -> SEXP {
    let grads = if TYPEOF(backward) == SEXPTYPE::VECSXP && TYPEOF(g) == SEXPTYPE::REALSXP {
        node_grads(
            backward,
            slice(g, usize::try_from(Rf_xlength(g)).unwrap_or(0)),
        )
    } else {
        None
    };
    let Some(grads) = grads else {
        extendr_ffi::Rf_error(
            c"%s".as_ptr(),
            c"fwdprop: invalid native autograd node".as_ptr(),
        );
    };
    grads_to_list(grads)
}

/// `.Call(fwdprop_tensor_inplace, op, self, other, alpha, state)`: `self$sub_(other,
/// alpha)` (`op` "-") or `self$add_(other, alpha)` (`op` "+") when recording
/// is off or `self` needs no gradient, for float32 or float64 tensors and
/// another operand of the same dtype that has `self`'s shape or is one value
/// with no more dimensions, or a number; returns `self`, or `NULL` for the R
/// code (which also gives the errors).
///
/// # Safety
/// Called by R's `.Call` with valid `SEXP`s, on R's main thread.
#[no_mangle]
pub unsafe extern "C" fn fwdprop_tensor_inplace(
    op: SEXP,
    this: SEXP,
    other: SEXP,
    alpha: SEXP,
    state: SEXP,
) -> SEXP {
    if TYPEOF(op) != SEXPTYPE::STRSXP
        || Rf_xlength(op) != 1
        || !is_tensor(this)
        || !is_number(alpha)
    {
        return R_NilValue;
    }
    let op = match op_code(
        std::ffi::CStr::from_ptr(extendr_ffi::R_CHAR(STRING_ELT(op, 0))).to_bytes(),
    ) {
        Some(o @ (OP_ADD | OP_SUB)) => o,
        _ => return R_NilValue,
    };
    let (t, enabled) = match (read_tensor(this), recording(state)) {
        (Some(t), Some(e)) => (t, e),
        _ => return R_NilValue,
    };
    if enabled && t.requires_grad {
        return R_NilValue;
    }
    let alpha = *REAL(alpha);
    let float = t.float;
    // the other operand's values (a number takes self's dtype)
    let (od, olen): (SEXP, usize) = if is_tensor(other) {
        let o = match read_tensor(other) {
            Some(o) if o.float == float => o,
            _ => return R_NilValue,
        };
        let same = o.len == t.len && o.ndim == t.ndim && {
            let (sa, sb) = (field(this, syms().shape), field(other, syms().shape));
            match (sa, sb) {
                (Some(sa), Some(sb)) => ints(sa, t.ndim) == ints(sb, o.ndim),
                _ => false,
            }
        };
        if !(same || (o.len == 1 && o.ndim <= t.ndim)) {
            return R_NilValue;
        }
        (o.data, o.len)
    } else if is_number(other) {
        (other, 1)
    } else {
        return R_NilValue;
    };
    let number = !is_tensor(other);
    let out = Rf_protect(Rf_allocVector(SEXPTYPE::REALSXP, t.len as isize));
    let ok = {
        let d = slice(t.data, t.len);
        let o = slice(od, olen);
        let res = slice_mut(out, t.len);
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for (i, r) in res.iter_mut().enumerate() {
                let mut v = o[if olen == 1 { 0 } else { i }];
                if number {
                    v = round_if(v, float);
                }
                let s = alpha * v;
                *r = round_if(if op == OP_SUB { d[i] - s } else { d[i] + s }, float);
            }
        }))
        .is_ok()
    };
    if ok {
        Rf_defineVar(syms().data, out, this);
    }
    Rf_unprotect(1);
    if ok {
        this
    } else {
        R_NilValue
    }
}

/// The element `name` of a named list, or `None`.
unsafe fn list_get(list: SEXP, name: &[u8]) -> Option<SEXP> {
    if TYPEOF(list) != SEXPTYPE::VECSXP {
        return None;
    }
    let names = Rf_getAttrib(list, R_NamesSymbol);
    if TYPEOF(names) != SEXPTYPE::STRSXP {
        return None;
    }
    let n = Rf_xlength(list).min(Rf_xlength(names));
    (0..n)
        .find(|&i| cstr_eq(STRING_ELT(names, i), name))
        .map(|i| VECTOR_ELT(list, i))
}

/// A one-number double (a creation number).
unsafe fn scalar_real(x: SEXP) -> Option<f64> {
    (TYPEOF(x) == SEXPTYPE::REALSXP && Rf_xlength(x) == 1).then(|| *REAL(x))
}

/// A recorded tensor found by the backward pass: the tensor, its node,
/// the node's native `backward` list, its inputs and creation number.
#[derive(Clone, Copy)]
struct Found {
    tensor: SEXP,
    node: SEXP,
    backward: SEXP,
    inputs: SEXP,
    seq: f64,
}

/// A tensor's node when it is one this pass can take (a native node with
/// its inputs), `Ok(None)` for a leaf, `Err(())` otherwise.
unsafe fn found(t: SEXP) -> Result<Option<Found>, ()> {
    let node = field(t, syms().node).ok_or(())?;
    if node == R_NilValue {
        return Ok(None);
    }
    let backward = list_get(node, b"backward").ok_or(())?;
    let inputs = list_get(node, b"inputs").ok_or(())?;
    let seq = list_get(node, b"seq")
        .and_then(|s| scalar_real(s))
        .ok_or(())?;
    let native = TYPEOF(backward) == SEXPTYPE::VECSXP;
    if !(native || Rf_isFunction(backward) != Rboolean::FALSE) || TYPEOF(inputs) != SEXPTYPE::VECSXP
    {
        return Err(());
    }
    for i in 0..Rf_xlength(inputs) {
        if !is_tensor(VECTOR_ELT(inputs, i)) {
            return Err(());
        }
    }
    Ok(Some(Found {
        tensor: t,
        node,
        backward,
        inputs,
        seq,
    }))
}

/// A leaf's state for accumulating its gradient: `Ok(true)` when it
/// requires one and its `$grad` is NULL or a double vector of its length.
unsafe fn leaf_ok(t: SEXP) -> Result<bool, ()> {
    let tl = read_tensor(t).ok_or(())?;
    if !tl.requires_grad {
        return Ok(false);
    }
    let grad = field(t, syms().grad).ok_or(())?;
    if grad == R_NilValue {
        return Ok(true);
    }
    let gt = if is_tensor(grad) {
        read_tensor(grad)
    } else {
        None
    };
    match gt {
        Some(g) if g.len == tl.len => Ok(true),
        _ => Err(()),
    }
}

/// The computed gradients of a native node (Rust vectors), `None` when
/// `backward` is not a native node's.
unsafe fn node_grads(backward: SEXP, g: &[f64]) -> Option<Vec<Option<Vec<f64>>>> {
    let nb = Rf_xlength(backward);
    if nb < 1 {
        return None;
    }
    let info_s = VECTOR_ELT(backward, 0);
    if TYPEOF(info_s) != SEXPTYPE::INTSXP {
        return None;
    }
    let info = ints(info_s, usize::try_from(Rf_xlength(info_s)).ok()?);
    let saved = |k: isize| -> Option<&[f64]> {
        let v = VECTOR_ELT(backward, k);
        (TYPEOF(v) == SEXPTYPE::REALSXP)
            .then(|| slice(v, usize::try_from(Rf_xlength(v)).unwrap_or(0)))
    };
    let out = match (info.first().copied(), info.len(), nb) {
        (Some(NODE_ARITH), 5, 4) => {
            let (a, b, o) = (saved(1)?, saved(2)?, saved(3)?);
            std::panic::catch_unwind(|| arith_backward(info, a, b, o, g))
                .ok()
                .map(|[x, y]| vec![x, y])
        }
        (Some(NODE_REDUCE), 5, 1) => std::panic::catch_unwind(|| reduce_backward(info, g))
            .ok()
            .map(|x| vec![x]),
        (Some(NODE_UNARY), 3, 3) => {
            let (x, y) = (saved(1)?, saved(2)?);
            std::panic::catch_unwind(|| unary_backward(info, x, y, g))
                .ok()
                .map(|v| vec![v])
        }
        (Some(NODE_LINEAR), 8, 3) => {
            let (x, w) = (saved(1)?, saved(2)?);
            std::panic::catch_unwind(|| linear_backward(info, x, w, g))
                .ok()
                .flatten()
        }
        _ => None,
    };
    out
}

/// Computed gradients as an R list (`NULL` where none), unprotected. An
/// allocation failure longjmps: the Rust vectors leak then rather than have
/// no destructors run over live frames.
unsafe fn grads_to_list(grads: Vec<Option<Vec<f64>>>) -> SEXP {
    let grads = std::mem::ManuallyDrop::new(grads);
    let res = Rf_protect(Rf_allocVector(SEXPTYPE::VECSXP, grads.len() as isize));
    for (k, gk) in grads.iter().enumerate() {
        if let Some(v) = gk {
            SET_VECTOR_ELT(res, k as isize, real_vector(v));
        }
    }
    Rf_unprotect(1);
    drop(std::mem::ManuallyDrop::into_inner(grads));
    res
}

/// A new double vector holding `v`, unprotected.
unsafe fn real_vector(v: &[f64]) -> SEXP {
    let r = Rf_allocVector(SEXPTYPE::REALSXP, v.len() as isize);
    slice_mut(r, v.len()).copy_from_slice(v);
    r
}

/// Whether a node named `name` keeps its backward step (names in `keep`).
unsafe fn keeps(node: SEXP, keep: SEXP) -> bool {
    let name = match list_get(node, b"name") {
        Some(n) if TYPEOF(n) == SEXPTYPE::STRSXP && Rf_xlength(n) == 1 => STRING_ELT(n, 0),
        _ => return false,
    };
    let want = std::ffi::CStr::from_ptr(extendr_ffi::R_CHAR(name)).to_bytes();
    TYPEOF(keep) == SEXPTYPE::STRSXP
        && (0..Rf_xlength(keep)).any(|i| cstr_eq(STRING_ELT(keep, i), want))
}

/// `node` without its `backward` element (as `nd[["backward"]] <- NULL`),
/// unprotected.
unsafe fn without_backward(node: SEXP) -> SEXP {
    let names = Rf_getAttrib(node, R_NamesSymbol);
    let n = Rf_xlength(node);
    let keep: Vec<isize> = (0..n)
        .filter(|&i| !cstr_eq(STRING_ELT(names, i), b"backward"))
        .collect();
    let keep = std::mem::ManuallyDrop::new(keep);
    let out = Rf_protect(Rf_allocVector(SEXPTYPE::VECSXP, keep.len() as isize));
    let out_names = Rf_protect(Rf_allocVector(SEXPTYPE::STRSXP, keep.len() as isize));
    for (k, &i) in keep.iter().enumerate() {
        SET_VECTOR_ELT(out, k as isize, VECTOR_ELT(node, i));
        SET_STRING_ELT(out_names, k as isize, STRING_ELT(names, i));
    }
    Rf_setAttrib(out, R_NamesSymbol, out_names);
    Rf_unprotect(2);
    drop(std::mem::ManuallyDrop::into_inner(keep));
    out
}

/// Every recorded tensor reachable from `root` (first) and the position of
/// each creation number, or `None` when a node is not one the pass in Rust
/// takes or a leaf's `$grad` is not a tensor of its length. Reads only (no
/// R allocation).
unsafe fn discover(root: SEXP) -> Option<(Vec<Found>, std::collections::HashMap<u64, usize>)> {
    let first = found(root).ok()??;
    let mut nodes: Vec<Found> = vec![first];
    let mut index = std::collections::HashMap::new();
    index.insert(first.seq.to_bits(), 0);
    let mut i = 0;
    while i < nodes.len() {
        let inputs = nodes[i].inputs;
        for j in 0..Rf_xlength(inputs) {
            let inp = VECTOR_ELT(inputs, j);
            match found(inp).ok()? {
                Some(f) => {
                    if let std::collections::hash_map::Entry::Vacant(e) =
                        index.entry(f.seq.to_bits())
                    {
                        e.insert(nodes.len());
                        nodes.push(f);
                    }
                }
                None => {
                    leaf_ok(inp).ok()?;
                }
            }
        }
        i += 1;
    }
    Some((nodes, index))
}

/// Adds the gradient `gj` to the leaf `inp`'s `$grad` (`accumulate_grad()`
/// in R: a new gradient tensor the first time, else its values plus `gj`,
/// rounded to the leaf's dtype).
unsafe fn accumulate_leaf(inp: SEXP, gj: &[f64], enclos: SEXP) {
    let Some(tl) = read_tensor(inp) else { return };
    if !tl.requires_grad {
        return;
    }
    let old = field(inp, syms().grad).unwrap_or(R_NilValue);
    if old == R_NilValue {
        let v = Rf_protect(Rf_allocVector(SEXPTYPE::REALSXP, tl.len as isize));
        let dst = slice_mut(v, tl.len);
        if !gj.is_empty() {
            for (q, d) in dst.iter_mut().enumerate() {
                *d = gj[q % gj.len()];
            }
        }
        let shape = field(inp, syms().shape).unwrap_or(R_NilValue);
        let dtype = field(inp, syms().dtype).unwrap_or(R_NilValue);
        let rg = Rf_protect(Rf_ScalarLogical(0));
        let gt = new_tensor(enclos, v, shape, dtype, rg, R_NilValue);
        Rf_defineVar(syms().grad, gt, inp);
        Rf_unprotect(2);
    } else if let Some(ot) = read_tensor(old) {
        let v = Rf_protect(Rf_allocVector(SEXPTYPE::REALSXP, ot.len as isize));
        let od = slice(ot.data, ot.len);
        let dst = slice_mut(v, ot.len);
        if !gj.is_empty() {
            for (q, d) in dst.iter_mut().enumerate() {
                *d = round_if(od[q] + gj[q % gj.len()], tl.float);
            }
        }
        Rf_defineVar(syms().data, v, old);
        Rf_unprotect(1);
    }
}

/// `gp + gj` (R's recycling) rounded to float32 when `float`, unprotected.
unsafe fn sum_grads(gp: SEXP, gj: &[f64], float: bool) -> SEXP {
    let lp = usize::try_from(Rf_xlength(gp)).unwrap_or(0);
    let len = if lp == 0 || gj.is_empty() {
        0
    } else {
        lp.max(gj.len())
    };
    let v = Rf_allocVector(SEXPTYPE::REALSXP, len as isize);
    let a = slice(gp, lp);
    for (q, d) in slice_mut(v, len).iter_mut().enumerate() {
        *d = round_if(a[q % lp] + gj[q % gj.len()], float);
    }
    v
}

/// A gradient on its way to an input: an R vector or a Rust one.
enum Grad {
    R(SEXP),
    Rust(Vec<f64>),
}

/// Passes the gradient `gj` to the input `inp`: into a leaf's `$grad`, or
/// added to the gradient of a recorded input (`grads`/`rgrads` at its
/// position in `index`), as the R code's pass does.
unsafe fn pass_on(
    inp: SEXP,
    gj: Grad,
    grads: SEXP,
    rgrads: &mut [Option<Vec<f64>>],
    index: &std::collections::HashMap<u64, usize>,
    enclos: SEXP,
) {
    let inode = field(inp, syms().node).unwrap_or(R_NilValue);
    let values: &[f64] = match &gj {
        Grad::R(v) => slice(*v, usize::try_from(Rf_xlength(*v)).unwrap_or(0)),
        Grad::Rust(v) => v,
    };
    if inode == R_NilValue {
        accumulate_leaf(inp, values, enclos);
        return;
    }
    let Some(p) = list_get(inode, b"seq")
        .and_then(|s| scalar_real(s))
        .and_then(|s| index.get(&s.to_bits()).copied())
    else {
        return;
    };
    let float = read_tensor(inp).map(|t| t.float).unwrap_or(false);
    let gp = VECTOR_ELT(grads, p as isize);
    match (rgrads[p].as_mut(), gp == R_NilValue) {
        (Some(acc), _) if acc.len() == values.len() => {
            for (a, &v) in acc.iter_mut().zip(values) {
                *a = round_if(*a + v, float);
            }
        }
        (Some(acc), _) => {
            let lp = acc.len();
            let len = if lp == 0 || values.is_empty() {
                0
            } else {
                lp.max(values.len())
            };
            let sum: Vec<f64> = (0..len)
                .map(|q| round_if(acc[q % lp] + values[q % values.len()], float))
                .collect();
            rgrads[p] = Some(sum);
        }
        (None, true) => match gj {
            Grad::R(v) => {
                SET_VECTOR_ELT(grads, p as isize, v);
            }
            Grad::Rust(v) => rgrads[p] = Some(v),
        },
        (None, false) => {
            SET_VECTOR_ELT(grads, p as isize, sum_grads(gp, values, float));
        }
    }
}

/// `.Call(fwdprop_tensor_backward, root, g0, retain_graph, keep, state)`:
/// the backward pass of `tensor_backward()` in `R/autograd.R` from the
/// recorded tensor `root` with the gradient `g0`, when every node it
/// reaches was recorded in Rust and every leaf's `$grad` is NULL or a
/// tensor of its length; returns `TRUE` when done, or `NULL` (having
/// changed nothing) for the R code. `keep`: the names of nodes that keep
/// their backward step without `retain_graph`.
///
/// The gradients, their sums and the order (decreasing creation numbers)
/// are those of the R code.
///
/// # Safety
/// Called by R's `.Call` with valid `SEXP`s, on R's main thread.
#[no_mangle]
pub unsafe extern "C" fn fwdprop_tensor_backward(
    root: SEXP,
    g0: SEXP,
    retain_graph: SEXP,
    keep: SEXP,
    state: SEXP,
) -> SEXP {
    if !is_tensor(root)
        || TYPEOF(g0) != SEXPTYPE::REALSXP
        || TYPEOF(retain_graph) != SEXPTYPE::LGLSXP
        || Rf_xlength(retain_graph) != 1
    {
        return R_NilValue;
    }
    if TYPEOF(state) != SEXPTYPE::ENVSXP || native_on(state).is_none() {
        return R_NilValue;
    }
    let retain = *LOGICAL(retain_graph) == 1;
    // every recorded tensor reachable from the root (no R allocation: the
    // Rust vectors are dropped before any)
    let Some((nodes, index)) = discover(root) else {
        return R_NilValue;
    };
    // decreasing creation numbers (a result is made after its inputs)
    let mut order: Vec<usize> = (0..nodes.len()).collect();
    order.sort_by(|&a, &b| nodes[b].seq.total_cmp(&nodes[a].seq));
    let n = nodes.len();
    // From here on R allocates: the Rust vectors are kept from being
    // dropped by an R error's longjmp (they leak then; nothing else is
    // left half-done that R would see, but a grad may be half-accumulated,
    // as after an error in the R code).
    let nodes = std::mem::ManuallyDrop::new(nodes);
    let index = std::mem::ManuallyDrop::new(index);
    let order = std::mem::ManuallyDrop::new(order);
    // The gradient of each recorded tensor: an R vector (`grads`, from the
    // root or an R function) or a Rust vector (`rgrads`, from a native node,
    // kept out of R's heap so that a pass allocates, and collects, less).
    let grads = Rf_protect(Rf_allocVector(SEXPTYPE::VECSXP, n as isize));
    SET_VECTOR_ELT(grads, 0, g0);
    let mut rgrads: std::mem::ManuallyDrop<Vec<Option<Vec<f64>>>> =
        std::mem::ManuallyDrop::new(vec![None; n]);
    let enclos = enclosure(state);
    let mut failed = false;
    for &k in order.iter() {
        let f = nodes[k];
        let g_r = VECTOR_ELT(grads, k as isize);
        let g_rust = std::mem::ManuallyDrop::new(rgrads[k].take());
        if g_r == R_NilValue && g_rust.is_none() {
            continue;
        }
        SET_VECTOR_ELT(grads, k as isize, R_NilValue);
        let g_r = Rf_protect(g_r);
        if Rf_isFunction(f.backward) != Rboolean::FALSE {
            // an R function: called with an R vector (an error in it ends
            // the pass, as in R)
            let g = Rf_protect(match g_rust.as_ref() {
                Some(v) => real_vector(v),
                None => g_r,
            });
            let call = Rf_protect(Rf_lang2(f.backward, g));
            let gin = Rf_protect(Rf_eval(call, enclos));
            if TYPEOF(gin) != SEXPTYPE::VECSXP {
                Rf_unprotect(4);
                failed = true;
                break;
            }
            for j in 0..Rf_xlength(gin).min(Rf_xlength(f.inputs)) {
                let gj = VECTOR_ELT(gin, j);
                if gj == R_NilValue {
                    continue;
                }
                let gj = Rf_protect(if TYPEOF(gj) == SEXPTYPE::REALSXP {
                    gj
                } else {
                    Rf_coerceVector(gj, SEXPTYPE::REALSXP)
                });
                let inp = VECTOR_ELT(f.inputs, j);
                pass_on(inp, Grad::R(gj), grads, &mut rgrads, &index, enclos);
                Rf_unprotect(1);
            }
            Rf_unprotect(4);
        } else {
            let g: &[f64] = match g_rust.as_ref() {
                Some(v) => v,
                None => slice(g_r, usize::try_from(Rf_xlength(g_r)).unwrap_or(0)),
            };
            let Some(gin) = node_grads(f.backward, g) else {
                Rf_unprotect(1);
                failed = true;
                break;
            };
            let gin = std::mem::ManuallyDrop::new(gin);
            for (j, gj) in std::mem::ManuallyDrop::into_inner(gin)
                .into_iter()
                .enumerate()
            {
                let Some(gj) = gj else { continue };
                if j as isize >= Rf_xlength(f.inputs) {
                    break;
                }
                let inp = VECTOR_ELT(f.inputs, j as isize);
                pass_on(inp, Grad::Rust(gj), grads, &mut rgrads, &index, enclos);
            }
            Rf_unprotect(1);
        }
        drop(std::mem::ManuallyDrop::into_inner(g_rust));
        if !retain && !keeps(f.node, keep) {
            Rf_defineVar(syms().node, without_backward(f.node), f.tensor);
        }
    }
    Rf_unprotect(1);
    drop(std::mem::ManuallyDrop::into_inner(nodes));
    drop(std::mem::ManuallyDrop::into_inner(index));
    drop(std::mem::ManuallyDrop::into_inner(order));
    drop(std::mem::ManuallyDrop::into_inner(rgrads));
    if failed {
        extendr_ffi::Rf_error(
            c"%s".as_ptr(),
            c"fwdprop: invalid native autograd node".as_ptr(),
        );
    }
    Rf_ScalarLogical(1)
}

// Unary operations ---------------------------------------------------------

const UN_NEG: i32 = 1;
const UN_EXP: i32 = 2;
const UN_LOG: i32 = 3;
const UN_SIGMOID: i32 = 4;
const UN_TANH: i32 = 5;
const UN_RELU: i32 = 6;

/// R's `NA_real_` (a NaN whose low word is 1954).
fn na_real() -> f64 {
    f64::from_bits(0x7FF0_0000_0000_07A2)
}

/// R's `x * (x > 0)` and `g * (y > 0)`: a logical NA (from NaN) times a
/// double is NA, as R computes it.
fn times_positive(v: f64, test: f64) -> f64 {
    if test.is_nan() {
        v * na_real()
    } else {
        v * if test > 0.0 { 1.0 } else { 0.0 }
    }
}

/// R's math functions keep a NaN argument as it is (`math1()`).
fn math1(x: f64, f: fn(f64) -> f64) -> f64 {
    if x.is_nan() {
        x
    } else {
        f(x)
    }
}

fn unary_code(name: &[u8]) -> Option<(i32, &'static [u8])> {
    match name {
        b"neg" => Some((UN_NEG, b"NegBackward0\0")),
        b"exp" => Some((UN_EXP, b"ExpBackward0\0")),
        b"log" => Some((UN_LOG, b"LogBackward0\0")),
        b"sigmoid" => Some((UN_SIGMOID, b"SigmoidBackward0\0")),
        b"tanh" => Some((UN_TANH, b"TanhBackward0\0")),
        b"relu" => Some((UN_RELU, b"ReluBackward0\0")),
        _ => None,
    }
}

/// The values of `unary_ops[[fun]]$f` in `R/autograd.R`, rounded to the
/// dtype.
fn unary_values(fun: i32, x: &[f64], out: &mut [f64], float: bool) {
    if fun == UN_SIGMOID {
        // fwdprop's sigmoid() (its fast path's kernel)
        fwdprop_core::activation::sigmoid_into(x, out);
    } else {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = match fun {
                UN_NEG => -v,
                UN_EXP => math1(v, f64::exp),
                UN_LOG => r_log(v),
                UN_TANH => math1(v, f64::tanh),
                _ => times_positive(v, v),
            };
        }
    }
    if float {
        for o in out.iter_mut() {
            *o = round_if(*o, true);
        }
    }
}

/// `unary_ops[[fun]]$d(g, x, y)`, rounded to the dtype.
fn unary_backward(info: &[i32], x: &[f64], y: &[f64], g: &[f64]) -> Option<Vec<f64>> {
    let (fun, float) = (info[1], info[2] == 1);
    let (n, lg) = (x.len(), g.len());
    if lg == 0 || y.len() != n {
        return None;
    }
    Some(
        (0..n)
            .map(|i| {
                let gi = g[i % lg];
                let v = match fun {
                    UN_NEG => -gi,
                    UN_EXP => gi * y[i],
                    UN_LOG => gi / x[i],
                    UN_SIGMOID => gi * (1.0 - y[i]) * y[i],
                    UN_TANH => gi * (1.0 - y[i] * y[i]),
                    _ => times_positive(gi, y[i]),
                };
                round_if(v, float)
            })
            .collect(),
    )
}

/// `.Call(fwdprop_tensor_unary, fun, x, state)`: `tensor_unary(fun, x)`
/// for `neg`, `exp`, `log`, `sigmoid`, `tanh` and `relu` of a float32 or
/// float64 tensor, or `NULL`.
///
/// # Safety
/// Called by R's `.Call` with valid `SEXP`s, on R's main thread.
#[no_mangle]
pub unsafe extern "C" fn fwdprop_tensor_unary(fun: SEXP, x: SEXP, state: SEXP) -> SEXP {
    if TYPEOF(fun) != SEXPTYPE::STRSXP
        || Rf_xlength(fun) != 1
        || !is_tensor(x)
        || TYPEOF(state) != SEXPTYPE::ENVSXP
    {
        return R_NilValue;
    }
    let Some((code, name)) =
        unary_code(std::ffi::CStr::from_ptr(extendr_ffi::R_CHAR(STRING_ELT(fun, 0))).to_bytes())
    else {
        return R_NilValue;
    };
    let (t, enabled) = match (read_tensor(x), recording(state)) {
        (Some(t), Some(e)) => (t, e),
        _ => return R_NilValue,
    };
    if code == UN_SIGMOID && t.len > crate::fast::FAST_MAX_LEN {
        return R_NilValue;
    }
    let out = Rf_protect(Rf_allocVector(SEXPTYPE::REALSXP, t.len as isize));
    let ok = {
        let d = slice(t.data, t.len);
        let o = slice_mut(out, t.len);
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            unary_values(code, d, o, t.float)
        }))
        .is_ok()
    };
    let shape = field(x, syms().shape);
    let dtype = field(x, syms().dtype);
    let (Some(shape), Some(dtype), true) = (shape, dtype, ok) else {
        Rf_unprotect(1);
        return R_NilValue;
    };
    let info = [NODE_UNARY, code, t.float as i32];
    let res = finish(
        state,
        out,
        shape,
        dtype,
        enabled && t.requires_grad,
        name,
        &info,
        &[t.data, out],
        &[x],
    );
    Rf_unprotect(1);
    res.unwrap_or(R_NilValue)
}

unsafe fn ints_mut<'a>(x: SEXP, len: usize) -> &'a mut [i32] {
    if len == 0 {
        &mut []
    } else {
        std::slice::from_raw_parts_mut(INTEGER(x), len)
    }
}

// Linear layers ---------------------------------------------------------------

/// Largest product (rows x inputs x outputs) of a linear layer computed
/// here; larger ones take the R code (BLAS), where the call's overhead is
/// lost in the arithmetic anyway.
const LINEAR_MAX_WORK: usize = 1 << 20;

/// `x W^T + b` for row-major `x` (n x i), `w` (o x i), `b` (o): every value
/// a dot product summed in order from 0 (as the reference BLAS sums it),
/// rounded to the dtype, then the bias added and rounded again.
#[allow(clippy::too_many_arguments)]
fn linear_values(
    x: &[f64],
    w: &[f64],
    b: Option<&[f64]>,
    n: usize,
    i: usize,
    o: usize,
    out: &mut [f64],
    float: bool,
) {
    // W transposed (i x o), so that the innermost loop runs over outputs:
    // independent sums, each still added in order (the order of the loops
    // changes nothing in the values; it lets the CPU add several at once)
    let mut wt = vec![0.0; i * o];
    for c in 0..o {
        for l in 0..i {
            wt[l * o + c] = w[c * i + l];
        }
    }
    for r in 0..n {
        let acc = &mut out[r * o..(r + 1) * o];
        acc.fill(0.0);
        for l in 0..i {
            let xv = x[r * i + l];
            add_scaled(acc, xv, &wt[l * o..(l + 1) * o]);
        }
        for (c, a) in acc.iter_mut().enumerate() {
            let mut v = round_if(*a, float);
            if let Some(b) = b {
                v = round_if(v + b[c], float);
            }
            *a = v;
        }
    }
}

/// `acc[k] += s * row[k]` (one rounding for the product, one for the sum:
/// Rust does not fuse them), for sums added in order side by side.
fn add_scaled(acc: &mut [f64], s: f64, row: &[f64]) {
    for (a, &v) in acc.iter_mut().zip(row) {
        *a += s * v;
    }
}

/// The gradients of a linear layer from `g` (n x o): `g W` for the input,
/// `g^T x` for the weight, the column sums of `g` for the bias, each summed
/// in order and rounded to the dtype.
fn linear_backward(info: &[i32], x: &[f64], w: &[f64], g: &[f64]) -> Option<Vec<Option<Vec<f64>>>> {
    let dims = |k: usize| usize::try_from(info[k]).ok();
    let (n, i, o) = (dims(1)?, dims(2)?, dims(3)?);
    let (rx, rw, has_b, rb, float) = (
        info[4] == 1,
        info[5] == 1,
        info[6] >= 0,
        info[6] == 1,
        info[7] == 1,
    );
    if x.len() != n * i || w.len() != o * i || g.len() != n * o {
        return None;
    }
    // (as in the forward pass, the innermost loops run over independent
    // sums, each added in order)
    let gx = rx.then(|| {
        let mut v = vec![0.0; n * i];
        for r in 0..n {
            let acc = &mut v[r * i..(r + 1) * i];
            for c in 0..o {
                add_scaled(acc, g[r * o + c], &w[c * i..(c + 1) * i]);
            }
        }
        v.iter_mut().for_each(|a| *a = round_if(*a, float));
        v
    });
    let gw = rw.then(|| {
        let mut v = vec![0.0; o * i];
        for c in 0..o {
            let acc = &mut v[c * i..(c + 1) * i];
            for r in 0..n {
                add_scaled(acc, g[r * o + c], &x[r * i..(r + 1) * i]);
            }
        }
        v.iter_mut().for_each(|a| *a = round_if(*a, float));
        v
    });
    let mut grads = vec![gx, gw];
    if has_b {
        grads.push(rb.then(|| {
            let mut v = vec![0.0; o];
            for r in 0..n {
                for (a, &gv) in v.iter_mut().zip(&g[r * o..(r + 1) * o]) {
                    *a += gv;
                }
            }
            v.iter_mut().for_each(|a| *a = round_if(*a, float));
            v
        }));
    }
    Some(grads)
}

/// `.Call(fwdprop_tensor_linear, x, weight, bias, state)`: the linear layer
/// `x W^T + b` (`bias` a tensor or NULL) of `tensor_linear()` for float32 or
/// float64 tensors of one dtype with matching shapes (`x` n x i, `weight`
/// o x i, `bias` of o values) and at most [`LINEAR_MAX_WORK`] products,
/// recorded as `AddmmBackward0` (`MmBackward0` without a bias), or `NULL`
/// (also for every shape error, which the R code reports).
///
/// # Safety
/// Called by R's `.Call` with valid `SEXP`s, on R's main thread.
#[no_mangle]
pub unsafe extern "C" fn fwdprop_tensor_linear(
    x: SEXP,
    weight: SEXP,
    bias: SEXP,
    state: SEXP,
) -> SEXP {
    if !is_tensor(x)
        || !is_tensor(weight)
        || (bias != R_NilValue && !is_tensor(bias))
        || TYPEOF(state) != SEXPTYPE::ENVSXP
    {
        return R_NilValue;
    }
    let (Some(tx), Some(tw), Some(enabled)) =
        (read_tensor(x), read_tensor(weight), recording(state))
    else {
        return R_NilValue;
    };
    let tb = if bias == R_NilValue {
        None
    } else {
        match read_tensor(bias) {
            Some(t) => Some(t),
            None => return R_NilValue,
        }
    };
    if tx.ndim != 2
        || tw.ndim != 2
        || tw.float != tx.float
        || tb
            .as_ref()
            .is_some_and(|b| b.float != tx.float || b.ndim != 1)
    {
        return R_NilValue;
    }
    let (Some(sx), Some(sw)) = (field(x, syms().shape), field(weight, syms().shape)) else {
        return R_NilValue;
    };
    let (sx, sw) = (ints(sx, 2), ints(sw, 2));
    let (n, i, o) = (sx[0] as usize, sx[1] as usize, sw[0] as usize);
    if sw[1] as usize != i || tb.as_ref().is_some_and(|b| b.len != o) {
        return R_NilValue;
    }
    match n.checked_mul(i).and_then(|v| v.checked_mul(o)) {
        Some(work) if work <= LINEAR_MAX_WORK => {}
        _ => return R_NilValue,
    }
    let float = tx.float;
    let out = Rf_protect(Rf_allocVector(SEXPTYPE::REALSXP, (n * o) as isize));
    let ok = {
        let xd = slice(tx.data, tx.len);
        let wd = slice(tw.data, tw.len);
        let bd = tb.as_ref().map(|b| slice(b.data, b.len));
        let od = slice_mut(out, n * o);
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            linear_values(xd, wd, bd, n, i, o, od, float)
        }))
        .is_ok()
    };
    if !ok {
        Rf_unprotect(1);
        return R_NilValue;
    }
    let shape = Rf_protect(Rf_allocVector(SEXPTYPE::INTSXP, 2));
    ints_mut(shape, 2).copy_from_slice(&[n as i32, o as i32]);
    let dtype = Rf_protect(dtype_string(float));
    let rb = tb.as_ref().map(|b| b.requires_grad);
    let record = enabled && (tx.requires_grad || tw.requires_grad || rb == Some(true));
    let info = [
        NODE_LINEAR,
        n as i32,
        i as i32,
        o as i32,
        tx.requires_grad as i32,
        tw.requires_grad as i32,
        rb.map_or(-1, |r| r as i32),
        float as i32,
    ];
    let name: &[u8] = if rb.is_some() {
        b"AddmmBackward0\0"
    } else {
        b"MmBackward0\0"
    };
    let inputs = [x, weight, bias];
    let inputs = if rb.is_some() {
        &inputs[..]
    } else {
        &inputs[..2]
    };
    let res = finish(
        state,
        out,
        shape,
        dtype,
        record,
        name,
        &info,
        &[tx.data, tw.data],
        inputs,
    );
    Rf_unprotect(3);
    res.unwrap_or(R_NilValue)
}

// Optimisers -------------------------------------------------------------------

/// `.Call(fwdprop_sgd_step, params, lr)`: plain SGD (`p <- p - lr * g`,
/// with `lr` and every result rounded to float32 for float tensors) of
/// the parameters in the list `params` that have a gradient, as
/// `plain_sgd_step()` in `R/optim.R`; `TRUE`, or `NULL` (having changed
/// nothing) when a parameter or gradient is not a float or double tensor
/// of the parameter's length.
///
/// # Safety
/// Called by R's `.Call` with valid `SEXP`s, on R's main thread.
#[no_mangle]
pub unsafe extern "C" fn fwdprop_sgd_step(params: SEXP, lr: SEXP) -> SEXP {
    if TYPEOF(params) != SEXPTYPE::VECSXP || !is_number(lr) {
        return R_NilValue;
    }
    let lr = *REAL(lr);
    let np = Rf_xlength(params);
    // check every parameter first
    for k in 0..np {
        let p = VECTOR_ELT(params, k);
        if !is_tensor(p) {
            return R_NilValue;
        }
        let (Some(tp), Some(g)) = (read_tensor(p), field(p, syms().grad)) else {
            return R_NilValue;
        };
        if g == R_NilValue {
            continue;
        }
        match if is_tensor(g) { read_tensor(g) } else { None } {
            Some(tg) if tg.len == tp.len => {}
            _ => return R_NilValue,
        }
    }
    let sym_data = syms().data;
    for k in 0..np {
        let p = VECTOR_ELT(params, k);
        let g = field(p, syms().grad).unwrap_or(R_NilValue);
        let (Some(tp), Some(tg)) = (
            read_tensor(p),
            if g == R_NilValue {
                None
            } else {
                read_tensor(g)
            },
        ) else {
            continue;
        };
        let v = Rf_protect(Rf_allocVector(SEXPTYPE::REALSXP, tp.len as isize));
        let (pd, gd, dst) = (
            slice(tp.data, tp.len),
            slice(tg.data, tg.len),
            slice_mut(v, tp.len),
        );
        let rate = round_if(lr, tp.float);
        for ((d, &a), &b) in dst.iter_mut().zip(pd).zip(gd) {
            *d = round_if(a - rate * b, tp.float);
        }
        Rf_defineVar(sym_data, v, p);
        Rf_unprotect(1);
    }
    Rf_ScalarLogical(1)
}

/// `.Call(fwdprop_zero_grads, params, set_to_none)`: `$zero_grad()` of an
/// optimiser: every gradient of the parameters in `params` set to zeros
/// (or removed); `TRUE`, or `NULL` (having changed nothing) when an element
/// is not a tensor or a gradient not a double vector.
///
/// # Safety
/// Called by R's `.Call` with valid `SEXP`s, on R's main thread.
#[no_mangle]
pub unsafe extern "C" fn fwdprop_zero_grads(params: SEXP, set_to_none: SEXP) -> SEXP {
    if TYPEOF(params) != SEXPTYPE::VECSXP
        || TYPEOF(set_to_none) != SEXPTYPE::LGLSXP
        || Rf_xlength(set_to_none) != 1
    {
        return R_NilValue;
    }
    let none = *LOGICAL(set_to_none) == 1;
    let np = Rf_xlength(params);
    for k in 0..np {
        let p = VECTOR_ELT(params, k);
        if !is_tensor(p) {
            return R_NilValue;
        }
        match field(p, syms().grad) {
            Some(g) if g == R_NilValue => {}
            Some(g)
                if is_tensor(g)
                    && field(g, syms().data).is_some_and(|d| TYPEOF(d) == SEXPTYPE::REALSXP) => {}
            _ => return R_NilValue,
        }
    }
    let (sym_grad, sym_data) = (syms().grad, syms().data);
    for k in 0..np {
        let p = VECTOR_ELT(params, k);
        let g = field(p, syms().grad).unwrap_or(R_NilValue);
        if g == R_NilValue {
            continue;
        }
        if none {
            Rf_defineVar(sym_grad, R_NilValue, p);
        } else {
            let len = field(g, syms().data).map_or(0, |d| Rf_xlength(d));
            let v = Rf_protect(Rf_allocVector(SEXPTYPE::REALSXP, len));
            slice_mut(v, usize::try_from(len).unwrap_or(0)).fill(0.0);
            Rf_defineVar(sym_data, v, g);
            Rf_unprotect(1);
        }
    }
    Rf_ScalarLogical(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The naive references: each value a dot product summed in order.
    fn dot(a: impl Iterator<Item = f64>, b: impl Iterator<Item = f64>) -> f64 {
        let mut s = 0.0;
        for (x, y) in a.zip(b) {
            s += x * y;
        }
        s
    }

    fn values(n: usize, seed: u64) -> Vec<f64> {
        // a small LCG: reproducible values of both signs and several scales
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5)
                    * 10f64.powi((state % 5) as i32 - 2)
            })
            .collect()
    }

    #[test]
    fn linear_layer_sums_each_value_in_order() {
        for &(n, i, o) in &[(1, 1, 1), (7, 5, 3), (13, 17, 9), (3, 0, 2), (0, 4, 4)] {
            let (x, w, b, g) = (
                values(n * i, 1),
                values(o * i, 2),
                values(o, 3),
                values(n * o, 4),
            );
            for float in [false, true] {
                let r = |v: f64| round_if(v, float);
                let mut out = vec![0.0; n * o];
                linear_values(&x, &w, Some(&b), n, i, o, &mut out, float);
                for a in 0..n {
                    for c in 0..o {
                        let want = r(r(dot(
                            x[a * i..(a + 1) * i].iter().copied(),
                            w[c * i..(c + 1) * i].iter().copied(),
                        )) + b[c]);
                        assert_eq!(
                            out[a * o + c].to_bits(),
                            want.to_bits(),
                            "forward {n}x{i}x{o} at ({a}, {c})"
                        );
                    }
                }
                let info = [
                    NODE_LINEAR,
                    n as i32,
                    i as i32,
                    o as i32,
                    1,
                    1,
                    1,
                    float as i32,
                ];
                let grads = linear_backward(&info, &x, &w, &g).expect("shapes match");
                let (gx, gw, gb) = (
                    grads[0].as_ref().unwrap(),
                    grads[1].as_ref().unwrap(),
                    grads[2].as_ref().unwrap(),
                );
                for a in 0..n {
                    for l in 0..i {
                        let want = r(dot(
                            (0..o).map(|c| g[a * o + c]),
                            (0..o).map(|c| w[c * i + l]),
                        ));
                        assert_eq!(gx[a * i + l].to_bits(), want.to_bits());
                    }
                }
                for c in 0..o {
                    for l in 0..i {
                        let want = r(dot(
                            (0..n).map(|a| x[a * i + l]),
                            (0..n).map(|a| g[a * o + c]),
                        ));
                        assert_eq!(gw[c * i + l].to_bits(), want.to_bits());
                    }
                    let want = r(dot((0..n).map(|a| g[a * o + c]), std::iter::repeat(1.0)));
                    assert_eq!(gb[c].to_bits(), want.to_bits());
                }
            }
        }
    }

    #[test]
    fn linear_layer_propagates_nan_and_checks_its_sizes() {
        let mut x = values(6, 5);
        x[4] = f64::NAN;
        let w = values(6, 6);
        let mut out = vec![0.0; 4];
        linear_values(&x, &w, None, 2, 3, 2, &mut out, false);
        assert!(out[0].is_finite() && out[1].is_finite());
        assert!(out[2].is_nan() && out[3].is_nan());
        // a gradient of the wrong length gives no gradients, not a panic
        let info = [NODE_LINEAR, 2, 3, 2, 1, 1, -1, 0];
        assert!(linear_backward(&info, &x, &w, &[1.0; 3]).is_none());
    }

    #[test]
    fn arithmetic_gradients_follow_the_r_code() {
        // x - y with y one value: the gradient of y is minus the sum of g
        let info = [NODE_ARITH, OP_SUB, 1, 1, 0];
        let (a, b, g) = ([1.0, 2.0, 3.0], [0.5], [0.25, 0.5, 1.0]);
        let out: Vec<f64> = a.iter().map(|v| v - 0.5).collect();
        let [ga, gb] = arith_backward(&info, &a, &b, &out, &g);
        assert_eq!(ga.unwrap(), g.to_vec());
        assert_eq!(gb.unwrap(), vec![-1.75]);
        // x^y: no gradient to the base where y is 0, none to the exponent
        // where x is 0 and y >= 0 (torch's masks)
        let info = [NODE_ARITH, OP_POW, 1, 1, 0];
        let (a, b) = ([0.0, 2.0], [0.0, 3.0]);
        let mut out = [0.0; 2];
        arith_values(OP_POW, &a, &b, &mut out, false);
        assert_eq!(out, [1.0, 8.0]);
        let [ga, gb] = arith_backward(&info, &a, &b, &out, &[1.0, 1.0]);
        assert_eq!(ga.unwrap(), vec![0.0, 12.0]);
        assert_eq!(gb.unwrap(), vec![0.0, 8.0 * 2f64.ln()]);
    }

    #[test]
    fn relu_of_nan_is_r_s_na_and_math_keeps_nan_payloads() {
        let mut out = [0.0; 3];
        unary_values(UN_RELU, &[-1.0, 2.0, f64::NAN], &mut out, false);
        assert_eq!(out[0], 0.0);
        assert_eq!(out[1], 2.0);
        assert!(out[2].is_nan());
        let na = na_real();
        let mut out = [0.0; 1];
        unary_values(UN_TANH, &[na], &mut out, false);
        assert_eq!(out[0].to_bits(), na.to_bits());
        assert!(r_log(-1.0).is_nan() && r_log(0.0) == f64::NEG_INFINITY);
    }
}
