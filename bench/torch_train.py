"""PyTorch's side of the training benchmarks (bench/train.R runs it).

float64, torch.set_num_threads(THREADS) (default 2); the same data and network as fwdprop's
G2 and E2 workloads, read from the files bench/train.R writes:

* G2: the full-batch gradient of the mean binary cross-entropy of W2's
  network (100,000 x 100 -> 256 -> 128 -> 1, sigmoid layers with biases):
  forward, loss (binary_cross_entropy_with_logits) and backward;
* E2: one epoch of minibatch SGD (batch 128, learning rate 0.01) on the same
  data: a random permutation, then for each batch x[idx], forward, loss,
  backward, step (the usual PyTorch loop).

Prints one line per workload: name, then the times of every run in seconds,
and the peak extra resident memory of G2 (VmHWM after minus before).

Usage: python torch_train.py DIR REPS [THREADS]
"""
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

d = sys.argv[1]
reps = int(sys.argv[2])
torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 2)


def vmhwm_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def reset_hwm():
    # writing 5 to clear_refs resets the peak resident set size (Linux)
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


x = torch.from_numpy(np.fromfile(f"{d}/x.bin", dtype=np.float64).reshape(100, -1).T.copy())
y = torch.from_numpy(np.fromfile(f"{d}/y.bin", dtype=np.float64)).reshape(-1, 1)
sizes = [100, 256, 128, 1]
layers = []
for l in range(3):
    w = np.fromfile(f"{d}/w{l + 1}.bin", dtype=np.float64).reshape(sizes[l + 1], sizes[l])  # R's column-major in x out
    lin = torch.nn.Linear(sizes[l], sizes[l + 1], dtype=torch.float64)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(w.copy()))  # out x in: the transpose of fwdprop's
        lin.bias.zero_()
    layers += [lin, torch.nn.Sigmoid()]
model = torch.nn.Sequential(*layers[:-1])  # logits out; the loss applies the sigmoid


def g2():
    model.zero_grad()
    loss = F.binary_cross_entropy_with_logits(model(x), y)
    loss.backward()
    return loss.item()


g2()
reset_hwm()
before = vmhwm_kb()
times = []
for _ in range(reps):
    t = time.perf_counter()
    g2()
    times.append(time.perf_counter() - t)
peak_mb = (vmhwm_kb() - before) / 1024
print("G2", *[f"{v:.6f}" for v in times])
print("G2_loss", f"{g2():.15g}")
print("G2_peak_mb", f"{peak_mb:.1f}")

opt = torch.optim.SGD(model.parameters(), lr=0.01)
gen = torch.Generator().manual_seed(1)


def e2():
    perm = torch.randperm(x.shape[0], generator=gen)
    for i in range(0, x.shape[0], 128):
        idx = perm[i:i + 128]
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(model(x[idx]), y[idx])
        loss.backward()
        opt.step()


e2()
times = []
for _ in range(reps):
    t = time.perf_counter()
    e2()
    times.append(time.perf_counter() - t)
print("E2", *[f"{v:.6f}" for v in times])
