//! Helpers shared by the unit tests of the core's modules.

use ndarray::{Array2, ArrayBase, Data, Ix2, ShapeBuilder};

use crate::activation::Activation;
use crate::network::{Layer, Network};

/// Small deterministic generator so the tests need no RNG crate: values in
/// [-1, 1).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

/// A `rows x cols` matrix of [`Lcg`] values, column- or row-major.
pub fn random(rows: usize, cols: usize, seed: u64, col_major: bool) -> Array2<f64> {
    let mut g = Lcg(seed);
    let mut a = if col_major { Array2::zeros((rows, cols).f()) } else { Array2::zeros((rows, cols)) };
    a.iter_mut().for_each(|v| *v = g.next());
    a
}

/// Naive reference product, accumulated in ascending order of the inner
/// index, independent of the implementation's indexing helpers.
pub fn naive<S1, S2>(a: &ArrayBase<S1, Ix2>, b: &ArrayBase<S2, Ix2>) -> Array2<f64>
where
    S1: Data<Elem = f64>,
    S2: Data<Elem = f64>,
{
    let mut c = Array2::zeros((a.nrows(), b.ncols()));
    for i in 0..a.nrows() {
        for j in 0..b.ncols() {
            let mut s = 0.0;
            for l in 0..a.ncols() {
                s += a[(i, l)] * b[(l, j)];
            }
            c[(i, j)] = s;
        }
    }
    c
}

/// A column-major `rows x cols` matrix of [`Lcg`] values times `scale`.
pub fn random_scaled(rows: usize, cols: usize, seed: u64, scale: f64) -> Array2<f64> {
    let mut g = Lcg(seed.wrapping_mul(7919).wrapping_add(17));
    let mut a = Array2::zeros((rows, cols).f());
    a.iter_mut().for_each(|v| *v = scale * g.next());
    a
}

/// Owned weights/biases for a test network (layer `l` has activation
/// `acts[l % acts.len()]`).
pub struct Spec {
    pub weights: Vec<Array2<f64>>,
    pub biases: Vec<Option<Vec<f64>>>,
    pub acts: Vec<Activation>,
}

impl Spec {
    pub fn new(sizes: &[usize], acts: &[Activation], bias: bool, seed: u64) -> Spec {
        let n_layers = sizes.len() - 1;
        let weights = (0..n_layers)
            .map(|l| random_scaled(sizes[l], sizes[l + 1], seed + l as u64, 1.0 / (sizes[l] as f64).sqrt()))
            .collect();
        let biases = (0..n_layers)
            .map(|l| bias.then(|| random_scaled(1, sizes[l + 1], seed + 100 + l as u64, 0.5).into_raw_vec_and_offset().0))
            .collect();
        let acts = (0..n_layers).map(|l| acts[l % acts.len()]).collect();
        Spec { weights, biases, acts }
    }

    pub fn net(&self) -> Network<'_> {
        let layers = self
            .weights
            .iter()
            .zip(&self.biases)
            .zip(&self.acts)
            .map(|((w, b), &activation)| Layer { weights: w.view(), bias: b.as_deref(), activation })
            .collect();
        Network::new(layers).expect("test network shapes chain")
    }
}
