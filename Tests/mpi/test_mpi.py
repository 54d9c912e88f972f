"""Data-parallel training under Open MPI's mpirun, on loopback: -np 1, 2 and 3 give one
process's epochs and weights; only rank 0 prints and writes; an error on one rank or on all
ends every rank within seconds with one error line and status 1.

Run by scripts/test after `swift build` and scripts/build-plugins (which builds plugins/MPI);
MLPSH_BIN names the binary. Skipped where mpirun is not installed.
"""
import json
import os
import re
import shutil
import sqlite3
import struct
import subprocess
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("MLPSH_BIN", os.path.join(ROOT, ".build", "debug", "mlpsh"))
MPIRUN = shutil.which("mpirun")
pytestmark = pytest.mark.skipif(MPIRUN is None, reason="Open MPI's mpirun is not installed")

# CI runs as root, on 2 cores.
MPI = [MPIRUN or "mpirun", "--allow-run-as-root", "--oversubscribe"]
ENV = dict(os.environ, OMPI_MCA_btl_vader_single_copy_mechanism="none")


def mpirun(np, *args, timeout=300, cwd=ROOT):
    return subprocess.run(MPI + ["-np", str(np), BIN, *args], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def mpmd(*scripts, cwd, timeout=120):
    """One rank per script (mpirun's MPMD form): a way to make one rank differ."""
    command = list(MPI)
    for i, s in enumerate(scripts):
        command += ([":"] if i else []) + ["-np", "1", BIN, s]
    return subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)


def tensors(path):
    """A safetensors file's F32 tensors, read by hand: {name: [floats]}."""
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__" or e["dtype"] != "F32":
            continue
        a, b = e["data_offsets"]
        out[name] = struct.unpack(f"<{(b - a) // 4}f", data[8 + n + a:8 + n + b])
    return out


def epochs(stdout):
    """Each epoch line as {name: value}: epoch: 0,train_loss:1.990070,train_acc:46.1%,..."""
    return [{k: float(v.rstrip("%")) for k, v in (field.split(":") for field in line.split(",")[1:])}
            for line in stdout.splitlines() if line.startswith("epoch:")]


SCRIPT = """seed 0
data train mnist split=train limit=6400
data test mnist split=test limit=2000
model
  linear 784 120
  relu
  linear 120 84
  relu
  linear 84 10
end
loss cross_entropy
optim sgd lr=0.01 momentum=0.9
save {out}/init.safetensors
train epochs=2 batch=64 shuffle=true
save {out}/weights.safetensors
"""


# A model that branches: a residual block with a shortcut and a concat, as one process and as ranks.
BLOCKS = SCRIPT.replace("limit=6400", "limit=1920").replace("""  linear 784 120
  relu
  linear 120 84
  relu
  linear 84 10""", """  conv2d 1 4 3 stride=2 padding=1
  relu
  residual
    conv2d 4 8 3 stride=2 padding=1
    relu
  shortcut
    conv2d 4 8 1 stride=2
  end
  concat
    maxpool2d 2
  branch
    avgpool2d 2
  end
  flatten
  linear 144 10""")


@pytest.mark.parametrize("model", [SCRIPT, BLOCKS], ids=["mlp", "blocks"])
def test_one_two_and_three_ranks_train_as_one_process(tmp_path, model):
    runs = {}
    for np in [0, 1, 2, 3]:
        out = tmp_path / f"np{np}"
        out.mkdir()
        script = out / "dp.mlp"
        script.write_text(model.format(out=out))
        if np == 0:
            p = subprocess.run([BIN, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=300)
        else:
            p = mpirun(np, str(script))
        assert p.returncode == 0, p.stderr
        runs[np] = (epochs(p.stdout), tensors(out / "weights.safetensors"))
        assert len(runs[np][0]) == 2, p.stdout
        assert p.stdout.count("Done") == 1, "only rank 0 prints"
    base_lines, base_weights = runs[0]
    start = tensors(tmp_path / "np0" / "init.safetensors")
    change = max(abs(w - s) for name in start for w, s in zip(base_weights[name], start[name]))
    for np in [1, 2, 3]:
        lines, weights = runs[np]
        for a, b in zip(lines, base_lines):
            assert a.keys() == b.keys()
            for key in a:
                # Losses to 1e-4 relative; accuracies as printed (0.1%), at most one unit apart.
                slack = 0.1001 if key.endswith("acc") else 1e-4 * abs(b[key])
                assert abs(a[key] - b[key]) <= slack, (np, key, a, b)
        worst = max(abs(w - v) for name in weights for w, v in zip(weights[name], base_weights[name]))
        assert worst <= 1e-4 * change, (np, worst, change)


def test_only_rank_0_prints_and_writes(tmp_path):
    (tmp_path / "a.mlp").write_text("echo from-a\nmodel\nlinear 4 2\nend\nsave a.safetensors\nhistory out=a.csv\n")
    (tmp_path / "b.mlp").write_text("echo from-b\nmodel\nlinear 4 2\nend\nsave b.safetensors\nhistory out=b.csv\n")
    p = mpmd("a.mlp", "b.mlp", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "from-a" in p.stdout and "from-b" not in p.stdout
    assert (tmp_path / "a.safetensors").exists() and (tmp_path / "a.csv").exists()
    assert not (tmp_path / "b.safetensors").exists() and not (tmp_path / "b.csv").exists()
    p = mpirun(2, "-c", "device", cwd=tmp_path)
    assert p.returncode == 0 and "mpi: 2 ranks" in p.stdout, p.stdout + p.stderr


def error_lines(stderr):
    return [line for line in stderr.splitlines() if "error:" in line]


GOOD = """seed 0
data train synthetic n=640 features=16 classes=4
model
linear 16 8
end
loss cross_entropy
optim sgd lr=0.1
train epochs={epochs} batch=64
"""


@pytest.mark.parametrize("where", ["all ranks", "rank 1, same statement", "rank 1, an earlier statement", "rank 0, while rank 1 trains"])
def test_an_error_on_any_rank_ends_every_rank(tmp_path, where):
    (tmp_path / "good.mlp").write_text(GOOD.format(epochs=100000))
    (tmp_path / "bad.mlp").write_text(GOOD.format(epochs=100000).replace("batch=64", "batch=64 bogus=1"))
    (tmp_path / "early.mlp").write_text(GOOD.format(epochs=100000).replace("model\n", "nosuchcommand\nmodel\n", 1))
    start = time.monotonic()
    if where == "all ranks":
        p = mpirun(2, "bad.mlp", cwd=tmp_path, timeout=60)
    elif where == "rank 1, same statement":
        p = mpmd("good.mlp", "bad.mlp", cwd=tmp_path)
    elif where == "rank 1, an earlier statement":
        p = mpmd("good.mlp", "early.mlp", cwd=tmp_path)
    else:
        p = mpmd("early.mlp", "good.mlp", cwd=tmp_path)
    assert time.monotonic() - start < 30
    assert p.returncode != 0
    lines = error_lines(p.stderr)
    assert len(lines) == 1, p.stderr
    assert re.match(r"(bad|early)\.mlp:\d+: error: ", lines[0]), lines


def test_a_signal_to_one_rank_stops_every_rank(tmp_path):
    (tmp_path / "long.mlp").write_text(GOOD.format(epochs=100000))
    p = subprocess.Popen(MPI + ["-np", "2", BIN, "long.mlp"], cwd=tmp_path, env=ENV,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    ranks = subprocess.run(["pgrep", "-f", BIN + " long.mlp"], capture_output=True, text=True).stdout.split()
    ranks = [r for r in ranks if int(r) != p.pid]
    assert len(ranks) == 2, ranks
    os.kill(int(max(ranks, key=int)), 15)
    out, err = p.communicate(timeout=30)
    assert p.returncode != 0
    assert "interrupted in epoch" in out
    assert len(error_lines(err)) == 1 and "stopped by SIGTERM" in err, err


def test_the_prompt_is_refused_under_mpirun(tmp_path):
    p = subprocess.run(MPI + ["-np", "2", BIN], cwd=tmp_path, env=ENV, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert "under mpirun, mlpsh runs a script" in p.stderr


def test_run_history_commands_run_on_rank_0_only(tmp_path):
    store = tmp_path / "runs.sqlite"
    env = dict(ENV, MLPSH_RUNS=str(store))
    setup = "seed 0; data train synthetic n=64 features=4 classes=3; model; linear 4 3; end; loss cross_entropy; optim sgd lr=0.1"
    p = subprocess.run([BIN, "-c", setup + "; train epochs=1 batch=16; train epochs=1 batch=16"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    p = subprocess.run(MPI + ["-np", "3", BIN, "-c", "runs rm 1; runs"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("run 1 deleted") == 1
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT id FROM runs").fetchall() == [(2,)]
    # An error there (no such run) is every rank's, once.
    p = subprocess.run(MPI + ["-np", "2", BIN, "-c", "runs rm 7"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and p.stderr.count("no run 7") == 1, p.stderr


@pytest.mark.parametrize("change,what", [
    (("n=256", "n=320"), "the training set's samples is 256 on rank 0 but 320 on rank 1"),
    (("epochs=3", "epochs=4"), "epochs is 3 on rank 0 but 4 on rank 1"),
], ids=["data", "epochs"])
def test_ranks_that_differ_end_with_one_error_naming_the_difference(tmp_path, change, what):
    script = ("seed 0\ndata train synthetic n=256 features=4 classes=3\nmodel\nlinear 4 3\nend\n"
              "loss cross_entropy\noptim sgd lr=0.1\ntrain epochs=3 batch=32\n")
    (tmp_path / "a.mlp").write_text(script)
    (tmp_path / "b.mlp").write_text(script.replace(*change))
    start = time.monotonic()
    p = mpmd("a.mlp", "b.mlp", cwd=tmp_path, timeout=60)
    assert time.monotonic() - start < 30
    assert p.returncode != 0
    lines = error_lines(p.stderr)
    assert len(lines) == 1 and what in lines[0], p.stderr


def test_ranks_that_run_different_statements_end_within_the_bound(tmp_path):
    # Rank 0 ends after one training; rank 1 trains again and waits in a collective for a
    # partner that will never come: MLPSH_MPI_TIMEOUT bounds that wait.
    script = ("seed 0\ndata train synthetic n=256 features=4 classes=3\nmodel\nlinear 4 3\nend\n"
              "loss cross_entropy\noptim sgd lr=0.1\ntrain epochs=1 batch=32\n")
    (tmp_path / "a.mlp").write_text(script)
    (tmp_path / "b.mlp").write_text(script + "train epochs=1 batch=32\n")
    command = list(MPI) + ["-np", "1", BIN, "a.mlp", ":", "-np", "1", BIN, "b.mlp"]
    start = time.monotonic()
    p = subprocess.run(command, cwd=tmp_path, env=dict(ENV, MLPSH_MPI_TIMEOUT="3"), capture_output=True, text=True, timeout=90)
    assert time.monotonic() - start < 45, p.stderr
    assert p.returncode != 0
    assert "waited 3 s in MPI_" in p.stderr and "do all ranks run the same statements?" in p.stderr, p.stderr


def test_a_timeout_that_is_not_a_number_is_an_error(tmp_path):
    p = subprocess.run(MPI + ["-x", "MLPSH_MPI_TIMEOUT=soon", "-np", "2", BIN, "-c", "show"], cwd=tmp_path,
                       env=ENV, capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert "MLPSH_MPI_TIMEOUT is 'soon'" in p.stderr, p.stderr
