# Reference values for test-dataloader.R, computed with PyTorch (2.15,
# CPU, float32): lecture 9's logistic regression, trained in batches of 8
# in order, for the first 3 epochs. Run from tests/testthat:
#   the training rows of test-dataloader.R's lecture9_train(lecture9_data())
#   written with write.csv(..., "/tmp/nnfix/l9-train.csv", row.names = FALSE), then
#   python torch-dataloader-fixtures.py /tmp/nnfix/l9-train.csv
# Writes fixtures/dataloader-lecture09-torch.csv: each epoch's mean loss and
# the parameters after 3 epochs.
import csv
import sys

import numpy as np
import torch

data = torch.tensor(np.loadtxt(sys.argv[1], delimiter=",", skiprows=1), dtype=torch.float32)
# torch for R of 2021 seeded nn_linear()'s generator with 93928 in lecture 9
torch.manual_seed(93928)
fc1 = torch.nn.Linear(2, 1)
opt = torch.optim.SGD(fc1.parameters(), lr=0.05)
rows = []
for epoch in range(1, 4):
    losses = []
    for start in range(0, data.shape[0], 8):
        b = data[start:start + 8]
        opt.zero_grad()
        out = torch.sigmoid(fc1(b[:, 0:2]))
        # torch for R of 2021 paired the n x 1 output with the n targets
        loss = torch.nn.functional.binary_cross_entropy(out, b[:, 2].view(-1, 1))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    rows.append(("mean_loss", epoch, float(np.mean(losses))))
for i, v in enumerate(fc1.weight.detach().reshape(-1).tolist()):
    rows.append(("fc1.weight", i + 1, v))
rows.append(("fc1.bias", 1, float(fc1.bias.item())))
with open("fixtures/dataloader-lecture09-torch.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["what", "index", "value"])
    for r in rows:
        w.writerow([r[0], r[1], repr(r[2])])
