//! Elementwise activation functions.

/// The logistic function `1 / (1 + exp(-x))`, computed exactly as R's
/// `plogis()` does (same formula, same platform `exp`), so results agree
/// with base R bit for bit.
///
/// * `NaN` inputs (including R's `NA`, a NaN with a payload) are returned
///   unchanged, so `NA` stays `NA` rather than becoming `NaN`.
/// * `-Inf` gives `0`, `+Inf` gives `1`; large negative `x` underflows to
///   `0` instead of producing `NaN` (`1 / Inf` is `0`).
#[inline]
pub fn sigmoid(x: f64) -> f64 {
    if x.is_nan() {
        x
    } else {
        1.0 / (1.0 + (-x).exp())
    }
}

/// Applies [`sigmoid`] to every element of `values`, in place.
pub fn sigmoid_in_place(values: &mut [f64]) {
    for v in values.iter_mut() {
        *v = sigmoid(*v);
    }
}

/// Writes `sigmoid(src[i])` into `dst[i]`.
///
/// # Panics
/// If the slices differ in length (a programming error, never user input:
/// the glue allocates `dst` from `src`'s length).
pub fn sigmoid_into(src: &[f64], dst: &mut [f64]) {
    assert_eq!(src.len(), dst.len(), "sigmoid_into: length mismatch");
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = sigmoid(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place between two finite doubles of
    /// the same sign.
    fn ulp_distance(a: f64, b: f64) -> u64 {
        assert!(a.is_finite() && b.is_finite());
        assert!(a.is_sign_negative() == b.is_sign_negative() || a == b);
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    /// (x, sigmoid(x)) with sigmoid correctly rounded from a 60-digit
    /// evaluation (mpmath, mp.dps = 60, `1 / (1 + exp(-x))`, x the exact
    /// double written here). Hard places: around 0, where 1 + e^-x crosses
    /// 2^53 (x ~ -36.7), where the result rounds to 1 (x ~ 36.7), and down
    /// to the last x whose e^-x is finite (-709.78); below that R's plogis
    /// returns 0 and so do we (see `sigmoid_special_values`).
    const REFERENCE: &[(f64, f64)] = &[
        (0.0, 0.5),
        (1e-300, 0.5),
        (1e-17, 0.5),
        (-1e-17, 0.5),
        (1e-08, 0.5000000025),
        (0.5, 0.6224593312018546),
        (-0.5, 0.37754066879814546),
        (1.0, 0.7310585786300049),
        (-1.0, 0.2689414213699951),
        (2.5, 0.9241418199787564),
        (-7.25, 0.0007096703991005881),
        (10.0, 0.9999546021312976),
        (-10.0, 4.5397868702434395e-05),
        (20.0, 0.9999999979388464),
        (-20.0, 2.0611536181902037e-09),
        (-36.0, 2.3195228302435686e-16),
        (-36.7368005696771, 1.1102230246251573e-16),
        (-36.8, 1.0422287905595919e-16),
        (-37.5, 5.175555005801868e-17),
        (36.7, 0.9999999999999999),
        (37.0, 0.9999999999999999),
        (745.0, 1.0),
        (-100.0, 3.720075976020836e-44),
        (-700.0, 9.85967654375977e-305),
        (-708.5, 2.006132305331306e-308),
        (-709.0, 1.216780750623423e-308),
        (-709.78, 5.577796105262746e-309),
    ];

    #[test]
    fn sigmoid_within_two_ulp_of_high_precision_reference() {
        for &(x, want) in REFERENCE {
            let got = sigmoid(x);
            let d = ulp_distance(got, want);
            assert!(d <= 2, "sigmoid({x:e}) = {got:e}, want {want:e}: {d} ulp");
        }
    }

    #[test]
    fn sigmoid_special_values() {
        assert_eq!(sigmoid(f64::INFINITY), 1.0);
        assert_eq!(sigmoid(f64::NEG_INFINITY), 0.0);
        assert_eq!(sigmoid(-0.0), 0.5);
        assert_eq!(sigmoid(-1e308), 0.0);
        assert_eq!(sigmoid(1e308), 1.0);
        // like plogis: e^-x overflows to Inf below -709.78, 1/Inf = 0 (not NaN)
        assert_eq!(sigmoid(-709.8), 0.0);
        assert_eq!(sigmoid(-745.0), 0.0);
        assert_eq!(sigmoid(-746.0), 0.0);
        assert!(sigmoid(f64::NAN).is_nan());
        // R's NA_real_ is a NaN whose low word is 1954: it must survive.
        let r_na = f64::from_bits(0x7FF0_0000_0000_07A2);
        assert_eq!(sigmoid(r_na).to_bits(), r_na.to_bits());
    }

    #[test]
    fn sigmoid_is_monotone_and_symmetric() {
        let mut prev = 0.0;
        let mut x = -50.0;
        while x <= 50.0 {
            let s = sigmoid(x);
            assert!(s >= prev, "not monotone at {x}");
            // sigmoid(x) + sigmoid(-x) = 1 up to rounding
            assert!((s + sigmoid(-x) - 1.0).abs() <= 2.0 * f64::EPSILON);
            prev = s;
            x += 0.01;
        }
    }

    #[test]
    fn in_place_and_into_agree_with_scalar() {
        let src: Vec<f64> = (0..257).map(|i| (i as f64 - 128.0) * 0.37).collect();
        let mut a = src.clone();
        sigmoid_in_place(&mut a);
        let mut b = vec![0.0; src.len()];
        sigmoid_into(&src, &mut b);
        for i in 0..src.len() {
            assert_eq!(a[i].to_bits(), sigmoid(src[i]).to_bits());
            assert_eq!(b[i].to_bits(), a[i].to_bits());
        }
    }
}
