"""PyTorch's CPU sums (float32 and float64), the reference for the order in
which fwdprop adds a tensor's values: writes torch-sums.csv (columns n,
float32, float64; hex floats, exact).

Usage: python torch-sums.py   (in tests/testthat; PyTorch 2.x on a CPU with
AVX2, one thread)

The values of size n are v_i = ((i * 7919) mod 1000 - 500) / 37 for
i = 1..n (the same doubles in R), as float32 or float64.
"""
import csv

import torch

torch.set_num_threads(1)
sizes = list(range(1, 130)) + [200, 255, 256, 257, 500, 1000, 1023, 4096, 5000, 10007, 30000]
with open("torch-sums.csv", "w", newline="") as out:
    w = csv.writer(out)
    w.writerow(["n", "float32", "float64"])
    for n in sizes:
        v = [((i * 7919) % 1000 - 500) / 37 for i in range(1, n + 1)]
        s32 = float(torch.tensor(v, dtype=torch.float32).sum())
        s64 = float(torch.tensor(v, dtype=torch.float64).sum())
        w.writerow([n, s32.hex(), s64.hex()])
