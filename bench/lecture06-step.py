"""Lecture 6's gradient-descent step in PyTorch: microseconds per step
(wall time), ROUNDS rounds of STEPS steps after 1,000 warm-up steps.
bench/lecture-speed.R runs it beside fwdprop's step, in one run.
    python bench/lecture06-step.py [ROUNDS] [STEPS]
The last line is "ROUNDS us/step: v1 v2 ...".
"""
import statistics
import sys
import time

import torch

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
torch.set_num_threads(1)
x = torch.tensor([5.1338701, 7.4255710, 7.1588898, 5.7047157, 1.6527355, 0.4430902, 9.6277122])
mu = torch.tensor([0.5], requires_grad=True)
lr = 0.1


def step():
    y = ((x - mu) ** 2).mean()
    y.backward()
    with torch.no_grad():
        mu.sub_(lr * mu.grad)
        mu.grad.zero_()


for _ in range(1000):
    step()
per_step = []
for r in range(rounds):
    w0 = time.perf_counter()
    for _ in range(steps):
        step()
    per_step.append((time.perf_counter() - w0) / steps * 1e6)
print(f"PyTorch {torch.__version__}: us per step, median {statistics.median(per_step):.1f}, "
      f"slowest {max(per_step):.1f}")
print("ROUNDS us/step: " + " ".join(f"{v:.3f}" for v in per_step))
