//! The products of the forward and backward passes, for finite operands:
//! [`product_into`] picks, by shape, a matrix-vector loop
//! ([`matvec_into`], R's summation order), the same loop column by column
//! for tiny products, or [`crate::gemm`]'s kernel; [`add_bias`] adds a
//! bias with R's NaN rule ([`crate::nan`]); [`col_major`] and
//! [`col_major_ref`] view the scratch buffers the passes keep their
//! matrices in. (Products that must follow base R's `%*%` to the bit, NaN
//! operands included, are in [`crate::matmul`].)

use ndarray::{ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis, ShapeBuilder, Zip};

use crate::gemm::{gemm_packed_into, gemm_prepacked_into, GemmWork, PackedB};
use crate::nan::add_nan_first;

/// Column-major `rows x cols` view of the start of `buf`.
pub(crate) fn col_major(buf: &mut [f64], rows: usize, cols: usize) -> ArrayViewMut2<'_, f64> {
    match ArrayViewMut2::from_shape((rows, cols).f(), &mut buf[..rows * cols]) {
        Ok(v) => v,
        Err(e) => unreachable!("scratch buffer too small: {e}"),
    }
}

/// Column-major `rows x cols` read-only view of the start of `buf`.
pub(crate) fn col_major_ref(buf: &[f64], rows: usize, cols: usize) -> ArrayView2<'_, f64> {
    match ArrayView2::from_shape((rows, cols).f(), &buf[..rows * cols]) {
        Ok(v) => v,
        Err(e) => unreachable!("scratch buffer too small: {e}"),
    }
}

/// `out = a %*% w` by the fastest way for the shape, for finite inputs
/// (non-finite ones give non-finite results in the same rows and columns,
/// see `crate::forward`'s `layer_into`, but not R's NA versus NaN).
pub(crate) fn product_into(
    a: ArrayView2<f64>,
    w: ArrayView2<f64>,
    packed: Option<&PackedB>,
    small: bool,
    out: ArrayViewMut2<f64>,
    gemm: &mut GemmWork,
) {
    if a.ncols() == 0 {
        let mut out = out;
        out.fill(0.0);
    } else if w.ncols() == 1 {
        // a matrix-vector product: GEMM would pad the single column to a
        // whole micro-kernel; this is R's summation order too
        matvec_into(a, w.column(0), out.index_axis_move(Axis(1), 0));
    } else if small {
        // tiny products (the lecture's 3x2 by 2x3; `small` says whether
        // the whole call's product, all rows, is at most SMALL_PRODUCT):
        // GEMM's packing costs more than the arithmetic
        let mut out = out;
        for (o, wc) in out.axis_iter_mut(Axis(1)).zip(w.axis_iter(Axis(1))) {
            matvec_into(a, wc, o);
        }
    } else {
        match packed {
            Some(p) => gemm_prepacked_into(a, p, out, gemm),
            None => gemm_packed_into(a, w, out, gemm),
        }
    }
}

/// Largest product (rows of the whole call x inner x columns
/// multiply-adds) computed column by column with [`matvec_into`] instead of
/// GEMM.
pub(crate) const SMALL_PRODUCT: usize = 4096;

/// `out = a %*% w` for a vector `w`, summing over columns in order
/// (`0 + a[i,0] w[0] + a[i,1] w[1] + ...`, as R's plain loop) with every
/// column a vectorised pass. For finite inputs only (NaN payloads aside it
/// is the same arithmetic).
pub(crate) fn matvec_into(a: ArrayView2<f64>, w: ArrayView1<f64>, mut out: ArrayViewMut1<f64>) {
    out.fill(0.0);
    for (col, &wj) in a.axis_iter(Axis(1)).zip(w.iter()) {
        match (out.as_slice_mut(), col.as_slice()) {
            (Some(o), Some(c)) => axpy(o, c, wj),
            _ => Zip::from(&mut out).and(&col).for_each(|o, &v| *o += v * wj),
        }
    }
}

/// `o += c * w`, element by element (a multiplication, then an addition:
/// never fused, so the result is the same on every CPU), 4 values at a
/// time with AVX where the CPU has it (the package is compiled for the
/// baseline x86-64, whose vectors hold 2).
fn axpy(o: &mut [f64], c: &[f64], w: f64) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU has AVX (checked just above).
            unsafe { axpy_avx(o, c, w) };
            return;
        }
    }
    o.iter_mut().zip(c).for_each(|(o, &v)| *o += v * w);
}

/// [`axpy`] compiled for AVX (the same operations on wider vectors).
///
/// # Safety
/// The CPU must support AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn axpy_avx(o: &mut [f64], c: &[f64], w: f64) {
    o.iter_mut().zip(c).for_each(|(o, &v)| *o += v * w);
}

/// Adds `bias[j]` to column `j` (R's `sweep(z, 2, b, "+")`).
pub(crate) fn add_bias(mut z: ArrayViewMut2<f64>, bias: &[f64]) {
    for (mut col, &bj) in z.axis_iter_mut(Axis(1)).zip(bias) {
        match col.as_slice_mut() {
            Some(c) => c.iter_mut().for_each(|v| *v = add_nan_first(*v, bj)),
            None => col.iter_mut().for_each(|v| *v = add_nan_first(*v, bj)),
        }
    }
}
