#' fwdprop: neural networks on plain R matrices, forward and backward
#'
#' Matrix products ([mm()]), activations ([sigmoid()]), networks
#' ([network()], [forward()]), gradients ([backward()]), training ([fit()],
#' [mlp()]), weights in and out ([as_network()], [read_safetensors()]) and
#' scoring beyond memory ([score()]), computed by a Rust core on ordinary
#' R matrices. The functions mirror the `torch` workflow used in lecture
#' material (`X$mm(beta)`, `sigmoid()`), without needing `libtorch`.
#'
#' @section The lecture series' torch code:
#' The torch-style API ([torch_tensor()] with autograd, [nn_module()],
#' [nn_linear()], the losses, [optim_sgd()], [optim_adam()], [dataset()],
#' [dataloader()]) is exported under torch's names, so the lectures' code
#' runs with library(torch) replaced by `library(fwdprop)`. Random
#' numbers follow libtorch's streams ([torch_manual_seed()],
#' [torch_init_seed()]); everything else keeps using R's generator.
#'
#' @section With torch attached too:
#' When both packages are attached, R warns that objects are masked, and
#' the package attached last provides `torch_tensor()`, `nn_linear()` and
#' the other shared names. fwdprop's tensors and modules only work with
#' fwdprop's functions, and torch's with torch's: call one side with its
#' prefix (`fwdprop::torch_tensor()`, or torch::torch_tensor() for torch's), or attach
#' only one of them. [as_network()] converts a network from either package
#' into a fwdprop network.
#'
#' @keywords internal
#' @importFrom stats coef fitted formula model.frame nobs predict residuals terms update
#' @useDynLib fwdprop, .registration = TRUE
"_PACKAGE"
