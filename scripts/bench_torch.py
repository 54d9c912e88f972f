"""The MNIST experiments in PyTorch at their best on CPU, for scripts/bench: the whole set in one
tensor scaled by 1/255, batches taken by index from a shuffled permutation, cross-entropy,
batch 64, then the test set. --model mlp (default): the 784-120-84-10 ReLU MLP with SGD
lr=0.005; --model lenet5: Examples/lenet5.mlp's LeNet-5 with SGD lr=0.01 momentum=0.9;
--model resnet: Examples/resnet_fashion.mlp's small ResNet on Fashion-MNIST, batch 128, SGD
lr=0.05 momentum=0.9 weight_decay=5e-4 on a cosine schedule over --epochs.
Prints the seconds of each epoch (and, with --accuracy, the test accuracy) and, last, the
median seconds. Reads data/mnist (gzipped IDX), or for the ResNet Fashion-MNIST from
$MLPSH_DATA/fashion_mnist, data/fashion_mnist or /usr/share/datasets/fashion-mnist."""
import argparse
import gzip
import os
import statistics
import time

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "data", "mnist")


def fashion_folder():
    for folder in [os.path.join(os.environ.get("MLPSH_DATA", ""), "fashion_mnist"), os.path.join(HERE, "..", "data", "fashion_mnist"),
                   "/usr/share/datasets/fashion-mnist"]:
        if os.path.exists(os.path.join(folder, "train-images-idx3-ubyte.gz")):
            return folder
    raise SystemExit("bench_torch: no Fashion-MNIST (apt-get install dataset-fashion-mnist)")


def residual(nn, cin, cout, stride):
    """body(x) + shortcut(x), as mlpsh's residual block names them."""
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                                      nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout))
            self.shortcut = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
                             if stride != 1 or cin != cout else None)

        def forward(self, x):
            return self.body(x) + (self.shortcut(x) if self.shortcut is not None else x)
    return Residual()


def resnet(nn):
    return nn.Sequential(nn.Unflatten(1, (1, 28, 28)),
                         nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                         residual(nn, 16, 16, 1), nn.ReLU(), residual(nn, 16, 32, 2), nn.ReLU(), residual(nn, 32, 64, 2), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def idx(name, root=None):
    with gzip.open(os.path.join(root or ROOT, name + ".gz")) as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--model", choices=["mlp", "lenet5", "resnet"], default="mlp")
    ap.add_argument("--accuracy", action="store_true", help="print each epoch's test accuracy")
    args = ap.parse_args()
    lenet = args.model == "lenet5"
    root = fashion_folder() if args.model == "resnet" else None
    batch = 128 if args.model == "resnet" else 64
    xtr = torch.from_numpy(idx("train-images-idx3-ubyte", root).reshape(-1, 784).astype(np.float32) / 255)
    ytr = torch.from_numpy(idx("train-labels-idx1-ubyte", root).astype(np.int64))
    xte = torch.from_numpy(idx("t10k-images-idx3-ubyte", root).reshape(-1, 784).astype(np.float32) / 255)
    yte = torch.from_numpy(idx("t10k-labels-idx1-ubyte", root).astype(np.int64))
    times = []
    for run in range(args.runs):
        torch.manual_seed(run)
        schedule = None
        if args.model == "resnet":
            model = resnet(nn)
            opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
            schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
        elif lenet:
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
            for i in range(0, len(xtr), batch):
                idx_b = perm[i:i + batch]
                out = model(xtr[idx_b])
                loss = loss_fn(out, ytr[idx_b])
                opt.zero_grad()
                loss.backward()
                opt.step()
            if schedule:
                schedule.step()
            model.eval()
            correct = 0
            with torch.no_grad():
                for i in range(0, len(xte), batch):
                    out = model(xte[i:i + batch])
                    loss_fn(out, yte[i:i + batch])
                    correct += int((out.argmax(1) == yte[i:i + batch]).sum())
            times.append(time.perf_counter() - start)
            accuracy = f", test_acc {100 * correct / len(xte):.2f}%" if args.accuracy else ""
            print(f"run {run} epoch {epoch}: {times[-1]:.3f} s{accuracy}", flush=True)
    print(f"{statistics.median(times):.4f}")


if __name__ == "__main__":
    main()
