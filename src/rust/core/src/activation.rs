//! The activation functions: the [`Activation`] enum (names and cost), each
//! activation applied to a layer's `z` ([`apply_activation`], with the
//! vectorised sigmoid, [`relu`] and the row-wise [`softmax_rows`]), and
//! each one's derivative for the backward pass ([`activation_backward`]).
//!
//! A new activation is a variant of [`Activation`] plus its arm in each
//! `match` of this file (the compiler lists them: every match is
//! exhaustive); the forward and backward passes call only the functions
//! here.

use ndarray::{ArrayView2, ArrayViewMut2, Axis, ShapeBuilder, Zip};

use crate::nan::{is_r_na, quiet, view_has_non_finite};
use crate::parallel::run_jobs;

/// An activation function, applied after a layer's product (and bias).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// [`sigmoid`], equal to R's `plogis()`.
    Sigmoid,
    /// `max(z, 0)`, as R's `ifelse(z > 0, z, 0)`; NA/NaN are kept as they are.
    Relu,
    /// `tanh(z)` (the platform's `tanh`, as R's).
    Tanh,
    /// `z` unchanged.
    Identity,
    /// Row-wise softmax, `exp(z - max(z)) / sum(exp(z - max(z)))`; see
    /// [`softmax_rows`].
    Softmax,
    /// Leaky ReLU, `z` for `z > 0` and `0.01 z` otherwise (torch's
    /// `nn_leaky_relu()` with its default slope); see [`leaky_relu`].
    LeakyRelu,
    /// ELU with `alpha = 1`: `z` for `z > 0`, `exp(z) - 1` otherwise
    /// (torch's `nn_elu()`); see [`elu`].
    Elu,
    /// GELU, exact form `z Phi(z) = z (1 + erf(z / sqrt(2))) / 2` (torch's
    /// `nn_gelu()` default); see [`gelu`].
    Gelu,
    /// Softplus with `beta = 1`, `threshold = 20`: `log(1 + exp(z))`, and
    /// `z` itself beyond 20 (torch's `nn_softplus()`); see [`softplus`].
    Softplus,
}

impl Activation {
    /// All activations, in the order R documents them.
    pub const ALL: [Activation; 9] = [
        Activation::Sigmoid,
        Activation::Relu,
        Activation::Tanh,
        Activation::Identity,
        Activation::Softmax,
        Activation::LeakyRelu,
        Activation::Elu,
        Activation::Gelu,
        Activation::Softplus,
    ];

    /// Parses the R-side name (`"sigmoid"`, `"relu"`, `"tanh"`,
    /// `"identity"`, `"softmax"`, `"leaky_relu"`, `"elu"`, `"gelu"`,
    /// `"softplus"`).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The R-side name.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Sigmoid => "sigmoid",
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
            Activation::Identity => "identity",
            Activation::Softmax => "softmax",
            Activation::LeakyRelu => "leaky_relu",
            Activation::Elu => "elu",
            Activation::Gelu => "gelu",
            Activation::Softplus => "softplus",
        }
    }

    /// Whether the derivative needs the layer's `z` (it does not follow
    /// from the output `a` alone, or not accurately): the backward pass
    /// keeps `z` for these layers and calls [`activation_backward_z`].
    pub fn needs_z(self) -> bool {
        matches!(self, Activation::Elu | Activation::Gelu | Activation::Softplus)
    }

    /// The activation of one value, for the elementwise activations
    /// (`None` for the softmax, which works on whole rows).
    pub fn value(self, z: f64) -> Option<f64> {
        Some(match self {
            Activation::Sigmoid => sigmoid(z),
            Activation::Relu => relu(z),
            Activation::Tanh => z.tanh(),
            Activation::Identity => z,
            Activation::Softmax => return None,
            Activation::LeakyRelu => leaky_relu(z),
            Activation::Elu => elu(z),
            Activation::Gelu => gelu(z),
            Activation::Softplus => softplus(z),
        })
    }

    /// The derivative `act'(z)` of the elementwise activations (`None` for
    /// the softmax), as torch's backward computes it: relu and leaky relu
    /// take the slope of the negative side at 0, softplus is 1 beyond its
    /// threshold.
    pub fn derivative(self, z: f64) -> Option<f64> {
        Some(match self {
            Activation::Sigmoid => {
                let s = sigmoid(z);
                s * (1.0 - s)
            }
            Activation::Relu => f64::from(u8::from(z > 0.0)),
            Activation::Tanh => {
                let t = z.tanh();
                1.0 - t * t
            }
            Activation::Identity => 1.0,
            Activation::Softmax => return None,
            Activation::LeakyRelu => leaky_relu_derivative(z),
            Activation::Elu => elu_derivative(z),
            Activation::Gelu => gelu_derivative(z),
            Activation::Softplus => softplus_derivative(z),
        })
    }

    /// Rough cost of one evaluation, in multiply-adds, for the decision to
    /// use threads.
    pub(crate) fn cost(self) -> usize {
        match self {
            Activation::Identity | Activation::Relu | Activation::LeakyRelu => 1,
            Activation::Sigmoid | Activation::Tanh | Activation::Softmax | Activation::Elu | Activation::Softplus => 8,
            Activation::Gelu => 16,
        }
    }
}

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

/// Applies the logistic function to every element of `values`, in place,
/// as [`sigmoid_into`] does.
pub fn sigmoid_in_place(values: &mut [f64]) {
    sigmoid_in_place_checked(values);
}

/// [`sigmoid_in_place`], also telling whether any value was NaN or
/// infinite before it was replaced (at no extra cost: the vectorised
/// path looks at such values anyway). The forward pass uses this to learn
/// whether a layer's product met a non-finite value.
pub fn sigmoid_in_place_checked(values: &mut [f64]) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if simd::available() {
            let p = values.as_mut_ptr();
            // SAFETY: the CPU has AVX2 and FMA; source and destination are
            // the same `values.len()` values, which the vectorised loop
            // allows (each value is read before its result is written).
            return unsafe { simd::sigmoid_avx2_fma(p, p, values.len()) };
        }
    }
    let mut non_finite = false;
    for v in values.iter_mut() {
        non_finite |= !v.is_finite();
        *v = sigmoid(*v);
    }
    non_finite
}

/// Writes the logistic function of `src[i]` into `dst[i]`.
///
/// On x86-64 CPUs with AVX2 and FMA (detected at run time) a vectorised
/// version runs, within 2 ulp of [`sigmoid`] (i.e. of R's `plogis()`)
/// everywhere; elsewhere, and for NaN, infinite and `|x| > 708` inputs,
/// [`sigmoid`] itself. NA/NaN (with their payload), `-Inf` -> 0, `+Inf` ->
/// 1 and the underflow to 0 below -709.78 are exactly `plogis()`'s.
///
/// # Panics
/// If the slices differ in length (a programming error, never user input:
/// the glue allocates `dst` from `src`'s length).
pub fn sigmoid_into(src: &[f64], dst: &mut [f64]) {
    sigmoid_into_checked(src, dst);
}

/// [`sigmoid_into`]; returns whether any `src` value is NaN or infinite.
///
/// # Panics
/// As [`sigmoid_into`].
pub fn sigmoid_into_checked(src: &[f64], dst: &mut [f64]) -> bool {
    assert_eq!(src.len(), dst.len(), "sigmoid_into: length mismatch");
    #[cfg(target_arch = "x86_64")]
    {
        if simd::available() {
            // SAFETY: the CPU has AVX2 and FMA (checked just above); the
            // slices have equal lengths (asserted) and cannot overlap.
            return unsafe { simd::sigmoid_avx2_fma(src.as_ptr(), dst.as_mut_ptr(), src.len()) };
        }
    }
    sigmoid_into_scalar(src, dst);
    src.iter().fold(false, |acc, v| acc | !v.is_finite())
}

/// [`sigmoid_into`] for large slices, in chunks of [`SIGMOID_CHUNK`]
/// values spread over up to `threads` threads (the caller's included;
/// 0 is taken as 1), each chunk of `dst` populated ([`prefault`]) just
/// before it is computed. Faulting in a fresh result's pages costs about
/// as much as the sigmoid itself and the kernel does it one fault at a
/// time, so one thread computes while another's pages are faulted in:
/// 1e7 values take 21-24 ms with two threads against 41-50 ms with one on
/// the benchmark VM (`bench/steady.R`). Every element goes through the same
/// arithmetic wherever it sits (see the vectorised version), so the result
/// is the same bit for bit whatever the number of threads.
///
/// # Panics
/// If the slices differ in length, as [`sigmoid_into`].
///
/// [`prefault`]: crate::memory::prefault
pub fn sigmoid_into_threads(src: &[f64], dst: &mut [f64], threads: usize) {
    assert_eq!(src.len(), dst.len(), "sigmoid_into_threads: length mismatch");
    if src.len() < SIGMOID_CHUNK {
        sigmoid_into(src, dst);
        return;
    }
    let workers = threads.max(1).min(src.len().div_ceil(SIGMOID_CHUNK));
    let chunks = src.chunks(SIGMOID_CHUNK).zip(dst.chunks_mut(SIGMOID_CHUNK));
    run_jobs(chunks, workers, || (), |(s, d), _| {
        crate::memory::prefault(d);
        sigmoid_into(s, d);
    });
}

/// Values per chunk of [`sigmoid_into_threads`] (2 MiB of results): large
/// enough that a chunk's system call and hand-over cost nothing next to
/// its 0.6 ms of work, small enough that two threads stay busy to the end.
pub const SIGMOID_CHUNK: usize = 1 << 18;

/// [`sigmoid`] of every element, one at a time (the exact `plogis()`
/// arithmetic; the reference the vectorised version is tested against).
pub fn sigmoid_into_scalar(src: &[f64], dst: &mut [f64]) {
    assert_eq!(src.len(), dst.len(), "sigmoid_into_scalar: length mismatch");
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = sigmoid(s);
    }
}

/// Largest `|x|` the vectorised path handles itself: `e^-708` is still a
/// normal double, so neither the exponential nor the result is subnormal.
const SIMD_LIMIT: f64 = 708.0;

/// The vectorised sigmoid (AVX2 + FMA intrinsics, 4 doubles at a time),
/// computed to about 0.5 ulp (nearly correctly rounded), so that it stays
/// within 2 ulp of R's `plogis()`, whose own error reaches about 2.4 ulp
/// (near x = -36.7, where `1 + e^-x` crosses 2^53). A plain `1 / (1 + e^-x)`
/// with an exp that is off by one ulp, or `e^x / (1 + e^x)` in double
/// precision, lands 3 ulp away from `plogis()` at places.
///
/// For `a = |x| <= 708`:
/// * `t = e^-a` as a double-double `th + tl`: `-a = k ln2 + r` with
///   `k = round(-a / ln2)` and `|r| <= ln2 / 2`, `r = rh + rl` from a
///   two-part `ln2` (`k ln2_hi` exact; `rh` the rounded `r`, `rl` its
///   rounding error, each by one FMA);
///   `e^r = 1 + rh + rh^2/2 + rh^3 P(rh) + rl (1 + rh)` with the first three
///   terms added exactly (2Sum, exact square by FMA) and `P` the Taylor
///   polynomial to degree 14 (truncation error below 1e-19), evaluated by
///   Estrin's scheme; times `2^k` (for `th` by adding `k` to its exponent
///   field), exact since `-1021 <= k <= 0` keeps `th` normal.
/// * `1 / (1 + t)` for `x >= 0` and `t / (1 + t)` for `x < 0`, as a
///   double-double quotient: `q = num * inv` with `inv = 1 / (1 + th)`
///   rounded (one division per vector, shorter than a reciprocal estimate
///   refined by Newton steps, measured faster), corrected by the exact FMA
///   residual times `inv`, which leaves an error of order 1e-32 on top of the final
///   rounding.
///
/// NaN, infinite and `|x| > 708` lanes are redone by [`sigmoid`].
///
/// Every element goes through the same arithmetic wherever it sits in the
/// slice (the tail is padded to a full vector), so the result of an
/// element never depends on the slice's length or its position in it.
#[cfg(target_arch = "x86_64")]
mod simd {
    use super::{sigmoid, SIMD_LIMIT};
    use std::arch::x86_64::*;

    pub(super) fn available() -> bool {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }

    const LOG2E: f64 = std::f64::consts::LOG2_E;
    /// 1.5 * 2^52: adding it rounds to an integer held in the low bits.
    const SHIFTER: f64 = 6_755_399_441_055_744.0;
    /// ln 2 in two parts (fdlibm's): `LN2_HI` has 21 trailing zero bits,
    /// so `k * LN2_HI` is exact for `|k| < 2^21`.
    /// (Bits 0x3FE62E42FEE00000 and 0x3DEA39EF35793C76, checked in the tests.)
    pub(super) const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    pub(super) const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    /// 1 / n! for n = 14 down to 3.
    const INV_FACT_DESC: [f64; 12] = [
        1.0 / 87178291200.0,
        1.0 / 6227020800.0,
        1.0 / 479001600.0,
        1.0 / 39916800.0,
        1.0 / 3628800.0,
        1.0 / 362880.0,
        1.0 / 40320.0,
        1.0 / 5040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
    ];

    /// `[f(0), f(1), ..., f(N - 1)]` for an expression in the lane index:
    /// every step of the computation is written once and done for `N`
    /// independent vectors side by side, so that the instruction stream
    /// interleaves them. (One vector's chain of dependent operations is
    /// about 120 cycles long; issued one vector after another, the
    /// out-of-order window holds fewer than 3 of them and the loop is
    /// latency-bound: measured 2x slower.)
    macro_rules! lanes {
        ($n:expr, $i:ident => $e:expr) => {{
            let mut r = [_mm256_setzero_pd(); $n];
            for $i in 0..$n {
                r[$i] = $e;
            }
            r
        }};
    }

    /// `e^y` for `N` vectors of 4 values of `y` in `[-SIMD_LIMIT, 0]`, as
    /// double-doubles `(hi, lo)`.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA (no memory is touched).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn exp_nonpositive<const N: usize>(y: [__m256d; N]) -> ([__m256d; N], [__m256d; N]) {
        let shifter = _mm256_set1_pd(SHIFTER);
        let kd = lanes!(N, i => _mm256_fmadd_pd(y[i], _mm256_set1_pd(LOG2E), shifter));
        let k = lanes!(N, i => _mm256_sub_pd(kd[i], shifter));
        // r1 = y - k ln2_hi (exact); rh + rl = r1 - k ln2_lo: rh rounded
        // by one FMA, rl its rounding error by another, since r1 - rh is
        // exact (Sterbenz) unless both are below 4e-7, where its rounding
        // error (< 2^-75) is far below the 1e-19 aimed at
        let r1 = lanes!(N, i => _mm256_fnmadd_pd(k[i], _mm256_set1_pd(LN2_HI), y[i]));
        let ln2_lo = _mm256_set1_pd(LN2_LO);
        let rh = lanes!(N, i => _mm256_fnmadd_pd(k[i], ln2_lo, r1[i]));
        let rl = lanes!(N, i => _mm256_fnmadd_pd(k[i], ln2_lo, _mm256_sub_pd(r1[i], rh[i])));
        // rh^2 = sq + sqe exactly
        let sq = lanes!(N, i => _mm256_mul_pd(rh[i], rh[i]));
        let sqe = lanes!(N, i => _mm256_fmsub_pd(rh[i], rh[i], sq[i]));
        // rh^3 P(rh), P(r) = sum c_i r^i (c_i = 1 / (i + 3)!, i < 12)
        // by Estrin's scheme: pairs c_i + c_{i+1} r, combined with r^2,
        // r^4 and r^8 (a chain of 4 FMAs after r^8 instead of Horner's 11;
        // two more multiplications, yet faster: 9.3 against 11.3 us per
        // 4096 values in cache, so the chain's latency counts here)
        macro_rules! pair {
            // c_j + c_{j+1} r
            ($j:expr) => {
                lanes!(N, i => _mm256_fmadd_pd(
                    _mm256_set1_pd(INV_FACT_DESC[10 - $j]),
                    rh[i],
                    _mm256_set1_pd(INV_FACT_DESC[11 - $j]),
                ))
            };
        }
        let r4 = lanes!(N, i => _mm256_mul_pd(sq[i], sq[i]));
        let r8 = lanes!(N, i => _mm256_mul_pd(r4[i], r4[i]));
        let (p01, p23, p45, p67, p89, p1011) = (pair!(0), pair!(2), pair!(4), pair!(6), pair!(8), pair!(10));
        let q0 = lanes!(N, i => _mm256_fmadd_pd(p23[i], sq[i], p01[i]));
        let q1 = lanes!(N, i => _mm256_fmadd_pd(p67[i], sq[i], p45[i]));
        let q2 = lanes!(N, i => _mm256_fmadd_pd(p1011[i], sq[i], p89[i]));
        let s0 = lanes!(N, i => _mm256_fmadd_pd(q1[i], r4[i], q0[i]));
        let poly = lanes!(N, i => _mm256_fmadd_pd(q2[i], r8[i], s0[i]));
        let r3 = lanes!(N, i => _mm256_mul_pd(sq[i], rh[i]));
        // 1 + rh (Fast2Sum: |rh| < 1), then + rh^2/2 (Fast2Sum: smaller)
        let one = _mm256_set1_pd(1.0);
        let half = _mm256_set1_pd(0.5);
        let h1 = lanes!(N, i => _mm256_add_pd(one, rh[i]));
        let l1 = lanes!(N, i => _mm256_add_pd(_mm256_sub_pd(one, h1[i]), rh[i]));
        let hs = lanes!(N, i => _mm256_mul_pd(half, sq[i]));
        let h2 = lanes!(N, i => _mm256_add_pd(h1[i], hs[i]));
        let l2 = lanes!(N, i => _mm256_sub_pd(hs[i], _mm256_sub_pd(h2[i], h1[i])));
        // the small terms: l1 + l2 + sqe/2 + rh^3 P(rh) + rl (1 + rh)
        let lo = lanes!(N, i => _mm256_add_pd(l1[i], l2[i]));
        let lo = lanes!(N, i => _mm256_fmadd_pd(half, sqe[i], lo[i]));
        let lo = lanes!(N, i => _mm256_fmadd_pd(r3[i], poly[i], lo[i]));
        let lo = lanes!(N, i => _mm256_add_pd(lo[i], _mm256_fmadd_pd(rl[i], rh[i], rl[i])));
        let th = lanes!(N, i => _mm256_add_pd(h2[i], lo[i]));
        let tl = lanes!(N, i => _mm256_sub_pd(lo[i], _mm256_sub_pd(th[i], h2[i])));
        // times 2^k: k sits in kd's low mantissa bits (kd has SHIFTER's
        // exponent). th (in [0.7, 1.5]) times 2^k stays normal: adding k
        // to its exponent field is the exact product, done by an integer
        // unit instead of a multiplier; tl may be 0 or tiny, so it is
        // multiplied
        let ki = lanes!(N, i => _mm256_castsi256_pd(_mm256_slli_epi64::<52>(_mm256_sub_epi64(
            _mm256_castpd_si256(kd[i]),
            _mm256_castpd_si256(shifter),
        ))));
        let scale = lanes!(N, i => _mm256_castsi256_pd(_mm256_add_epi64(_mm256_castpd_si256(ki[i]), _mm256_set1_epi64x(1023 << 52))));
        (
            lanes!(N, i => _mm256_castsi256_pd(_mm256_add_epi64(_mm256_castpd_si256(th[i]), _mm256_castpd_si256(ki[i])))),
            lanes!(N, i => _mm256_mul_pd(tl[i], scale[i])),
        )
    }

    /// Sigmoid of `N` vectors of 4 values; the mask has bit `4 v + l` set
    /// for each value (vector `v`, lane `l`) outside the vectorised range
    /// (NaN, infinite, `|x| > SIMD_LIMIT`), whose result must be replaced.
    /// `N` at most 8.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA (no memory is touched).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn sigmoid_n<const N: usize>(x: [__m256d; N]) -> ([__m256d; N], i32) {
        let sign = _mm256_set1_pd(-0.0);
        let a = lanes!(N, i => _mm256_andnot_pd(sign, x[i]));
        let inside = lanes!(N, i => _mm256_cmp_pd::<_CMP_LE_OQ>(a[i], _mm256_set1_pd(SIMD_LIMIT)));
        let a = lanes!(N, i => _mm256_and_pd(a[i], inside[i]));
        let (th, tl) = exp_nonpositive(lanes!(N, i => _mm256_xor_pd(a[i], sign)));
        let one = _mm256_set1_pd(1.0);
        // d = 1 + t (Fast2Sum: t <= 1)
        let dh = lanes!(N, i => _mm256_add_pd(one, th[i]));
        let dl = lanes!(N, i => _mm256_add_pd(_mm256_add_pd(_mm256_sub_pd(one, dh[i]), th[i]), tl[i]));
        // numerator t for x < 0, else 1: picked by x's sign bit (-0 picks
        // t = e^0 = 1 exactly, the same)
        let num = lanes!(N, i => _mm256_blendv_pd(one, th[i], x[i]));
        let num_lo = lanes!(N, i => _mm256_blendv_pd(_mm256_setzero_pd(), tl[i], x[i]));
        let inv = lanes!(N, i => _mm256_div_pd(one, dh[i]));
        let q = lanes!(N, i => _mm256_mul_pd(num[i], inv[i]));
        // residual (num + num_lo) - q (dh + dl), its first part exact by FMA
        let rho = lanes!(N, i => _mm256_fnmadd_pd(q[i], dh[i], num[i]));
        let rho = lanes!(N, i => _mm256_fnmadd_pd(q[i], dl[i], _mm256_add_pd(rho[i], num_lo[i])));
        let res = lanes!(N, i => _mm256_fmadd_pd(rho[i], inv[i], q[i]));
        let mut outside = 0;
        for (v, ins) in inside.iter().enumerate() {
            outside |= (!_mm256_movemask_pd(*ins) & 0xF) << (4 * v);
        }
        (res, outside)
    }

    /// Sigmoid of 4 values (see [`sigmoid_n`]).
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA (no memory is touched).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn sigmoid4(x: __m256d) -> (__m256d, i32) {
        let ([r], o) = sigmoid_n([x]);
        (r, o)
    }

    /// Values per step of the main loop ([`LANES`] vectors).
    const STEP: usize = 4 * LANES;
    /// Vectors computed side by side (measured: 4 and 2 about equal and
    /// twice as fast as 1; more spills registers).
    const LANES: usize = 4;

    /// Sigmoid of the `STEP` values at `src` into `dst` (which may be
    /// `src`: every value is read before any result is written); lanes
    /// outside the vectorised range are redone by [`sigmoid`]. Returns
    /// whether any value was NaN or infinite.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA; `STEP` values readable at `src`,
    /// writable at `dst`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn sigmoid_step(src: *const f64, dst: *mut f64) -> bool {
        let x = lanes!(LANES, v => _mm256_loadu_pd(src.add(4 * v)));
        let (r, outside) = sigmoid_n(x);
        if outside == 0 {
            for (v, rv) in r.iter().enumerate() {
                _mm256_storeu_pd(dst.add(4 * v), *rv);
            }
            return false;
        }
        store_patched(&x, &r, outside, dst)
    }

    /// Stores the results `r` of the inputs `x` at `dst`, with the lanes
    /// set in `outside` replaced by [`sigmoid`] of their input; returns
    /// whether any of those inputs was NaN or infinite.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA; `4 * x.len()` values (at most
    /// `STEP`) writable at `dst`, and `r` as long as `x`.
    #[cold]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn store_patched(x: &[__m256d], r: &[__m256d], outside: i32, dst: *mut f64) -> bool {
        let mut xs = [0.0f64; STEP];
        let mut rs = [0.0f64; STEP];
        for (v, (xv, rv)) in x.iter().zip(r).enumerate() {
            _mm256_storeu_pd(xs.as_mut_ptr().add(4 * v), *xv);
            _mm256_storeu_pd(rs.as_mut_ptr().add(4 * v), *rv);
        }
        let mut non_finite = false;
        for j in 0..4 * x.len() {
            if outside & (1 << j) != 0 {
                non_finite |= !xs[j].is_finite();
                rs[j] = sigmoid(xs[j]);
            }
            *dst.add(j) = rs[j];
        }
        non_finite
    }

    /// The sigmoid of the `n` values at `src` into `dst`, which is either
    /// `src` itself (in place) or does not overlap it. Returns whether any
    /// value is NaN or infinite (such values are outside the vectorised
    /// range, so only those lanes are looked at).
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA; `n` values readable at `src` and
    /// writable at `dst`; `dst == src` or the two do not overlap.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn sigmoid_avx2_fma(src: *const f64, dst: *mut f64, n: usize) -> bool {
        let mut non_finite = false;
        let mut i = 0;
        while i + STEP <= n {
            non_finite |= sigmoid_step(src.add(i), dst.add(i));
            i += STEP;
        }
        if i < n {
            // the tail (< STEP values), copied and padded with zeros to
            // whole vectors (the same arithmetic as in the loop); the
            // vectors are independent, so their latencies overlap
            let rest = n - i;
            let mut buf = [0.0f64; STEP];
            std::ptr::copy_nonoverlapping(src.add(i), buf.as_mut_ptr(), rest);
            let mut res = [0.0f64; STEP];
            for v in 0..rest.div_ceil(4) {
                let x = _mm256_loadu_pd(buf.as_ptr().add(4 * v));
                let (r, outside) = sigmoid4(x);
                if outside == 0 {
                    _mm256_storeu_pd(res.as_mut_ptr().add(4 * v), r);
                } else {
                    // (padding lanes hold zeros, inside the range)
                    non_finite |= store_patched(&[x], &[r], outside, res.as_mut_ptr().add(4 * v));
                }
            }
            std::ptr::copy_nonoverlapping(res.as_ptr(), dst.add(i), rest);
        }
        non_finite
    }

    /// `e^y` for one `y` in `[-SIMD_LIMIT, 0]` by the vector code (the
    /// double-double rounded to double), for the tests.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[cfg(test)]
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn exp_nonpositive_one(y: f64) -> f64 {
        let mut out = [0.0; 4];
        let ([hi], [lo]) = exp_nonpositive([_mm256_set1_pd(y)]);
        _mm256_storeu_pd(out.as_mut_ptr(), _mm256_add_pd(hi, lo));
        out[0]
    }
}

/// `max(z, 0)` as R's `ifelse(z > 0, z, 0)`, keeping NA/NaN (with their
/// payload) where R's `ifelse` has an NA test.
#[inline]
pub fn relu(z: f64) -> f64 {
    if z > 0.0 || z.is_nan() {
        z
    } else {
        0.0
    }
}

/// The negative side's slope of [`leaky_relu`] (torch's default).
pub const LEAKY_RELU_SLOPE: f64 = 0.01;

/// Leaky ReLU: `z` for `z > 0`, `0.01 z` otherwise; NA/NaN kept as they are.
#[inline]
pub fn leaky_relu(z: f64) -> f64 {
    if z > 0.0 || z.is_nan() {
        z
    } else {
        LEAKY_RELU_SLOPE * z
    }
}

/// `leaky_relu'(z)`: 1 for `z > 0`, 0.01 otherwise (at 0 too, as torch).
#[inline]
pub fn leaky_relu_derivative(z: f64) -> f64 {
    if z > 0.0 {
        1.0
    } else {
        LEAKY_RELU_SLOPE
    }
}

/// ELU with `alpha = 1`: `z` for `z > 0`, `expm1(z)` otherwise (torch's
/// formula); NA/NaN kept as they are, `-Inf` gives -1.
#[inline]
pub fn elu(z: f64) -> f64 {
    if z > 0.0 || z.is_nan() {
        z
    } else {
        z.exp_m1()
    }
}

/// `elu'(z)`: 1 for `z > 0`, `exp(z)` otherwise.
#[inline]
pub fn elu_derivative(z: f64) -> f64 {
    if z > 0.0 {
        1.0
    } else {
        z.exp()
    }
}

/// `1 / sqrt(2 pi)`, the standard normal density at 0.
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// GELU, exact form: `z Phi(z)` with `Phi` the standard normal
/// distribution function, computed as `z erfc(-z / sqrt(2)) / 2` (torch's
/// `z (1 + erf(z / sqrt(2))) / 2`, without its cancellation for negative
/// `z`); `erfc` is musl's (the `libm` crate), accurate to about 1 ulp.
/// NA/NaN kept as they are; `-Inf` gives 0 (the limit), `Inf` gives `Inf`.
#[inline]
pub fn gelu(z: f64) -> f64 {
    if z.is_nan() {
        z
    } else if z == f64::NEG_INFINITY {
        0.0
    } else {
        0.5 * z * libm::erfc(-z * std::f64::consts::FRAC_1_SQRT_2)
    }
}

/// `gelu'(z) = Phi(z) + z phi(z)`, with `phi` the standard normal
/// density; 0 at `-Inf`, 1 at `Inf`.
#[inline]
pub fn gelu_derivative(z: f64) -> f64 {
    if z.is_infinite() {
        return if z > 0.0 { 1.0 } else { 0.0 };
    }
    0.5 * libm::erfc(-z * std::f64::consts::FRAC_1_SQRT_2) + z * (-0.5 * z * z).exp() * INV_SQRT_2PI
}

/// Where [`softplus`] becomes the identity (torch's default `threshold`).
pub const SOFTPLUS_THRESHOLD: f64 = 20.0;

/// Softplus with `beta = 1`: `log1p(exp(z))`, and `z` for `z > 20`
/// (torch's formula); NA/NaN kept as they are, `-Inf` gives 0.
#[inline]
pub fn softplus(z: f64) -> f64 {
    if z > SOFTPLUS_THRESHOLD || z.is_nan() {
        z
    } else {
        z.exp().ln_1p()
    }
}

/// `softplus'(z) = exp(z) / (1 + exp(z))`, and 1 for `z > 20` (torch's).
#[inline]
pub fn softplus_derivative(z: f64) -> f64 {
    if z > SOFTPLUS_THRESHOLD {
        1.0
    } else {
        let e = z.exp();
        e / (e + 1.0)
    }
}

/// Applies `act` to `z` in place (column by column; softmax row-wise).
/// `rows` must hold at least `3 * z.nrows()` values for softmax.
pub fn apply_activation(mut z: ArrayViewMut2<f64>, act: Activation, rows: &mut [f64]) {
    let elementwise: fn(&mut [f64]) = match act {
        Activation::Identity => return,
        Activation::Softmax => return softmax_rows(z, rows),
        Activation::Sigmoid => sigmoid_in_place,
        Activation::Relu => |s| s.iter_mut().for_each(|v| *v = relu(*v)),
        Activation::Tanh => |s| s.iter_mut().for_each(|v| *v = v.tanh()),
        Activation::LeakyRelu => |s| s.iter_mut().for_each(|v| *v = leaky_relu(*v)),
        Activation::Elu => |s| s.iter_mut().for_each(|v| *v = elu(*v)),
        Activation::Gelu => |s| s.iter_mut().for_each(|v| *v = gelu(*v)),
        Activation::Softplus => |s| s.iter_mut().for_each(|v| *v = softplus(*v)),
    };
    if let Some(s) = z.as_slice_memory_order_mut() {
        return elementwise(s);
    }
    for mut col in z.axis_iter_mut(Axis(1)) {
        match col.as_slice_mut() {
            Some(s) => elementwise(s),
            None => col.iter_mut().for_each(|v| elementwise(std::slice::from_mut(v))),
        }
    }
}

/// [`apply_activation`], returning whether `z` held a NaN or an infinity
/// before the activation was applied.
pub(crate) fn apply_activation_checked(mut z: ArrayViewMut2<f64>, act: Activation, rows: &mut [f64]) -> bool {
    if act != Activation::Sigmoid {
        let non_finite = view_has_non_finite(&z.view());
        apply_activation(z, act, rows);
        return non_finite;
    }
    if let Some(s) = z.as_slice_memory_order_mut() {
        return sigmoid_in_place_checked(s);
    }
    let mut non_finite = false;
    for mut col in z.axis_iter_mut(Axis(1)) {
        match col.as_slice_mut() {
            Some(s) => non_finite |= sigmoid_in_place_checked(s),
            None => col.iter_mut().for_each(|v| non_finite |= sigmoid_in_place_checked(std::slice::from_mut(v))),
        }
    }
    non_finite
}

/// Row-wise softmax in place, as the base-R reference
/// `m <- apply(z, 1, max); e <- exp(z - m); e / rowSums(e)`:
/// * numerically stable (the row maximum is subtracted first: no overflow);
/// * the row sum is accumulated with error compensation (R's `rowSums`
///   accumulates in long double), so results match R to about 1 ulp;
/// * a row with NA/NaN is NA/NaN throughout, as in R: the row maximum is
///   then NA if the row has an NA (R's `max`: NA trumps NaN), else NaN;
///   a NaN entry keeps its own value, every other entry gets the maximum's;
/// * a row with `+Inf` (and no NaN) is NaN throughout (`Inf - Inf`).
///
/// Works column by column over the rows (vectorised); `rows` is a
/// workspace of at least `3 * z.nrows()` values.
pub fn softmax_rows(mut z: ArrayViewMut2<f64>, rows: &mut [f64]) {
    let m = z.nrows();
    let (max, rest) = rows.split_at_mut(m);
    let (sum, rest) = rest.split_at_mut(m);
    let comp = &mut rest[..m];
    max.fill(f64::NEG_INFINITY);
    for col in z.axis_iter(Axis(1)) {
        for (mx, &v) in max.iter_mut().zip(col.iter()) {
            if v.is_nan() {
                if !is_r_na(*mx) {
                    *mx = v;
                }
            } else if v > *mx {
                // never true once the maximum is NaN
                *mx = v;
            }
        }
    }
    sum.fill(0.0);
    comp.fill(0.0);
    for mut col in z.axis_iter_mut(Axis(1)) {
        for (((v, &mx), s), c) in col.iter_mut().zip(max.iter()).zip(sum.iter_mut()).zip(comp.iter_mut()) {
            let e = if v.is_nan() {
                quiet(*v)
            } else if mx.is_nan() {
                quiet(mx)
            } else {
                (*v - mx).exp()
            };
            *v = e;
            // 2Sum: s + e exactly = t + err
            let t = *s + e;
            let bp = t - *s;
            let err = (*s - (t - bp)) + (e - bp);
            *s = t;
            *c += err;
        }
    }
    for (s, c) in sum.iter_mut().zip(comp.iter()) {
        *s += *c;
    }
    for mut col in z.axis_iter_mut(Axis(1)) {
        for (v, &s) in col.iter_mut().zip(sum.iter()) {
            *v = if v.is_nan() { *v } else if s.is_nan() { quiet(s) } else { *v / s };
        }
    }
}

/// Values of the per-row workspace that [`activate_small_into`] keeps on
/// the stack for the softmax (3 per row).
pub(crate) const SMALL_SOFTMAX_WORK: usize = 128;

/// `dst = act(z)` for a small layer's `z` (`n` rows, column-major in one
/// slice, as `crate::forward::forward_small_into` keeps it on the stack);
/// the softmax needs `3 * n <= SMALL_SOFTMAX_WORK`. Returns whether `z`
/// held a NaN or an infinity: then `dst` is unspecified (the sigmoid has
/// written it; the others have not) and the caller takes the general
/// path, which follows R's NaN rules.
pub(crate) fn activate_small_into(act: Activation, z: &[f64], dst: &mut [f64], n: usize) -> bool {
    match act {
        Activation::Sigmoid => return sigmoid_into_checked(z, dst),
        _ if z.iter().fold(false, |acc, v| acc | !v.is_finite()) => return true,
        Activation::Relu => dst.iter_mut().zip(z).for_each(|(o, &v)| *o = relu(v)),
        Activation::Tanh => dst.iter_mut().zip(z).for_each(|(o, &v)| *o = v.tanh()),
        Activation::Identity => dst.copy_from_slice(z),
        Activation::LeakyRelu => dst.iter_mut().zip(z).for_each(|(o, &v)| *o = leaky_relu(v)),
        Activation::Elu => dst.iter_mut().zip(z).for_each(|(o, &v)| *o = elu(v)),
        Activation::Gelu => dst.iter_mut().zip(z).for_each(|(o, &v)| *o = gelu(v)),
        Activation::Softplus => dst.iter_mut().zip(z).for_each(|(o, &v)| *o = softplus(v)),
        Activation::Softmax => {
            dst.copy_from_slice(z);
            let mut rows = [0.0f64; SMALL_SOFTMAX_WORK];
            let d = dst.len() / n;
            match ArrayViewMut2::from_shape((n, d).f(), &mut dst[..n * d]) {
                Ok(v) => softmax_rows(v, &mut rows),
                Err(e) => unreachable!("small layer: {e}"),
            }
        }
    }
    false
}

/// `g <- g * act'(z)`, written in terms of the layer's output `a =
/// act(z)` (the backward pass keeps `a`, not `z`): `a (1 - a)` for the
/// sigmoid, `1 - a^2` for tanh, `a > 0` for relu (0 at `z = 0`, as torch),
/// 1 for identity, `a > 0 ? 1 : 0.01` for leaky relu, and for softmax
/// (row-wise) `a_i (g_i - sum_j g_j a_j)`. The activations whose
/// derivative needs `z` ([`Activation::needs_z`]) go through
/// [`activation_backward_z`]; given only `a`, their gradient here is NaN
/// (never silently wrong). `rows` is a workspace of at least `z.nrows()`
/// values (softmax).
pub fn activation_backward(act: Activation, a: ArrayView2<f64>, mut g: ArrayViewMut2<f64>, rows: &mut [f64]) {
    assert_eq!(a.dim(), g.dim(), "activation_backward: a and g differ in shape");
    match act {
        Activation::Identity => {}
        Activation::LeakyRelu => Zip::from(&mut g).and(&a).for_each(|g, &a| *g *= leaky_relu_derivative(a)),
        Activation::Elu | Activation::Gelu | Activation::Softplus => g.fill(f64::NAN),
        Activation::Sigmoid => Zip::from(&mut g).and(&a).for_each(|g, &a| *g *= a * (1.0 - a)),
        Activation::Tanh => Zip::from(&mut g).and(&a).for_each(|g, &a| *g *= 1.0 - a * a),
        Activation::Relu => Zip::from(&mut g).and(&a).for_each(|g, &a| {
            if a <= 0.0 {
                *g = 0.0
            }
        }),
        Activation::Softmax => {
            let m = a.nrows();
            let dot = &mut rows[..m];
            dot.fill(0.0);
            for (gc, ac) in g.axis_iter(Axis(1)).zip(a.axis_iter(Axis(1))) {
                for ((d, &gv), &av) in dot.iter_mut().zip(gc.iter()).zip(ac.iter()) {
                    *d += gv * av;
                }
            }
            for (mut gc, ac) in g.axis_iter_mut(Axis(1)).zip(a.axis_iter(Axis(1))) {
                for ((gv, &av), &d) in gc.iter_mut().zip(ac.iter()).zip(dot.iter()) {
                    *gv = av * (*gv - d);
                }
            }
        }
    }
}

/// `g <- g * act'(z)` from the layer's `z` (before the activation), for
/// the elementwise activations (see [`Activation::derivative`]); the
/// softmax's gradient needs its output (see [`activation_backward`]) and
/// is NaN here.
pub fn activation_backward_z(act: Activation, z: ArrayView2<f64>, mut g: ArrayViewMut2<f64>) {
    assert_eq!(z.dim(), g.dim(), "activation_backward_z: z and g differ in shape");
    Zip::from(&mut g).and(&z).for_each(|g, &z| *g *= act.derivative(z).unwrap_or(f64::NAN));
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
    fn threaded_sigmoid_is_the_same_bit_for_bit_whatever_the_threads() {
        // lengths around the chunk size and its multiples, with special
        // values scattered through them, into fresh and reused buffers
        let mut state = 12345u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) * 80.0 - 40.0
        };
        let special = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -745.0, 710.0, -0.0, 1e-300];
        for len in [0usize, 1, 7, SIGMOID_CHUNK - 1, SIGMOID_CHUNK, SIGMOID_CHUNK + 1, 3 * SIGMOID_CHUNK + 5] {
            let mut src: Vec<f64> = (0..len).map(|_| next()).collect();
            for (i, v) in special.iter().enumerate() {
                if len > 0 {
                    src[(i * 7919) % len] = *v;
                }
            }
            let mut want = vec![0.0; len];
            sigmoid_into(&src, &mut want);
            for threads in [0usize, 1, 2, 3, 8] {
                let mut got = vec![f64::NAN; len];
                sigmoid_into_threads(&src, &mut got, threads);
                let same = got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "len {len}, threads {threads}");
            }
        }
    }

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
    fn in_place_into_and_scalar_agree() {
        let src: Vec<f64> = (0..1000).map(|i| (i as f64 - 500.0) * 0.37).collect();
        let mut a = src.clone();
        sigmoid_in_place(&mut a);
        let mut b = vec![0.0; src.len()];
        sigmoid_into(&src, &mut b);
        let mut c = vec![0.0; src.len()];
        sigmoid_into_scalar(&src, &mut c);
        for i in 0..src.len() {
            assert_eq!(a[i].to_bits(), b[i].to_bits());
            assert_eq!(c[i].to_bits(), sigmoid(src[i]).to_bits());
            assert!(ulps(b[i], c[i]) <= 2, "x = {}", src[i]);
        }
    }

    #[test]
    fn vectorised_sigmoid_is_nearly_correctly_rounded() {
        // against the 60-digit reference values: at most 1 ulp (the scalar
        // plogis() formula is allowed 2)
        let x: Vec<f64> = REFERENCE.iter().map(|r| r.0).collect();
        let mut got = vec![0.0; x.len()];
        sigmoid_into(&x, &mut got);
        for (g, &(x, want)) in got.iter().zip(REFERENCE) {
            assert!(ulps(*g, want) <= 1, "sigmoid({x:e}) = {g:e}, want {want:e}");
        }
    }

    /// Distance in ulp between two doubles of the same sign (0 and -0
    /// count as equal; both NaN count as 0).
    fn ulps(a: f64, b: f64) -> u64 {
        if a.is_nan() && b.is_nan() {
            return 0;
        }
        if a == b {
            return 0;
        }
        assert!(a.is_sign_negative() == b.is_sign_negative(), "{a} vs {b}");
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    /// Deterministic test inputs: a dense grid over [-745, 745], a denser
    /// one over [-40, 40] (where 1 + e^-x crosses 2^53 and where the result
    /// rounds to 1), values around the vectorised range's limit and the
    /// underflow threshold, and pseudo-random values of every magnitude.
    fn hard_inputs() -> Vec<f64> {
        let mut v = Vec::new();
        let mut x = -745.0;
        while x <= 745.0 {
            v.push(x);
            x += 1.0 / 256.0;
        }
        let mut x = -40.0;
        while x <= 40.0 {
            v.push(x);
            x += 1.0 / 4096.0;
        }
        for c in [-36.8f64, -36.7368005696771, 36.7, 36.04, -708.0, 708.0, -709.78, -709.782712893384] {
            for k in -2000i64..=2000 {
                v.push(f64::from_bits(c.to_bits().wrapping_add_signed(k)));
            }
        }
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..1_000_000 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            let sign = if state & 1 == 0 { 1.0 } else { -1.0 };
            // uniform on [-745, 745] half the time, else log-uniform 1e-20..1e3
            let mag = if state & 2 == 0 { 745.0 * u } else { 10f64.powf(-20.0 + 23.0 * u) };
            v.push(sign * mag);
        }
        v
    }

    #[test]
    fn vectorised_sigmoid_is_within_two_ulp_of_plogis() {
        let x = hard_inputs();
        let mut fast = vec![0.0; x.len()];
        sigmoid_into(&x, &mut fast);
        let mut worst = (0u64, 0.0);
        for (&xi, &f) in x.iter().zip(&fast) {
            let d = ulps(f, sigmoid(xi));
            if d > worst.0 {
                worst = (d, xi);
            }
        }
        assert!(worst.0 <= 2, "{} ulp at x = {:e}", worst.0, worst.1);
        // in place gives the same bits
        let mut inplace = x.clone();
        sigmoid_in_place(&mut inplace);
        assert!(inplace.iter().zip(&fast).all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn vectorised_sigmoid_special_values_are_plogis_bits() {
        let r_na = f64::from_bits(0x7FF0_0000_0000_07A2);
        let x = [
            f64::NEG_INFINITY, f64::INFINITY, r_na, f64::NAN, 0.0, -0.0, -1e308, 1e308, -746.0,
            -709.8, -709.78, -745.0, 745.0, 709.0, -f64::MIN_POSITIVE, 5e-324, f64::MAX, f64::MIN,
        ];
        for len in 1..=x.len() {
            let src = &x[..len];
            let mut got = vec![0.0; len];
            sigmoid_into(src, &mut got);
            for (g, &s) in got.iter().zip(src) {
                if s.is_nan() || s.abs() > SIMD_LIMIT {
                    assert_eq!(g.to_bits(), sigmoid(s).to_bits(), "x = {s}");
                }
            }
            assert_eq!(got[0], 0.0);
        }
        let mut got = vec![0.0; x.len()];
        sigmoid_into(&x, &mut got);
        assert_eq!(&got[..2], &[0.0, 1.0]);
        assert_eq!(got[2].to_bits(), r_na.to_bits());
        assert!(got[3].is_nan());
        assert_eq!(&got[4..6], &[0.5, 0.5]);
        assert_eq!(got[8], 0.0);
        assert_eq!(got[9], 0.0);
    }

    #[test]
    fn vectorised_sigmoid_does_not_depend_on_position() {
        // the same value at every offset, and in tails of every length
        let base: Vec<f64> = (0..23).map(|i| (i as f64 - 11.0) * 3.3).collect();
        let mut want = vec![0.0; base.len()];
        sigmoid_into(&base, &mut want);
        for start in 0..base.len() {
            let mut got = vec![0.0; base.len() - start];
            sigmoid_into(&base[start..], &mut got);
            for (g, w) in got.iter().zip(&want[start..]) {
                assert_eq!(g.to_bits(), w.to_bits());
            }
        }
    }

    #[test]
    fn checked_sigmoid_reports_non_finite_inputs() {
        for len in [0, 1, 3, 15, 16, 17, 300, 1000] {
            let base: Vec<f64> = (0..len).map(|i| (i as f64 - 500.0) * 1.7).collect();
            let mut out = vec![0.0; len];
            // huge finite values take the scalar path but are finite
            let mut finite = base.clone();
            if len > 2 {
                finite[1] = 1e300;
                finite[len - 1] = -800.0;
            }
            assert!(!sigmoid_into_checked(&finite, &mut out), "len {len}");
            let mut v = finite.clone();
            assert!(!sigmoid_in_place_checked(&mut v));
            assert!(v.iter().zip(&out).all(|(a, b)| a.to_bits() == b.to_bits()));
            for pos in [0, len / 2, len.saturating_sub(1)] {
                for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, f64::from_bits(0x7FF0_0000_0000_07A2)] {
                    if len == 0 {
                        continue;
                    }
                    let mut x = finite.clone();
                    x[pos] = bad;
                    assert!(sigmoid_into_checked(&x, &mut out), "len {len} pos {pos} {bad}");
                    let mut inplace = x.clone();
                    assert!(sigmoid_in_place_checked(&mut inplace), "len {len} pos {pos} {bad}");
                    let mut scalar = vec![0.0; len];
                    sigmoid_into_scalar(&x, &mut scalar);
                    assert_eq!(out[pos].to_bits(), scalar[pos].to_bits());
                    // in place: the replaced lane from the loaded input, and
                    // every other value as sigmoid_into gives it
                    assert!(inplace.iter().zip(&out).all(|(a, b)| a.to_bits() == b.to_bits()), "len {len} pos {pos}");
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn ln2_parts_have_the_documented_bits() {
        assert_eq!(simd::LN2_HI.to_bits(), 0x3FE6_2E42_FEE0_0000);
        assert_eq!(simd::LN2_LO.to_bits(), 0x3DEA_39EF_3579_3C76);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn vectorised_exp_is_within_one_ulp_of_the_platform_exp() {
        if !simd::available() {
            return;
        }
        let mut worst = (0u64, 0.0);
        let mut y = -SIMD_LIMIT;
        while y <= 0.0 {
            // SAFETY: AVX2 and FMA are available (checked above).
            let got = unsafe { simd::exp_nonpositive_one(y) };
            let d = ulps(got, y.exp());
            if d > worst.0 {
                worst = (d, y);
            }
            y += 1.0 / 1024.0 + 1e-9;
        }
        assert!(worst.0 <= 1, "{} ulp at y = {:e}", worst.0, worst.1);
    }

    // (z, act(z), act'(z)), the exact values rounded to double (mpmath, 60
    // digits: GELU as z * ncdf(z) and ncdf(z) + z * npdf(z), softplus as
    // log1p(exp(z)) and exp(z) / (1 + exp(z)), ELU's negative side as
    // expm1(z) and exp(z)); see tools/activation-reference.py.
    const GELU_REFERENCE: &[(f64, f64, f64)] = &[
        (-40.0, -0.0, -0.0),
        (-10.0, -7.619853024160526e-23, -7.618400096464814e-22),
        (-5.5, -1.0444259356238245e-07, -5.733472398739924e-07),
        (-3.0, -0.0040496940948902835, -0.011945647204183927),
        (-1.0, -0.15865525393145705, -0.0833154705876863),
        (-0.5, -0.15426876936299344, 0.13250487534383715),
        (-1e-10, -4.999999999601058e-11, 0.49999999992021155),
        (0.3, 0.1853734266566858, 0.7323277668271099),
        (1.0, 0.8413447460685429, 1.0833154705876864),
        (2.5, 2.4844758366855597, 1.037611085908145),
        (7.0, 6.999999999991041, 1.0000000000626632),
        (30.0, 30.0, 1.0),
    ];
    const SOFTPLUS_REFERENCE: &[(f64, f64, f64)] = &[
        (-40.0, 4.248354255291589e-18, 4.248354255291589e-18),
        (-20.0, 2.061153620314381e-09, 2.0611536181902037e-09),
        (-1.0, 0.3132616875182228, 0.2689414213699951),
        (-1e-08, 0.6931471755599453, 0.4999999975),
        (0.5, 0.9740769841801067, 0.6224593312018546),
        (3.0, 3.048587351573742, 0.9525741268224333),
        (19.9, 19.900000002277924, 0.9999999977220729),
        (20.0, 20.000000002061153, 0.9999999979388464),
    ];
    const ELU_REFERENCE: &[(f64, f64, f64)] = &[
        (-800.0, -1.0, 0.0),
        (-30.0, -0.9999999999999064, 9.357622968840175e-14),
        (-2.0, -0.8646647167633873, 0.1353352832366127),
        (-1e-10, -9.999999999500001e-11, 0.9999999999),
        (-0.0, 0.0, 1.0),
    ];

    fn rel_close(got: f64, want: f64, tol: f64) -> bool {
        got == want || (got - want).abs() <= tol * want.abs()
    }

    #[test]
    fn new_activations_match_high_precision_references() {
        for (act, table) in [(Activation::Gelu, GELU_REFERENCE), (Activation::Softplus, SOFTPLUS_REFERENCE), (Activation::Elu, ELU_REFERENCE)] {
            for &(z, v, d) in table {
                let got = act.value(z).expect("elementwise");
                // softplus is z itself beyond 20, as torch (1e-10 off);
                // GELU's tail: erfc(z / sqrt(2)) has condition number about
                // z^2, so the rounding of z / sqrt(2) costs up to z^2 ulp
                let tol = match act {
                    Activation::Softplus if z >= 20.0 => 1e-10,
                    Activation::Gelu => 4e-16 * z.mul_add(z, 1.0),
                    _ => 4e-16,
                };
                assert!(rel_close(got, v, tol), "{act:?}({z}) = {got:e}, want {v:e}");
                let gd = act.derivative(z).expect("elementwise");
                assert!(rel_close(gd, d, 5.0 * tol), "{act:?}'({z}) = {gd:e}, want {d:e}");
            }
        }
        // beyond the threshold softplus is the identity, with slope 1
        assert_eq!(softplus(20.5), 20.5);
        assert_eq!(softplus_derivative(20.5), 1.0);
        assert_eq!(softplus(1e300), 1e300);
        // leaky relu and elu's positive side
        for z in [1e-300, 0.5, 3.0, 1e300] {
            assert_eq!(leaky_relu(z), z);
            assert_eq!(elu(z), z);
            assert_eq!(leaky_relu(-z), -0.01 * z);
            assert_eq!(leaky_relu_derivative(z), 1.0);
            assert_eq!(leaky_relu_derivative(-z), 0.01);
            assert_eq!(elu_derivative(z), 1.0);
        }
        // torch's choices at 0: the negative side's slope
        assert_eq!(leaky_relu_derivative(0.0), 0.01);
        assert_eq!(elu_derivative(0.0), 1.0);
        assert_eq!(gelu_derivative(0.0), 0.5);
    }

    #[test]
    fn gelu_agrees_with_torchs_erf_formula() {
        // torch: 0.5 z (1 + erf(z / sqrt(2))); the same where it has no
        // cancellation (z >= -1)
        let mut z = -1.0;
        while z < 12.0 {
            let torch = 0.5 * z * (1.0 + libm::erf(z * std::f64::consts::FRAC_1_SQRT_2));
            assert!(rel_close(gelu(z), torch, 4e-16), "gelu({z}) = {:e}, torch {torch:e}", gelu(z));
            z += 0.0137;
        }
    }

    #[test]
    fn derivatives_match_finite_differences() {
        let h: f64 = 1e-5;
        for act in Activation::ALL {
            if act == Activation::Softmax {
                assert_eq!(act.value(1.0), None);
                assert_eq!(act.derivative(1.0), None);
                continue;
            }
            let f = |z: f64| act.value(z).expect("elementwise");
            let mut z: f64 = -8.03;
            while z < 25.0 {
                // away from the kinks of relu, leaky relu, elu (at 0) and
                // softplus (at 20)
                if z.abs() > 2.0 * h && (z - 20.0).abs() > 2.0 * h {
                    let fd = (f(z - 2.0 * h) - 8.0 * f(z - h) + 8.0 * f(z + h) - f(z + 2.0 * h)) / (12.0 * h);
                    let d = act.derivative(z).expect("elementwise");
                    assert!((d - fd).abs() <= 1e-9 * d.abs().max(1.0), "{act:?}'({z}) = {d:e}, finite differences {fd:e}");
                }
                z += 0.0731;
            }
        }
    }

    #[test]
    fn new_activations_keep_na_and_nan_and_take_infinities() {
        // R's NA: a NaN with payload 1954
        let na = f64::from_bits(0x7FF0_0000_0000_07A2);
        for act in [Activation::LeakyRelu, Activation::Elu, Activation::Gelu, Activation::Softplus] {
            let f = |z: f64| act.value(z).expect("elementwise");
            assert!(is_r_na(f(na)), "{act:?}(NA)");
            let v = f(f64::NAN);
            assert!(v.is_nan() && !is_r_na(v), "{act:?}(NaN)");
            assert_eq!(f(f64::INFINITY), f64::INFINITY, "{act:?}(Inf)");
            // the same through apply_activation and the small path
            let mut m = ndarray::Array2::from_shape_vec((3, 1).f(), vec![na, f64::NAN, 1.0]).expect("shape");
            apply_activation(m.view_mut(), act, &mut [0.0; 9]);
            assert!(is_r_na(m[(0, 0)]) && m[(1, 0)].is_nan() && !is_r_na(m[(1, 0)]));
            assert_eq!(m[(2, 0)], f(1.0));
        }
        assert_eq!(leaky_relu(f64::NEG_INFINITY), f64::NEG_INFINITY);
        assert_eq!(elu(f64::NEG_INFINITY), -1.0);
        assert_eq!(gelu(f64::NEG_INFINITY), 0.0);
        assert_eq!(softplus(f64::NEG_INFINITY), 0.0);
        assert_eq!(gelu_derivative(f64::NEG_INFINITY), 0.0);
        assert_eq!(gelu_derivative(f64::INFINITY), 1.0);
    }

    #[test]
    fn backward_from_z_equals_backward_from_a_where_both_apply() {
        let z = ndarray::Array2::from_shape_fn((7, 3).f(), |(i, j)| (i as f64 - 3.0) * 0.7 + j as f64 * 0.31);
        for act in [Activation::Sigmoid, Activation::Tanh, Activation::Relu, Activation::LeakyRelu, Activation::Identity] {
            let mut a = z.clone();
            apply_activation(a.view_mut(), act, &mut [0.0; 21]);
            let mut g1 = ndarray::Array2::from_elem((7, 3).f(), 1.5);
            let mut g2 = g1.clone();
            activation_backward(act, a.view(), g1.view_mut(), &mut [0.0; 7]);
            activation_backward_z(act, z.view(), g2.view_mut());
            for (x, y) in g1.iter().zip(&g2) {
                assert!((x - y).abs() <= 1e-15, "{act:?}: {x} vs {y}");
            }
        }
        // given only a, the activations that need z give NaN, never a wrong value
        for act in Activation::ALL.into_iter().filter(|a| a.needs_z()) {
            let mut g = ndarray::Array2::from_elem((7, 3).f(), 1.0);
            activation_backward(act, z.view(), g.view_mut(), &mut [0.0; 7]);
            assert!(g.iter().all(|v| v.is_nan()), "{act:?}");
        }
    }
}
