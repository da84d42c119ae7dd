#' fwdprop: neural networks on plain R matrices, forward and backward
#'
#' Matrix products ([mm()]), activations ([sigmoid()]), networks
#' ([network()], [forward()]), gradients ([backward()]), training ([fit()],
#' [mlp()]), weights in and out ([as_network()], [read_safetensors()]) and
#' scoring beyond memory ([score()]), computed by a Rust core on ordinary
#' R matrices. The functions mirror the `torch` workflow used in lecture
#' material (`X$mm(beta)`, `sigmoid()`), without needing `libtorch`.
#'
#' @keywords internal
#' @useDynLib fwdprop, .registration = TRUE
"_PACKAGE"
