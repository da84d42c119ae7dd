# Reference values for test-nn.R and test-optim.R, computed with PyTorch
# (2.15, CPU, float32). Run from tests/testthat:
#   Rscript -e 'set.seed(2021); x <- sort(sample(1:100, 100)); y <- x + 30 * sin(0.1 * x) + 5 * rnorm(100); write.csv(data.frame(x = as.vector(scale(x)), y = y), "/tmp/nnfix/l8-data.csv", row.names = FALSE)'
#   python torch-nn-fixtures.py /tmp/nnfix/l8-data.csv
# Writes fixtures/nn-lecture08-torch.csv (lecture 8's loss for the first
# epochs and the parameters after them) and fixtures/optim-torch.csv
# (SGD with momentum and Adam on a small problem).
import csv
import sys

import numpy as np
import torch

data = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1)
x = torch.tensor(data[:, 0], dtype=torch.float32).view(-1, 1).requires_grad_(True)
y = torch.tensor(data[:, 1], dtype=torch.float32).view(-1, 1)

# torch for R of 2021: torch_manual_seed(2021) seeded the initialisers'
# generator with randint(1, 1e6) drawn after seeding with 2021 (659487).
torch.manual_seed(2021)
v = int(torch.randint(1, 1000000, (1,)))
torch.manual_seed(v)
layers = [torch.nn.Linear(1, 10), torch.nn.Linear(10, 10), torch.nn.Linear(10, 10), torch.nn.Linear(10, 1)]
params = [p for l in layers for p in (l.weight, l.bias)]


def net(x):
    h = torch.tanh(layers[0](x))
    h = torch.tanh(layers[1](h))
    h = layers[2](h)
    return layers[3](h)


opt = torch.optim.SGD(params, lr=1e-5)
EPOCHS = 200
rows = []
for epoch in range(1, EPOCHS + 1):
    opt.zero_grad()
    loss = torch.nn.functional.mse_loss(net(x), y)
    loss.backward()
    opt.step()
    rows.append(("loss", epoch, float(loss.item())))
names = ["hidden1.weight", "hidden1.bias", "hidden2.weight", "hidden2.bias",
         "hidden3.weight", "hidden3.bias", "output_layer.weight", "output_layer.bias"]
for name, p in zip(names, params):
    for i, val in enumerate(p.detach().reshape(-1).tolist()):
        rows.append((name, i + 1, val))
with open("fixtures/nn-lecture08-torch.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["what", "index", "value"])
    for r in rows:
        w.writerow([r[0], r[1], repr(r[2])])

# Optimisers: p (2x3) with loss sum(tanh(p * c)^2 * d), fixed c, d.
c = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
d = torch.tensor([[1.0, 2.0, 0.5], [3.0, 1.0, 2.0]])
p0 = torch.tensor([[0.3, -0.2, 0.9], [-1.1, 0.4, 0.05]])
configs = {
    "sgd_momentum": lambda p: torch.optim.SGD([p], lr=0.05, momentum=0.9),
    "sgd_nesterov_wd": lambda p: torch.optim.SGD([p], lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1),
    "adam": lambda p: torch.optim.Adam([p], lr=0.01),
    "adam_wd": lambda p: torch.optim.Adam([p], lr=0.1, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.05),
}
with open("fixtures/optim-torch.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["config", "step", "index", "value"])
    for name, make in configs.items():
        p = p0.clone().requires_grad_(True)
        o = make(p)
        for step in range(1, 11):
            o.zero_grad()
            loss = (torch.tanh(p * c) ** 2 * d).sum()
            loss.backward()
            o.step()
            for i, val in enumerate(p.detach().reshape(-1).tolist()):
                w.writerow([name, step, i + 1, repr(val)])
