//! Numeric core of the fwdprop R package.
//!
//! This crate knows nothing of R: it works on `ndarray` views and plain
//! slices, so it can be tested with `cargo test` on a machine without R.
//! The glue crate (`../glue`) converts R objects to views and back.
//!
//! Modules, listed so that each uses only modules listed before it (no
//! module uses one that uses it):
//! * [`memory`]: fallible allocation, huge pages, prefaulting;
//! * `nan`: R's NaN rules (first NaN wins, NA kept) and non-finite checks;
//! * `parallel`: the one way threads are started (`run_jobs`), the
//!   training epoch's crew (phases of pieces handed out as threads become
//!   free) and the pointer handed to threads;
//! * [`init`]: seeded weight initialisation;
//! * [`matmul`]: products as base R's `%*%` (NA versus NaN included);
//! * [`gemm`]: the packed AVX2/FMA GEMM of the passes;
//! * [`activation`]: every activation ([`Activation`]) and its derivative;
//! * [`network`]: layers, networks, the flat parameter layout, [`CoreError`];
//! * [`loss`]: the losses and the output layer's gradient;
//! * `product`: the products of the passes (matrix-vector, tiny, GEMM) and
//!   the bias;
//! * [`forward`]: the forward passes (fused, unfused, allocation-free);
//! * [`backward`]: the gradient of a loss (blocked and unfused);
//! * [`optim`]: training epochs (SGD, Adam);
//! * [`torch_rng`]: libtorch's CPU random streams (mt19937, uniform, normal,
//!   `nn_linear()`'s initialisation), number for number.

pub mod activation;
pub mod backward;
pub mod forward;
pub mod gemm;
pub mod init;
pub mod loss;
pub mod matmul;
pub mod memory;
mod nan;
pub mod network;
pub mod optim;
pub mod torch_rng;
mod parallel;
mod product;
#[cfg(test)]
mod test_util;

pub use activation::{sigmoid, sigmoid_in_place, Activation};
pub use forward::{forward_into, forward_trace_into};
pub use init::{init_weights_into, InitMethod};
pub use matmul::{gemm_into, has_non_finite, matmul_into, simple_matmul_into};
pub use network::{CoreError, Layer, Network, ParamLayout};
