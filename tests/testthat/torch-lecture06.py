"""PyTorch's float32 values for lecture 6 (autograd), the reference for
test-autograd.R: writes lecture06-torch.csv (columns what, i, value as a
hex float, exact).

Usage: python torch-lecture06.py   (in tests/testthat; PyTorch 2.x, CPU)

The lecture's data: torch for R's torch_manual_seed(2021) seeded the
generator and drew one integer before torch_rand(7) (see the lecture
series notes), so the same seven values come from
torch.manual_seed(2021); torch.randint(1, 1000000, (1,)); torch.rand(7) * 10.
"""
import csv

import torch

torch.manual_seed(2021)
torch.randint(1, 1000000, (1,))
x = torch.rand(7) * 10

rows = [("x", i + 1, float(v)) for i, v in enumerate(x)]


def f(mu, x):
    return ((x - mu) ** 2).mean()


# the error curve over mu = 0, 0.02, ..., 10 (R's seq(0, 10, by = 0.02))
for i in range(501):
    rows.append(("curve", i + 1, float(f(i * 0.02, x))))
rows.append(("f_prime", 1, float(-(2 * (x - 2.5)).mean())))
mu = torch.tensor([2.5], requires_grad=True)
y = f(mu, x)
y.backward()
rows.append(("grad", 1, float(mu.grad)))
rows.append(("y", 1, float(y)))
rows.append(("z", 1, float(y.detach() ** 2)))

# gradient descent from 0.5, learning rate 0.1, as the lecture's loop
mu = torch.tensor([0.5], requires_grad=True)
result = [float(mu)]
for i in range(1, 100):
    result.append(float(mu))
    y = f(mu, x)
    y.backward()
    with torch.no_grad():
        mu.sub_(0.1 * mu.grad)
        mu.grad.zero_()
rows += [("descent", i + 1, v) for i, v in enumerate(result)]
rows.append(("mean", 1, float(x.mean())))

with open("lecture06-torch.csv", "w", newline="") as out:
    w = csv.writer(out)
    w.writerow(["what", "i", "value"])
    for what, i, v in rows:
        w.writerow([what, i, v.hex()])
