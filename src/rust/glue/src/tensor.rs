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

use extendr_ffi::{Rf_allocVector, Rf_protect, Rf_unprotect, Rf_xlength, R_NilValue, REAL, SEXP, SEXPTYPE, TYPEOF};

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
