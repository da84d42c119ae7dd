#' fwdprop: forward propagation of neural networks on plain R matrices
#'
#' Matrix products ([mm()]), activations ([sigmoid()]) and forward passes
#' computed by a Rust core on ordinary R matrices. The functions mirror the
#' `torch` workflow used in lecture material (`X$mm(beta)`, `sigmoid()`),
#' without needing `libtorch`.
#'
#' @keywords internal
#' @useDynLib fwdprop, .registration = TRUE
"_PACKAGE"
