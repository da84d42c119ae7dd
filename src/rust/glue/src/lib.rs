//! R bindings for fwdprop: the only crate that knows about R. This file
//! only registers: the bindings live in `ops` (the lecture's operations,
//! whole forward passes, initialisation), `learn` (gradients, training),
//! `safetensors` and `json` (files and their metadata), `fast` (the raw
//! fast paths for tiny inputs), `autograd` (the tensors' hot path); conversions between R objects and ndarray
//! views in `convert`; the math in `fwdprop-core`. Every function is
//! internal (called from the R wrappers in `R/`, which validate and coerce
//! arguments first).

use extendr_api::prelude::*;

mod autograd;
mod convert;
mod fast;
mod json;
mod learn;
mod ops;
mod safetensors;
mod tensor;
mod torch_rng;

extendr_module! {
    mod fwdprop;
    use ops;
    use learn;
    use json;
    use safetensors;
    use torch_rng;
}

/// Registers the package's `.Call` routines: extendr's (the functions of
/// `extendr_module!` above) plus the raw fast paths of `mm()`, `sigmoid()`
/// and `forward()` (see [`fast`]), which are no extendr functions and so
/// not in the generated R wrappers. Called from
/// `R_init_fwdprop()` in `src/entrypoint.c`.
///
/// # Safety
/// Called once by R with the package's `DllInfo`.
#[no_mangle]
pub unsafe extern "C" fn fwdprop_register_routines(info: *mut extendr_ffi::DllInfo) {
    use extendr_api::metadata::{Arg, Func};
    let mut meta = get_fwdprop_metadata();
    // (R name = C name, doc, argument names, entry point)
    let raw: [(&'static str, &'static str, &[&'static str], *const u8); 15] = [
        (
            "fwdprop_mm_fast",
            "Fast path of mm() for small plain matrices.",
            &["x", "y"],
            fast::fwdprop_mm_fast as *const u8,
        ),
        (
            "fwdprop_sigmoid_fast",
            "Fast path of sigmoid() for small plain vectors.",
            &["x"],
            fast::fwdprop_sigmoid_fast as *const u8,
        ),
        (
            "fwdprop_forward_fast",
            "Fast path of forward() for small inputs.",
            &["net", "x", "trace", "threads"],
            fast::fwdprop_forward_fast as *const u8,
        ),
        (
            "fwdprop_round_f32",
            "Doubles rounded to float32, for float32 tensors.",
            &["x"],
            tensor::fwdprop_round_f32 as *const u8,
        ),
        (
            "fwdprop_sum_torch",
            "Sum of a vector in PyTorch's order, for tensors.",
            &["x", "float32"],
            tensor::fwdprop_sum_torch as *const u8,
        ),
        (
            "fwdprop_tensor_new",
            "A new tensor object, for tensors.",
            &["data", "shape", "dtype", "requires_grad", "node", "state"],
            autograd::fwdprop_tensor_new as *const u8,
        ),
        (
            "fwdprop_tensor_arith",
            "Fast path of tensor arithmetic (+ - * / ^).",
            &["op", "e1", "e2", "state"],
            autograd::fwdprop_tensor_arith as *const u8,
        ),
        (
            "fwdprop_tensor_reduce_all",
            "Fast path of the mean or sum of all values of a tensor.",
            &["x", "mean", "state"],
            autograd::fwdprop_tensor_reduce_all as *const u8,
        ),
        (
            "fwdprop_tensor_node_backward",
            "Gradients of a natively recorded tensor operation.",
            &["backward", "g"],
            autograd::fwdprop_tensor_node_backward as *const u8,
        ),
        (
            "fwdprop_tensor_inplace",
            "Fast path of $sub_() and $add_() of tensors.",
            &["op", "self", "other", "alpha", "state"],
            autograd::fwdprop_tensor_inplace as *const u8,
        ),
        (
            "fwdprop_tensor_backward",
            "Backward pass of a graph recorded in Rust.",
            &["root", "g0", "retain_graph", "keep", "state"],
            autograd::fwdprop_tensor_backward as *const u8,
        ),
        (
            "fwdprop_tensor_unary",
            "Fast path of elementwise functions of tensors.",
            &["fun", "x", "state"],
            autograd::fwdprop_tensor_unary as *const u8,
        ),
        (
            "fwdprop_tensor_linear",
            "Fast path of the linear layer of tensors.",
            &["x", "weight", "bias", "state"],
            autograd::fwdprop_tensor_linear as *const u8,
        ),
        (
            "fwdprop_sgd_step",
            "Plain SGD step of tensor parameters.",
            &["params", "lr"],
            autograd::fwdprop_sgd_step as *const u8,
        ),
        (
            "fwdprop_zero_grads",
            "Zeroes (or removes) the gradients of tensor parameters.",
            &["params", "set_to_none"],
            autograd::fwdprop_zero_grads as *const u8,
        ),
    ];
    for (name, doc, args, func_ptr) in raw {
        meta.functions.push(Func {
            doc,
            rust_name: name,
            mod_name: name,
            r_name: name,
            c_name: name,
            args: args.iter().map(|&name| Arg { name, arg_type: "SEXP", default: None }).collect(),
            return_type: "SEXP",
            func_ptr,
            hidden: true,
            invisible: None,
        });
    }
    extendr_api::register_call_methods(info, meta);
}
