//! R bindings for fwdprop: the only crate that knows about R.
//!
//! Every function here is internal (called from the R wrappers in `R/`,
//! which validate and coerce arguments first). Conversions between R
//! objects and ndarray views live in [`convert`]; the math lives in
//! `fwdprop-core`.

use extendr_api::prelude::*;

mod convert;

use convert::{alloc_real_matrix, alloc_real_vector, matrix_view, real_slice_mut};

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
    drop(view);
    Ok(std::mem::take(&mut out))
}

/// Elementwise logistic function of a double, integer or logical vector;
/// returns a plain double vector (the R wrapper copies attributes).
/// @keywords internal
/// @noRd
#[extendr]
fn sigmoid_impl(x: Robj) -> extendr_api::Result<Robj> {
    let mut out = alloc_real_vector(x.len());
    let dst = real_slice_mut(&mut out)?;
    if let Some(src) = x.as_real_slice() {
        fwdprop_core::activation::sigmoid_into(src, dst);
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

/// Integer and logical input: R's NA (`i32::MIN`) becomes `NA_real_`, as
/// `plogis()` gives; other values are converted to double exactly.
fn sigmoid_of_ints(src: impl Iterator<Item = i32>, dst: &mut [f64]) {
    let na = <f64 as CanBeNA>::na();
    for (d, s) in dst.iter_mut().zip(src) {
        *d = if s == i32::MIN { na } else { fwdprop_core::sigmoid(s as f64) };
    }
}

extendr_module! {
    mod fwdprop;
    fn mm_impl;
    fn sigmoid_impl;
}
