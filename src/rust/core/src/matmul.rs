//! Matrix products.
//!
//! [`matmul_into`] follows the rule base R's `%*%` uses (R's default
//! `options(matprod = "default")`): when either operand may hold a
//! non-finite value (NA, NaN, Inf; the test is R's own `mayHaveNaNOrInf`)
//! it runs the plain triple loop, in R's summation order and with R's
//! NaN-propagation order, so the result is bit-identical to base R's, NA
//! versus NaN included; otherwise it runs a cache-blocked GEMM
//! (matrixmultiply), which agrees with base R up to rounding.

use ndarray::{ArrayView2, ArrayViewMut2};

use crate::nan::{add_nan_first, mul_nan_first};

/// R's `mayHaveNaNOrInf()` (src/main/array.c): true when some element is
/// NaN or infinite, and also (a deliberate false positive, kept so that the
/// same inputs take the same path as in R) when the sum of a pair of
/// adjacent elements overflows.
pub fn has_non_finite(a: &ArrayView2<f64>) -> bool {
    match a.as_slice_memory_order() {
        Some(s) => slice_may_have_nan_or_inf(s),
        None => slice_may_have_nan_or_inf(&a.iter().copied().collect::<Vec<_>>()),
    }
}

fn slice_may_have_nan_or_inf(x: &[f64]) -> bool {
    let n = x.len();
    if n % 2 == 1 && !x[0].is_finite() {
        return true;
    }
    x[n % 2..].chunks_exact(2).any(|p| !(p[0] + p[1]).is_finite())
}

/// `out = a %*% b`.
///
/// `out` may be uninitialised memory (e.g. a fresh R matrix): every element
/// is written.
///
/// # Panics
/// When the shapes do not chain (`a.ncols() != b.nrows()`) or `out` has the
/// wrong shape. Callers check shapes first; the R wrapper reports them as
/// an R error naming the arguments.
pub fn matmul_into(a: ArrayView2<f64>, b: ArrayView2<f64>, mut out: ArrayViewMut2<f64>) {
    if empty_product("matmul", a.dim(), b.dim(), &mut out) {
        return;
    }
    let (m, k) = a.dim();
    let n = b.ncols();
    // tiny products (the lecture's): the plain loop, faster than setting up
    // the blocked GEMM, and R's own summation order
    if m.saturating_mul(k).saturating_mul(n) <= SMALL_MATMUL
        || has_non_finite(&a)
        || has_non_finite(&b)
    {
        simple_matmul_into(a, b, out);
        return;
    }
    gemm_into(a, b, out);
}

/// Largest product (rows x inner x columns multiply-adds) that
/// [`matmul_into`] computes with the plain loop whatever the values.
pub const SMALL_MATMUL: usize = 4096;

/// `out = a %*% b` by the cache-blocked GEMM (matrixmultiply, on the
/// calling thread), whatever the values: no check for non-finite values
/// (callers that need R's NaN rules use [`matmul_into`]).
///
/// # Panics
/// When the shapes do not chain or `out` has the wrong shape.
pub fn gemm_into(a: ArrayView2<f64>, b: ArrayView2<f64>, mut out: ArrayViewMut2<f64>) {
    if empty_product("matmul", a.dim(), b.dim(), &mut out) {
        return;
    }
    // SAFETY: the shapes were checked above; with beta = 0 matrixmultiply
    // does not read `out` before writing it.
    unsafe { dgemm(a, b, out, 0.0) };
}

/// matrixmultiply's `out = a %*% b + beta * out` on views whose shapes
/// chain and are not empty.
///
/// # Safety
/// The shapes must have been checked (the strides come from valid views,
/// so every index matrixmultiply forms is then in bounds); with `beta != 0`
/// `out` must be initialised.
unsafe fn dgemm(a: ArrayView2<f64>, b: ArrayView2<f64>, mut out: ArrayViewMut2<f64>, beta: f64) {
    let (m, k) = a.dim();
    let n = b.ncols();
    matrixmultiply::dgemm(
        m,
        k,
        n,
        1.0,
        a.as_ptr(),
        a.strides()[0],
        a.strides()[1],
        b.as_ptr(),
        b.strides()[0],
        b.strides()[1],
        beta,
        out.as_mut_ptr(),
        out.strides()[0],
        out.strides()[1],
    );
}

/// The naive product in base R's order (`simple_matprod` in R's
/// `src/main/array.c`): for each output element, `sum = 0`, then
/// `sum += a[i, j] * b[j, k]` for `j` ascending, in double precision. When
/// NaNs meet, the left operand's wins (the running sum over the product,
/// `a` over `b`), as in R, so NA + NaN stays NA and NaN + NA stays NaN.
pub fn simple_matmul_into(a: ArrayView2<f64>, b: ArrayView2<f64>, mut out: ArrayViewMut2<f64>) {
    if empty_product("matmul", a.dim(), b.dim(), &mut out) {
        return;
    }
    let (m, k) = a.dim();
    let n = b.ncols();
    for i in 0..m {
        for c in 0..n {
            let mut sum = 0.0;
            for j in 0..k {
                sum = add_nan_first(sum, mul_nan_first(a[[i, j]], b[[j, c]]));
            }
            out[[i, c]] = sum;
        }
    }
}

/// The start every product shares: checks that an `m x k` matrix times a
/// `k x n` one fits `out` (panicking, named after `who`, when not: callers
/// check shapes first) and finishes an empty product (nothing to write, or
/// zeros when `k` is 0). Returns `true` when nothing is left to compute.
pub(crate) fn empty_product(
    who: &str,
    (m, k): (usize, usize),
    (k2, n): (usize, usize),
    out: &mut ArrayViewMut2<f64>,
) -> bool {
    assert_eq!(k, k2, "{who}: cannot multiply {m}x{k} by {k2}x{n}");
    assert_eq!(out.dim(), (m, n), "{who}: output has the wrong shape");
    if m == 0 || n == 0 {
        return true;
    }
    if k == 0 {
        out.fill(0.0);
        return true;
    }
    false
}

/// [`empty_product`] for `out += a %*% b`: checks the shapes and says
/// whether there is nothing to add (an empty output or a zero inner
/// dimension, whose product is all zeros).
pub(crate) fn empty_product_add(who: &str, (m, k): (usize, usize), (k2, n): (usize, usize), out: &ArrayViewMut2<f64>) -> bool {
    assert_eq!(k, k2, "{who}: cannot multiply {m}x{k} by {k2}x{n}");
    assert_eq!(out.dim(), (m, n), "{who}: output has the wrong shape");
    m == 0 || n == 0 || k == 0
}

/// `out += a %*% b` by matrixmultiply (beta = 1), whatever the values.
///
/// # Panics
/// When the shapes do not chain or `out` has the wrong shape.
pub fn gemm_add_into(a: ArrayView2<f64>, b: ArrayView2<f64>, out: ArrayViewMut2<f64>) {
    if empty_product_add("matmul", a.dim(), b.dim(), &out) {
        return;
    }
    // SAFETY: the shapes were checked above; `out` is a view of
    // initialised memory.
    unsafe { dgemm(a, b, out, 1.0) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{naive, random};
    use ndarray::{Array2, ShapeBuilder};

    fn product(a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
        // start from garbage to prove every element is written
        let mut out = Array2::from_elem((a.nrows(), b.ncols()).f(), 12345.0);
        matmul_into(a.view(), b.view(), out.view_mut());
        out
    }

    fn assert_close(got: &Array2<f64>, want: &Array2<f64>, k: usize) {
        assert_eq!(got.dim(), want.dim());
        for (g, w) in got.iter().zip(want.iter()) {
            // rounding error of a length-k dot product of values in [-1, 1]
            let tol = 4.0 * f64::EPSILON * (k as f64) * w.abs().max(1.0);
            assert!((g - w).abs() <= tol, "got {g}, want {w}");
        }
    }

    #[test]
    fn odd_sizes_match_naive() {
        for &(m, k, n) in &[(1, 1, 1), (3, 2, 3), (63, 65, 67), (17, 1, 5), (1, 200, 1), (130, 7, 129)] {
            for &cm in &[true, false] {
                let a = random(m, k, 1 + m as u64, cm);
                let b = random(k, n, 2 + n as u64, !cm);
                assert_close(&product(&a, &b), &naive(&a, &b), k);
            }
        }
    }

    #[test]
    fn small_products_sum_in_rs_order_bit_for_bit() {
        // up to SMALL_MATMUL multiply-adds: the plain loop, so exactly the
        // naive ascending sum (R's reference BLAS order)
        for &(m, k, n) in &[(3, 2, 3), (3, 2, 1), (16, 16, 16), (1, 4096, 1), (7, 9, 11)] {
            assert!(m * k * n <= SMALL_MATMUL);
            let a = random(m, k, 5 + m as u64, true);
            let b = random(k, n, 6 + n as u64, false);
            assert_eq!(product(&a, &b), naive(&a, &b), "{m}x{k}x{n}");
        }
        // just past it: the blocked GEMM, within rounding
        let a = random(17, 16, 7, true);
        let b = random(16, 16, 8, true);
        assert_close(&product(&a, &b), &naive(&a, &b), 16);
    }

    #[test]
    fn integer_valued_inputs_are_exact() {
        let a = Array2::from_shape_fn((31, 17).f(), |(i, j)| ((i * 7 + j * 3) % 11) as f64 - 5.0);
        let b = Array2::from_shape_fn((17, 23).f(), |(i, j)| ((i * 5 + j) % 13) as f64 - 6.0);
        assert_eq!(product(&a, &b), naive(&a, &b));
    }

    #[test]
    fn zero_extents() {
        let a = Array2::<f64>::zeros((0, 4).f());
        let b = random(4, 3, 9, true);
        assert_eq!(product(&a, &b).dim(), (0, 3));
        let a = random(5, 4, 9, true);
        let b = Array2::<f64>::zeros((4, 0).f());
        assert_eq!(product(&a, &b).dim(), (5, 0));
        // inner extent 0: a 3x0 times 0x2 is a 3x2 matrix of zeros, as in R
        let a = Array2::<f64>::zeros((3, 0).f());
        let b = Array2::<f64>::zeros((0, 2).f());
        assert_eq!(product(&a, &b), Array2::<f64>::zeros((3, 2)));
    }

    #[test]
    fn nan_and_inf_propagate_like_r() {
        let r_na = f64::from_bits(0x7FF0_0000_0000_07A2);
        let mut a = random(6, 5, 3, true);
        let b = random(5, 4, 4, true);
        a[(2, 1)] = f64::NAN;
        a[(4, 3)] = r_na;
        let got = product(&a, &b);
        let want = naive(&a, &b);
        for i in 0..6 {
            for j in 0..4 {
                let expect_nan = i == 2 || i == 4;
                assert_eq!(got[(i, j)].is_nan(), expect_nan, "({i},{j})");
                // bit-identical to the naive loop, so NA stays NA
                assert_eq!(got[(i, j)].to_bits(), want[(i, j)].to_bits());
            }
        }
        // arithmetic quiets R's NA but keeps its low word (1954), which is
        // what R's is.na() tests for NA as opposed to NaN
        assert_eq!(got[(4, 0)].to_bits() & 0xFFFF_FFFF, 1954);
        // Inf times 0 is NaN; Inf plus finite stays Inf
        let a = Array2::from_shape_vec((1, 2).f(), vec![f64::INFINITY, 1.0]).unwrap();
        let b = Array2::from_shape_vec((2, 2).f(), vec![0.0, 1.0, 1.0, 1.0]).unwrap();
        let got = product(&a, &b);
        assert!(got[(0, 0)].is_nan());
        assert_eq!(got[(0, 1)], f64::INFINITY);
    }

    #[test]
    fn na_and_nan_meet_as_in_r() {
        // R 4.x on x86-64: NA %*% NaN is NA, NaN %*% NA is NaN; in a sum the
        // earlier term's NaN wins.
        let r_na = f64::from_bits(0x7FF0_0000_0000_07A2);
        let is_r_na = |v: f64| v.is_nan() && v.to_bits() & 0xFFFF_FFFF == 1954;
        let one = |v: f64| Array2::from_elem((1, 1), v);
        assert!(is_r_na(product(&one(r_na), &one(f64::NAN))[(0, 0)]));
        assert!(!is_r_na(product(&one(f64::NAN), &one(r_na))[(0, 0)]));
        let row = |a: f64, b: f64| Array2::from_shape_vec((1, 2), vec![a, b]).unwrap();
        let col = |a: f64, b: f64| Array2::from_shape_vec((2, 1), vec![a, b]).unwrap();
        assert!(is_r_na(product(&row(r_na, 1.0), &col(1.0, f64::NAN))[(0, 0)]));
        assert!(!is_r_na(product(&row(f64::NAN, 1.0), &col(1.0, r_na))[(0, 0)]));
        assert!(is_r_na(product(&row(1.0, f64::NAN), &col(r_na, 1.0))[(0, 0)]));
    }

    #[test]
    fn overflowing_pairs_take_rs_simple_path() {
        // R's mayHaveNaNOrInf flags 1e308 + 1e308 (overflow), so R uses the
        // simple loop there; so do we.
        let a = Array2::from_shape_vec((1, 2), vec![1e308, 1e308]).unwrap();
        assert!(has_non_finite(&a.view()));
        let a = Array2::from_shape_vec((1, 3), vec![1.0, 1e308, -1e308]).unwrap();
        assert!(!has_non_finite(&a.view()));
        let a = Array2::from_shape_vec((1, 3), vec![f64::INFINITY, 1.0, 2.0]).unwrap();
        assert!(has_non_finite(&a.view()));
    }

    #[test]
    fn non_finite_path_matches_r_summation_order() {
        // With a non-finite value present, the whole product takes the
        // simple loop, so even finite entries equal the sequential sum.
        let mut a = random(9, 40, 5, true);
        let b = random(40, 7, 6, true);
        a[(0, 0)] = f64::INFINITY;
        assert_eq!(
            product(&a, &b).mapv(f64::to_bits),
            naive(&a, &b).mapv(f64::to_bits)
        );
    }

    #[test]
    #[should_panic(expected = "cannot multiply 3x2 by 3x1")]
    fn mismatched_shapes_panic_with_shapes() {
        let a = Array2::<f64>::zeros((3, 2));
        let b = Array2::<f64>::zeros((3, 1));
        let mut out = Array2::<f64>::zeros((3, 1));
        matmul_into(a.view(), b.view(), out.view_mut());
    }
}
