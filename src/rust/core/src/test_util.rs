//! Helpers shared by the unit tests of the core's modules.

use ndarray::{Array2, ArrayBase, Data, Ix2, ShapeBuilder};

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
