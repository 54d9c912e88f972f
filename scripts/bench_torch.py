"""The MNIST experiments in PyTorch at their best on CPU, for scripts/bench: the whole set in one
tensor scaled by 1/255, batches taken by index from a shuffled permutation, cross-entropy,
batch 64, then the test set. --model mlp (default): the 784-120-84-10 ReLU MLP with SGD
lr=0.005; --model lenet5: Examples/lenet5.mlp's LeNet-5 with SGD lr=0.01 momentum=0.9.
Prints the seconds of each epoch and, last, their median. Reads data/mnist (gzipped IDX)."""
import argparse
import gzip
import os
import statistics
import time

import numpy as np
import torch
from torch import nn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "mnist")


def idx(name):
    with gzip.open(os.path.join(ROOT, name + ".gz")) as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--model", choices=["mlp", "lenet5"], default="mlp")
    args = ap.parse_args()
    lenet = args.model == "lenet5"
    xtr = torch.from_numpy(idx("train-images-idx3-ubyte").reshape(-1, 784).astype(np.float32) / 255)
    ytr = torch.from_numpy(idx("train-labels-idx1-ubyte").astype(np.int64))
    xte = torch.from_numpy(idx("t10k-images-idx3-ubyte").reshape(-1, 784).astype(np.float32) / 255)
    yte = torch.from_numpy(idx("t10k-labels-idx1-ubyte").astype(np.int64))
    times = []
    for run in range(args.runs):
        torch.manual_seed(run)
        if lenet:
            model = nn.Sequential(nn.Unflatten(1, (1, 28, 28)),
                                  nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                  nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
            opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        else:
            model = nn.Sequential(nn.Linear(784, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
            opt = torch.optim.SGD(model.parameters(), lr=0.005)
        loss_fn = nn.CrossEntropyLoss()
        for epoch in range(args.epochs):
            start = time.perf_counter()
            model.train()
            perm = torch.randperm(len(xtr))
            for i in range(0, len(xtr), 64):
                idx_b = perm[i:i + 64]
                out = model(xtr[idx_b])
                loss = loss_fn(out, ytr[idx_b])
                opt.zero_grad()
                loss.backward()
                opt.step()
            model.eval()
            with torch.no_grad():
                for i in range(0, len(xte), 64):
                    loss_fn(model(xte[i:i + 64]), yte[i:i + 64])
            times.append(time.perf_counter() - start)
            print(f"run {run} epoch {epoch}: {times[-1]:.3f} s")
    print(f"{statistics.median(times):.4f}")


if __name__ == "__main__":
    main()
