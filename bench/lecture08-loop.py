"""Lecture 8's training loop (1-10-10-10-1 network, 100 rows, SGD, MSE) in
PyTorch, float32 on the CPU, 1 thread: milliseconds per epoch (median and
slowest of 5 rounds of 1,000 epochs). Compare bench/autograd-speed.R.
    python bench/lecture08-loop.py
"""
import math
import statistics
import time

import torch

torch.set_num_threads(1)
torch.manual_seed(1)
x = torch.linspace(1, 100, 100).view(-1, 1)
y = x + 30 * torch.sin(0.1 * x) + 5 * torch.randn(100, 1)
model = torch.nn.Sequential(
    torch.nn.Linear(1, 10), torch.nn.Tanh(),
    torch.nn.Linear(10, 10), torch.nn.Tanh(),
    torch.nn.Linear(10, 10), torch.nn.Tanh(),
    torch.nn.Linear(10, 1),
)
opt = torch.optim.SGD(model.parameters(), lr=1e-5)
loss_fn = torch.nn.MSELoss()


def epoch():
    opt.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()


for _ in range(200):
    epoch()
rounds = []
for r in range(5):
    t0 = time.perf_counter()
    for _ in range(1000):
        epoch()
    rounds.append((time.perf_counter() - t0) / 1000 * 1e3)
print(f"PyTorch {torch.__version__}: ms per epoch, median {statistics.median(rounds):.3f}, "
      f"slowest {max(rounds):.3f}; 50,000 epochs ~ {statistics.median(rounds) * 50:.1f} s")
