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
