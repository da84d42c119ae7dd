//! Conversions between R objects and ndarray views (R memory as core
//! slices, results allocated by R), and the binding's error constructor.
//! The raw fast paths (`fast.rs`), the training state (`learn.rs`) and the
//! safetensors binding read R memory too, each through these helpers or
//! R's C API directly where a call must stay short.

use extendr_api::prelude::*;
use extendr_api::AsTypedSlice;
use extendr_ffi::SEXPTYPE;
use fwdprop_core::activation::Activation;
use fwdprop_core::network::{Layer, Network};
use ndarray::{ArrayView2, ArrayViewMut2, ShapeBuilder};

/// Zero-copy view of an R double matrix (column-major).
pub fn matrix_view<'a>(x: &'a Robj, arg: &str) -> extendr_api::Result<ArrayView2<'a, f64>> {
    if !x.is_matrix() {
        return Err(Error::Other(format!("`{arg}` must be a matrix")));
    }
    let data: &'a [f64] = x
        .as_real_slice()
        .ok_or_else(|| Error::Other(format!("`{arg}` must be a double matrix")))?;
    let (nrow, ncol) = (x.nrows(), x.ncols());
    ArrayView2::from_shape((nrow, ncol).f(), data).map_err(|e| Error::Other(format!("`{arg}`: {e}")))
}

/// Allocates an uninitialised R double matrix and a mutable column-major
/// view of its memory. The caller must write every element.
pub fn alloc_real_matrix(
    nrow: usize,
    ncol: usize,
) -> extendr_api::Result<(Robj, ArrayViewMut2<'static, f64>)> {
    let too_big = |n: usize| i32::try_from(n).is_err();
    if too_big(nrow) || too_big(ncol) {
        return Err(Error::Other(format!("a {nrow}x{ncol} result is too large for an R matrix")));
    }
    let mut out = Robj::alloc_matrix(SEXPTYPE::REALSXP, nrow as i32, ncol as i32);
    let slice = real_slice_mut(&mut out)?;
    advise_if_asked(slice);
    // SAFETY of the 'static lifetime: the slice points into `out`, which the
    // caller keeps alive (and protected) for as long as it uses the view.
    let slice: &'static mut [f64] = unsafe { std::slice::from_raw_parts_mut(slice.as_mut_ptr(), slice.len()) };
    let view = ArrayViewMut2::from_shape((nrow, ncol).f(), slice)
        .map_err(|e| Error::Other(format!("result matrix: {e}")))?;
    Ok((out, view))
}

/// Allocates an uninitialised R double vector of length `len`.
pub fn alloc_real_vector(len: usize) -> Robj {
    let mut out = Robj::alloc_vector(SEXPTYPE::REALSXP, len);
    if let Ok(slice) = real_slice_mut(&mut out) {
        advise_if_asked(slice);
    }
    out
}

/// Advises a large fresh result to use huge pages when the user asked for
/// them with `options(fwdprop.huge_pages = TRUE)` (off by default: on the
/// benchmark VM they made large results 20 ms or 200 ms by chance; see
/// `fwdprop_core::memory`). The option is read only for results of at
/// least 8 MiB, on the main thread (this runs inside `.Call`, before any
/// worker thread starts).
fn advise_if_asked(slice: &mut [f64]) {
    if std::mem::size_of_val(slice) >= fwdprop_core::memory::HUGE_PAGE_MIN_BYTES && huge_pages_option() {
        fwdprop_core::memory::advise_huge_pages(slice);
    }
}

/// `isTRUE(getOption("fwdprop.huge_pages"))`.
fn huge_pages_option() -> bool {
    extern "C" {
        fn Rf_GetOption1(tag: extendr_ffi::SEXP) -> extendr_ffi::SEXP;
    }
    // SAFETY: called on R's main thread during a `.Call`; the symbol is
    // never collected and the option's value is only read here, while
    // the options list keeps it alive.
    unsafe {
        let value = Rf_GetOption1(extendr_ffi::Rf_install(c"fwdprop.huge_pages".as_ptr()));
        extendr_ffi::TYPEOF(value) == SEXPTYPE::LGLSXP
            && extendr_ffi::Rf_xlength(value) == 1
            && *extendr_ffi::LOGICAL(value) == 1
    }
}

/// Mutable slice over an R double vector's memory.
pub fn real_slice_mut<'a>(x: &mut Robj) -> extendr_api::Result<&'a mut [f64]> {
    x.as_typed_slice_mut()
        .ok_or_else(|| Error::Other("internal: expected a double vector".to_string()))
}

/// A whole number >= 1 given as an R integer or double scalar (as R
/// passes counts), for sizes and thread counts.
pub fn scalar_count(x: &Robj, arg: &str) -> extendr_api::Result<usize> {
    let bad = || Error::Other(format!("`{arg}` must be a single whole number >= 1"));
    if let Some(i) = x.as_integer() {
        return usize::try_from(i).ok().filter(|&n| n >= 1).ok_or_else(bad);
    }
    match x.as_real() {
        Some(v) if v >= 1.0 && v <= i32::MAX as f64 && v.fract() == 0.0 => Ok(v as usize),
        _ => Err(bad()),
    }
}

/// The elements of an R list, borrowed without extendr's per-object
/// protection (a measurable cost per call for small inputs): they stay
/// alive because the list does, and the list is an argument of the
/// current `.Call`. `None` if `x` is not a list.
pub fn list_elements(x: &Robj) -> Option<Vec<std::mem::ManuallyDrop<Robj>>> {
    if x.rtype() != Rtype::List {
        return None;
    }
    // SAFETY: reading the SEXP of a live object.
    let sexp = unsafe { x.get() };
    Some(
        (0..x.len())
            .map(|i| {
                // SAFETY: `x` is a VECSXP and `i < length(x)`. `Robj` is
                // `repr(transparent)` over the SEXP; ManuallyDrop keeps
                // extendr from unprotecting an object it never protected,
                // and the borrow of `x` outlives every use of the element.
                unsafe {
                    let elt = extendr_ffi::VECTOR_ELT(sexp, i as extendr_ffi::R_xlen_t);
                    std::mem::ManuallyDrop::new(std::mem::transmute::<extendr_ffi::SEXP, Robj>(elt))
                }
            })
            .collect(),
    )
}

/// The parts of a network passed from R (`weights`, `biases` and
/// `activations` lists, validated by R's `check_network()`), borrowed for
/// the length of a `.Call`; [`NetworkParts::network`] makes the core's
/// view of them. Shapes are re-checked and reported as errors.
pub struct NetworkParts {
    weights: Vec<std::mem::ManuallyDrop<Robj>>,
    biases: Vec<std::mem::ManuallyDrop<Robj>>,
    names: Vec<String>,
}

impl NetworkParts {
    /// Reads the three lists (the elements stay alive with the lists, which
    /// are arguments of the current `.Call`).
    pub fn new(weights: &Robj, biases: &Robj, activations: &Robj) -> extendr_api::Result<Self> {
        let other = |m: String| Error::Other(m);
        let weights = list_elements(weights)
            .ok_or_else(|| other(format!("`weights` must be a list of matrices, not {:?}", weights.rtype())))?;
        let biases =
            list_elements(biases).ok_or_else(|| other(format!("`biases` must be a list, not {:?}", biases.rtype())))?;
        let names: Vec<String> = activations
            .as_str_vector()
            .ok_or_else(|| other(format!("`activations` must be a character vector, not {:?}", activations.rtype())))?
            .into_iter()
            .map(str::to_string)
            .collect();
        if weights.is_empty() {
            return Err(other("`weights` must hold at least one matrix".to_string()));
        }
        if biases.len() != weights.len() || names.len() != weights.len() {
            return Err(other(format!(
                "`weights`, `biases` and `activations` must have the same length, not {}, {} and {}",
                weights.len(),
                biases.len(),
                names.len()
            )));
        }
        Ok(NetworkParts { weights, biases, names })
    }

    /// The activations.
    pub fn activations(&self) -> extendr_api::Result<Vec<Activation>> {
        self.names
            .iter()
            .enumerate()
            .map(|(l, name)| {
                Activation::from_name(name).ok_or_else(|| {
                    let known: Vec<String> = Activation::ALL.iter().map(|a| format!("\"{}\"", a.name())).collect();
                    Error::Other(format!(
                        "`activations[{}]` must be one of {}, not \"{}\"",
                        l + 1,
                        known.join(", "),
                        name
                    ))
                })
            })
            .collect()
    }

    /// The core's network, viewing R's memory.
    pub fn network(&self) -> extendr_api::Result<Network<'_>> {
        let activations = self.activations()?;
        let mut layers = Vec::with_capacity(self.weights.len());
        for (l, ((w, b), activation)) in self.weights.iter().zip(&self.biases).zip(activations).enumerate() {
            let weights = matrix_view(w, "weights").map_err(|_| {
                Error::Other(format!("`weights[[{}]]` must be a double matrix, not {:?}", l + 1, w.rtype()))
            })?;
            let bias = if b.is_null() {
                None
            } else {
                Some(b.as_real_slice().ok_or_else(|| {
                    Error::Other(format!("`biases[[{}]]` must be NULL or a double vector, not {:?}", l + 1, b.rtype()))
                })?)
            };
            layers.push(Layer { weights, bias, activation });
        }
        Network::new(layers).map_err(|e| Error::Other(format!("inconsistent network: {e}")))
    }
}

/// Integer and logical input: R's NA (`i32::MIN`) becomes `NA_real_`, as
/// `plogis()` gives; other values are converted to double exactly, then
/// go through the same sigmoid as double input.
pub(crate) fn sigmoid_of_ints(src: impl Iterator<Item = i32>, dst: &mut [f64]) {
    let na = <f64 as CanBeNA>::na();
    for (d, s) in dst.iter_mut().zip(src) {
        *d = if s == i32::MIN { na } else { s as f64 };
    }
    fwdprop_core::sigmoid_in_place(dst);
}

/// An error for R with `msg` as its message.
pub(crate) fn other(msg: String) -> Error {
    Error::Other(msg)
}

pub(crate) fn string_arg(x: &Robj, arg: &str) -> extendr_api::Result<String> {
    x.as_str()
        .map(str::to_string)
        .ok_or_else(|| other(format!("`{arg}` must be a single string")))
}

pub(crate) fn error_list(message: String) -> extendr_api::Result<Robj> {
    Ok(List::from_names_and_values(["error"], [Robj::from(message)])?.into())
}
