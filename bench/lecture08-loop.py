"""Lecture 8's training loop (1-10-10-10-1 network, 100 rows, SGD, MSE) in
PyTorch, float32 on the CPU, 1 thread: milliseconds per epoch (wall time),
ROUNDS rounds of EPOCHS epochs after 200 warm-up epochs.
bench/lecture-speed.R runs it beside fwdprop's loop, in one run.
    python bench/lecture08-loop.py [ROUNDS] [EPOCHS]
The last line is "ROUNDS ms/epoch: v1 v2 ...".
"""
import statistics
import sys
import time

import torch

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
torch.set_num_threads(1)
torch.manual_seed(1)
x = torch.linspace(1, 100, 100).view(-1, 1)
y = x + 30 * torch.sin(0.1 * x) + 5 * torch.randn(100, 1)
model = torch.nn.Sequential(
    torch.nn.Linear(1, 10), torch.nn.Tanh(),
    torch.nn.Linear(10, 10), torch.nn.Tanh(),
    torch.nn.Linear(10, 10),
    torch.nn.Linear(10, 1),
)
opt = torch.optim.SGD(model.parameters(), lr=1e-5)
loss_fn = torch.nn.MSELoss()
store = [0.0] * epochs


def epoch(i):
    opt.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()
    store[i] = loss.item()


for i in range(200):
    epoch(0)
rounds_ms = []
for r in range(rounds):
    t0 = time.perf_counter()
    for i in range(epochs):
        epoch(i)
    rounds_ms.append((time.perf_counter() - t0) / epochs * 1e3)
print(f"PyTorch {torch.__version__}: ms per epoch, median {statistics.median(rounds_ms):.3f}, "
      f"slowest {max(rounds_ms):.3f}")
print("ROUNDS ms/epoch: " + " ".join(f"{v:.4f}" for v in rounds_ms))
