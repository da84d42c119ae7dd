"""PyTorch's side of the safetensors round trip with fwdprop (test-import.R).

Usage:
  python torch-roundtrip.py make DIR
      Builds random float64 nn.Sequential networks (Linear, Sigmoid, Tanh,
      ReLU, Softmax), saves each state_dict with safetensors as
      DIR/py<i>.safetensors (one of them converted to float32), random
      inputs as DIR/py<i>.x.bin and PyTorch's outputs as DIR/py<i>.y.bin,
      and the architecture as DIR/py<i>.txt (lines: "rows inputs outputs",
      the hidden activations separated by commas, the output activation;
      fwdprop's names).
  python torch-roundtrip.py predict DIR
      For every DIR/r<i>.safetensors written by fwdprop's
      write_safetensors(): rebuilds the nn.Sequential from the file's
      metadata, loads the state_dict with load_state_dict(strict=True),
      runs the inputs DIR/r<i>.x.bin (shape in DIR/r<i>.txt, "rows
      inputs") and writes the outputs to DIR/r<i>.y.bin.

Matrices are raw little-endian float64 in row-major order.
"""
import glob
import json
import os
import sys

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

ACT = {
    "sigmoid": lambda: torch.nn.Sigmoid(),
    "tanh": lambda: torch.nn.Tanh(),
    "relu": lambda: torch.nn.ReLU(),
    "softmax": lambda: torch.nn.Softmax(dim=1),
}


def sequential(sizes, activations, biases):
    """nn.Sequential of Linear layers, each followed by its activation
    module (none for "identity"), as fwdprop's write_safetensors() numbers
    them."""
    modules = []
    for l in range(len(sizes) - 1):
        modules.append(torch.nn.Linear(sizes[l], sizes[l + 1], bias=biases[l]))
        if activations[l] != "identity":
            modules.append(ACT[activations[l]]())
    return torch.nn.Sequential(*modules).double()


def write_matrix(path, m):
    np.ascontiguousarray(m.detach().numpy(), dtype="<f8").tofile(path)


def make(out):
    specs = [
        # sizes, activations (hidden..., output), bias per layer, float32
        ([3, 5, 1], ["sigmoid", "sigmoid"], [True, True], False),
        ([4, 8, 6, 3], ["relu", "tanh", "softmax"], [True, True, True], False),
        ([6, 10, 2], ["tanh", "identity"], [True, False], False),
        ([5, 7, 7, 4], ["identity", "relu", "sigmoid"], [False, True, True], False),
        ([2, 16, 16, 16, 3], ["relu", "relu", "tanh", "softmax"], [True] * 4, False),
        ([4, 6, 3], ["sigmoid", "softmax"], [True, True], True),
    ]
    for i, (sizes, acts, biases, f32) in enumerate(specs):
        torch.manual_seed(100 + i)
        model = sequential(sizes, acts, biases)
        x = 2 * torch.randn(37, sizes[0], dtype=torch.float64)
        if f32:
            model = model.float()
            save_file(model.state_dict(), os.path.join(out, f"py{i}.safetensors"))
            model = model.double()  # the float32 weights, exactly, in float64
        else:
            save_file(model.state_dict(), os.path.join(out, f"py{i}.safetensors"))
        with torch.no_grad():
            y = model(x)
        write_matrix(os.path.join(out, f"py{i}.x.bin"), x)
        write_matrix(os.path.join(out, f"py{i}.y.bin"), y)
        with open(os.path.join(out, f"py{i}.txt"), "w") as f:
            f.write(f"{x.shape[0]} {sizes[0]} {sizes[-1]}\n")
            f.write(",".join(acts[:-1]) + "\n")
            f.write(acts[-1] + "\n")


def predict(out):
    files = sorted(glob.glob(os.path.join(out, "r*.safetensors")))
    if not files:
        sys.exit("no r*.safetensors files in " + out)
    for path in files:
        stem = path[: -len(".safetensors")]
        with safe_open(path, framework="pt") as f:
            meta = f.metadata()
            keys = set(f.keys())
        sizes = json.loads(meta["fwdprop.sizes"])
        acts = json.loads(meta["fwdprop.activations"])
        # positions of the Linear modules: one module after each layer,
        # except after "identity" layers
        pos, biases = 0, []
        for l in range(len(sizes) - 1):
            biases.append(f"{pos}.bias" in keys)
            pos += 1 if acts[l] == "identity" else 2
        model = sequential(sizes, acts, biases)
        model.load_state_dict(load_file(path), strict=True)
        with open(stem + ".txt") as f:
            rows, cols = (int(v) for v in f.readline().split())
        x = torch.from_numpy(np.fromfile(stem + ".x.bin", dtype="<f8").reshape(rows, cols))
        with torch.no_grad():
            y = model(x)
        write_matrix(stem + ".y.bin", y)


if __name__ == "__main__":
    torch.set_num_threads(1)
    {"make": make, "predict": predict}[sys.argv[1]](sys.argv[2])
