"""Branching model blocks (`residual ... [shortcut ...] end`, `concat ... branch ... end`)
between mlpsh and Python, on real MNIST:

  a. mlpsh trains a net with two residual blocks (batch norm inside the first, a strided 1x1
     conv as the second's shortcut) and a concat, and saves it; the file has the state_dict
     names PyTorch gives the matching module (N.body.I.*, N.shortcut.I.*, N.branches.J.I.*),
     with their shapes and dtypes; a numpy forward pass in eval mode scores the test images as
     mlpsh does, image for image, and to mlpsh's test loss;
  b. with torch installed: mlpsh's file loads into the matching module (Residual: body(x) +
     shortcut(x); Concat: torch.cat over the branches on dim 1) with strict=True and predicts
     as mlpsh does; torch's file loads into mlpsh; and from the same initial weights one
     unshuffled epoch of SGD with momentum gives PyTorch's train loss to 1e-3 (relative) and
     its test accuracy to 0.35 percentage points (PyTorch's own spread from starts a rounding
     apart);
  c. shapes that do not agree (a residual's body and shortcut, a concat's branches off the
     channel axis) are an error at the block's line naming both shapes, exit status 1;
  d. blocks nest (a residual in a concat's branch, a concat in a residual's body, a residual
     in a shortcut): the names nest as PyTorch's do, mlpsh reloads its own file without the
     model text, and torch loads it strictly and predicts as mlpsh does.

Run by scripts/test with the other interop tests; MLPSH_BIN names the binary.
"""
import re
import subprocess

# First: it installs numpy and safetensors when they are missing.
from test_interop import BIN, MNIST, agreement, mlpsh, mnist_test, parse_test_line, percent, read_idx  # noqa: F401
from test_conv_interop import batchnorm, conv2d, pool

import numpy as np
import pytest
from safetensors.numpy import load_file

MODEL = """model
  conv2d 1 8 3 padding=1
  relu
  residual
    conv2d 8 8 3 padding=1
    batchnorm2d 8
    relu
    conv2d 8 8 3 padding=1
  end
  relu
  residual
    conv2d 8 16 3 stride=2 padding=1
    relu
    conv2d 16 16 3 padding=1
  shortcut
    conv2d 8 16 1 stride=2
  end
  concat
    conv2d 16 4 1
  branch
    conv2d 16 4 3 padding=1
    relu
  end
  maxpool2d 2
  flatten
  linear 392 10
end"""
F32, I64 = np.float32, np.int64
STATE_DICT = {
    "0.weight": ((8, 1, 3, 3), F32), "0.bias": ((8,), F32),
    "2.body.0.weight": ((8, 8, 3, 3), F32), "2.body.0.bias": ((8,), F32),
    "2.body.1.weight": ((8,), F32), "2.body.1.bias": ((8,), F32),
    "2.body.1.running_mean": ((8,), F32), "2.body.1.running_var": ((8,), F32),
    "2.body.1.num_batches_tracked": ((), I64),
    "2.body.3.weight": ((8, 8, 3, 3), F32), "2.body.3.bias": ((8,), F32),
    "4.body.0.weight": ((16, 8, 3, 3), F32), "4.body.0.bias": ((16,), F32),
    "4.body.2.weight": ((16, 16, 3, 3), F32), "4.body.2.bias": ((16,), F32),
    "4.shortcut.0.weight": ((16, 8, 1, 1), F32), "4.shortcut.0.bias": ((16,), F32),
    "5.branches.0.0.weight": ((4, 16, 1, 1), F32), "5.branches.0.0.bias": ((4,), F32),
    "5.branches.1.0.weight": ((4, 16, 3, 3), F32), "5.branches.1.0.bias": ((4,), F32),
    "8.weight": ((10, 392), F32), "8.bias": ((10,), F32),
}


def torch_blocks(torch):
    """The PyTorch modules the blocks stand for (torch is imported only where installed)."""
    nn = torch.nn

    class Residual(nn.Module):
        def __init__(self, body, shortcut=()):
            super().__init__()
            self.body = nn.Sequential(*body)
            self.shortcut = nn.Sequential(*shortcut)   # empty: the identity, and no weights

        def forward(self, x):
            return self.body(x) + self.shortcut(x)

    class Concat(nn.Module):
        def __init__(self, *branches):
            super().__init__()
            self.branches = nn.ModuleList(nn.Sequential(*b) for b in branches)

        def forward(self, x):
            return torch.cat([b(x) for b in self.branches], dim=1)

    return Residual, Concat


def torch_model(torch):
    nn = torch.nn
    Residual, Concat = torch_blocks(torch)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
        Residual([nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1)]),
        nn.ReLU(),
        Residual([nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1)],
                 shortcut=[nn.Conv2d(8, 16, 1, stride=2)]),
        Concat([nn.Conv2d(16, 4, 1)], [nn.Conv2d(16, 4, 3, padding=1), nn.ReLU()]),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(392, 10))


# MARK: - A numpy forward pass in eval mode

def logits(p, images, chunk=500):
    """MODEL's forward pass in float32, `chunk` images at a time (the unfolded windows of a
    whole test set would not fit in memory)."""
    def conv(x, name, stride=1, padding=0):
        return conv2d(x, p[name + ".weight"], p[name + ".bias"], stride=stride, padding=padding)

    relu = lambda x: np.maximum(x, 0)  # noqa: E731
    out = []
    for i in range(0, len(images), chunk):
        x = images[i:i + chunk].reshape(-1, 1, 28, 28).astype(np.float32) / np.float32(255)
        h = relu(conv(x, "0", padding=1))
        body = relu(batchnorm(conv(h, "2.body.0", padding=1), p, "2.body.1"))
        h = relu(conv(body, "2.body.3", padding=1) + h)
        body = conv(relu(conv(h, "4.body.0", stride=2, padding=1)), "4.body.2", padding=1)
        h = body + conv(h, "4.shortcut.0", stride=2)
        h = np.concatenate([conv(h, "5.branches.0.0"), relu(conv(h, "5.branches.1.0", padding=1))], axis=1)
        h = pool(h, 2, np.max).reshape(len(x), -1)
        out.append(h @ p["8.weight"].T + p["8.bias"])
    return np.concatenate(out)


def mean_test_loss(scores, labels, batch=64):
    """mlpsh's test_loss: the mean over batches of `batch` images of their mean cross entropy."""
    scores = scores.astype(np.float64)
    top = scores.max(axis=1, keepdims=True)
    each = np.log(np.exp(scores - top).sum(axis=1)) + top[:, 0] - scores[np.arange(len(labels)), labels]
    return float(np.mean([each[i:i + batch].mean() for i in range(0, len(each), batch)]))


# MARK: - a. mlpsh trains and saves; the names, and numpy's forward pass

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One shuffled epoch on 2,000 images, lr 0.02 with momentum 0.9. PyTorch from the initial
    weights mlpsh draws with seed 0, in six random orders: 68.2% to 82.2% (lr 0.05 with
    momentum 0.9 diverges to NaN in some orders)."""
    tmp = tmp_path_factory.mktemp("blocks")
    file = tmp / "blocks.safetensors"
    out = mlpsh(tmp, f"""seed 0
data train mnist split=train limit=2000 path={MNIST}
data test  mnist split=test path={MNIST}
{MODEL}
loss cross_entropy
optim sgd lr=0.02 momentum=0.9
train epochs=1 batch=32 shuffle=true
test
save {file}
""")
    return tmp, file, out


def test_a_names_shapes_dtypes(trained):
    _, file, _ = trained
    p = load_file(str(file))
    assert set(p) == set(STATE_DICT), sorted(set(p) ^ set(STATE_DICT))
    for name, (shape, dtype) in STATE_DICT.items():
        assert p[name].shape == shape, (name, p[name].shape)
        assert p[name].dtype == dtype, (name, p[name].dtype)
    # 2,000 images in batches of 32: 63 batches tracked by the batch norm inside the residual.
    assert int(p["2.body.1.num_batches_tracked"]) == 63
    assert np.all(p["2.body.1.running_var"] > 0) and not np.allclose(p["2.body.1.running_mean"], 0)


def test_a_numpy_scores_as_mlpsh(trained, mnist_test, tmp_path):
    _, file, out = trained
    images, labels = mnist_test
    scores = logits(load_file(str(file)), images)
    predictions = scores.argmax(axis=1)
    numpy_acc = percent(int((predictions == labels).sum()), len(labels))
    assert float(numpy_acc) > 60, numpy_acc  # trained, not random (67.5% measured)
    mlpsh_loss, mlpsh_acc = parse_test_line(out)
    assert mlpsh_acc == numpy_acc, f"mlpsh printed test_acc:{mlpsh_acc}%, the file's weights give {numpy_acc}% in numpy"
    numpy_loss = mean_test_loss(scores, labels)
    assert abs(mlpsh_loss - numpy_loss) <= 1e-4, (mlpsh_loss, numpy_loss)
    agree = agreement(tmp_path, f"load {file}", predictions)
    assert agree >= 99.9, agree


# MARK: - b. PyTorch, where it is installed

def as_tensor(torch, images):
    return torch.from_numpy(images.reshape(-1, 1, 28, 28).astype(np.float32) / np.float32(255))


def test_b_torch_loads_strictly(trained, mnist_test, tmp_path):
    torch = pytest.importorskip("torch", reason="torch is not installed: the PyTorch checks need it")
    from safetensors.torch import load_file as torch_load_file
    _, file, out = trained
    images, labels = mnist_test
    net = torch_model(torch)
    net.load_state_dict(torch_load_file(str(file)), strict=True)
    net.eval()
    with torch.no_grad():
        scores = net(as_tensor(torch, images)).numpy()
    ours = logits(load_file(str(file)), images[:500])
    assert np.allclose(scores[:500], ours, atol=1e-4, rtol=1e-4), np.abs(scores[:500] - ours).max()
    predictions = scores.argmax(axis=1)
    mlpsh_loss, mlpsh_acc = parse_test_line(out)
    assert mlpsh_acc == percent(int((predictions == labels).sum()), len(labels)), mlpsh_acc
    assert abs(mlpsh_loss - mean_test_loss(scores, labels)) <= 1e-4, (mlpsh_loss, mean_test_loss(scores, labels))
    agree = agreement(tmp_path, f"load {file}", predictions)
    assert agree >= 99.9, agree


def test_b_mlpsh_loads_torchs_file(mnist_test, tmp_path):
    torch = pytest.importorskip("torch", reason="torch is not installed: the PyTorch checks need it")
    from safetensors.torch import save_file as torch_save_file
    images, labels = mnist_test
    torch.manual_seed(4)
    net = torch_model(torch)
    net.train()
    with torch.no_grad():  # move the running statistics off their initial values
        net(as_tensor(torch, images[:256]))
    net.eval()
    file = tmp_path / "torch.safetensors"
    torch_save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(file))
    with torch.no_grad():
        scores = net(as_tensor(torch, images)).numpy()
    predictions = scores.argmax(axis=1)
    out = mlpsh(tmp_path, f"""data test mnist split=test path={MNIST}
{MODEL}
load {file}
loss cross_entropy
test
""")
    mlpsh_loss, mlpsh_acc = parse_test_line(out)
    assert mlpsh_acc == percent(int((predictions == labels).sum()), len(labels)), mlpsh_acc
    assert abs(mlpsh_loss - mean_test_loss(scores, labels)) <= 1e-4, (mlpsh_loss, mean_test_loss(scores, labels))
    agree = agreement(tmp_path, f"data train mnist split=train limit=10 path={MNIST}\n{MODEL}\nload {file}", predictions)
    assert agree >= 99.9, agree


def test_b_one_epoch_matches_pytorch(tmp_path):
    """From torch's initial weights: one epoch on the first 2,000 training images in order,
    SGD lr 0.01 with momentum 0.9, batches of 32. PyTorch against itself, from initial
    weights moved by 1e-7 (relative: rounding's size) in 16 ways or on one thread instead of
    two: train loss 1.6e-4 apart (relative) at most, test accuracy 73.28% to 73.48% (this
    run's 73.29% at the bottom); from 11 more such starts, 73.28% to 73.62% (mean 73.38%, 0.34
    points from end to end). Measured against mlpsh: 1.813751 and 1.813844, 73.6% and 73.29%
    (mlpsh's 3x3 layers by Winograd's F(2x2, 3x3), whose sums round differently from the direct
    sum; from the same 12 starts mlpsh gives 73.4% to 73.6%, mean 73.53%). Hence 0.35 points,
    PyTorch's own spread. With lr 0.05 and momentum 0.9 PyTorch is not that close to itself
    (one thread against two: train loss 1.295 against 1.307, test accuracy 80.3% against
    77.4%), so no engine can be held to 1e-3 and 0.35 points there."""
    torch = pytest.importorskip("torch", reason="torch is not installed: the PyTorch checks need it")
    from safetensors.torch import save_file as torch_save_file
    xtr = read_idx("train-images-idx3-ubyte")[:2000]
    ytr = read_idx("train-labels-idx1-ubyte")[:2000].astype(np.int64)
    xte = read_idx("t10k-images-idx3-ubyte")
    yte = read_idx("t10k-labels-idx1-ubyte").astype(np.int64)
    torch.manual_seed(0)
    net = torch_model(torch)
    init = tmp_path / "init.safetensors"
    torch_save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(init))
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    x = as_tensor(torch, xtr)
    y = torch.from_numpy(ytr)
    net.train()
    losses = []
    for i in range(0, len(x), 32):
        out = net(x[i:i + 32])
        loss = loss_fn(out, y[i:i + 32])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    net.eval()
    with torch.no_grad():
        pred = net(as_tensor(torch, xte)).argmax(1).numpy()
    torch_loss, torch_acc = float(np.mean(losses)), float((pred == yte).mean() * 100)

    out = mlpsh(tmp_path, f"""data train mnist split=train limit=2000 path={MNIST}
data test  mnist split=test path={MNIST}
{MODEL}
load {init}
loss cross_entropy
optim sgd lr=0.01 momentum=0.9
train epochs=1 batch=32 shuffle=false
""")
    line = [l for l in out.splitlines() if l.startswith("epoch:")][0]
    loss = float(re.search(r"train_loss:([0-9.]+)", line).group(1))
    acc = float(re.search(r"test_acc:([0-9.]+)%", line).group(1))
    print(f"train_loss: mlpsh {loss:.6f}, torch {torch_loss:.6f}; test_acc: mlpsh {acc:.1f}%, torch {torch_acc:.2f}%")
    assert abs(loss - torch_loss) <= 1e-3 * torch_loss, (loss, torch_loss)
    assert abs(acc - torch_acc) <= 0.35 + 0.05, (acc, torch_acc)  # + 0.05: mlpsh prints to 0.1


# MARK: - c. Shapes that do not agree

MISMATCHES = {
    # A residual whose body changes the channels (and the size), with no shortcut.
    "residual": ("""  residual
    conv2d 8 16 3 stride=2 padding=1
  end""", 4, "[16, 14, 14]", "[8, 28, 28]"),
    # A shortcut that does not stride as the body does.
    "shortcut": ("""  residual
    conv2d 8 16 3 stride=2 padding=1
  shortcut
    conv2d 8 16 1
  end""", 4, "[16, 14, 14]", "[16, 28, 28]"),
    # Branches that give different sizes (channels may differ, the rest may not).
    "concat": ("""  concat
    conv2d 8 16 3 stride=2 padding=1
  branch
    conv2d 8 8 3 padding=1
  end""", 4, "[16, 14, 14]", "[8, 28, 28]"),
    # The mismatch is the inner block's: its line, not the outer one's.
    "nested": ("""  concat
    conv2d 8 4 1
  branch
    residual
      conv2d 8 16 3 stride=2 padding=1
    end
  end""", 7, "[16, 14, 14]", "[8, 28, 28]"),
}


@pytest.mark.parametrize("case", list(MISMATCHES))
def test_c_shape_mismatch(tmp_path, case):
    block, line, a, b = MISMATCHES[case]
    script = tmp_path / "mismatch.mlp"
    # Line 1 data, 2 model, 3 the first conv, 4 the block.
    script.write_text(f"data train mnist split=train limit=10 path={MNIST}\nmodel\n  conv2d 1 8 3 padding=1\n"
                      f"{block}\n  flatten\n  linear 3136 10\nend\n")
    r = subprocess.run([BIN, str(script)], cwd=str(tmp_path), capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.startswith(f"{script}:{line}: error: "), r.stderr
    assert a in r.stderr and b in r.stderr, r.stderr


# MARK: - d. Blocks inside blocks

NESTED = {
    # A residual (batch norm in its body) as the first layer of a concat's second branch.
    "res-in-concat": ("""model
  conv2d 1 8 3 padding=1
  relu
  maxpool2d 2
  concat
    conv2d 8 4 1
  branch
    residual
      conv2d 8 8 3 padding=1
      batchnorm2d 8
      relu
      conv2d 8 8 3 padding=1
    end
    conv2d 8 4 1
  end
  relu
  maxpool2d 2
  flatten
  linear 392 10
end""", {
        "0.weight": (8, 1, 3, 3), "0.bias": (8,),
        "3.branches.0.0.weight": (4, 8, 1, 1), "3.branches.0.0.bias": (4,),
        "3.branches.1.0.body.0.weight": (8, 8, 3, 3), "3.branches.1.0.body.0.bias": (8,),
        "3.branches.1.0.body.1.weight": (8,), "3.branches.1.0.body.1.bias": (8,),
        "3.branches.1.0.body.1.running_mean": (8,), "3.branches.1.0.body.1.running_var": (8,),
        "3.branches.1.0.body.1.num_batches_tracked": (),
        "3.branches.1.0.body.3.weight": (8, 8, 3, 3), "3.branches.1.0.body.3.bias": (8,),
        "3.branches.1.1.weight": (4, 8, 1, 1), "3.branches.1.1.bias": (4,),
        "7.weight": (10, 392), "7.bias": (10,),
    }),
    # A concat in a residual's body; a residual (identity shortcut) in its shortcut.
    "concat-in-res": ("""model
  conv2d 1 8 3 padding=1
  relu
  residual
    concat
      conv2d 8 4 1
    branch
      conv2d 8 4 3 padding=1
      relu
    end
    conv2d 8 16 3 stride=2 padding=1
  shortcut
    residual
      conv2d 8 8 3 padding=1
    end
    conv2d 8 16 1 stride=2
  end
  relu
  maxpool2d 2
  flatten
  linear 784 10
end""", {
        "0.weight": (8, 1, 3, 3), "0.bias": (8,),
        "2.body.0.branches.0.0.weight": (4, 8, 1, 1), "2.body.0.branches.0.0.bias": (4,),
        "2.body.0.branches.1.0.weight": (4, 8, 3, 3), "2.body.0.branches.1.0.bias": (4,),
        "2.body.1.weight": (16, 8, 3, 3), "2.body.1.bias": (16,),
        "2.shortcut.0.body.0.weight": (8, 8, 3, 3), "2.shortcut.0.body.0.bias": (8,),
        "2.shortcut.1.weight": (16, 8, 1, 1), "2.shortcut.1.bias": (16,),
        "6.weight": (10, 784), "6.bias": (10,),
    }),
}


def nested_torch_model(torch, case):
    nn = torch.nn
    Residual, Concat = torch_blocks(torch)
    if case == "res-in-concat":
        return nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            Concat([nn.Conv2d(8, 4, 1)],
                   [Residual([nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1)]),
                    nn.Conv2d(8, 4, 1)]),
            nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(392, 10))
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
        Residual([Concat([nn.Conv2d(8, 4, 1)], [nn.Conv2d(8, 4, 3, padding=1), nn.ReLU()]),
                  nn.Conv2d(8, 16, 3, stride=2, padding=1)],
                 shortcut=[Residual([nn.Conv2d(8, 8, 3, padding=1)]), nn.Conv2d(8, 16, 1, stride=2)]),
        nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(784, 10))


@pytest.fixture(scope="module", params=list(NESTED))
def nested(request, tmp_path_factory):
    case = request.param
    tmp = tmp_path_factory.mktemp(case)
    file = tmp / "nested.safetensors"
    out = mlpsh(tmp, f"""seed 0
data train mnist split=train limit=500 path={MNIST}
data test  mnist split=test path={MNIST}
{NESTED[case][0]}
loss cross_entropy
optim sgd lr=0.02 momentum=0.9
train epochs=1 batch=32 shuffle=true
test
save {file}
""")
    return case, tmp, file, out


def test_d_nested_names_and_reload(nested):
    case, tmp, file, out = nested
    p = load_file(str(file))
    names = NESTED[case][1]
    assert set(p) == set(names), sorted(set(p) ^ set(names))
    for name, shape in names.items():
        assert p[name].shape == shape, (name, p[name].shape)
        assert p[name].dtype == (np.int64 if name.endswith("num_batches_tracked") else np.float32), (name, p[name].dtype)
    # The file rebuilds its nested model from its own description: the same test line.
    again = mlpsh(tmp, f"data test mnist split=test path={MNIST}\nload {file}\nloss cross_entropy\ntest\n", name="reload.mlp")
    assert parse_test_line(again) == parse_test_line(out), (again, out)


def test_d_nested_torch(nested, mnist_test, tmp_path):
    torch = pytest.importorskip("torch", reason="torch is not installed: the PyTorch checks need it")
    from safetensors.torch import load_file as torch_load_file
    from safetensors.torch import save_file as torch_save_file
    case, _, file, out = nested
    images, labels = mnist_test
    # mlpsh's file in torch, strictly: torch predicts as mlpsh does.
    net = nested_torch_model(torch, case)
    net.load_state_dict(torch_load_file(str(file)), strict=True)
    net.eval()
    with torch.no_grad():
        scores = net(as_tensor(torch, images)).numpy()
    mlpsh_loss, mlpsh_acc = parse_test_line(out)
    assert mlpsh_acc == percent(int((scores.argmax(1) == labels).sum()), len(labels)), mlpsh_acc
    assert abs(mlpsh_loss - mean_test_loss(scores, labels)) <= 1e-4, (mlpsh_loss, mean_test_loss(scores, labels))
    assert agreement(tmp_path, f"load {file}", scores.argmax(1)) >= 99.9
    # torch's initial weights in mlpsh: mlpsh predicts as torch does.
    torch.manual_seed(5)
    net = nested_torch_model(torch, case).eval()
    init = tmp_path / "torch.safetensors"
    torch_save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(init))
    with torch.no_grad():
        predictions = net(as_tensor(torch, images)).argmax(1).numpy()
    agree = agreement(tmp_path, f"data train mnist split=train limit=10 path={MNIST}\n{NESTED[case][0]}\nload {init}", predictions)
    assert agree >= 99.9, agree
