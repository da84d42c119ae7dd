"""Writes fixtures/torch-autograd.csv: inputs and PyTorch's float64
autograd gradients of the expressions that test-autograd.R rebuilds with
fwdprop's tensors (same expressions, same inputs). Run from the package
root with a python that has torch and numpy:
    python tests/testthat/torch-autograd-fixtures.py
"""
import csv

import numpy as np
import torch

rng = np.random.default_rng(20261204)


def t(*shape, scale=1.0, positive=False):
    v = rng.standard_normal(shape) * scale
    if positive:
        v = np.abs(v) + 0.5
    return torch.tensor(v, dtype=torch.float64, requires_grad=True)


cases = {
    # name: (inputs, function of the inputs)
    "mm_sigmoid_broadcast_row": (lambda: [t(3, 4), t(4, 5), t(1, 5)],
                                 lambda a, b, c: (torch.sigmoid(a.mm(b)) * c).sum()),
    "mse_1d_broadcast": (lambda: [t(4, 3), t(3)], lambda a, b: ((a - b) ** 2).mean()),
    "exp_div_column": (lambda: [t(2, 3), t(2, 1, positive=True)], lambda a, b: (torch.exp(a) / (1 + b)).sum()),
    "tanh_relu_mean": (lambda: [t(5, 2, scale=2.0)], lambda a: torch.relu(torch.tanh(a) - 0.1).mean()),
    "log_sqrt_abs": (lambda: [t(3, 3, positive=True), t(3, 3)],
                     lambda a, b: (torch.log(a) * torch.sqrt(a) + torch.abs(b) ** 3).sum()),
    "chain_of_twelve": (lambda: [t(4, 3), t(3, 2), t(1, 2), t(4, 2)],
                        lambda a, b, c, d: ((torch.log(1 + torch.exp(torch.tanh(a.mm(b)) * 2 - c)) / (1 + d ** 2)
                                             ).sigmoid() - 0.5).pow(2).mean() * 3),
    "scalar_times_matrix": (lambda: [t(1), t(3, 2)], lambda m, x: (x * m - m ** 2).sum()),
}

with open("tests/testthat/fixtures/torch-autograd.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["case", "input", "shape", "values", "grad", "value"])
    for name, (make, fun) in cases.items():
        xs = make()
        y = fun(*xs)
        y.backward()
        for i, x in enumerate(xs):
            w.writerow([name, i + 1, " ".join(str(s) for s in x.shape),
                        " ".join(repr(float(v)) for v in x.detach().reshape(-1)),
                        " ".join(repr(float(v)) for v in x.grad.reshape(-1)), repr(float(y))])


# ---------------------------------------------------------------------------
# fixtures/torch-autograd-ops.csv: every differentiable operation of
# fwdprop's tensors, on seeded random shapes (broadcasting pairs, scalars,
# 1- to 3-dimensional tensors), chains of 10 or more operations, and
# gradients accumulated over two backward passes. test-autograd-torch.R
# rebuilds each case (the same operation, in R, from the same numbers) and
# compares the gradients (and against central finite differences).
#
# One row per input of a case: `case` (op#k), `op` (the operation's name,
# the key of the R test's list of functions), `input` (0 for the weights
# W of the output, else the input's position), `shape` (sizes separated
# by spaces, empty for a 0-dimensional tensor), `requires_grad`, `values`
# (row-major, float.hex so float64 round-trips exactly), `grad` (PyTorch's
# gradient of sum(op(inputs) * W), summed over the backward passes) and
# `value` (that sum, of the first pass).
# ---------------------------------------------------------------------------
import torch.nn.functional as F

rng2 = np.random.default_rng(20261205)


def sz(lo=2, hi=3):
    return int(rng2.integers(lo, hi + 1))


def draw(shape, dom):
    if dom == "any":
        v = rng2.uniform(-2, 2, shape)
    elif dom == "pos":
        v = rng2.uniform(0.5, 2.5, shape)
    elif dom == "nz":
        v = rng2.choice([-1.0, 1.0], shape) * rng2.uniform(0.5, 2, shape)
    elif dom == "prob":
        v = rng2.uniform(0.05, 0.95, shape)
    elif dom == "unit":
        v = rng2.uniform(-0.9, 0.9, shape)
    elif dom == "above1":
        v = rng2.uniform(1.2, 3, shape)
    elif isinstance(dom, list):
        v = np.array(dom, dtype=float).reshape(shape)
    elif dom.startswith("cls"):
        v = rng2.integers(1, int(dom[3:]) + 1, shape).astype(float)
    else:
        raise ValueError(dom)
    return np.asarray(v, dtype=float)


def X(shape, dom="any", req=True):
    return (tuple(shape), dom, req)


def bin_configs(d1, d2):
    n, m, k = sz(), sz(), sz()
    return [[X((n, m), d1), X((n, m), d2)], [X((n, 1), d1), X((1, m), d2)], [X((m,), d1), X((n, m), d2)],
            [X((), d1), X((n, m), d2)], [X((n, m), d1), X((), d2)], [X((k, n, m), d1), X((n, 1), d2)]]


def un_configs(dom="any"):
    return [[X((sz(2, 4),), dom)], [X((sz(), sz()), dom)], [X((sz(), sz(), sz()), dom)]]


def nd_configs(dom="any", min_nd=2):
    out = [[X((sz(), sz()), dom)], [X((sz(), sz()), dom)], [X((sz(), sz(), sz()), dom)]]
    return out if min_nd == 2 else [[X((sz(), sz(), sz()), dom)] for _ in range(3)]


ops = {}


def op(name, fn, configs, passes=None):
    ops[name] = (fn, configs, passes)


# elementwise binary operators, with torch's broadcasting
for name, fn, d1, d2 in [("add", lambda a, b: a + b, "any", "any"), ("sub", lambda a, b: a - b, "any", "any"),
                         ("mul", lambda a, b: a * b, "any", "any"), ("div", lambda a, b: a / b, "any", "nz"),
                         ("pow", lambda a, b: a ** b, "pos", "any")]:
    op(name, fn, lambda d1=d1, d2=d2: bin_configs(d1, d2))
# the methods
def method_configs(d1="any", d2="any"):
    n, m = sz(), sz()
    return [[X((n, 1), d1), X((m,), d2)], [X((n, m), d1), X((n, m), d2)], [X((m,), d1), X((), d2)]]


op("add_method", lambda a, b: a.add(b), method_configs)
op("sub_method", lambda a, b: a.sub(b), method_configs)
op("mul_method", lambda a, b: a.mul(b), method_configs)
op("div_method", lambda a, b: a.div(b), lambda: method_configs("any", "nz"))
op("pow_method", lambda a, b: a.pow(b), lambda: method_configs("pos", "any"))
op("pow_method_num", lambda a: a.pow(2), un_configs)
# a number on either side
op("add_num", lambda a: a + 0.75, un_configs)
op("rsub_num", lambda a: 0.75 - a, un_configs)
op("mul_num", lambda a: a * -1.25, un_configs)
op("div_num", lambda a: a / 1.25, un_configs)
op("rdiv_num", lambda a: 1.25 / a, lambda: un_configs("nz"))
op("pow_num", lambda a: a ** 2.5, lambda: un_configs("pos"))
op("pow_int", lambda a: a ** 3, un_configs)
op("pow_neg", lambda a: a ** -1.5, lambda: un_configs("pos"))
op("rpow_num", lambda a: 1.7 ** a, un_configs)
# unary functions
for name, fn, dom in [("neg", lambda a: -a, "any"), ("exp", torch.exp, "any"), ("log", torch.log, "pos"),
                      ("sqrt", torch.sqrt, "pos"), ("sigmoid", torch.sigmoid, "any"), ("tanh", torch.tanh, "any"),
                      ("relu", torch.relu, "nz"), ("abs", torch.abs, "nz"), ("sin", torch.sin, "any"),
                      ("cos", torch.cos, "any"), ("log1p", torch.log1p, "pos"), ("expm1", torch.expm1, "any"),
                      ("log_base2", torch.log2, "pos"), ("exp_method", lambda a: a.exp(), "any"),
                      ("log_method", lambda a: a.log(), "pos"), ("sqrt_method", lambda a: a.sqrt(), "pos"),
                      ("abs_method", lambda a: a.abs(), "nz"), ("neg_method", lambda a: a.neg(), "any"),
                      ("nnf_sigmoid", torch.sigmoid, "any"), ("nnf_tanh", torch.tanh, "any"),
                      ("nnf_relu", F.relu, "nz")]:
    op(name, fn, lambda dom=dom: un_configs(dom))
for name, fn, dom in [("log2_fn", torch.log2, "pos"), ("log10", torch.log10, "pos"), ("tan", torch.tan, "unit"),
                      ("sinh", torch.sinh, "any"), ("cosh", torch.cosh, "any"), ("asin", torch.asin, "unit"),
                      ("acos", torch.acos, "unit"), ("atan", torch.atan, "any"), ("asinh", torch.asinh, "any"),
                      ("acosh", torch.acosh, "above1"), ("atanh", torch.atanh, "unit"), ("lgamma", torch.lgamma, "pos"),
                      ("digamma", torch.digamma, "pos"), ("tan_method", lambda a: a.tan(), "unit"),
                      ("floor", torch.floor, "any"), ("round", torch.round, "any"), ("sign", torch.sign, "nz"),
                      ("cumsum", lambda a: a.reshape(-1).cumsum(0).reshape(a.shape), "any")]:
    op(name, fn, lambda dom=dom: un_configs(dom))
op("remainder", lambda a, b: torch.remainder(a, b), lambda: bin_configs("any", "nz"))
op("remainder_num", lambda a: torch.remainder(a, 0.7), un_configs)
op("clamp", lambda a: a.clamp(-0.5, 0.7), un_configs)
op("clamp_min", lambda a: a.clamp(min=-0.3), un_configs)
op("clamp_max", lambda a: a.clamp(max=0.4), un_configs)
# reductions
op("sum_all", lambda a: a.sum(), un_configs)
op("mean_all", lambda a: a.mean(), un_configs)
op("sum_method", lambda a: a.sum(), un_configs)
op("mean_method", lambda a: a.mean(), un_configs)
op("max_all", lambda a: a.max(), un_configs)
op("min_all", lambda a: a.min(), un_configs)
op("max_method", lambda a: a.max(), un_configs)
op("min_method", lambda a: a.min(), un_configs)
op("sum_d1", lambda a: a.sum(0), nd_configs)
op("sum_d2_keep", lambda a: a.sum(1, keepdim=True), nd_configs)
op("sum_dneg1", lambda a: a.sum(-1), nd_configs)
op("sum_1d", lambda a: a.sum(0), lambda: [[X((sz(2, 5),))] for _ in range(2)])
op("mean_1d_keep", lambda a: a.mean(-1, keepdim=True), lambda: [[X((sz(2, 5),))] for _ in range(2)])
op("sum_d13", lambda a: a.sum((0, 2)), lambda: nd_configs(min_nd=3))
op("mean_d1", lambda a: a.mean(0), nd_configs)
op("mean_d2_keep", lambda a: a.mean(1, keepdim=True), nd_configs)
op("mean_dneg1", lambda a: a.mean(-1), nd_configs)
op("mean_d13_keep", lambda a: a.mean((0, 2), keepdim=True), lambda: nd_configs(min_nd=3))
op("mean_fn_d2", lambda a: a.mean(1), nd_configs)
# products
op("mm", lambda a, b: a.mm(b), lambda: [[X((n, k)), X((k, m))] for n, k, m in
                                         [(sz(1, 4), sz(1, 4), sz(1, 4)) for _ in range(3)]])
op("matmul_mm", lambda a, b: a.matmul(b), lambda: [[X((n, k)), X((k, m))] for n, k, m in
                                                    [(sz(), sz(), sz()) for _ in range(2)]])
op("matmul_dot", lambda a, b: a.matmul(b), lambda: [[X((k,)), X((k,))] for k in [sz(1, 4), sz(2, 5)]])
op("matmul_mv", lambda a, b: a.matmul(b), lambda: [[X((n, k)), X((k,))] for n, k in [(sz(), sz()), (sz(), sz())]])
op("matmul_vm", lambda a, b: a.matmul(b), lambda: [[X((k,)), X((k, m))] for k, m in [(sz(), sz()), (sz(), sz())]])
op("linear_bias", lambda x, w, b: F.linear(x, w, b),
   lambda: [[X((n, i)), X((o, i)), X((o,))] for n, i, o in [(sz(), sz(), sz()) for _ in range(3)]])
op("linear_nobias", lambda x, w: F.linear(x, w),
   lambda: [[X((n, i)), X((o, i))] for n, i, o in [(sz(), sz(), sz()) for _ in range(2)]])
# shapes
op("t", lambda a: a.t(), lambda: [[X((sz(), sz()))], [X((1, sz()))], [X((sz(),))]])
op("t_fn", lambda a: a.t(), lambda: [[X((sz(), sz()))], [X((sz(1, 4), sz(1, 4)))]])
op("transpose12", lambda a: a.transpose(0, 1), lambda: [[X((sz(), sz()))], [X((sz(), sz(), sz()))]])
op("transpose13", lambda a: a.transpose(0, 2), lambda: nd_configs(min_nd=3)[:2])
op("transpose_neg", lambda a: a.transpose(-1, -2), lambda: [[X((sz(), sz()))], [X((sz(), sz(), sz()))]])
op("view_flat", lambda a: a.view(-1), nd_configs)
op("view_last", lambda a: a.view(-1, a.shape[-1]), nd_configs)
op("reshape_rev", lambda a: a.reshape(tuple(reversed(a.shape))), nd_configs)
op("squeeze", lambda a: a.squeeze(), lambda: [[X((sz(), 1, sz()))], [X((1, sz()))]])
op("squeeze_d2", lambda a: a.squeeze(1), lambda: [[X((sz(), 1, sz()))], [X((sz(), 1))]])
op("unsqueeze1", lambda a: a.unsqueeze(0), lambda: [[X((sz(),))], [X((sz(), sz()))]])
op("unsqueeze_neg", lambda a: a.unsqueeze(-1), lambda: [[X((sz(),))], [X((sz(), sz()))]])
op("clone", lambda a: a.clone(), un_configs)
# indexing (R's 1-based indices; a single number drops its dimension)
op("idx_rows_dup", lambda a: a[[1, 0, 1], :], lambda: [[X((sz(), sz()))] for _ in range(2)])
op("idx_cols", lambda a: a[:, [1, 0]], lambda: [[X((sz(), sz()))] for _ in range(2)])
op("idx_elem", lambda a: a[1, 0], lambda: [[X((sz(), sz()))] for _ in range(2)])
op("idx_vec_dup", lambda a: a[[0, 2, 2]], lambda: [[X((sz(3, 5),))] for _ in range(2)])
op("idx_neg_row", lambda a: a[-1, :], lambda: [[X((sz(), sz()))] for _ in range(2)])
op("idx_3d", lambda a: a[1][:, [0, 1]], lambda: [[X((sz(), sz(), sz()))] for _ in range(2)])
op("idx_block", lambda a: a[[0, 1]][:, [1, 2]], lambda: [[X((sz(2, 4), sz(3, 4)))] for _ in range(2)])
# joining
op("cat_d1", lambda a, b: torch.cat([a, b], 0), lambda: [[X((sz(1, 3), m)), X((sz(1, 3), m))] for m in [sz(), sz()]])
op("cat_d2", lambda a, b, c: torch.cat([a, b, c], 1),
   lambda: [[X((n, sz(1, 3))), X((n, sz(1, 3))), X((n, sz(1, 3)))] for n in [sz(), sz()]])
op("cat_neg", lambda a, b: torch.cat([a, b], -1), lambda: [[X((sz(1, 3),)), X((sz(1, 3),))], [X((2, sz(1, 3))), X((2, sz(1, 3)))]])
op("cat_fn", lambda a, b: torch.cat([a, b], 0), lambda: [[X((sz(1, 3), 2)), X((sz(1, 3), 2))], [X((sz(1, 3),)), X((sz(1, 3),))]])
op("cat_const", lambda a, b: torch.cat([a, b], 1), lambda: [[X((n, 2)), X((n, 1), req=False)] for n in [sz(), sz()]])
op("stack_d1", lambda a, b, c: torch.stack([a, b, c], 0), lambda: [[X(s), X(s), X(s)] for s in [(sz(),), (sz(), sz())]])
op("stack_d2", lambda a, b: torch.stack([a, b], 1), lambda: [[X(s), X(s)] for s in [(sz(),), (sz(), sz())]])
op("stack_neg", lambda a, b: torch.stack([a, b], -1), lambda: [[X(s), X(s)] for s in [(sz(),), (sz(), sz())]])
# softmax and losses
for name, fn in [("softmax_d1", lambda a: F.softmax(a, 0)), ("softmax_d2", lambda a: F.softmax(a, 1)),
                 ("softmax_neg", lambda a: F.softmax(a, -1)), ("log_softmax_d1", lambda a: F.log_softmax(a, 0)),
                 ("log_softmax_d2", lambda a: F.log_softmax(a, 1)),
                 ("log_softmax_neg", lambda a: F.log_softmax(a, -1))]:
    op(name, fn, nd_configs)
for red in ["mean", "sum", "none"]:
    op("mse_" + red, lambda a, b, red=red: F.mse_loss(a, b, reduction=red), lambda: [[X(s), X(s)] for s in [(sz(2, 5),), (sz(), sz())]])
    op("bce_" + red, lambda a, b, red=red: F.binary_cross_entropy(a, b, reduction=red),
       lambda: [[X(s, "prob"), X(s, "prob", False)] for s in [(sz(2, 5),), (sz(), sz())]])
    op("bce_logits_" + red, lambda a, b, red=red: F.binary_cross_entropy_with_logits(a, b, reduction=red),
       lambda: [[X(s), X(s, "prob", False)] for s in [(sz(2, 5),), (sz(), sz())]])
    op("ce_" + red, lambda a, b, red=red: F.cross_entropy(a, b.long() - 1, reduction=red),
       lambda: [[X((n, c)), X((n,), "cls%d" % c, False)] for n, c in [(sz(2, 4), sz(2, 4)), (sz(2, 4), sz(2, 4))]])
op("bce_weight", lambda a, b, w: F.binary_cross_entropy(a, b, weight=w),
   lambda: [[X((n, m), "prob"), X((n, m), "prob", False), X((m,), "pos", False)] for n, m in [(sz(), sz()), (sz(), sz())]])
op("bce_logits_weight", lambda a, b, w: F.binary_cross_entropy_with_logits(a, b, weight=w, reduction="sum"),
   lambda: [[X((n, m)), X((n, m), "prob", False), X((m,), "pos", False)] for n, m in [(sz(), sz()), (sz(), sz())]])
op("ce_weight", lambda a, b, w: F.cross_entropy(a, b.long() - 1, weight=w),
   lambda: [[X((n, c)), X((n,), "cls%d" % c, False), X((c,), "pos", False)] for n, c in [(sz(3, 5), sz()), (sz(3, 5), sz())]])

# points where torch defines the gradient by a rule (ties, zeros, bounds)
op("edge_max_ties", lambda a: a.max(), lambda: [[X((4,), [1, 3, 3, 2])], [X((2, 3), [0, 2, 2, 1, 2, -1])]])
op("edge_min_ties", lambda a: a.min(), lambda: [[X((4,), [1, 0.5, 3, 0.5])]])
op("edge_pow_zero", lambda a, b: a ** b, lambda: [[X((5,), [0, 2, 0.5, 0, 1.5]), X((5,), [2, 0, 3, 1, 0])]])
op("edge_pow_zero_exponent", lambda a: a ** 0, lambda: [[X((3,), [0, -2, 1])]])
op("edge_rpow_zero", lambda a: 0 ** a, lambda: [[X((3,), [0.5, 1, 2])]])
op("edge_clamp_bounds", lambda a: a.clamp(-0.5, 0.75), lambda: [[X((5,), [0, -0.5, 0.75, 1, -1])]])
op("edge_clamp_min_bound", lambda a: a.clamp(min=-0.5), lambda: [[X((3,), [0, -0.5, -1])]])
op("edge_relu_abs_zero", lambda a: torch.relu(a) + a.abs(), lambda: [[X((3,), [0, -0.5, 0.7])]])


# chains of 10 or more operations
def chain_elementwise(a, b, c, d):
    z = torch.sigmoid(a * b - c)
    z = torch.log(1 + torch.exp(z * d))
    z = z / (c + z ** 2)
    z = torch.sqrt(z.abs() + 0.5)
    return (torch.tanh(z) - z.mean()).pow(2).sum()


def chain_products(a, b, c):
    p = a.mm(b)
    q = torch.cat([p, torch.tanh(p)], 1)
    s = q.t().mm(c.t())
    u = s[[0, 1, 1], :]
    v = F.log_softmax(u, -1)
    w = torch.stack([v, v.exp()], 0).sum(0)
    return (w.clamp(-3, 3) ** 2).mean(1).sum()


def chain_network(x, w1, b1, w2, b2, y, t):
    h = torch.relu(torch.tanh(F.linear(x, w1, b1)) + 0.2)
    o = h.matmul(w2.t()) + b2
    l1 = F.cross_entropy(o, y.long() - 1)
    l2 = F.binary_cross_entropy_with_logits(o, t)
    l3 = F.mse_loss(torch.sigmoid(o), t, reduction="sum")
    l4 = F.binary_cross_entropy(F.softmax(o, 1), t)
    return l1 + 0.5 * l2 + 0.1 * l3 + l4 * 0.25 + (w1 ** 2).sum() * 0.01


def chain_3d(a, b, c):
    z = a / b + c
    z = z.transpose(0, 2)
    z = torch.sin(z) * torch.cos(z * 0.5)
    z = z.sum(2, keepdim=True).squeeze(2)
    z = torch.expm1(z * 0.3) + torch.log1p(z.abs())
    z = z.unsqueeze(0).mean((0, 1))
    return (z * z.max()).sum() - z.min() + z.view(-1, 1)[0, 0]


def chain_configs_network():
    n, i, h, c = sz(3, 5), sz(), sz(2, 4), sz()
    out = [[X((n, i)), X((h, i)), X((h,)), X((c, h)), X((c,)), X((n,), "cls%d" % c, False), X((n, c), "prob", False)]]
    n, i, h, c = sz(3, 5), sz(), sz(2, 4), sz()
    return out + [[X((n, i)), X((h, i)), X((h,)), X((c, h)), X((c,)), X((n,), "cls%d" % c, False), X((n, c), "prob", False)]]


op("chain_elementwise", chain_elementwise,
   lambda: [[X((n, m)), X((m,)), X((n, 1), "pos"), X(())] for n, m in [(sz(), sz()), (sz(), sz())]])
op("chain_products", chain_products, lambda: [[X((n, k)), X((k, m)), X((m, n))] for n, k, m in [(sz(), sz(), sz()) for _ in range(2)]])
op("chain_network", chain_network, chain_configs_network)
op("chain_3d", chain_3d, lambda: [[X((k, n, m)), X((n, 1), "pos"), X((m,), "nz")] for k, n, m in [(sz(), sz(), sz()) for _ in range(2)]])
# two backward passes: gradients accumulate in the leaves (two graphs, or
# one graph kept with retain_graph)
op("accumulate_two_graphs", None, lambda: [[X((n, m)), X((m,)), X((n, 1), "pos"), X(())] for n, m in [(sz(), sz())]],
   passes=[chain_elementwise, lambda a, b, c, d: (a * b * d).sum() + c.log().sum()])
op("accumulate_retain_graph", None, lambda: [[X((n, k)), X((k, m)), X((m, n))] for n, k, m in [(sz(), sz(), sz())]],
   passes="retain")
RETAIN_FN = chain_products


def hexs(v):
    return " ".join(float(x).hex() for x in np.asarray(v, dtype=float).reshape(-1))


with open("tests/testthat/fixtures/torch-autograd-ops.csv", "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["case", "op", "input", "shape", "requires_grad", "values", "grad", "value"])
    for name, (fn, configs, passes) in ops.items():
        for k, cfg in enumerate(configs()):
            arrays = [draw(s, dom) for s, dom, _ in cfg]
            xs = [torch.tensor(a, dtype=torch.float64, requires_grad=req) for a, (_, _, req) in zip(arrays, cfg)]
            if passes is None:
                fns = [fn]
            elif passes == "retain":
                fns = [RETAIN_FN]
            else:
                fns = passes
            out0 = fns[0](*xs)
            W = torch.tensor(draw(tuple(out0.shape), "any"), dtype=torch.float64)
            y0 = (out0 * W).sum()
            if passes == "retain":
                y0.backward(retain_graph=True)
                y0.backward()
            else:
                y0.backward()
                for g in fns[1:]:
                    (g(*xs) * W).sum().backward()
            case = "%s#%d" % (name, k + 1)
            w.writerow([case, name, 0, " ".join(str(s) for s in W.shape), "FALSE", hexs(W), "", float(y0).hex()])
            for i, (x, (s, _, req)) in enumerate(zip(xs, cfg)):
                grad = hexs(x.grad) if req else ""
                w.writerow([case, name, i + 1, " ".join(str(d) for d in s), "TRUE" if req else "FALSE",
                            hexs(x.detach()), grad, float(y0).hex()])


# ---------------------------------------------------------------------------
# fixtures/torch-tensor-ops.csv: the operations of R/tensor-ops.R and the
# losses added with them (permute, expand, flatten, max/min along a
# dimension with their indices, argmax/argmin, prod, var, std, norm,
# softmax methods, where, linear, l1 and nll losses, cumprod, loss targets
# that require gradients), in the format of torch-autograd-ops.csv (its
# own random stream, so torch-autograd-ops.csv stays as it was).
# test-tensor-ops.R rebuilds each case. Indices are compared as values
# (torch's 0-based index + 1, as torch for R returns them).
# ---------------------------------------------------------------------------
rng2 = np.random.default_rng(20261206)
ops = {}


def idx1(i):
    return (i + 1).double()


op("permute_2d", lambda a: a.permute(1, 0), lambda: [[X((sz(), sz()))], [X((sz(1, 4), sz(2, 4)))]])
op("permute_3d", lambda a: a.permute(2, 0, 1), lambda: nd_configs(min_nd=3)[:2])
op("permute_neg", lambda a: a.permute(-1, -3, -2), lambda: nd_configs(min_nd=3)[:2])
op("expand_col", lambda a: a.expand(a.shape[0], 4), lambda: [[X((sz(), 1))], [X((sz(2, 4), 1))]])
op("expand_keep", lambda a: a.expand(3, -1, -1), lambda: [[X((1, sz()))], [X((sz(), sz()))]])
op("expand_new", lambda a: a.expand(2, 3, a.shape[0]), lambda: [[X((sz(2, 4),))], [X((sz(2, 4),))]])
op("flatten_all", lambda a: a.flatten(), nd_configs)
op("flatten_from2", lambda a: a.flatten(1), lambda: nd_configs(min_nd=3)[:2])
op("flatten_12", lambda a: a.flatten(0, 1), lambda: nd_configs(min_nd=3)[:2])
op("max_dim1", lambda a: a.max(0).values, nd_configs)
op("max_dim2_keep", lambda a: a.max(1, keepdim=True).values, nd_configs)
op("min_dim_neg", lambda a: a.min(-1).values, nd_configs)
op("max_dim_indices", lambda a: idx1(a.max(1).indices), lambda: [[X((sz(), sz()), req=False)], [X((sz(), sz(), sz()), req=False)]])
op("min_dim_indices_keep", lambda a: idx1(a.min(0, keepdim=True).indices), lambda: [[X((sz(), sz()), req=False)], [X((sz(), sz(), sz()), req=False)]])
op("argmax_dim", lambda a: idx1(a.argmax(1)), lambda: [[X((sz(), sz()), req=False)], [X((sz(), sz(), sz()), req=False)]])
op("argmin_dim_keep", lambda a: idx1(a.argmin(-1, keepdim=True)), lambda: [[X((sz(), sz()), req=False)], [X((sz(), sz(), sz()), req=False)]])
op("argmax_all", lambda a: idx1(a.argmax()), lambda: [[X((sz(), sz()), req=False)], [X((sz(2, 5),), req=False)]])
op("argmin_all", lambda a: idx1(a.argmin()), lambda: [[X((sz(), sz(), sz()), req=False)]])
op("prod_all", lambda a: a.prod(), lambda: un_configs("nz"))
op("prod_fn", lambda a: a.prod(), lambda: un_configs("nz")[:2])
op("prod_dim1", lambda a: a.prod(0), lambda: nd_configs("nz"))
op("prod_dim2_keep", lambda a: a.prod(1, keepdim=True), lambda: nd_configs("nz"))
op("var_all", lambda a: a.var(), un_configs)
op("var_dim", lambda a: a.var(1), nd_configs)
op("var_dim_biased_keep", lambda a: a.var(0, unbiased=False, keepdim=True), nd_configs)
op("var_correction", lambda a: a.var(-1, correction=0), nd_configs)
op("std_all", lambda a: a.std(), un_configs)
op("std_dim_keep", lambda a: a.std(1, keepdim=True), nd_configs)
op("std_biased", lambda a: a.std(unbiased=False), un_configs)
op("norm_all", lambda a: a.norm(), un_configs)
op("norm_p1", lambda a: a.norm(p=1), lambda: un_configs("nz"))
op("norm_p3_dim", lambda a: a.norm(p=3, dim=1), nd_configs)
op("norm_dim_keep", lambda a: a.norm(dim=0, keepdim=True), nd_configs)
op("softmax_method", lambda a: a.softmax(1), nd_configs)
op("log_softmax_method", lambda a: a.log_softmax(-1), nd_configs)
op("where", lambda c, a, b: torch.where(c > 0, a, b),
   lambda: [[X((n, m), req=False), X((n, m)), X((n, m))] for n, m in [(sz(), sz()), (sz(), sz())]])
op("where_broadcast", lambda c, a, b: torch.where(c > 0, a, b),
   lambda: [[X((n, m), req=False), X((n, 1)), X((m,))] for n, m in [(sz(), sz()), (sz(), sz())]] +
   [[X((k, n, m), req=False), X((n, m)), X(())] for k, n, m in [(sz(), sz(), sz())]])
op("where_number", lambda a: torch.where(a > 0, a, 0.0), un_configs)
op("nnf_linear_bias", lambda x, w, b: F.linear(x, w, b),
   lambda: [[X((n, i)), X((o, i)), X((o,))] for n, i, o in [(sz(), sz(), sz()) for _ in range(2)]])
op("nnf_linear_vector", lambda x, w: F.linear(x, w), lambda: [[X((i,)), X((o, i))] for i, o in [(sz(), sz()), (sz(), sz())]])
op("nnf_linear_3d", lambda x, w, b: F.linear(x, w, b),
   lambda: [[X((k, n, i)), X((o, i)), X((o,))] for k, n, i, o in [(sz(), sz(), sz(), sz()) for _ in range(2)]])
for red in ["mean", "sum", "none"]:
    op("l1_" + red, lambda a, b, red=red: F.l1_loss(a, b, reduction=red),
       lambda: [[X(s), X(s)] for s in [(sz(2, 5),), (sz(), sz())]] + [[X((sz(2, 4),)), X((), req=False)]])
    op("nll_" + red, lambda a, b, red=red: F.nll_loss(a, b.long() - 1, reduction=red),
       lambda: [[X((n, c)), X((n,), "cls%d" % c, False)] for n, c in [(sz(2, 4), sz(2, 4)), (sz(3, 5), sz(2, 4))]])
op("nll_weight", lambda a, b, w: F.nll_loss(a, b.long() - 1, weight=w),
   lambda: [[X((n, c)), X((n,), "cls%d" % c, False), X((c,), "pos", False)] for n, c in [(sz(3, 5), sz()), (sz(3, 5), sz())]])
op("nll_of_log_softmax", lambda a, b: F.nll_loss(F.log_softmax(a, 1), b.long() - 1),
   lambda: [[X((n, c)), X((n,), "cls%d" % c, False)] for n, c in [(sz(2, 4), sz(2, 4)), (sz(3, 5), sz(2, 4))]])
op("cumprod", lambda a: a.reshape(-1).cumprod(0).reshape(a.shape), lambda: un_configs("nz"))
op("cumprod_dim", lambda a: a.cumprod(1), lambda: nd_configs("nz"))
op("bce_target_grad", lambda a, b: F.binary_cross_entropy(a, b),
   lambda: [[X(s, "prob"), X(s, "prob")] for s in [(sz(2, 5),), (sz(), sz())]])
op("bce_logits_target_grad", lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="sum"),
   lambda: [[X(s), X(s, "prob")] for s in [(sz(2, 5),), (sz(), sz())]])
op("bce_logits_target_weight", lambda a, b, w: F.binary_cross_entropy_with_logits(a, b, weight=w),
   lambda: [[X((n, m)), X((n, m), "prob"), X((m,), "pos", False)] for n, m in [(sz(), sz())]])
# zeros: torch's exact rules for the products without one value
op("edge_prod_zeros", lambda a: a.prod(), lambda: [[X((4,), [1.5, 0, -2, 0.5])], [X((4,), [0, 2, 0, 3])]])
op("edge_prod_dim_zero", lambda a: a.prod(1), lambda: [[X((2, 3), [1.5, 0, -2, 0, 0, 3])]])
op("edge_cumprod_zeros", lambda a: a.cumprod(0), lambda: [[X((5,), [1.5, -2, 0, 0.5, 3])], [X((4,), [0, 2, 0, 3])]])
op("edge_max_dim_ties", lambda a: a.max(1).values, lambda: [[X((2, 3), [2, 1, 2, -1, 0, 0])]])

with open("tests/testthat/fixtures/torch-tensor-ops.csv", "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["case", "op", "input", "shape", "requires_grad", "values", "grad", "value"])
    for name, (fn, configs, passes) in ops.items():
        for k, cfg in enumerate(configs()):
            arrays = [draw(s, dom) for s, dom, _ in cfg]
            xs = [torch.tensor(a, dtype=torch.float64, requires_grad=req) for a, (_, _, req) in zip(arrays, cfg)]
            out0 = fn(*xs)
            W = torch.tensor(draw(tuple(out0.shape), "any"), dtype=torch.float64)
            y0 = (out0 * W).sum()
            if y0.requires_grad:
                y0.backward()
            case = "%s#%d" % (name, k + 1)
            w.writerow([case, name, 0, " ".join(str(s) for s in W.shape), "FALSE", hexs(W), "", float(y0).hex()])
            for i, (x, (s, _, req)) in enumerate(zip(xs, cfg)):
                grad = hexs(x.grad) if req else ""
                w.writerow([case, name, i + 1, " ".join(str(d) for d in s), "TRUE" if req else "FALSE",
                            hexs(x.detach()), grad, float(y0).hex()])
