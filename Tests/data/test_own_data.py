"""Training on one's own data: image folders (torchvision's ImageFolder order, what is left out
and why, hostile folders), a validation split, early stopping with the best epoch saved, and
gradient clipping against PyTorch (skipped, and said so, where torch is not installed).

Run by scripts/test; MLPSH_BIN names the binary. MNIST is read from data/mnist.
"""
import json
import os
import re
import struct
import subprocess
import zlib

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("MLPSH_BIN", os.path.join(ROOT, ".build", "debug", "mlpsh"))
MNIST = os.path.join(ROOT, "data", "mnist")


def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png(width, height, values, claimed=None):
    """A grey PNG; `claimed` (W, H) puts other dimensions in its header (with a right CRC)."""
    raw = b"".join(b"\x00" + bytes(values[y * width:(y + 1) * width]) for y in range(height))
    w, h = claimed or (width, height)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def run(args, cwd, timeout=300, **kw):
    return subprocess.run([BIN, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, **kw)


def folder(tmp_path, classes, per_class=3, size=8):
    for c, name in enumerate(classes):
        os.makedirs(tmp_path / name, exist_ok=True)
        for i in range(per_class):
            (tmp_path / name / f"{i}.png").write_bytes(png(size, size, [(c * 40 + i * 7 + p) % 256 for p in range(size * size)]))
    return tmp_path


def test_classes_are_numbered_in_sorted_order_and_what_is_left_out_is_said(tmp_path):
    root = folder(tmp_path / "f", ["b_cat", "a_dog", "C_upper"])
    (root / "a_dog" / "notes.txt").write_text("not an image")
    (root / "b_cat" / "broken.png").write_bytes(png(8, 8, [0] * 64)[:40])
    os.makedirs(root / "b_cat" / "more")
    (root / "b_cat" / "more" / "deep.png").write_bytes(png(16, 16, [9] * 256))
    os.symlink("..", root / "b_cat" / "more" / "loop")
    p = run(["-c", f"data train images path={root} size=8; data"], tmp_path)
    assert p.returncode == 0, p.stderr
    # Python's sorted order, as torchvision's class_to_idx: upper case first.
    assert "3 classes: C_upper (3), a_dog (3), b_cat (4)" in p.stdout, p.stdout
    # 9 images and the one in a subfolder (the loop back up is walked once); the broken one skipped.
    assert "(10 images [1, 8, 8]" in p.stdout, p.stdout
    assert "broken.png" in p.stderr and "skipped" in p.stderr, p.stderr
    assert "notes.txt" in p.stderr and "left out" in p.stderr, p.stderr
    # on_error=fail: the broken file refuses the folder, named.
    p = run(["-c", f"data train images path={root} on_error=fail"], tmp_path)
    assert p.returncode == 1 and "broken.png" in p.stderr and "error:" in p.stderr, p.stderr


@pytest.mark.parametrize("case", ["empty", "one class", "not a folder", "huge header", "fifo"])
def test_hostile_folders_are_clear_errors_or_skips(tmp_path, case):
    root = tmp_path / "f"
    os.makedirs(root)
    if case == "one class":
        folder(root, ["only"])
    elif case == "not a folder":
        root = tmp_path / "file"
        root.write_text("x")
    elif case == "huge header":
        folder(root, ["a", "b"])
        # A PNG that says it is 100000 x 100000: refused from its header, nothing allocated.
        (root / "a" / "huge.png").write_bytes(png(1, 1, [0], claimed=(100000, 100000)))
    elif case == "fifo":
        folder(root, ["a", "b"])
        os.mkfifo(root / "a" / "pipe.png")
    p = run(["-c", f"data train images path={root}; data"], tmp_path, timeout=60,
            preexec_fn=lambda: __import__("resource").setrlimit(__import__("resource").RLIMIT_AS, (2 << 30, 2 << 30)))
    if case in ("empty", "one class", "not a folder"):
        assert p.returncode == 1, p.stdout
        assert {"empty": "no class folders", "one class": "one class folder", "not a folder": "is not a folder"}[case] in p.stderr, p.stderr
    elif case == "huge header":
        assert p.returncode == 0, p.stderr
        assert "huge.png" in p.stderr and "pixels is more than" in p.stderr, p.stderr
        assert "(6 images" in p.stdout, p.stdout
    else:
        assert p.returncode == 0, p.stderr
        assert "(6 images" in p.stdout, p.stdout


@pytest.fixture(scope="module")
def mnist_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("folder")
    subprocess.run([os.path.join(ROOT, "scripts", "make-image-folder"), "mnist", str(out), "--limit", "2000"], check=True,
                   capture_output=True, env=dict(os.environ, MLPSH_DATA=os.path.dirname(MNIST)))
    return out


def test_an_image_folder_copy_of_mnist_scores_as_the_idx_files(mnist_folder, tmp_path):
    model = tmp_path / "m.safetensors"
    p = run(["-c", f"seed 0; data train mnist split=train limit=2000 path={MNIST}; model; linear 784 64; relu; linear 64 10; end; "
                   f"loss cross_entropy; optim sgd lr=0.1; train epochs=2 batch=32; save {model}"], tmp_path)
    assert p.returncode == 0, p.stderr
    scores = []
    for data in [f"mnist split=test limit=2000 path={MNIST}", f"images path={mnist_folder}/test size=28,28"]:
        p = run(["-c", f"data test {data}; load {model}; test"], tmp_path)
        assert p.returncode == 0, p.stderr
        scores.append(float(re.search(r"test_acc:([0-9.]+)%", p.stdout).group(1)))
    # The same 2,000 images; a third of the files were enlarged to 56x56 and a fifth to 42x42
    # and come back through the resize, so a few pixels differ.
    assert abs(scores[0] - scores[1]) <= 0.3, scores


def test_a_folder_over_the_memory_limit_is_streamed_from_disk_with_the_same_numbers(mnist_folder, tmp_path):
    """memory= below the decoded size: the folder is checked once and then decoded a batch at
    a time; training gives the same numbers to the last digit. (A file that stops decoding
    after the folder was read: OwnDataTests.)"""
    script = ("seed 0; data train images path={d}/train size=28,28 memory={m}; data; model; flatten; linear 784 32; relu; "
              "linear 32 10; end; loss cross_entropy; optim sgd lr=0.05 momentum=0.9; train epochs=2 batch=64 shuffle=true")
    kept = run(["-c", script.format(d=mnist_folder, m="4G")], tmp_path)
    streamed = run(["-c", script.format(d=mnist_folder, m="100K")], tmp_path)
    assert kept.returncode == 0 and streamed.returncode == 0, kept.stderr + streamed.stderr
    assert "decoded from disk each batch: 1.5M is over memory=100K" in streamed.stdout, streamed.stdout
    assert "decoded from disk" not in kept.stdout
    assert epochs(kept.stdout) == epochs(streamed.stdout) and len(epochs(kept.stdout)) == 2

    root = folder(tmp_path / "s", ["a", "b"])
    for bad in ["memory=lots", "memory=-1", "memory=99999999999T"]:
        p = run(["-c", f"data train images path={root} {bad}"], tmp_path)
        assert p.returncode != 0 and "is not a size" in p.stderr, p.stderr


def epochs(text):
    return [dict((k.strip(), float(v.rstrip("%"))) for k, v in (f.split(":") for f in line.split(",")))
            for line in text.splitlines() if line.startswith("epoch:")]


SETUP = f"""seed 3
data train mnist split=train limit=3000 path={MNIST}
data val from=train fraction=0.2
model
  linear 784 64
  relu
  linear 64 10
end
loss cross_entropy
optim sgd lr=0.4 momentum=0.9
"""


def test_early_stopping_stops_where_it_should_and_keeps_the_best_epoch(tmp_path):
    (tmp_path / "a.mlp").write_text(SETUP + "train epochs=30 batch=32 early_stop=2 save_best=best.safetensors\n")
    p = run(["a.mlp"], tmp_path)
    assert p.returncode == 0, p.stderr
    lines = epochs(p.stdout)
    losses = [e["val_loss"] for e in lines]
    best = losses.index(min(losses))
    # The loop PyTorch users write: stop after 2 epochs without a lower val_loss.
    assert len(lines) == best + 3 or len(lines) == 30, losses
    assert f"the best was epoch {best} (val_loss {losses[best]:.5f})" in p.stdout, p.stdout
    # The file holds the weights after the best epoch: the same training for best + 1 epochs.
    (tmp_path / "b.mlp").write_text(SETUP + f"train epochs={best + 1} batch=32\nsave again.safetensors optimizer=true\n")
    assert run(["b.mlp"], tmp_path).returncode == 0
    a, b = (open(tmp_path / f, "rb").read() for f in ("best.safetensors", "again.safetensors"))
    ha, hb = (json.loads(x[8:8 + struct.unpack("<Q", x[:8])[0]]) for x in (a, b))
    for name, entry in ha.items():
        if name == "__metadata__" or name.startswith("mlpsh.random"):
            continue
        s, e = entry["data_offsets"]
        s2, e2 = hb[name]["data_offsets"]
        na, nb = 8 + struct.unpack("<Q", a[:8])[0], 8 + struct.unpack("<Q", b[:8])[0]
        assert a[na + s:na + e] == b[nb + s2:nb + e2], name
    # It resumes: load + train goes on from the best epoch.
    (tmp_path / "c.mlp").write_text(f"data train mnist split=train limit=3000 path={MNIST}\nload best.safetensors\ntrain epochs=1 batch=32\n")
    p = run(["c.mlp"], tmp_path)
    assert p.returncode == 0 and epochs(p.stdout)[0]["epoch"] == best + 1, p.stdout + p.stderr


def test_val_figures_reach_the_history_the_log_and_the_run_store(tmp_path):
    env = dict(os.environ, MLPSH_RUNS=str(tmp_path / "runs.sqlite"))
    (tmp_path / "a.mlp").write_text(SETUP + "train epochs=2 batch=64 log=log.csv\nhistory\n")
    p = run(["a.mlp"], tmp_path, env=env)
    assert p.returncode == 0, p.stderr
    assert ",val_loss:" in p.stdout and ",val_acc:" in p.stdout
    header = (tmp_path / "log.csv").read_text().splitlines()[0]
    assert header == "epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds,val_loss,val_acc", header
    p = run(["-c", "runs show 1"], tmp_path, env=env)
    assert p.returncode == 0 and "val" in p.stdout, p.stdout + p.stderr


def test_clipping_matches_pytorchs_clip_grad_norm(tmp_path):
    torch = pytest.importorskip("torch", reason="torch is not installed: the clip_grad_norm_ comparison is skipped")
    from safetensors.torch import load_file, save_file
    import numpy as np
    import gzip
    raw = gzip.open(os.path.join(MNIST, "train-images-idx3-ubyte.gz")).read()[16:16 + 512 * 784]
    labels = gzip.open(os.path.join(MNIST, "train-labels-idx1-ubyte.gz")).read()[8:8 + 512]
    x = torch.from_numpy(np.frombuffer(raw, dtype=np.uint8).reshape(512, 784).astype(np.float32) / 255)
    y = torch.from_numpy(np.frombuffer(labels, dtype=np.uint8).astype(np.int64))
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(784, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp_path / "init.safetensors"))
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    norms = []
    for i in range(0, 512, 64):
        loss = torch.nn.functional.cross_entropy(net(x[i:i + 64]), y[i:i + 64])
        opt.zero_grad()
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(net.parameters(), 0.25)))
        opt.step()
    assert max(norms) > 0.25, "the test clips"
    p = run(["-c", f"data train mnist split=train limit=512 path={MNIST}; model; linear 784 32; relu; linear 32 10; end; "
                   f"load init.safetensors; loss cross_entropy; optim sgd lr=0.5; train epochs=1 batch=64 clip=0.25; save out.safetensors"], tmp_path)
    assert p.returncode == 0, p.stderr
    ours = load_file(str(tmp_path / "out.safetensors"))
    for k, v in net.state_dict().items():
        assert torch.allclose(ours[k], v, atol=1e-5, rtol=1e-4), (k, float((ours[k] - v).abs().max()))


def test_normalize_is_kept_with_the_model_and_checked(tmp_path):
    p = run(["-c", f"seed 0; data train mnist split=train limit=256 path={MNIST}; normalize train mean=0.1307 std=0.3081; data; "
                   "model; linear 784 16; relu; linear 16 10; end; loss cross_entropy; optim sgd lr=0.1; train epochs=1 batch=32; save n.safetensors"],
            tmp_path)
    assert p.returncode == 0, p.stderr
    assert "normalized (mean=0.1307 std=0.3081)" in p.stdout, p.stdout
    p = run(["-c", "load n.safetensors; normalize"], tmp_path)
    assert p.returncode == 0 and p.stdout.strip() == "mean=0.1307 std=0.3081", p.stdout + p.stderr
    # Three channels' values for a one-channel set, and a std of 0: errors.
    for bad, why in [("mean=0.1,0.2,0.3 std=1,1,1", "3 values for samples of 1 channel"), ("mean=0 std=0", "above 0")]:
        p = run(["-c", f"data train mnist split=train limit=16 path={MNIST}; normalize train {bad}"], tmp_path)
        assert p.returncode == 1 and why in p.stderr, p.stderr


def test_augment_is_seeded_and_only_trains(tmp_path):
    script = (f"seed {{seed}}\ndata train mnist split=train limit=512 path={MNIST}\ndata test mnist split=test limit=256 path={MNIST}\n"
              "{aug}\nmodel\n  flatten\n  linear 784 10\nend\nloss cross_entropy\noptim sgd lr=0.1\ntrain epochs=2 batch=32 shuffle=true\n")
    outs = {}
    for seed, aug in [(1, "augment train crop=28 padding=2 hflip=0.5 rotate=10 translate=0.1"),
                      (1, "augment train crop=28 padding=2 hflip=0.5 rotate=10 translate=0.1"),
                      (2, "augment train crop=28 padding=2 hflip=0.5 rotate=10 translate=0.1"), (1, "")]:
        (tmp_path / "a.mlp").write_text(script.format(seed=seed, aug=aug))
        p = run(["a.mlp"], tmp_path)
        assert p.returncode == 0, p.stderr
        outs.setdefault((seed, aug), []).append([l for l in p.stdout.splitlines() if l.startswith("epoch")])
    augmented = outs[(1, "augment train crop=28 padding=2 hflip=0.5 rotate=10 translate=0.1")]
    assert augmented[0] == augmented[1], "the same seed, the same augmented epochs"
    assert augmented[0] != outs[(2, "augment train crop=28 padding=2 hflip=0.5 rotate=10 translate=0.1")][0]
    assert augmented[0] != outs[(1, "")][0]
    # A crop of another size, a set that is not images, a split after augmenting: errors.
    for bad, why in [("augment train crop=24", "images' own size"), ("augment train hflip=2", "hflip"),
                     ("augment train\ndata val from=train fraction=0.1", "split before 'augment'")]:
        (tmp_path / "b.mlp").write_text(f"data train mnist split=train limit=64 path={MNIST}\n{bad}\n")
        p = run(["b.mlp"], tmp_path)
        assert p.returncode == 1 and why in p.stderr, p.stderr


def test_classes_and_samples_are_torchvisions(tmp_path):
    datasets = pytest.importorskip("torchvision.datasets", reason="torchvision is not installed: its ImageFolder comparison is skipped")
    root = folder(tmp_path / "f", ["zebra", "Ant", "_x", "b-1", "b_1", "10", "9"], per_class=2)
    os.makedirs(root / "Ant" / "sub")
    (root / "Ant" / "sub" / "z.png").write_bytes(png(8, 8, [5] * 64))
    theirs = datasets.ImageFolder(str(root))
    p = run(["-c", f"data train images path={root} size=8"], tmp_path)
    assert p.returncode == 0, p.stderr
    # mlpsh's classes, in its order, are torchvision's class_to_idx.
    p = run(["-c", f"data train images path={root} size=8; model; flatten; linear 64 7; end; predict train:0 show=false"], tmp_path)
    names = [line.split()[0] for line in p.stdout.splitlines() if line.startswith("  ")]
    assert sorted(theirs.class_to_idx, key=theirs.class_to_idx.get) == theirs.classes
    assert f"{len(theirs.samples)} images" in run(["-c", f"data train images path={root} size=8; data"], tmp_path).stdout
    assert names == theirs.classes, (names, theirs.classes, p.stdout)
