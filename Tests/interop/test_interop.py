"""mlpsh's weights files against the reference safetensors reader and writer (the Python
package), checked on the real MNIST test set with a forward pass written in numpy:

  a. mlpsh trains the 784-120-84-10 model briefly and saves it; Python loads the file and
     scores the 10,000 test images as mlpsh did, image for image;
  b. Python writes a file in PyTorch's state_dict layout (random nn.Linear-style weights);
     mlpsh loads it into a model defined in the script and scores it as numpy does;
  c. the metadata mlpsh writes is readable from Python.

Per-image agreement is measured by mlpsh itself: the test images relabelled with numpy's
predictions make mlpsh's test_acc the fraction of images on which the two agree.

Run by scripts/test after `swift build` as `python3 -m pytest -q Tests/interop`; MLPSH_BIN
names the binary (default .build/debug/mlpsh). MNIST is read from data/mnist (gzipped IDX).
"""
import gzip
import json
import os
import re
import shutil
import subprocess
import sys

try:
    import numpy  # noqa: F401
    import safetensors  # noqa: F401
except ImportError:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "safetensors", "numpy"])

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("MLPSH_BIN", os.path.join(ROOT, ".build", "debug", "mlpsh"))
MNIST = os.path.join(ROOT, "data", "mnist")

MODEL = """model
  linear 784 120
  relu
  linear 120 84
  relu
  linear 84 10
end"""
STATE_DICT = {"0.weight": (120, 784), "0.bias": (120,), "2.weight": (84, 120), "2.bias": (84,),
              "4.weight": (10, 84), "4.bias": (10,)}
TEST_LINE = re.compile(r"^test_loss:(\d+\.\d{5}),test_acc:(\d+\.\d)%$")


# MARK: - MNIST and the numpy model

def read_idx(name):
    """One of the gzipped IDX files in data/mnist, as a numpy array of its shape."""
    path = os.path.join(MNIST, name + ".gz")
    if not os.path.exists(path):
        pytest.fail(f"MNIST is missing: {path} (run scripts/fetch-mnist)")
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    assert magic >> 8 == 0x08, f"{path}: not unsigned-byte IDX (magic {magic:#x})"
    rank = magic & 0xff
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


@pytest.fixture(scope="module")
def mnist_test():
    images = read_idx("t10k-images-idx3-ubyte")
    labels = read_idx("t10k-labels-idx1-ubyte")
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    return images, labels


def logits(weights, images):
    """The forward pass: x/255 → x@W0.T+b0 → relu → x@W2.T+b2 → relu → x@W4.T+b4, in float32."""
    x = images.reshape(len(images), -1).astype(np.float32) / np.float32(255)
    h = np.maximum(x @ weights["0.weight"].T + weights["0.bias"], 0)
    h = np.maximum(h @ weights["2.weight"].T + weights["2.bias"], 0)
    return h @ weights["4.weight"].T + weights["4.bias"]


def percent(correct, total):
    """An accuracy as mlpsh prints it: the fraction times 100, to 0.1."""
    return f"{correct / total * 100:.1f}"


# MARK: - Running mlpsh

def mlpsh(tmp_path, script, name="script.mlp"):
    """Runs `script` as a file with the built mlpsh in tmp_path; returns its standard output.
    A failure (exit status not 0) fails the test with its standard error."""
    if not os.path.exists(BIN):
        pytest.fail(f"mlpsh is not built: {BIN} (run swift build, or set MLPSH_BIN)")
    path = tmp_path / name
    path.write_text(script)
    env = dict(os.environ)
    env.pop("MLPSH_DATA", None)
    r = subprocess.run([BIN, str(path)], cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"mlpsh failed ({r.returncode}):\n{r.stderr}\n--- script ---\n{script}"
    assert r.stderr == "", r.stderr
    return r.stdout


def parse_test_line(output):
    """(test_loss, test_acc) of the last `test` line in mlpsh's output."""
    lines = [m for m in (TEST_LINE.match(l) for l in output.splitlines()) if m]
    assert lines, f"no test_loss:...,test_acc:...% line in:\n{output}"
    return float(lines[-1].group(1)), lines[-1].group(2)


def agreement(tmp_path, load_commands, predictions):
    """mlpsh's test_acc on the test images labelled with `predictions`: the fraction of images
    on which mlpsh predicts what numpy did. `load_commands` puts the model in place."""
    folder = tmp_path / "relabelled"
    folder.mkdir(exist_ok=True)
    shutil.copy(os.path.join(MNIST, "t10k-images-idx3-ubyte.gz"), folder / "t10k-images-idx3-ubyte.gz")
    labels = bytes([0, 0, 8, 1]) + len(predictions).to_bytes(4, "big") + predictions.astype(np.uint8).tobytes()
    (folder / "t10k-labels-idx1-ubyte").write_bytes(labels)
    out = mlpsh(tmp_path, f"data test mnist split=test path={folder}\n{load_commands}\n"
                          "loss cross_entropy\noptim sgd\ntest\n", name="agreement.mlp")
    return float(parse_test_line(out)[1])


# MARK: - a. mlpsh writes, Python reads

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """mlpsh trains briefly on 5,000 training images, tests on all 10,000, and saves."""
    tmp = tmp_path_factory.mktemp("trained")
    file = tmp / "mnist_mlp.safetensors"
    out = mlpsh(tmp, f"""seed 0
data train mnist split=train limit=5000 path={MNIST}
data test  mnist split=test path={MNIST}
{MODEL}
loss cross_entropy
optim sgd lr=0.05
train epochs=2 batch=64 shuffle=true
test
save {file}
""")
    epochs = [l for l in out.splitlines() if l.startswith("epoch:")]
    assert len(epochs) == 2, out
    assert os.path.exists(file)
    return tmp, file, out


def test_a_python_reads_mlpsh_weights_and_scores_the_same(trained, mnist_test, tmp_path):
    _, file, out = trained
    images, labels = mnist_test
    weights = load_file(str(file))
    assert set(weights) == set(STATE_DICT), sorted(weights)
    for name, shape in STATE_DICT.items():
        assert weights[name].shape == shape, name
        assert weights[name].dtype == np.float32, name
        assert np.all(np.isfinite(weights[name])), name
    _, mlpsh_acc = parse_test_line(out)
    predictions = logits(weights, images).argmax(axis=1)
    numpy_acc = percent(int((predictions == labels).sum()), len(labels))
    # Trained, not random: two epochs on 5,000 images get far above chance (74.0% measured).
    assert float(numpy_acc) > 60, numpy_acc
    assert mlpsh_acc == numpy_acc, f"mlpsh printed test_acc:{mlpsh_acc}% but the file's weights give {numpy_acc}% in numpy"
    # The same image for image: mlpsh's predictions against numpy's.
    agree = agreement(tmp_path, f"load {file}", predictions)
    assert agree >= 99.9, f"mlpsh and numpy agree on only {agree}% of the test images"


def test_a_the_last_epoch_line_matches_the_file(trained, mnist_test):
    """The epoch line's test_acc is the accuracy of the weights saved after it (no training
    happens between the last epoch and `test`/`save`)."""
    _, file, out = trained
    images, labels = mnist_test
    last = [l for l in out.splitlines() if l.startswith("epoch:")][-1]
    epoch_acc = re.search(r"test_acc:(\d+\.\d)%", last).group(1)
    predictions = logits(load_file(str(file)), images).argmax(axis=1)
    assert epoch_acc == percent(int((predictions == labels).sum()), len(labels)), last


# MARK: - b. Python writes, mlpsh reads

def pytorch_style_weights(seed=0):
    """Random weights as nn.Linear initialises them (uniform in ±1/sqrt(fan_in), weight and
    bias alike), from numpy's RandomState, in state_dict names and [out, in] shapes."""
    rng = np.random.RandomState(seed)
    weights = {}
    for index, (fan_in, fan_out) in zip((0, 2, 4), ((784, 120), (120, 84), (84, 10))):
        bound = 1 / np.sqrt(fan_in)
        weights[f"{index}.weight"] = rng.uniform(-bound, bound, size=(fan_out, fan_in)).astype(np.float32)
        weights[f"{index}.bias"] = rng.uniform(-bound, bound, size=(fan_out,)).astype(np.float32)
    return weights


def test_b_mlpsh_reads_python_weights_and_scores_the_same(mnist_test, tmp_path):
    images, labels = mnist_test
    weights = pytorch_style_weights()
    file = tmp_path / "from_python.safetensors"
    save_file(weights, str(file), metadata={"format": "pt"})
    predictions = logits(weights, images).argmax(axis=1)
    numpy_acc = percent(int((predictions == labels).sum()), len(labels))
    # `optim sgd` only because mlpsh's `test` demands an optimizer (see the next test).
    out = mlpsh(tmp_path, f"""data test mnist split=test path={MNIST}
{MODEL}
load {file}
loss cross_entropy
optim sgd
test
""")
    _, mlpsh_acc = parse_test_line(out)
    assert mlpsh_acc == numpy_acc, f"mlpsh scored the Python-written weights {mlpsh_acc}%, numpy {numpy_acc}%"
    agree = agreement(tmp_path, f"{MODEL}\nload {file}", predictions)
    assert agree >= 99.9, f"mlpsh and numpy agree on only {agree}% of the test images"
    # And the weights are the file's, bit for bit: mlpsh saves them back unchanged.
    back = tmp_path / "saved_back.safetensors"
    mlpsh(tmp_path, f"{MODEL}\nload {file}\nsave {back}\n", name="back.mlp")
    reread = load_file(str(back))
    for name, w in weights.items():
        assert reread[name].tobytes() == w.tobytes(), name


def test_b_loaded_weights_are_tested_without_an_optimizer(mnist_test, tmp_path):
    """The script as a user writes it to score a downloaded model: define, load, loss, test."""
    images, labels = mnist_test
    weights = pytorch_style_weights(seed=1)
    file = tmp_path / "from_python.safetensors"
    save_file(weights, str(file))
    numpy_acc = percent(int((logits(weights, images).argmax(axis=1) == labels).sum()), len(labels))
    out = mlpsh(tmp_path, f"""data test mnist split=test path={MNIST}
{MODEL}
load {file}
loss cross_entropy
test
""")
    assert parse_test_line(out)[1] == numpy_acc


def test_b_a_python_file_rebuilds_nothing_without_a_model(tmp_path):
    """Without mlpsh metadata the model cannot be rebuilt: a clear error, status 1."""
    file = tmp_path / "bare.safetensors"
    save_file(pytorch_style_weights(), str(file))
    script = tmp_path / "bare.mlp"
    script.write_text(f"load {file}\n")
    r = subprocess.run([BIN, str(script)], cwd=str(tmp_path), capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert r.stderr.startswith(f"{script}:1: error: "), r.stderr
    assert "no mlpsh model definition" in r.stderr and "define the model first" in r.stderr, r.stderr


def test_b_torch_loads_mlpsh_weights_into_nn_sequential(trained, mnist_test):
    """Where PyTorch is installed: the file is a state_dict nn.Sequential loads strictly."""
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file as torch_load_file
    _, file, out = trained
    images, labels = mnist_test
    net = torch.nn.Sequential(torch.nn.Linear(784, 120), torch.nn.ReLU(), torch.nn.Linear(120, 84),
                              torch.nn.ReLU(), torch.nn.Linear(84, 10))
    net.load_state_dict(torch_load_file(str(file)), strict=True)
    with torch.no_grad():
        x = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32) / np.float32(255))
        predictions = net(x).argmax(dim=1).numpy()
    assert percent(int((predictions == labels).sum()), len(labels)) == parse_test_line(out)[1]


# MARK: - c. metadata

def test_c_mlpsh_metadata_is_readable_from_python(trained):
    _, file, _ = trained
    with safe_open(str(file), framework="np") as f:
        meta = f.metadata()
        keys = set(f.keys())
    assert keys == set(STATE_DICT)
    assert meta is not None, "no __metadata__"
    assert meta.get("format") == "pt", meta
    assert meta["mlpsh.model"] == "linear 784 120\nrelu\nlinear 120 84\nrelu\nlinear 84 10", meta["mlpsh.model"]
    assert meta["mlpsh.seed"] == "0"
    assert meta["mlpsh.version"]
    history = json.loads(meta["mlpsh.history"])
    assert [h["epoch"] for h in history] == [0, 1]
    for h in history:
        assert 0 <= h["train_acc"] <= 1 and 0 <= h["test_acc"] <= 1 and h["train_loss"] > 0, h


def test_c_a_resumable_file_is_still_readable_from_python(tmp_path):
    """With optimizer=true the extra tensors (optimizer state, U32 random state) still make a
    file the reference reader accepts; its weights are under the same names."""
    file = tmp_path / "resume.safetensors"
    mlpsh(tmp_path, f"""seed 0
data train synthetic classes=3 features=4 n=96
model
  linear 4 8
  relu
  linear 8 3
end
loss cross_entropy
optim adam lr=0.01
train epochs=1 batch=32 shuffle=true
save {file} optimizer=true
""")
    tensors = load_file(str(file))
    assert tensors["0.weight"].shape == (8, 4) and tensors["2.bias"].shape == (3,)
    assert tensors["mlpsh.random_state"].dtype == np.uint32
    assert any(k.startswith("mlpsh.optimizer.") for k in tensors), sorted(tensors)
    with safe_open(str(file), framework="np") as f:
        meta = f.metadata()
    # The optimizer as data: its spec as JSON (name and options).
    optimizer = json.loads(meta["mlpsh.optimizer"])
    assert optimizer["name"] == "adam" and optimizer["options"]["lr"] == "0.01", meta
    assert meta["mlpsh.epochs"] == "1"
