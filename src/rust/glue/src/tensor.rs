//! The one Rust helper of the torch-style tensors (`R/tensor.R`): rounding
//! doubles to the nearest float32, so a `torch_float()` tensor holds exactly
//! the values a float32 tensor holds. The tensors keep their values in R
//! double vectors; after every operation on a float32 tensor the result
//! goes through [`fwdprop_round_f32`]. For `+ - * /` and `sqrt` the double
//! result rounded to float32 is the correctly rounded float32 result (a
//! double carries more than twice float32's 24 bits), so these match
//! PyTorch's float32 arithmetic bit for bit.
//!
//! A raw `.Call` entry point (no extendr conversion), since it runs once per
//! tensor operation and its cost is that of the operation itself.

use extendr_ffi::{Rf_allocVector, Rf_protect, Rf_unprotect, Rf_xlength, LOGICAL, R_NilValue, REAL, SEXP, SEXPTYPE, TYPEOF};

/// `.Call(fwdprop_round_f32, x)`: a new double vector (no attributes) with
/// every element of the double vector `x` rounded to the nearest float32
/// (ties to even; NaN stays NaN, values beyond float32's range become
/// `Inf`). Returns `NULL` when `x` is not a double vector (the R caller
/// passes doubles only).
///
/// # Safety
/// Called by R's `.Call` with a valid `SEXP`, on R's main thread.
#[no_mangle]
pub unsafe extern "C" fn fwdprop_round_f32(x: SEXP) -> SEXP {
    if TYPEOF(x) != SEXPTYPE::REALSXP {
        return R_NilValue;
    }
    let n = Rf_xlength(x);
    let out = Rf_protect(Rf_allocVector(SEXPTYPE::REALSXP, n));
    let len = usize::try_from(n).unwrap_or(0);
    if len > 0 {
        // SAFETY: both vectors are REALSXP of length `len`; `out` is fresh,
        // so the two never overlap.
        let src = std::slice::from_raw_parts(REAL(x), len);
        let dst = std::slice::from_raw_parts_mut(REAL(out), len);
        round_f32_into(src, dst);
    }
    Rf_unprotect(1);
    out
}

/// `dst[i] = src[i]` rounded to float32 and back.
pub fn round_f32_into(src: &[f64], dst: &mut [f64]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = f64::from(s as f32);
    }
}

#[cfg(test)]
mod tests {
    use super::round_f32_into;

    #[test]
    fn rounds_to_nearest_float32() {
        let src = [0.1, 1.0 / 3.0, -2.5, 16_777_217.0, 1e39, f64::NAN, 0.0];
        let mut dst = [0.0; 7];
        round_f32_into(&src, &mut dst);
        assert_eq!(dst[0], 0.100_000_001_490_116_12);
        assert_eq!(dst[1], 0.333_333_343_267_440_8);
        assert_eq!(dst[2], -2.5);
        // ties go to even: 2^24 + 1 lies halfway between 2^24 and 2^24 + 2
        assert_eq!(dst[3], 16_777_216.0);
        assert!(dst[4].is_infinite());
        assert!(dst[5].is_nan());
        assert_eq!(dst[6], 0.0);
    }
}

/// `.Call(fwdprop_sum_torch, x, float32)`: the sum of the double vector
/// `x` as PyTorch's CPU kernel adds it (its `cascade_sum`, AVX2 build),
/// in float32 when `float32` is `TRUE` (the values must already be
/// float32 values) and in float64 otherwise; so the sum of a float32
/// tensor is the float32 value PyTorch gives, not the exactly rounded one.
/// Returns `NULL` for arguments of other types.
///
/// # Safety
/// Called by R's `.Call` with valid `SEXP`s, on R's main thread.
#[no_mangle]
pub unsafe extern "C" fn fwdprop_sum_torch(x: SEXP, float32: SEXP) -> SEXP {
    if TYPEOF(x) != SEXPTYPE::REALSXP || TYPEOF(float32) != SEXPTYPE::LGLSXP || Rf_xlength(float32) != 1 {
        return R_NilValue;
    }
    let len = usize::try_from(Rf_xlength(x)).unwrap_or(0);
    // SAFETY: `x` is a REALSXP of length `len`.
    let src: &[f64] = if len == 0 { &[] } else { std::slice::from_raw_parts(REAL(x), len) };
    let value = if *LOGICAL(float32) != 0 {
        let v: Vec<f32> = src.iter().map(|&a| a as f32).collect();
        f64::from(torch_sum_f32(&v))
    } else {
        torch_sum_f64(src)
    };
    let out = Rf_protect(Rf_allocVector(SEXPTYPE::REALSXP, 1));
    *REAL(out) = value;
    Rf_unprotect(1);
    out
}

// PyTorch's sum of a contiguous row (aten/src/ATen/native/cpu/SumKernel.cpp):
// rows of at least one vector (8 float32 or 4 float64 lanes with AVX2) are
// summed as vectors, four interleaved accumulators (`row_sum`), each a
// cascade of four levels (`multi_row_sum`); the leftover scalars, then the
// lanes, are added to a scalar that starts at 0. Shorter rows take the same
// scheme on scalars.
macro_rules! torch_sum_impl {
    ($name:ident, $multi:ident, $row:ident, $t:ty, $lanes:expr) => {
        /// PyTorch's CPU sum of `x` (see the comment above).
        pub fn $name(x: &[$t]) -> $t {
            const W: usize = $lanes;
            let n = x.len();
            if n < W {
                let rows: Vec<[$t; 1]> = x.iter().map(|&v| [v]).collect();
                return $row(&rows)[0];
            }
            let nvec = n / W;
            let vecs: Vec<[$t; W]> = (0..nvec)
                .map(|i| {
                    let mut v = [0 as $t; W];
                    v.copy_from_slice(&x[i * W..(i + 1) * W]);
                    v
                })
                .collect();
            let acc = $row(&vecs);
            let mut total: $t = 0.0;
            for &v in &x[nvec * W..] {
                total += v;
            }
            for &lane in acc.iter() {
                total += lane;
            }
            total
        }

        /// `row_sum`: four interleaved accumulators over the elements
        /// (vectors, added lane by lane), the leftovers into the first.
        fn $row<const L: usize>(elems: &[[$t; L]]) -> [$t; L] {
            let size_ilp = elems.len() / 4;
            let mut partial = $multi(elems, size_ilp);
            for e in &elems[size_ilp * 4..] {
                for l in 0..L {
                    partial[0][l] += e[l];
                }
            }
            let mut out = partial[0];
            for p in &partial[1..] {
                for l in 0..L {
                    out[l] += p[l];
                }
            }
            out
        }

        /// `multi_row_sum` with 4 rows of `elems` (row r holds elements
        /// 4r..4r+3): a cascade of 4 levels of accumulators.
        fn $multi<const L: usize>(elems: &[[$t; L]], size: usize) -> [[$t; L]; 4] {
            const LEVELS: usize = 4;
            let ceil_log2 = if size <= 1 { 0 } else { usize::BITS - (size - 1).leading_zeros() } as usize;
            let level_power = std::cmp::max(4, ceil_log2 / LEVELS);
            let level_step = 1usize << level_power;
            let level_mask = level_step - 1;
            let mut acc = [[[0 as $t; L]; 4]; LEVELS];
            let add_row = |acc: &mut [[[$t; L]; 4]; LEVELS], i: usize| {
                for k in 0..4 {
                    for l in 0..L {
                        acc[0][k][l] += elems[i * 4 + k][l];
                    }
                }
            };
            let mut i = 0;
            while i + level_step <= size {
                for _ in 0..level_step {
                    add_row(&mut acc, i);
                    i += 1;
                }
                for j in 1..LEVELS {
                    for k in 0..4 {
                        for l in 0..L {
                            acc[j][k][l] += acc[j - 1][k][l];
                            acc[j - 1][k][l] = 0.0;
                        }
                    }
                    let mask = level_mask << (j * level_power);
                    if i & mask != 0 {
                        break;
                    }
                }
            }
            while i < size {
                add_row(&mut acc, i);
                i += 1;
            }
            let mut out = acc[0];
            for level in &acc[1..] {
                for k in 0..4 {
                    for l in 0..L {
                        out[k][l] += level[k][l];
                    }
                }
            }
            out
        }
    };
}

torch_sum_impl!(torch_sum_f32, multi_row_sum_f32, row_sum_f32, f32, 8);
torch_sum_impl!(torch_sum_f64, multi_row_sum_f64, row_sum_f64, f64, 4);
