//! Seeded weight initialisation.
//!
//! Weights come from a ChaCha20 stream (`rand_chacha::ChaCha20Rng`, seeded
//! with `SeedableRng::seed_from_u64(seed)`). The conversion from random bits
//! to numbers is our own, not `rand`'s distributions, and uses the pure-Rust
//! `libm` for `ln`, `sqrt`, `sin` and `cos`, so the same seed gives the same
//! matrix bit for bit on every platform; the crate versions are pinned with
//! `=` in `Cargo.toml`, and golden tests below fail if the stream changes.
//!
//! Distributions (`u` is a uniform draw, see [`uniform01`]):
//! * [`InitMethod::Uniform`]: U(0, 1): `u`.
//! * [`InitMethod::Normal`]: N(0, 1) by the Box–Muller transform; each pair
//!   of uniform draws gives two normal values, used in order.
//! * [`InitMethod::Xavier`]: Glorot uniform U(-a, a) with
//!   `a = sqrt(6 / (n_in + n_out))`: `a * (2u - 1)`.
//! * [`InitMethod::He`]: N(0, 2 / n_in), standard deviation `sqrt(2 / n_in)`:
//!   `sqrt(2 / n_in) * z` with `z` as for `Normal`.
//!
//! Values are produced in column-major (R's) order: the first `n_in`
//! values fill the first column, and so on.

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

/// How to draw the weights; see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitMethod {
    /// U(0, 1).
    Uniform,
    /// N(0, 1).
    Normal,
    /// U(-a, a), `a = sqrt(6 / (n_in + n_out))`.
    Xavier,
    /// N(0, 2 / n_in).
    He,
}

impl InitMethod {
    /// Parses the R-side name (`"uniform"`, `"normal"`, `"xavier"`, `"he"`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "uniform" => Some(Self::Uniform),
            "normal" => Some(Self::Normal),
            "xavier" => Some(Self::Xavier),
            "he" => Some(Self::He),
            _ => None,
        }
    }

    /// The R-side name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Uniform => "uniform",
            Self::Normal => "normal",
            Self::Xavier => "xavier",
            Self::He => "he",
        }
    }
}

/// 2^-53.
const TWO_POW_M53: f64 = 1.0 / (1u64 << 53) as f64;

/// A uniform draw in `[0, 1)`: the top 53 bits of the next `u64`, times
/// 2^-53 (every multiple of 2^-53 in `[0, 1)` equally likely).
#[inline]
pub fn uniform01(rng: &mut impl RngCore) -> f64 {
    (rng.next_u64() >> 11) as f64 * TWO_POW_M53
}

/// A pair of independent N(0, 1) draws by Box–Muller: with `u1` uniform in
/// `(0, 1]` (never 0, so the log is finite) and `u2` uniform in `[0, 1)`,
/// `r = sqrt(-2 ln u1)`, and the pair is `(r cos(2 pi u2), r sin(2 pi u2))`.
#[inline]
pub fn normal_pair(rng: &mut impl RngCore) -> (f64, f64) {
    let u1 = ((rng.next_u64() >> 11) + 1) as f64 * TWO_POW_M53;
    let u2 = uniform01(rng);
    let r = libm::sqrt(-2.0 * libm::log(u1));
    let theta = 2.0 * std::f64::consts::PI * u2;
    (r * libm::cos(theta), r * libm::sin(theta))
}

/// Fills `out` (read as the column-major data of an `n_in x n_out` matrix)
/// with weights drawn by `method` from a ChaCha20 stream seeded with
/// `seed`. `n_in` and `n_out` only set the Xavier and He scales; `out` may
/// have any length.
pub fn init_weights_into(out: &mut [f64], n_in: usize, n_out: usize, method: InitMethod, seed: u64) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    match method {
        InitMethod::Uniform => out.iter_mut().for_each(|v| *v = uniform01(&mut rng)),
        InitMethod::Xavier => {
            let a = (6.0 / (n_in as f64 + n_out as f64)).sqrt();
            out.iter_mut().for_each(|v| *v = a * (2.0 * uniform01(&mut rng) - 1.0));
        }
        InitMethod::Normal => fill_normal(out, 1.0, &mut rng),
        InitMethod::He => fill_normal(out, (2.0 / n_in as f64).sqrt(), &mut rng),
    }
}

/// `sd * z` for standard normal `z`, two values per Box–Muller pair (an odd
/// length drops the last pair's second value).
fn fill_normal(out: &mut [f64], sd: f64, rng: &mut impl RngCore) {
    let mut pairs = out.chunks_exact_mut(2);
    for p in &mut pairs {
        let (z0, z1) = normal_pair(rng);
        p[0] = sd * z0;
        p[1] = sd * z1;
    }
    if let [last] = pairs.into_remainder() {
        *last = sd * normal_pair(rng).0;
    }
}

/// A new `n_in x n_out` column-major weight matrix; see
/// [`init_weights_into`].
pub fn init_weights(n_in: usize, n_out: usize, method: InitMethod, seed: u64) -> ndarray::Array2<f64> {
    use ndarray::ShapeBuilder;
    let mut m = ndarray::Array2::zeros((n_in, n_out).f());
    match m.as_slice_memory_order_mut() {
        Some(s) => init_weights_into(s, n_in, n_out, method, seed),
        None => unreachable!("a new column-major array is contiguous"),
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [InitMethod; 4] = [InitMethod::Uniform, InitMethod::Normal, InitMethod::Xavier, InitMethod::He];

    fn draw(n: usize, method: InitMethod, seed: u64) -> Vec<f64> {
        let mut v = vec![f64::NAN; n];
        init_weights_into(&mut v, 7, 5, method, seed);
        v
    }

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn names_round_trip() {
        for m in ALL {
            assert_eq!(InitMethod::from_name(m.name()), Some(m));
        }
        assert_eq!(InitMethod::from_name("Uniform"), None);
        assert_eq!(InitMethod::from_name(""), None);
    }

    #[test]
    fn chacha20_matches_the_published_keystream() {
        // Independent check of the generator itself: ChaCha20 with an
        // all-zero key and nonce, block 0 (RFC 7539 section A.1, test
        // vector 1) starts 76 b8 e0 ad a0 f1 3d 90 40 5d 6a e5 53 86 bd 28;
        // the RNG returns those bytes as little-endian u64s.
        let mut rng = ChaCha20Rng::from_seed([0u8; 32]);
        assert_eq!(rng.next_u64(), u64::from_le_bytes([0x76, 0xb8, 0xe0, 0xad, 0xa0, 0xf1, 0x3d, 0x90]));
        assert_eq!(rng.next_u64(), u64::from_le_bytes([0x40, 0x5d, 0x6a, 0xe5, 0x53, 0x86, 0xbd, 0x28]));
    }

    // Golden prefixes for seed 42 (bit patterns): a dependency upgrade or
    // code change that alters the stream or the conversion must fail here,
    // since users rely on `init_weights(seed = s)` giving the same matrix in
    // every version. Cross-checked against an independent Python
    // implementation (PCG32 seed expansion as rand_core's seed_from_u64,
    // the ChaCha20 block function of RFC 7539 with a zero nonce, and the
    // conversions above with Python's math.log/sqrt/cos/sin), which gave
    // these exact bits; normal: -0.9748170926439208, 0.6169310008626016,
    // 1.0693096070064674, 1.872419510479783.
    const GOLDEN_UNIFORM_42: [u64; 4] =
        [0x3fe07317823af6a9, 0x3fda40b27e68c5d8, 0x3fb90a545d007160, 0x3fc56de874649ca4];
    const GOLDEN_NORMAL_42: [u64; 4] =
        [0xbfef31b39d8f9920, 0x3fe3bde61512fd4f, 0x3ff11be463f64322, 0x3ffdf56e291e72ad];

    #[test]
    fn golden_prefix_for_seed_42() {
        let u = draw(4, InitMethod::Uniform, 42);
        assert_eq!(bits(&u), GOLDEN_UNIFORM_42, "uniform stream changed: {:#018x?}", bits(&u));
        let z = draw(4, InitMethod::Normal, 42);
        assert_eq!(bits(&z), GOLDEN_NORMAL_42, "normal stream changed: {:#018x?}", bits(&z));
    }

    #[test]
    fn derived_methods_follow_from_the_base_streams() {
        let n = 35;
        let u = draw(n, InitMethod::Uniform, 9);
        let z = draw(n, InitMethod::Normal, 9);
        let x = draw(n, InitMethod::Xavier, 9);
        let h = draw(n, InitMethod::He, 9);
        let a = (6.0f64 / 12.0).sqrt();
        let sd = (2.0f64 / 7.0).sqrt();
        for i in 0..n {
            assert_eq!(x[i].to_bits(), (a * (2.0 * u[i] - 1.0)).to_bits());
            assert_eq!(h[i].to_bits(), (sd * z[i]).to_bits());
        }
    }

    #[test]
    fn same_seed_same_bits_different_seed_differs() {
        for m in ALL {
            for seed in [0u64, 1, 42, 1 << 53] {
                assert_eq!(bits(&draw(33, m, seed)), bits(&draw(33, m, seed)));
                let other = draw(33, m, seed + 1);
                let same = draw(33, m, seed);
                assert!(same.iter().zip(&other).all(|(a, b)| a != b), "{m:?} seed {seed}");
            }
        }
    }

    #[test]
    fn prefix_is_stable_across_lengths() {
        // a longer matrix starts with the values of a shorter one (odd
        // lengths included for the normal pairs)
        for m in ALL {
            let long = draw(20, m, 5);
            for n in [1, 2, 3, 7, 19] {
                assert_eq!(bits(&draw(n, m, 5)), bits(&long[..n]), "{m:?} {n}");
            }
        }
    }

    fn mean_var(v: &[f64]) -> (f64, f64) {
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var)
    }

    #[test]
    fn distributions_have_the_documented_moments_and_ranges() {
        let n = 100_000;
        let (n_in, n_out) = (50usize, 30usize);
        let mut v = vec![0.0; n];
        // sampling sd of the mean is sd / sqrt(n) ~ 0.003 sd; bounds are generous
        init_weights_into(&mut v, n_in, n_out, InitMethod::Uniform, 1);
        let (m, s2) = mean_var(&v);
        assert!((m - 0.5).abs() < 0.01 && (s2 - 1.0 / 12.0).abs() < 0.003, "{m} {s2}");
        assert!(v.iter().all(|&x| (0.0..1.0).contains(&x)));

        init_weights_into(&mut v, n_in, n_out, InitMethod::Normal, 2);
        let (m, s2) = mean_var(&v);
        assert!(m.abs() < 0.02 && (s2 - 1.0).abs() < 0.03, "{m} {s2}");
        let tail = v.iter().filter(|x| x.abs() > 1.959964).count() as f64 / n as f64;
        assert!((tail - 0.05).abs() < 0.005, "{tail}");
        assert!(v.iter().all(|x| x.is_finite()));

        init_weights_into(&mut v, n_in, n_out, InitMethod::Xavier, 3);
        let a = (6.0 / 80.0f64).sqrt();
        let (m, s2) = mean_var(&v);
        assert!(m.abs() < 0.01 * a && (s2 - a * a / 3.0).abs() < 0.03 * a * a, "{m} {s2}");
        assert!(v.iter().all(|&x| -a <= x && x < a));

        init_weights_into(&mut v, n_in, n_out, InitMethod::He, 4);
        let (m, s2) = mean_var(&v);
        let var = 2.0 / n_in as f64;
        assert!(m.abs() < 0.02 * var.sqrt() && (s2 - var).abs() < 0.03 * var, "{m} {s2}");
    }

    #[test]
    fn matrix_shape_and_column_major_fill() {
        let w = init_weights(3, 4, InitMethod::Uniform, 42);
        assert_eq!(w.dim(), (3, 4));
        let flat = draw(12, InitMethod::Uniform, 42);
        for j in 0..4 {
            for i in 0..3 {
                assert_eq!(w[(i, j)].to_bits(), flat[i + 3 * j].to_bits());
            }
        }
        let w = init_weights(1, 1, InitMethod::He, 7);
        assert_eq!(w.dim(), (1, 1));
        assert!(w[(0, 0)].is_finite());
    }
}
