"""Lecture 6's gradient-descent step in PyTorch, 10,000 times: microseconds
per step (CPU time). Compare bench/lecture06-step.R.
    python bench/lecture06-step.py
"""
import time

import torch

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
cpu, wall = [], []
for r in range(5):
    t0, w0 = time.process_time(), time.perf_counter()
    for _ in range(10000):
        step()
    cpu.append((time.process_time() - t0) / 10000 * 1e6)
    wall.append((time.perf_counter() - w0) / 10000 * 1e6)
print(f"PyTorch {torch.__version__}: {min(cpu):.0f} us per step (CPU, best of 5), {min(wall):.0f} us elapsed")
