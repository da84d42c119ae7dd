"""PyTorch's float64 autograd as the reference for fwdprop's backward().

Usage: python torch-gradient.py in.json out.json

in.json holds x and y (row-major), weights (a list of in x out matrices,
row-major), biases (a list of vectors or nulls), activations and loss
(fwdprop's names). out.json gets the loss and the gradients in fwdprop's
shapes. The losses are torch's defaults: mse_loss, binary cross-entropy
from the logits (binary_cross_entropy_with_logits) and cross_entropy with
class probabilities as the target.
"""
import json
import sys

import torch
import torch.nn.functional as F

with open(sys.argv[1]) as f:
    spec = json.load(f)

dt = torch.float64
x = torch.tensor(spec["x"], dtype=dt)
y = torch.tensor(spec["y"], dtype=dt).reshape(x.shape[0], -1)
ws = [torch.tensor(w, dtype=dt).reshape(len(w), -1).requires_grad_() for w in spec["weights"]]
bs = [None if (b is None or b == {}) else torch.tensor(b, dtype=dt).reshape(-1).requires_grad_() for b in spec["biases"]]
acts = spec["activations"]
if isinstance(acts, str):
    acts = [acts]
act = {
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "tanh": torch.tanh,
    "identity": lambda z: z,
    "softmax": lambda z: torch.softmax(z, dim=1),
    # torch's defaults: slope 0.01, alpha 1, the exact (erf) GELU, beta 1
    # and threshold 20
    "leaky_relu": F.leaky_relu,
    "elu": F.elu,
    "gelu": F.gelu,
    "softplus": F.softplus,
}
a = x
for l, w in enumerate(ws):
    z = a @ w
    if bs[l] is not None:
        z = z + bs[l]
    a = act[acts[l]](z)
loss = spec["loss"]
if loss == "mse":
    value = F.mse_loss(a, y)
elif loss == "bce":
    value = F.binary_cross_entropy_with_logits(z, y)
else:
    value = F.cross_entropy(z, y)
value.backward()
out = {
    "loss": value.item(),
    "weights": [w.grad.tolist() for w in ws],
    "biases": [None if b is None else b.grad.tolist() for b in bs],
}
with open(sys.argv[2], "w") as f:
    json.dump(out, f)
