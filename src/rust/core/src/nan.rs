//! R's rules for NaN and NA in arithmetic, written once for every module
//! that needs them.
//!
//! On x86-64, R's compiled loops meet two NaN operands in the order the
//! hardware does: the first operand's NaN wins, and the result is the
//! quiet version of it (payload kept, so R's NA stays NA and NaN stays
//! NaN). [`add_nan_first`] and [`mul_nan_first`] reproduce that for any
//! CPU; [`quiet`] quiets a NaN; [`is_r_na`] tells R's NA from other NaNs;
//! [`view_has_non_finite`] finds NaN or infinity in a view.

use ndarray::{ArrayView2, Axis};

const QUIET_BIT: u64 = 0x0008_0000_0000_0000;

/// The quiet version of a NaN (payload kept, so R's NA stays NA).
#[inline]
pub(crate) fn quiet(x: f64) -> f64 {
    f64::from_bits(x.to_bits() | QUIET_BIT)
}

/// `z + b` where, as in R on x86-64, a NaN `z` wins over a NaN `b` (and
/// the NaN is quieted). The sum is computed first and the NaN cases
/// looked at only when it is NaN, so the loops that call it vectorise.
#[inline]
pub(crate) fn add_nan_first(z: f64, b: f64) -> f64 {
    let s = z + b;
    if !s.is_nan() {
        s
    } else if z.is_nan() {
        quiet(z)
    } else if b.is_nan() {
        quiet(b)
    } else {
        s
    }
}

/// `a * b` with the same NaN rule as [`add_nan_first`]: a NaN `a` wins
/// over a NaN `b`, and the NaN is quieted (R's NA keeps its payload).
#[inline]
pub(crate) fn mul_nan_first(a: f64, b: f64) -> f64 {
    if a.is_nan() {
        quiet(a)
    } else if b.is_nan() {
        quiet(b)
    } else {
        a * b
    }
}

/// R's NA (a NaN whose low word is 1954).
#[inline]
pub(crate) fn is_r_na(x: f64) -> bool {
    x.is_nan() && (x.to_bits() & 0xFFFF_FFFF) == 1954
}

/// Does `a` hold a NaN or an infinity? (Branch-free, so it vectorises.)
pub(crate) fn view_has_non_finite(a: &ArrayView2<f64>) -> bool {
    fn slice(s: &[f64]) -> bool {
        s.iter().fold(false, |acc, v| acc | !v.is_finite())
    }
    if let Some(s) = a.as_slice_memory_order() {
        return slice(s);
    }
    a.axis_iter(Axis(1)).any(|c| match c.as_slice() {
        Some(s) => slice(s),
        None => c.iter().any(|v| !v.is_finite()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_nan_first_is_the_first_nan_quieted_else_the_sum() {
        let na = f64::from_bits(0x7FF0_0000_0000_07A2);
        let nan = f64::NAN;
        let vals = [0.0, -0.0, 1.5, -2.25, f64::INFINITY, f64::NEG_INFINITY, f64::MAX, na, nan];
        for &a in &vals {
            for &b in &vals {
                // the older written-out form of the same rule
                let want = if a.is_nan() {
                    quiet(a)
                } else if b.is_nan() {
                    quiet(b)
                } else {
                    a + b
                };
                assert_eq!(add_nan_first(a, b).to_bits(), want.to_bits(), "{a} + {b}");
            }
        }
        assert!(is_r_na(add_nan_first(na, nan)));
        assert!(!is_r_na(add_nan_first(nan, na)));
    }
}
