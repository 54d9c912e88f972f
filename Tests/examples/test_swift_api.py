"""The engine used from Swift without the shell: Examples/SwiftAPI builds against the engine's
package and trains the walkthrough's MLP on a slice of MNIST; its epoch lines must equal
mlpsh's for the same script on the same slice, digit for digit, and its weights file must
load into mlpsh.

Run by scripts/test as part of `python3 -m pytest -q Tests/...`; MLPSH_BIN names the mlpsh
binary (default .build/debug/mlpsh). MNIST is read from data/mnist.
"""
import os
import re
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("MLPSH_BIN", os.path.join(ROOT, ".build", "debug", "mlpsh"))
EXAMPLE = os.path.join(ROOT, "Examples", "SwiftAPI")
MNIST = os.path.join(ROOT, "data", "mnist")
LIMIT = 6400
EPOCH = re.compile(r"^epoch:\s*\d+,train_loss:[0-9.]+,train_acc:[0-9.]+%,test_loss:[0-9.]+,test_acc:[0-9.]+%$")


RESIDUAL = """model
  linear 784 120
  relu
  residual
    linear 120 120
    relu
    linear 120 120
  end
  relu
  linear 120 10
end
"""


def mlpsh_lines(tmp_path, residual=False):
    # Examples/mnist_mlp.mlp up to its train line, on the same slice.
    script = open(os.path.join(ROOT, "Examples", "mnist_mlp.mlp")).read()
    if residual:
        script = re.sub(r"model\n.*?\nend\n", RESIDUAL, script, flags=re.S)
        assert "residual" in script
    script = script.replace("split=train\n", f"split=train limit={LIMIT} path={MNIST}\n")
    script = script.replace("split=test\n", f"split=test limit={LIMIT} path={MNIST}\n")
    script = script.split("plot loss")[0]
    path = tmp_path / "slice.mlp"
    path.write_text(script)
    r = subprocess.run([BIN, str(path), "epochs=2"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


@pytest.fixture(scope="module")
def program():
    build = subprocess.run(["swift", "build", "--package-path", EXAMPLE], capture_output=True, text=True, timeout=1200)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    binpath = subprocess.run(["swift", "build", "--package-path", EXAMPLE, "--show-bin-path"],
                             capture_output=True, text=True, check=True).stdout.strip()
    return os.path.join(binpath, "train-mnist")


@pytest.mark.parametrize("model", ["mlp", "residual"])
def test_swift_program_trains_like_mlpsh(tmp_path, program, model):
    weights = tmp_path / "api.safetensors"
    r = subprocess.run([program, "--epochs", "2", "--limit", str(LIMIT), "--model", model,
                        "--data", MNIST, "--save", str(weights)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 3 and lines[-1] == "Done", lines
    assert all(EPOCH.match(line) for line in lines[:2]), lines
    assert lines == mlpsh_lines(tmp_path, residual=model == "residual")
    # It learnt: the second epoch's loss is below the first's.
    losses = [float(re.search(r"train_loss:([0-9.]+)", line).group(1)) for line in lines[:2]]
    assert losses[1] < losses[0], losses

    # Its file loads into mlpsh, which scores the test slice as the program's last epoch did.
    check = subprocess.run([BIN, "-c", f"data test mnist split=test limit={LIMIT} path={MNIST}; load {weights}; loss cross_entropy; test"],
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stderr
    last = re.search(r"test_loss:[0-9.]+,test_acc:[0-9.]+%", lines[1]).group(0)
    assert check.stdout.strip() == last, (check.stdout, last)
