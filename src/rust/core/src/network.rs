//! The network and what every part of the core shares about it: a dense
//! layer ([`Layer`]: weights, optional bias, activation), a chain of them
//! whose shapes fit ([`Network`]), the flat layout of a network's
//! parameters ([`ParamLayout`], as the gradient and the optimisers see
//! them), and the core's error type ([`CoreError`]).
//!
//! The activations themselves, the [`Activation`] enum included, are in
//! [`crate::activation`].

use std::fmt;
use std::sync::OnceLock;

use ndarray::{ArrayView2, ArrayViewMut2, ShapeBuilder};

use crate::activation::Activation;

/// One dense layer: `z = a_prev %*% weights (+ bias)`, `a = activation(z)`.
#[derive(Clone, Debug)]
pub struct Layer<'a> {
    /// `d_in x d_out` weights (any strides).
    pub weights: ArrayView2<'a, f64>,
    /// `None`, or `d_out` values added to every row of `z`.
    pub bias: Option<&'a [f64]>,
    /// Applied to `z`.
    pub activation: Activation,
}

/// The core's error: inconsistent shapes or arguments (a programming
/// error on the caller's side: the R wrappers check shapes first), or
/// memory that could not be had. Every fallible function of the core
/// returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreError(pub String);

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CoreError {}

impl From<crate::memory::AllocError> for CoreError {
    fn from(e: crate::memory::AllocError) -> Self {
        CoreError(e.to_string())
    }
}

/// `Err(CoreError(msg))`.
pub(crate) fn err<T>(msg: String) -> Result<T, CoreError> {
    Err(CoreError(msg))
}

/// A chain of layers whose shapes fit together.
#[derive(Clone, Debug)]
pub struct Network<'a> {
    pub(crate) layers: Vec<Layer<'a>>,
    /// Per layer: do the weights hold a non-finite value (then every
    /// product with them takes R's plain loop). Found out only when a
    /// product gave a non-finite value (a scan of every weight on every
    /// call costs milliseconds for a wide layer).
    pub(crate) weights_non_finite: Vec<OnceLock<bool>>,
}

impl<'a> Network<'a> {
    /// Checks that there is at least one layer, that each layer's weights
    /// have as many rows as the previous layer's have columns, and that
    /// each bias has one value per column.
    pub fn new(layers: Vec<Layer<'a>>) -> Result<Self, CoreError> {
        if layers.is_empty() {
            return err("a network needs at least one layer".into());
        }
        for (l, pair) in layers.windows(2).enumerate() {
            let (a, b) = (&pair[0].weights, &pair[1].weights);
            if a.ncols() != b.nrows() {
                return err(format!(
                    "layer {} has {} outputs but layer {}'s weights are {}x{}",
                    l + 1,
                    a.ncols(),
                    l + 2,
                    b.nrows(),
                    b.ncols()
                ));
            }
        }
        for (l, layer) in layers.iter().enumerate() {
            if let Some(b) = layer.bias {
                if b.len() != layer.weights.ncols() {
                    return err(format!(
                        "layer {}'s bias has length {} but its weights have {} columns",
                        l + 1,
                        b.len(),
                        layer.weights.ncols()
                    ));
                }
            }
        }
        let weights_non_finite = layers.iter().map(|_| OnceLock::new()).collect();
        Ok(Network { layers, weights_non_finite })
    }

    /// The layers.
    pub fn layers(&self) -> &[Layer<'a>] {
        &self.layers
    }

    /// Number of inputs (rows of the first weight matrix).
    pub fn n_inputs(&self) -> usize {
        self.layers[0].weights.nrows()
    }

    /// Number of outputs (columns of the last weight matrix).
    pub fn n_outputs(&self) -> usize {
        self.layers[self.layers.len() - 1].weights.ncols()
    }

    /// Largest width of a hidden layer (0 with a single layer).
    pub(crate) fn max_hidden_width(&self) -> usize {
        let l = self.layers.len();
        self.layers[..l - 1].iter().map(|x| x.weights.ncols()).max().unwrap_or(0)
    }

    /// Rough work per input row, in multiply-adds.
    pub(crate) fn work_per_row(&self) -> usize {
        self.layers
            .iter()
            .map(|l| l.weights.ncols() * (l.weights.nrows() + 1 + l.activation.cost()))
            .sum()
    }

    pub(crate) fn check_input(&self, x: &ArrayView2<f64>) -> Result<(), CoreError> {
        if x.ncols() != self.n_inputs() {
            return err(format!(
                "the input has {} columns but the network expects {} inputs",
                x.ncols(),
                self.n_inputs()
            ));
        }
        Ok(())
    }
}

/// Where one layer's parameters sit in the flat vector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerSlots {
    /// Inputs of the layer (rows of its weights).
    pub d_in: usize,
    /// Outputs of the layer (columns of its weights).
    pub d_out: usize,
    /// Offset of the weights (`d_in * d_out` values, column-major).
    pub weights: usize,
    /// Offset of the bias (`d_out` values), if the layer has one.
    pub bias: Option<usize>,
}

/// The flat layout of a network's parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamLayout {
    /// One entry per layer.
    pub layers: Vec<LayerSlots>,
    /// Number of parameters.
    pub len: usize,
}

impl ParamLayout {
    /// The layout of layers of widths `sizes` (input first), `bias[l]`
    /// saying whether layer `l` has a bias.
    pub fn new(sizes: &[usize], bias: &[bool]) -> Self {
        let mut len = 0;
        let layers = sizes
            .windows(2)
            .zip(bias)
            .map(|(w, &b)| {
                let weights = len;
                len += w[0] * w[1];
                let bias = b.then(|| {
                    let off = len;
                    len += w[1];
                    off
                });
                LayerSlots { d_in: w[0], d_out: w[1], weights, bias }
            })
            .collect();
        ParamLayout { layers, len }
    }

    /// The layout of `net`'s parameters.
    pub fn of(net: &Network) -> Self {
        let layers = net.layers();
        let mut sizes = vec![net.n_inputs()];
        sizes.extend(layers.iter().map(|l| l.weights.ncols()));
        let bias: Vec<bool> = layers.iter().map(|l| l.bias.is_some()).collect();
        Self::new(&sizes, &bias)
    }

    /// Layer `l`'s weights in `flat`, as a column-major view.
    pub fn weights<'f>(&self, l: usize, flat: &'f [f64]) -> ArrayView2<'f, f64> {
        let s = &self.layers[l];
        match ArrayView2::from_shape((s.d_in, s.d_out).f(), &flat[s.weights..s.weights + s.d_in * s.d_out]) {
            Ok(v) => v,
            Err(e) => unreachable!("parameter layout: {e}"),
        }
    }

    /// Layer `l`'s weights in `flat`, mutable.
    pub fn weights_mut<'f>(&self, l: usize, flat: &'f mut [f64]) -> ArrayViewMut2<'f, f64> {
        let s = &self.layers[l];
        match ArrayViewMut2::from_shape((s.d_in, s.d_out).f(), &mut flat[s.weights..s.weights + s.d_in * s.d_out]) {
            Ok(v) => v,
            Err(e) => unreachable!("parameter layout: {e}"),
        }
    }

    /// Layer `l`'s bias in `flat`, if it has one.
    pub fn bias<'f>(&self, l: usize, flat: &'f [f64]) -> Option<&'f [f64]> {
        let s = &self.layers[l];
        s.bias.map(|b| &flat[b..b + s.d_out])
    }

    /// The network whose parameters are `flat`, with the given activations.
    pub fn network<'f>(&self, flat: &'f [f64], activations: &[Activation]) -> Result<Network<'f>, CoreError> {
        if flat.len() != self.len || activations.len() != self.layers.len() {
            return err(format!(
                "{} parameters and {} activations for a layout of {} and {}",
                flat.len(),
                activations.len(),
                self.len,
                self.layers.len()
            ));
        }
        let layers = (0..self.layers.len())
            .map(|l| Layer { weights: self.weights(l, flat), bias: self.bias(l, flat), activation: activations[l] })
            .collect();
        Network::new(layers)
    }

    /// Copies `net`'s parameters into `flat` (this layout's length).
    pub fn gather(&self, net: &Network, flat: &mut [f64]) {
        for (l, layer) in net.layers().iter().enumerate() {
            self.weights_mut(l, flat).assign(&layer.weights);
            if let (Some(b), Some(off)) = (layer.bias, self.layers[l].bias) {
                flat[off..off + b.len()].copy_from_slice(b);
            }
        }
    }

    /// The ranges of `flat` that hold weights (not biases): weight decay
    /// applies to these.
    pub fn weight_ranges(&self) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        self.layers.iter().map(|s| s.weights..s.weights + s.d_in * s.d_out)
    }

    /// The ranges of `flat` that hold biases.
    pub fn bias_ranges(&self) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        self.layers.iter().filter_map(|s| s.bias.map(|b| b..b + s.d_out))
    }
}
