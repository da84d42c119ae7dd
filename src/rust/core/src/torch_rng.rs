//! Random streams that give, number for number, what libtorch's CPU
//! generator gives (PyTorch and torch for R run the same libtorch).
//!
//! What libtorch does (ATen 2.x, `CPUGeneratorImpl`, `MT19937RNGEngine.h`,
//! `core/DistributionsHelper.h`, `core/TransformationHelper.h`,
//! `native/cpu/DistributionTemplates.h`, `native/cpu/avx_mathfun.h`):
//!
//! * Engine: 32-bit Mersenne Twister (mt19937), seeded with the low 32
//!   bits of the seed by the classic `init_genrand` recurrence. A seed also
//!   clears the generator's cached normal value.
//! * `random()` is one engine output; `random64()` is two, the first the
//!   high half.
//! * Uniform `[from, to)`: float takes the low 24 bits of `random()`, double
//!   the low 53 bits of `random64()`; `x = bits * 2^-24` (or `2^-53`) and
//!   the value is `x * (to - from) + from`, computed in the tensor's type
//!   with one rounding (a fused multiply-add: libtorch's CPU kernels are
//!   compiled with FMA contraction). A float value that rounds up to `to`
//!   becomes `from`. `torch_rand()` is uniform on `[0, 1)`.
//! * `randint(low, high)`: `random() % (high - low) + low` when the range
//!   is below 2^28 (else `random64()`).
//! * Normal (`torch_randn()`), two kernels chosen by the number of values:
//!   - fewer than 16: the scalar Box–Muller in double for both dtypes:
//!     `u1`, `u2` double uniforms, `r = sqrt(-2 log1p(-u2))`,
//!     `theta = 2 pi u1`; it returns `r cos(theta)` and caches
//!     `r sin(theta)` in the generator, which the next scalar draw returns
//!     without drawing (the cache survives the other kernels, and a seed
//!     clears it). Float tensors get the double value rounded to float.
//!   - 16 or more: first every value is drawn as a uniform of the tensor's
//!     type; then each block of 16 is transformed in place, pairs
//!     `(j, j + 8)`: `u1 = 1 - d[j]`, `u2 = d[j + 8]`,
//!     `radius = sqrt(-2 log(u1))`, `theta = 2 pi u2`,
//!     `d[j] = radius cos(theta)`, `d[j + 8] = radius sin(theta)`. If the
//!     size is not a multiple of 16, 16 further uniforms are drawn into the
//!     last 16 places and that block is transformed again (so `n + 16`
//!     uniforms are drawn). Double uses the C library's `log`, `cos`,
//!     `sin`; float (on x86-64, where libtorch uses its AVX2 kernel for
//!     normals even on AVX-512 machines) uses the Cephes single-precision
//!     polynomials of `avx_mathfun.h`, reproduced below operation for
//!     operation with the compiler's multiply-add contractions.
//! * `nn_linear(in, out)`: the weight (`out x in`, filled in row-major
//!   order) is uniform on `[-b, b)` with `b = sqrt(3) * gain / sqrt(in)`,
//!   `gain = sqrt(2 / (1 + a^2))`, `a = sqrt(5)` (kaiming_uniform_, which
//!   is `1 / sqrt(in)` up to rounding); then the bias, uniform on
//!   `[-1/sqrt(in), 1/sqrt(in))`.
//!
//! torch for R's seeding as the lecture series ran it (torch for R before
//! 0.5.0, kept there as the option `torch.old_seed_behavior`), see
//! [`TorchStreams`]: `torch_manual_seed(s)` seeds the default generator
//! with `s`, draws `v = randint(1, 1e6)` from it and seeds a second
//! generator with `v`; `torch_rand()`/`torch_randn()`/`torch_randint()`
//! draw from the default generator, the in-place initialisers
//! (`nn_init_*`, hence `nn_linear()`) from the second one.
//!
//! The C library functions (`log`, `log1p`, `sin`, `cos`) are Rust's `std`
//! ones, which on Linux call the same C library that libtorch calls.

use std::f64::consts::PI;

const MT_N: usize = 624;
const MT_M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UMASK: u32 = 0x8000_0000;
const LMASK: u32 = 0x7fff_ffff;

/// libtorch's mt19937 engine (`at::mt19937`).
#[derive(Clone, Debug, PartialEq)]
pub struct Mt19937 {
    seed: u64,
    left: u32,
    next: u32,
    state: [u32; MT_N],
}

impl Mt19937 {
    /// Seeds as `at::mt19937(seed)`: the state from the low 32 bits.
    pub fn new(seed: u64) -> Self {
        let mut state = [0u32; MT_N];
        state[0] = (seed & 0xffff_ffff) as u32;
        for j in 1..MT_N {
            let prev = state[j - 1];
            state[j] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(j as u32);
        }
        Self {
            seed,
            left: 1,
            next: 0,
            state,
        }
    }

    /// The seed it was created with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    fn twist(u: u32, v: u32) -> u32 {
        (((u & UMASK) | (v & LMASK)) >> 1) ^ if v & 1 == 1 { MATRIX_A } else { 0 }
    }

    fn next_state(&mut self) {
        let s = &mut self.state;
        self.left = MT_N as u32;
        self.next = 0;
        for j in 0..MT_N - MT_M {
            s[j] = s[j + MT_M] ^ Self::twist(s[j], s[j + 1]);
        }
        for j in MT_N - MT_M..MT_N - 1 {
            s[j] = s[j + MT_M - MT_N] ^ Self::twist(s[j], s[j + 1]);
        }
        s[MT_N - 1] = s[MT_M - 1] ^ Self::twist(s[MT_N - 1], s[0]);
    }

    /// One 32-bit output.
    pub fn next_u32(&mut self) -> u32 {
        self.left -= 1;
        if self.left == 0 {
            self.next_state();
        }
        let mut y = self.state[self.next as usize];
        self.next += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }
}

/// One libtorch CPU generator: the engine and the cached normal value of
/// the scalar Box–Muller kernel.
#[derive(Clone, Debug, PartialEq)]
pub struct TorchGenerator {
    engine: Mt19937,
    next_normal: Option<f64>,
}

/// The bytes of one generator in [`TorchGenerator::to_bytes`].
const GENERATOR_BYTES: usize = 8 + 4 + 4 + 4 * MT_N + 1 + 8;

impl TorchGenerator {
    /// A generator as after `torch_manual_seed(seed)`.
    pub fn new(seed: u64) -> Self {
        Self {
            engine: Mt19937::new(seed),
            next_normal: None,
        }
    }

    /// Reseeds (and forgets the cached normal value), as `manual_seed`.
    pub fn manual_seed(&mut self, seed: u64) {
        *self = Self::new(seed);
    }

    /// The current seed.
    pub fn seed(&self) -> u64 {
        self.engine.seed()
    }

    /// `random()`: one engine output.
    pub fn random(&mut self) -> u32 {
        self.engine.next_u32()
    }

    /// `random64()`: two engine outputs, the first the high half.
    pub fn random64(&mut self) -> u64 {
        let hi = self.random() as u64;
        let lo = self.random() as u64;
        (hi << 32) | lo
    }

    fn unit_f32(&mut self) -> f32 {
        (self.random() & 0x00ff_ffff) as f32 * (1.0 / 16_777_216.0)
    }

    fn unit_f64(&mut self) -> f64 {
        (self.random64() & ((1u64 << 53) - 1)) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// `uniform_(from, to)` on a float tensor.
    pub fn uniform_f32(&mut self, from: f64, to: f64, out: &mut [f32]) {
        let (from, to) = (from as f32, to as f32);
        let width = to - from;
        for v in out.iter_mut() {
            let x = self.unit_f32().mul_add(width, from);
            *v = if x == to { from } else { x };
        }
    }

    /// `uniform_(from, to)` on a double tensor.
    pub fn uniform_f64(&mut self, from: f64, to: f64, out: &mut [f64]) {
        let width = to - from;
        for v in out.iter_mut() {
            let x = self.unit_f64().mul_add(width, from);
            *v = if x == to { from } else { x };
        }
    }

    /// `random_(low, high)` (`torch_randint(low, high)`): integers in
    /// `[low, high)`; `high > low` is the caller's to check.
    pub fn randint(&mut self, low: i64, high: i64, out: &mut [i64]) {
        let range = high.wrapping_sub(low) as u64;
        for v in out.iter_mut() {
            let r = if range >= 1 << 28 {
                self.random64()
            } else {
                self.random() as u64
            };
            *v = (r % range).wrapping_add(low as u64) as i64;
        }
    }

    /// The scalar kernel's standard normal (`at::normal_distribution<double>`).
    fn scalar_normal(&mut self) -> f64 {
        if let Some(cached) = self.next_normal.take() {
            return cached;
        }
        let u1 = self.unit_f64();
        let u2 = self.unit_f64();
        let r = (-2.0 * (-u2).ln_1p()).sqrt();
        let theta = 2.0 * PI * u1;
        self.next_normal = Some(r * theta.sin());
        r * theta.cos()
    }

    /// `normal_()` (`torch_randn()`) on a contiguous float tensor.
    pub fn normal_f32(&mut self, out: &mut [f32]) {
        let n = out.len();
        if n < 16 {
            for v in out.iter_mut() {
                *v = self.scalar_normal() as f32;
            }
            return;
        }
        for v in out.iter_mut() {
            *v = self.unit_f32();
        }
        for block in out.chunks_exact_mut(16) {
            box_muller16_f32(block);
        }
        if n % 16 != 0 {
            let tail = &mut out[n - 16..];
            for v in tail.iter_mut() {
                *v = self.unit_f32();
            }
            box_muller16_f32(tail);
        }
    }

    /// `normal_()` (`torch_randn()`) on a contiguous double tensor.
    pub fn normal_f64(&mut self, out: &mut [f64]) {
        let n = out.len();
        if n < 16 {
            for v in out.iter_mut() {
                *v = self.scalar_normal();
            }
            return;
        }
        for v in out.iter_mut() {
            *v = self.unit_f64();
        }
        for block in out.chunks_exact_mut(16) {
            box_muller16_f64(block);
        }
        if n % 16 != 0 {
            let tail = &mut out[n - 16..];
            for v in tail.iter_mut() {
                *v = self.unit_f64();
            }
            box_muller16_f64(tail);
        }
    }

    /// The generator's whole state as bytes (little-endian): seed, the
    /// engine's position and words, the cached normal value.
    pub fn to_bytes(&self, out: &mut Vec<u8>) {
        let e = &self.engine;
        out.extend_from_slice(&e.seed.to_le_bytes());
        out.extend_from_slice(&e.left.to_le_bytes());
        out.extend_from_slice(&e.next.to_le_bytes());
        for w in e.state.iter() {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.push(self.next_normal.is_some() as u8);
        out.extend_from_slice(&self.next_normal.unwrap_or(0.0).to_le_bytes());
    }

    /// The inverse of [`to_bytes`](Self::to_bytes); `None` for bytes that
    /// no generator has (wrong length, an impossible engine position).
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != GENERATOR_BYTES {
            return None;
        }
        let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap());
        let seed = u64::from_le_bytes(bytes[0..8].try_into().ok()?);
        let (left, next) = (u32_at(8), u32_at(12));
        let mut state = [0u32; MT_N];
        for (j, w) in state.iter_mut().enumerate() {
            *w = u32_at(16 + 4 * j);
        }
        let flag = bytes[16 + 4 * MT_N];
        let cached = f64::from_le_bytes(bytes[17 + 4 * MT_N..].try_into().ok()?);
        let valid = left >= 1 && left as usize <= MT_N && next as usize <= MT_N && flag <= 1;
        // after the first draw left + next = N + 1; fresh from a seed (1, 0)
        if !valid || (left as usize + next as usize != MT_N + 1 && (left, next) != (1, 0)) {
            return None;
        }
        let engine = Mt19937 {
            seed,
            left,
            next,
            state,
        };
        Some(Self {
            engine,
            next_normal: (flag == 1).then_some(cached),
        })
    }
}

/// libtorch's `NormalFill16<double>`: Box–Muller in place on 16 uniforms.
fn box_muller16_f64(d: &mut [f64]) {
    for j in 0..8 {
        let u1 = 1.0 - d[j];
        let u2 = d[j + 8];
        let radius = (-2.0 * u1.ln()).sqrt();
        let theta = 2.0 * PI * u2;
        d[j] = radius * theta.cos();
        d[j + 8] = radius * theta.sin();
    }
}

/// libtorch's AVX2 `NormalFill16<float>`: Box–Muller in place on 16
/// uniforms with `log256_ps` and `sincos256_ps`.
fn box_muller16_f32(d: &mut [f32]) {
    let two_pi = (2.0f32 as f64 * PI) as f32;
    for j in 0..8 {
        let u1 = 1.0f32 - d[j];
        let u2 = d[j + 8];
        let radius = (-2.0f32 * cephes_logf(u1)).sqrt();
        let (sin, cos) = cephes_sincosf(two_pi * u2);
        d[j] = radius * cos;
        d[j + 8] = radius * sin;
    }
}

/// A `float` constant as C writes it: a double literal rounded to float.
const fn c_float(x: f64) -> f32 {
    x as f32
}

const LOG_P: [f32; 9] = [
    c_float(7.0376836292E-2),
    c_float(-1.1514610310E-1),
    c_float(1.1676998740E-1),
    c_float(-1.2420140846E-1),
    c_float(1.4249322787E-1),
    c_float(-1.6668057665E-1),
    c_float(2.0000714765E-1),
    c_float(-2.4999993993E-1),
    c_float(3.3333331174E-1),
];
const LOG_Q1: f32 = c_float(-2.12194440e-4);
const LOG_Q2: f32 = c_float(0.693359375);
/// The C source's 0.707106781186547524.
const SQRTHF: f32 = c_float(std::f64::consts::FRAC_1_SQRT_2);

/// `log256_ps` of `avx_mathfun.h` (Cephes `logf`) on one lane, for the
/// arguments of the normal kernel (`0 < x <= 1`).
fn cephes_logf(x: f32) -> f32 {
    if x.is_nan() || x <= 0.0 {
        return f32::NAN;
    }
    let x = x.max(f32::MIN_POSITIVE);
    let bits = x.to_bits();
    let exponent = (bits >> 23) as i32 - 0x7f;
    let mut x = f32::from_bits((bits & !0x7f80_0000) | 0.5f32.to_bits());
    let mut e = exponent as f32 + 1.0;
    let small = x < SQRTHF;
    let tmp = if small { x } else { 0.0 };
    x -= 1.0;
    if small {
        e -= 1.0;
    }
    x += tmp;
    let z = x * x;
    let mut y = LOG_P[0];
    for &p in &LOG_P[1..] {
        y = y.mul_add(x, p);
    }
    y *= x;
    // y * z + e * q1: the compiler fuses the earlier product
    y = y.mul_add(z, e * LOG_Q1);
    y -= z * 0.5;
    e.mul_add(LOG_Q2, x + y)
}

#[allow(clippy::excessive_precision)] // the C source's literals
const MINUS_DP: [f32; 3] = [
    c_float(-0.78515625),
    c_float(-2.4187564849853515625e-4),
    c_float(-3.77489497744594108e-8),
];
const SINCOF: [f32; 3] = [
    c_float(-1.9515295891E-4),
    c_float(8.3321608736E-3),
    c_float(-1.6666654611E-1),
];
const COSCOF: [f32; 3] = [
    c_float(2.443315711809948E-005),
    c_float(-1.388731625493765E-003),
    c_float(4.166664568298827E-002),
];
const FOPI: f32 = c_float(1.27323954473516);

/// `sincos256_ps` of `avx_mathfun.h` (Cephes `sinf`/`cosf`) on one lane;
/// returns `(sin, cos)`.
fn cephes_sincosf(x: f32) -> (f32, f32) {
    let sign_sin = x.to_bits() & 0x8000_0000;
    let mut x = x.abs();
    // truncation toward zero, as _mm256_cvttps_epi32 (arguments < 2^31)
    let mut j = (x * FOPI) as i32;
    j = (j + 1) & !1;
    let y = j as f32;
    let swap_sin = ((j & 4) as u32) << 29;
    let poly_is_cos = (j & 2) == 0;
    for &dp in &MINUS_DP {
        x = y.mul_add(dp, x);
    }
    let sign_cos = ((!(j - 2) & 4) as u32) << 29;
    let sign_sin = sign_sin ^ swap_sin;
    let z = x * x;
    let mut c = COSCOF[0];
    c = c.mul_add(z, COSCOF[1]);
    c = c.mul_add(z, COSCOF[2]);
    c *= z;
    c = c.mul_add(z, -(z * 0.5));
    c += 1.0;
    let mut s = SINCOF[0];
    s = s.mul_add(z, SINCOF[1]);
    s = s.mul_add(z, SINCOF[2]);
    s *= z;
    s = s.mul_add(x, x);
    let (sin, cos) = if poly_is_cos { (s, c) } else { (c, s) };
    (
        f32::from_bits(sin.to_bits() ^ sign_sin),
        f32::from_bits(cos.to_bits() ^ sign_cos),
    )
}

/// Which generator torch for R's `torch_manual_seed()` leaves the
/// initialisers (`nn_init_*`, `nn_linear()`) drawing from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeedBehavior {
    /// torch for R before 0.5.0, as the lecture series ran it: a second
    /// generator, seeded with `randint(1, 1e6)` drawn from the default one.
    Lecture,
    /// PyTorch (and torch for R since 0.5.0): the default generator.
    PyTorch,
}

/// The tensor precisions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    /// float32, torch's default.
    Float,
    /// float64.
    Double,
}

/// torch for R's random state: the default CPU generator (`torch_rand()`,
/// `torch_randn()`, `torch_randint()`) and the generator the in-place
/// initialisers draw from when that is a separate one.
#[derive(Clone, Debug, PartialEq)]
pub struct TorchStreams {
    default: TorchGenerator,
    init: TorchGenerator,
    init_is_default: bool,
}

impl TorchStreams {
    /// Streams with the given seeds for the default generator and the
    /// initialisers' own one (as torch for R of 2021 at load time).
    pub fn new(default_seed: u64, init_seed: u64) -> Self {
        Self {
            default: TorchGenerator::new(default_seed),
            init: TorchGenerator::new(init_seed),
            init_is_default: false,
        }
    }

    /// `torch_manual_seed(seed)`; with [`SeedBehavior::Lecture`] it also
    /// draws `randint(1, 1e6)` from the default generator and seeds the
    /// initialisers' generator with it.
    pub fn manual_seed(&mut self, seed: u64, behavior: SeedBehavior) {
        self.default.manual_seed(seed);
        match behavior {
            SeedBehavior::Lecture => {
                let mut v = [0i64];
                self.default.randint(1, 1_000_000, &mut v);
                self.init.manual_seed(v[0] as u64);
                self.init_is_default = false;
            }
            SeedBehavior::PyTorch => self.init_is_default = true,
        }
    }

    /// Seeds only the initialisers' own generator (torch for R of 2021
    /// seeded it at load time with R's `sample(1e5, 1)`), and makes the
    /// initialisers draw from it.
    pub fn seed_init(&mut self, seed: u64) {
        self.init.manual_seed(seed);
        self.init_is_default = false;
    }

    /// The default generator.
    pub fn default_generator(&mut self) -> &mut TorchGenerator {
        &mut self.default
    }

    /// The generator the initialisers draw from.
    pub fn init_generator(&mut self) -> &mut TorchGenerator {
        if self.init_is_default {
            &mut self.default
        } else {
            &mut self.init
        }
    }

    /// `n` uniforms on `[0, 1)` from the default generator, as `torch_rand(n)`.
    pub fn uniform(&mut self, n: usize, dtype: Dtype) -> Vec<f64> {
        draw(
            &mut self.default,
            n,
            dtype,
            |g, o| g.uniform_f32(0.0, 1.0, o),
            |g, o| g.uniform_f64(0.0, 1.0, o),
        )
    }

    /// `n` standard normals from the default generator, as `torch_randn(n)`.
    pub fn normal(&mut self, n: usize, dtype: Dtype) -> Vec<f64> {
        draw(
            &mut self.default,
            n,
            dtype,
            |g, o| g.normal_f32(o),
            |g, o| g.normal_f64(o),
        )
    }

    /// `nn_linear(n_in, n_out, bias)`'s initial weight (`n_out x n_in`,
    /// row-major as torch stores it) and bias (empty without one), drawn
    /// from the initialisers' generator. `n_in >= 1`.
    pub fn linear_init(
        &mut self,
        n_in: usize,
        n_out: usize,
        bias: bool,
        dtype: Dtype,
    ) -> (Vec<f64>, Vec<f64>) {
        let fan_in = n_in as f64;
        let a = 5f64.sqrt();
        let gain = (2.0 / (1.0 + a * a)).sqrt();
        let w_bound = 3f64.sqrt() * (gain / fan_in.sqrt());
        let b_bound = 1.0 / fan_in.sqrt();
        let g = self.init_generator();
        let weight = draw(
            g,
            n_in * n_out,
            dtype,
            |g, o| g.uniform_f32(-w_bound, w_bound, o),
            |g, o| g.uniform_f64(-w_bound, w_bound, o),
        );
        let n_bias = if bias { n_out } else { 0 };
        let bias = draw(
            g,
            n_bias,
            dtype,
            |g, o| g.uniform_f32(-b_bound, b_bound, o),
            |g, o| g.uniform_f64(-b_bound, b_bound, o),
        );
        (weight, bias)
    }

    /// The whole state as bytes, for [`from_bytes`](Self::from_bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 * GENERATOR_BYTES + 1);
        self.default.to_bytes(&mut out);
        self.init.to_bytes(&mut out);
        out.push(self.init_is_default as u8);
        out
    }

    /// Streams from [`to_bytes`](Self::to_bytes)'s bytes; `None` for bytes
    /// that are no such state.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 2 * GENERATOR_BYTES + 1 || bytes[2 * GENERATOR_BYTES] > 1 {
            return None;
        }
        Some(Self {
            default: TorchGenerator::from_bytes(&bytes[..GENERATOR_BYTES])?,
            init: TorchGenerator::from_bytes(&bytes[GENERATOR_BYTES..2 * GENERATOR_BYTES])?,
            init_is_default: bytes[2 * GENERATOR_BYTES] == 1,
        })
    }
}

/// Draws `n` values of `dtype` with the float or double kernel and returns
/// them as doubles (floats exactly).
fn draw(
    g: &mut TorchGenerator,
    n: usize,
    dtype: Dtype,
    float: impl FnOnce(&mut TorchGenerator, &mut [f32]),
    double: impl FnOnce(&mut TorchGenerator, &mut [f64]),
) -> Vec<f64> {
    match dtype {
        Dtype::Float => {
            let mut out = vec![0f32; n];
            float(g, &mut out);
            out.into_iter().map(f64::from).collect()
        }
        Dtype::Double => {
            let mut out = vec![0f64; n];
            double(g, &mut out);
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PyTorch's values, made by tests/testthat/torch-rng-fixtures.py
    /// (its docstring describes the format).
    const FIXTURES: &str = include_str!("../../../../tests/testthat/fixtures/torch-rng.csv");

    struct Case<'a> {
        id: &'a str,
        mode: &'a str,
        dtype: Dtype,
        seed: u64,
        ops: &'a str,
        values: Vec<f64>,
    }

    fn cases() -> Vec<Case<'static>> {
        FIXTURES
            .lines()
            .skip(1)
            .map(|line| {
                let f: Vec<&str> = line.split(',').collect();
                let dtype = if f[2] == "float" {
                    Dtype::Float
                } else {
                    Dtype::Double
                };
                let values = f[5]
                    .split(' ')
                    .map(|h| match h.len() {
                        8 => f32::from_bits(u32::from_str_radix(h, 16).unwrap()) as f64,
                        _ => f64::from_bits(u64::from_str_radix(h, 16).unwrap()),
                    })
                    .collect();
                Case {
                    id: f[0],
                    mode: f[1],
                    dtype,
                    seed: f[3].parse().unwrap(),
                    ops: f[4],
                    values,
                }
            })
            .collect()
    }

    /// Runs a case's ops as the fixture script does.
    fn run(case: &Case) -> Vec<f64> {
        let mut s = TorchStreams::new(12345, 6789);
        match case.mode {
            "pytorch" => s.manual_seed(case.seed, SeedBehavior::PyTorch),
            "lecture" => s.manual_seed(case.seed, SeedBehavior::Lecture),
            m => s.seed_init(m.trim_start_matches("init:").parse().unwrap()),
        }
        let mut out = Vec::new();
        for op in case.ops.split(' ') {
            let arg = &op[1..];
            match &op[..1] {
                "u" => out.extend(s.uniform(arg.parse().unwrap(), case.dtype)),
                "n" if arg.ends_with('#') => {
                    let v = s.normal(arg.trim_end_matches('#').parse().unwrap(), case.dtype);
                    out.extend(digest(&v, case.dtype));
                }
                "n" => out.extend(s.normal(arg.parse().unwrap(), case.dtype)),
                "r" | "R" => {
                    let mut v = vec![0i64; arg.parse().unwrap()];
                    let (low, high) = if op.starts_with('r') {
                        (1, 1_000_000)
                    } else {
                        (-5, 1 << 40)
                    };
                    s.default_generator().randint(low, high, &mut v);
                    out.extend(v.iter().map(|&x| x as f64));
                }
                _ => {
                    let bias = arg.ends_with('b');
                    let (i, o) = arg.trim_end_matches('b').split_once('x').unwrap();
                    let (w, b) =
                        s.linear_init(i.parse().unwrap(), o.parse().unwrap(), bias, case.dtype);
                    out.extend(w);
                    out.extend(b);
                }
            }
        }
        out
    }

    /// The fixture script's digest of many values: sum(b[i]) and
    /// sum(i * b[i]) mod 2^52 of their IEEE bits.
    fn digest(v: &[f64], dtype: Dtype) -> [f64; 2] {
        let (mut s1, mut s2) = (0u64, 0u64);
        for (i, &x) in v.iter().enumerate() {
            let b = if dtype == Dtype::Float {
                (x as f32).to_bits() as u64
            } else {
                x.to_bits()
            };
            s1 = s1.wrapping_add(b);
            s2 = s2.wrapping_add(b.wrapping_mul(i as u64 + 1));
        }
        let m = (1u64 << 52) - 1;
        [(s1 & m) as f64, (s2 & m) as f64]
    }

    #[test]
    fn every_fixture_case_equals_pytorch_bit_for_bit() {
        let cases = cases();
        assert!(cases.len() > 200);
        let mut bad = Vec::new();
        for case in &cases {
            let got = run(case);
            assert_eq!(
                got.len(),
                case.values.len(),
                "case {} ({})",
                case.id,
                case.ops
            );
            let wrong = got
                .iter()
                .zip(&case.values)
                .filter(|(a, b)| a.to_bits() != b.to_bits())
                .count();
            if wrong > 0 {
                bad.push(format!(
                    "case {} {} {:?} {}: {} of {} differ",
                    case.id,
                    case.mode,
                    case.dtype,
                    case.ops,
                    wrong,
                    got.len()
                ));
            }
        }
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    #[test]
    fn the_engine_is_the_standard_mt19937() {
        // C++ [rand.predef]: the 10000th output of a default-constructed
        // std::mt19937 (seed 5489) is 4123659995
        let mut e = Mt19937::new(5489);
        let last = (0..10_000).map(|_| e.next_u32()).last();
        assert_eq!(last, Some(4_123_659_995));
        // only the low 32 bits of the seed reach the state
        let (mut a, mut b) = (Mt19937::new(7), Mt19937::new((1 << 32) + 7));
        assert!((0..700).all(|_| a.next_u32() == b.next_u32()));
        assert_eq!(b.seed(), (1 << 32) + 7);
    }

    #[test]
    fn a_saved_state_continues_the_same_stream() {
        let mut s = TorchStreams::new(1, 2);
        s.manual_seed(2021, SeedBehavior::Lecture);
        s.normal(3, Dtype::Double); // leaves a cached normal value
        s.uniform(700, Dtype::Float); // past a refill of the engine
        let saved = s.to_bytes();
        let mut t = TorchStreams::from_bytes(&saved).expect("a valid state");
        assert_eq!(t, s);
        assert_eq!(t.normal(5, Dtype::Double), s.normal(5, Dtype::Double));
        assert_eq!(
            t.linear_init(3, 2, true, Dtype::Float),
            s.linear_init(3, 2, true, Dtype::Float)
        );
        // bytes that are no state
        assert!(TorchStreams::from_bytes(&saved[1..]).is_none());
        let mut bad = saved.clone();
        bad[8..12].copy_from_slice(&0u32.to_le_bytes()); // left = 0
        assert!(TorchStreams::from_bytes(&bad).is_none());
        let mut bad = saved.clone();
        *bad.last_mut().unwrap() = 2;
        assert!(TorchStreams::from_bytes(&bad).is_none());
    }
}
