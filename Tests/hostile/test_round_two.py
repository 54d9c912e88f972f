"""Hostile input, second round, through real mlpsh processes: weights that are NaN or
infinite in a checkpoint give a clear error from predict and a warning from test and
confusion, never a trap.

Run by scripts/test after `swift build`; MLPSH_BIN names the binary.
"""
import json
import os
import shutil
import struct
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("MLPSH_BIN", os.path.join(ROOT, ".build", "debug", "mlpsh"))


def mlpsh(commands, cwd):
    return subprocess.run([BIN, "-c", commands], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, MLPSH_RUNS="off"))


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_weights_that_are_not_numbers_are_said_plainly(tmp_path, value):
    assert mlpsh("model; linear 784 10; end; save w.safetensors", tmp_path).returncode == 0
    data = (tmp_path / "w.safetensors").read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    body = bytearray(data[8 + n:])
    start, end = header["0.weight"]["data_offsets"]
    body[start:start + 40] = struct.pack("<10f", *[value] * 10)
    (tmp_path / "bad.safetensors").write_bytes(data[:8 + n] + bytes(body))
    (tmp_path / "digit.pgm").write_bytes(b"P5\n28 28\n255\n" + bytes((i * 7) % 256 if 8 < i % 28 < 20 else 0 for i in range(784)))
    p = mlpsh("load bad.safetensors; predict digit.pgm show=false", tmp_path)
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert "-c:1: error: the model's output is not a number: 10 of its 7,850 weights are NaN or infinite" in p.stderr, p.stderr
    p = mlpsh("load bad.safetensors; loss cross_entropy; data test synthetic classes=10 features=784 n=20; test; confusion", tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stderr.count("warning: 10 of the model's 7,850 weights are NaN or infinite") == 2, p.stderr


def patched(path, name, raw):
    """The safetensors file at path with tensor `name`'s bytes replaced by `raw`."""
    data = path.read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    body = bytearray(data[8 + n:])
    start, end = header[name]["data_offsets"]
    assert end - start == len(raw)
    body[start:end] = raw
    return data[:8 + n] + bytes(body)


def test_counters_from_a_file_are_refused_out_of_range_and_never_trap(tmp_path):
    setup = "data train synthetic classes=3 features=8 n=64; model; linear 8 4; batchnorm1d 4; linear 4 3; end; loss cross_entropy; optim adam lr=0.01"
    assert mlpsh(setup + "; train epochs=1 batch=16; save bn.safetensors optimizer=true", tmp_path).returncode == 0
    for value in (2**63 - 1, -1):
        (tmp_path / "big.safetensors").write_bytes(patched(tmp_path / "bn.safetensors", "1.num_batches_tracked", struct.pack("<q", value)))
        p = mlpsh(setup + "; load big.safetensors; train epochs=1 batch=16", tmp_path)
        assert p.returncode == 1 and "not a count from 0 to" in p.stderr and "num_batches_tracked" in p.stderr, (value, p.stderr)
    # The largest count allowed trains on without overflowing.
    (tmp_path / "edge.safetensors").write_bytes(patched(tmp_path / "bn.safetensors", "1.num_batches_tracked", struct.pack("<q", 2**53)))
    p = mlpsh(setup + "; load edge.safetensors; train epochs=1 batch=16", tmp_path)
    assert p.returncode == 0, p.stderr


def with_metadata(path, **changes):
    """The safetensors file at path with its metadata changed."""
    data = path.read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    header["__metadata__"].update(changes)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data[8 + n:]


def test_an_optimizer_step_count_out_of_range_is_refused(tmp_path):
    setup = "data train synthetic classes=3 features=8 n=64; model; linear 8 3; end; loss cross_entropy; optim adam lr=0.01"
    assert mlpsh(setup + "; train epochs=1 batch=16; save a.safetensors optimizer=true", tmp_path).returncode == 0
    (tmp_path / "b.safetensors").write_bytes(with_metadata(tmp_path / "a.safetensors", **{"mlpsh.optimizer_steps": str(2**63 - 1)}))
    p = mlpsh("load b.safetensors; train epochs=1 batch=16", tmp_path)
    assert p.returncode == 1 and "mlpsh.optimizer_steps is not a count" in p.stderr, p.stderr


def test_a_statement_is_bounded_once_expanded(tmp_path):
    script = tmp_path / "grow.mlp"
    script.write_text("set a " + "x" * 1_000_000 + "\nset b $a $a $a $a $a\necho not reached\n")
    p = subprocess.run([BIN, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and f"{script}:2: error: a statement grows past 4194304 bytes" in p.stderr, p.stderr[:300]


def test_a_long_model_block_costs_its_length_not_its_square(tmp_path):
    # 40,000 layers took 88 s when each line copied the block; now well under a second.
    script = tmp_path / "long.mlp"
    script.write_text("model\nlinear 1 4\n" + "relu\n" * 40_000 + "end\nsummary\n")
    p = subprocess.run([BIN, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, MLPSH_RUNS="off"))
    assert p.returncode == 0, p.stderr[:300]
    assert "40001 relu" in p.stdout or "40,001" in p.stdout or "relu" in p.stdout


def test_a_plugin_that_is_a_fifo_is_refused_not_waited_on(tmp_path):
    os.mkfifo(tmp_path / "libfifo.so")
    (tmp_path / "path").mkdir()
    os.mkfifo(tmp_path / "path" / "libQ.so")
    p = subprocess.run([BIN, "-c", f"plugin load {tmp_path / 'libfifo.so'}"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "is not a regular file: refused as a plugin library" in p.stderr, p.stderr
    p = subprocess.run([BIN, "-c", "plugin load Q"], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, MLPSH_PLUGIN_PATH=str(tmp_path / "path")))
    assert p.returncode == 1 and "is not a regular file" in p.stderr, p.stderr


def test_scripts_that_are_not_text_are_named_at_their_line(tmp_path):
    bad = tmp_path / "bad.mlp"
    bad.write_bytes(b"echo a\necho b\xff\xfe\necho c\n")
    p = subprocess.run([BIN, str(bad)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and p.stderr == f"{bad}:2: error: not UTF-8 text: the byte 0xFF at column 7\n", p.stderr
    p = subprocess.run([BIN, "-"], input=b"echo a\nec\x00ho\n", capture_output=True, timeout=30)
    assert p.returncode == 1 and p.stderr.decode() == "<stdin>:2: error: a NUL byte at column 3: a script is UTF-8 text\n", p.stderr
    with open("/dev/zero", "rb") as zero:
        p = subprocess.run([BIN, "-"], stdin=zero, capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and p.stderr.startswith("mlpsh: error: <stdin>: larger than"), p.stderr


def jpeg(path, **kw):
    from PIL import Image  # noqa: PLC0415  (Pillow comes with the interop tests' set-up)
    import numpy as np  # noqa: PLC0415
    Image.fromarray((np.arange(200 * 200) % 251).astype(np.uint8).reshape(200, 200)).save(path, "JPEG", quality=90, **kw)


def test_a_truncated_jpeg_is_an_error_not_a_grey_guess(tmp_path):
    pytest.importorskip("PIL")
    jpeg(tmp_path / "ok.jpg")
    data = (tmp_path / "ok.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[:len(data) * 2 // 3])
    p = subprocess.run([BIN, "-c", "model; linear 784 10; end; predict cut.jpg show=false"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "cut.jpg: not a readable JPEG (Premature end of JPEG file)" in p.stderr, p.stderr


def test_a_jpeg_of_too_many_scans_is_refused(tmp_path):
    pytest.importorskip("PIL")
    if shutil.which("jpegtran") is None:
        pytest.skip("jpegtran (libjpeg-turbo-progs, scripts/install-deps) makes the many-scan file")
    jpeg(tmp_path / "ok.jpg")
    # 99 valid scans (successive approximation, a coefficient at a time): more than the 64 allowed.
    lines = ["0: 0 0 0 1;", "0: 0 0 1 0;"] + [f"0: {k} {k} {a} {b};" for k in range(1, 49) for a, b in ((0, 1), (1, 0))] + ["0: 49 63 0 0;"]
    (tmp_path / "scans.txt").write_text("\n".join(lines) + "\n")
    subprocess.run(["jpegtran", "-scans", str(tmp_path / "scans.txt"), "-outfile", str(tmp_path / "many.jpg"), str(tmp_path / "ok.jpg")], check=True)
    p = subprocess.run([BIN, "-c", "model; linear 784 10; end; predict many.jpg show=false"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "more than 64 scans: refused" in p.stderr, p.stderr
    # An ordinary progressive JPEG still reads.
    jpeg(tmp_path / "progressive.jpg", progressive=True)
    p = subprocess.run([BIN, "-c", "model; linear 784 10; end; predict progressive.jpg show=false"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("name,text,error", [
    ("columns", "data test mnist split=test limit=10\nmodel\nconv2d 1 1 1024 padding=1024\nend\n",
     "its columns (1048576 rows of 1108809 output positions) are more than"),
    ("wide", "model\nlinear 1 1000000\n" + "relu\n" * 20_000 + "end\n", "values a sample together"),
    ("growing", "data test mnist split=test limit=10\nmodel\n" + "conv2d 1 1 1 padding=1024\n" * 6000 + "end\n", "values a sample together"),
], ids=["columns", "wide", "growing"])  # short ids: pytest puts the test id in each child's environment
def test_models_too_large_for_memory_are_refused_when_built(tmp_path, name, text, error):
    script = tmp_path / f"{name}.mlp"
    script.write_text(text)
    # At most 4 GB of address space, set by the shell that runs it.
    p = subprocess.run(["bash", "-c", 'ulimit -v 4000000 && exec "$0" "$1"', BIN, str(script)], cwd=ROOT,
                       capture_output=True, text=True, timeout=120, env=dict(os.environ, MLPSH_RUNS="off"))
    assert p.returncode == 1 and f"{script}:" in p.stderr and error in p.stderr, p.stderr[-500:]


def test_the_command_lines_variable_check_reads_includes_as_include_does(tmp_path):
    # NAME=VALUE on the command line makes mlpsh look for $NAME in the script and what it
    # includes: /dev/zero is not read (it read forever), and the script's own error comes.
    script = tmp_path / "s.mlp"
    script.write_text("echo $x\ninclude /dev/zero\n")
    p = subprocess.run([BIN, str(script), "x=1"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and p.stdout == "1\n", (p.stdout, p.stderr)
    assert f"{script}:2: error:" in p.stderr and "not a regular file" in p.stderr, p.stderr
