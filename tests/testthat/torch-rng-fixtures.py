"""PyTorch's CPU random streams as the reference for fwdprop's torch_rng.

Usage: python torch-rng-fixtures.py fixtures/torch-rng.csv

Writes one line per case: id, mode, dtype, seed, ops, values.
* mode "pytorch": torch.manual_seed(seed), then every op draws from the
  default generator (PyTorch, and torch for R since 0.5.0).
* mode "lecture": torch for R's seeding of 2021 (option
  torch.old_seed_behavior): torch.manual_seed(seed), one draw
  v = torch.randint(1, 1000000, (1,)), and a second generator seeded with v;
  u/n/r ops draw from the default generator, L ops (nn_linear's
  initialisation) from the second one.
* mode "init:S": only the second generator, seeded with S (what torch for
  R seeded at load with sample(1e5, 1)); the ops are L ops.
ops (space-separated, run in order, values concatenated):
  uK  torch.rand(K)                 nK  torch.randn(K)
  rK  torch.randint(1, 1000000, (K,))   RK  torch.randint(-5, 2**40, (K,))
  nK#  torch.randn(K) as a digest of its IEEE bits b[i] (unsigned integers,
      i = 1..K): two values, sum(b[i]) and sum(i * b[i]), both mod 2^52.
  LIxO / LIxOb  nn.Linear(I, O, bias = False / True): the weight (O x I,
      row-major as torch stores it), then the bias.
values: the IEEE bits in hex, space-separated: 8 digits for float32, 16
for float64 (randint values as float64).
"""
import math
import struct
import sys

import numpy as np
import torch

DT = {"float": torch.float32, "double": torch.float64}


def bits(t, dtype):
    if dtype == "float":
        return ["%08x" % struct.unpack("<I", struct.pack("<f", v))[0] for v in t.tolist()]
    return ["%016x" % struct.unpack("<Q", struct.pack("<d", float(v)))[0] for v in t.tolist()]


def digest(t):
    b = t.numpy().view(np.uint32 if t.dtype == torch.float32 else np.uint64).astype(np.uint64)
    i = np.arange(1, b.size + 1, dtype=np.uint64)
    m = np.uint64(2**52 - 1)
    return bits(torch.tensor([int(b.sum() & m), int((b * i).sum() & m)], dtype=torch.float64), "double")


def linear(i, o, bias, dt, gen):
    # nn.Linear.reset_parameters, with an explicit generator
    w = torch.empty(o, i, dtype=dt)
    torch.nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=gen)
    out = [w.reshape(-1)]
    if bias:
        b = torch.empty(o, dtype=dt)
        bound = 1 / math.sqrt(i)
        torch.nn.init.uniform_(b, -bound, bound, generator=gen)
        out.append(b)
    return torch.cat(out)


def run(mode, dtype, seed, ops):
    dt = DT[dtype]
    default = torch.default_generator
    init = default
    if mode == "pytorch":
        torch.manual_seed(seed)
    elif mode == "lecture":
        torch.manual_seed(seed)
        v = int(torch.randint(1, 1000000, (1,)).item())
        init = torch.Generator().manual_seed(v)
    else:
        init = torch.Generator().manual_seed(int(mode.split(":")[1]))
    vals = []
    for op in ops.split():
        k, arg = op[0], op[1:]
        if k == "u":
            vals += bits(torch.rand(int(arg), dtype=dt, generator=default), dtype)
        elif k == "n" and arg.endswith("#"):
            vals += digest(torch.randn(int(arg[:-1]), dtype=dt, generator=default))
        elif k == "n":
            vals += bits(torch.randn(int(arg), dtype=dt, generator=default), dtype)
        elif k == "r":
            r = torch.randint(1, 1000000, (int(arg),), generator=default)
            vals += bits(r.to(torch.float64), "double")
        elif k == "R":
            r = torch.randint(-5, 2**40, (int(arg),), generator=default)
            vals += bits(r.to(torch.float64), "double")
        elif k == "L":
            b = arg.endswith("b")
            i, o = (int(x) for x in arg.rstrip("b").split("x"))
            vals += bits(linear(i, o, b, dt, init), dtype)
        else:
            raise ValueError(op)
    return vals


def cases():
    seeds = [0, 1, 42, 2021, 659487, 2**32 + 7, 2**53]
    for dtype in ("float", "double"):
        for s in seeds:
            yield "pytorch", dtype, s, "u40 u7"
            yield "pytorch", dtype, s, "r5 u3 R4 u2"
        for s in (0, 2021):
            for k in range(1, 41):
                yield "pytorch", dtype, s, "n%d" % k
        for s in (1, 99):
            yield "pytorch", dtype, s, "n100 n257"
            yield "pytorch", dtype, s, "n3 n20 n1 n5 n16 n17 n33 u3 n2 n1 n1"
        for s in (0, 659487, 20773, 93928):
            yield "pytorch", dtype, s, "L1x10b L10x10b L10x10b L10x1b"
            yield "pytorch", dtype, s, "L2x3 L3x1 L2x3 L2x3b L7x5b L40x3b"
        for s in (2021, 1, 7):
            yield "lecture", dtype, s, "u7 L1x10b L10x10b L10x10b L10x1b n20 L2x1b"
        yield "pytorch", dtype, 5, "n200000#"
        yield "pytorch", dtype, 2021, "u3 n100000# n5"
        yield "init:20773", dtype, 0, "L2x3 L3x1 L2x3 L2x3b"
        yield "init:93928", dtype, 0, "L2x1b"


def main(path):
    with open(path, "w") as f:
        f.write("id,mode,dtype,seed,ops,values\n")
        for i, (mode, dtype, seed, ops) in enumerate(cases(), start=1):
            vals = run(mode, dtype, seed, ops)
            f.write("%d,%s,%s,%d,%s,%s\n" % (i, mode, dtype, seed, ops, " ".join(vals)))


if __name__ == "__main__":
    main(sys.argv[1])
