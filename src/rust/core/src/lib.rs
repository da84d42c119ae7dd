//! Numeric core of the fwdprop R package.
//!
//! This crate knows nothing of R: it works on `ndarray` views and plain
//! slices, so it can be tested with `cargo test` on a machine without R.
//! The glue crate (`../glue`) converts R objects to views and back.

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
mod parallel;
mod product;
#[cfg(test)]
mod test_util;

pub use activation::{sigmoid, sigmoid_in_place, Activation};
pub use forward::{forward_into, forward_trace_into};
pub use network::{CoreError, Layer, Network, ParamLayout};
pub use init::{init_weights_into, InitMethod};
pub use matmul::{gemm_into, has_non_finite, matmul_into, simple_matmul_into};
