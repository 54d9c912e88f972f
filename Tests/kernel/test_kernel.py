"""The Jupyter kernel (mlpsh kernel) driven by jupyter_client: cells with their output as
stream messages, a figure as display_data (SVG and PNG), an error cell, completion,
inspection, is_complete, an interrupt during train (the kernel alive after it, the model
kept), a message with a bad signature (dropped), and shutdown.

Run by scripts/test; MLPSH_BIN names the binary. MNIST is read from data/mnist.
"""
import os
import subprocess
import time

import pytest

jupyter_client = pytest.importorskip("jupyter_client", reason="jupyter_client is not installed (pip install jupyter_client)")
from jupyter_client.manager import KernelManager  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("MLPSH_BIN", os.path.join(ROOT, ".build", "debug", "mlpsh"))
MNIST = os.path.join(ROOT, "data", "mnist")


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    prefix = tmp_path_factory.mktemp("jupyter")
    p = subprocess.run([BIN, "kernel", "install", "--prefix", str(prefix)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    spec = prefix / "share" / "jupyter" / "kernels" / "mlpsh"
    assert (spec / "logo-64x64.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (spec / "logo-32x32.png").exists()
    os.environ["JUPYTER_PATH"] = str(prefix / "share" / "jupyter")
    km = KernelManager(kernel_name="mlpsh")
    km.start_kernel(cwd=str(tmp_path_factory.mktemp("work")))
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=30)
    yield km, kc
    kc.stop_channels()
    if km.is_alive():
        km.shutdown_kernel(now=True)


def run_cell(kc, code, timeout=120):
    """The cell's reply and its iopub messages (type, content) until the kernel is idle."""
    msg_id = kc.execute(code)
    out = []
    while True:
        m = kc.get_iopub_msg(timeout=timeout)
        if m["parent_header"].get("msg_id") != msg_id:
            continue
        if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            break
        out.append((m["msg_type"], m["content"]))
    while True:
        r = kc.get_shell_msg(timeout=timeout)
        if r["parent_header"].get("msg_id") == msg_id:
            return r["content"], out


def text(out, name="stdout"):
    return "".join(c["text"] for t, c in out if t == "stream" and c["name"] == name)


def test_kernel_info_names_the_language(kernel):
    _, kc = kernel
    info = kc.kernel_info(reply=True, timeout=10)["content"]
    assert info["language_info"]["name"] == "mlpsh" and info["language_info"]["file_extension"] == ".mlp"
    assert info["protocol_version"] == "5.3"


def test_cells_keep_their_state_and_stream_their_output(kernel):
    _, kc = kernel
    reply, out = run_cell(kc, f"seed 0\ndata train mnist split=train limit=1000 path={MNIST}\n"
                              f"data test mnist split=test limit=500 path={MNIST}\nmodel\n  flatten\n  linear 784 10\nend")
    assert reply["status"] == "ok"
    count = reply["execution_count"]
    reply, out = run_cell(kc, "loss cross_entropy\noptim sgd lr=0.1\ntrain epochs=2 batch=64")
    assert reply["status"] == "ok" and reply["execution_count"] == count + 1
    assert text(out).count("epoch: ") == 2, out
    # The progress is one display updated in place, not a stream of lines.
    shown = [c for t, c in out if t == "display_data" and "display_id" in c.get("transient", {})]
    updates = [c for t, c in out if t == "update_display_data"]
    assert len(shown) == 1 and updates and all(u["transient"]["display_id"] == shown[0]["transient"]["display_id"] for u in updates)
    assert "16/16" in updates[-1]["data"]["text/plain"], updates[-1]   # the last batch of 1,000 samples at 64
    assert sum(1 for t, _ in out if t == "stream") <= 4
    reply, out = run_cell(kc, "plot loss")
    shown = [c["data"] for t, c in out if t == "display_data"]
    assert shown and shown[0]["image/svg+xml"].lstrip().startswith("<") and "image/png" in shown[0], out
    import base64
    assert base64.b64decode(shown[0]["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
    reply, out = run_cell(kc, "predict test:0")
    digit = [c["data"] for t, c in out if t == "display_data"]
    assert digit and base64.b64decode(digit[0]["image/png"])[:4] == b"\x89PNG" and "predicted:" in text(out), out


def test_an_error_names_its_line_and_the_kernel_goes_on(kernel):
    _, kc = kernel
    reply, out = run_cell(kc, "echo one\nlinear 3\necho never")
    assert reply["status"] == "error"
    assert any(t == "error" for t, _ in out)
    assert ":2: error:" in reply["evalue"], reply
    assert "never" not in text(out)
    reply, out = run_cell(kc, "echo still here")
    assert reply["status"] == "ok" and "still here" in text(out)


def test_completion_inspection_and_is_complete(kernel):
    _, kc = kernel
    assert "train" in kc.complete("tra", 3, reply=True, timeout=10)["content"]["matches"]
    c = kc.complete("optim sgd mom", 13, reply=True, timeout=10)["content"]
    assert any(m.startswith("momentum") for m in c["matches"]) and c["cursor_start"] == 10, c
    doc = kc.inspect("conv2d 1 6 5", 2, reply=True, timeout=10)["content"]
    assert doc["found"] and "conv2d" in doc["data"]["text/plain"]
    for code, status in [("model\n  linear 4 2", "incomplete"), ("model\n  linear 4 2\n  residual\n  end", "incomplete"),
                         ("model\n  linear 4 2\nend", "complete")]:
        msg_id = kc.is_complete(code)
        r = kc.get_shell_msg(timeout=10)
        assert r["parent_header"]["msg_id"] == msg_id and r["content"]["status"] == status, (code, r["content"])


def test_an_interrupt_stops_train_and_keeps_the_model(kernel):
    km, kc = kernel
    run_cell(kc, f"data train mnist split=train path={MNIST}\nmodel\n  flatten\n  linear 784 256\n  relu\n  linear 256 10\nend")
    msg_id = kc.execute("train epochs=50 batch=16")
    while True:   # wait until train has begun
        m = kc.get_iopub_msg(timeout=60)
        if m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "execute_input":
            break
    time.sleep(2)
    km.interrupt_kernel()
    start = time.time()
    while True:
        r = kc.get_shell_msg(timeout=60)
        if r["parent_header"].get("msg_id") == msg_id:
            break
    assert time.time() - start < 30
    assert km.is_alive()
    reply, out = run_cell(kc, "summary")
    assert reply["status"] == "ok" and "linear(784 -> 256)" in text(out)


def test_a_message_with_a_bad_signature_is_dropped(kernel):
    km, kc = kernel
    session = kc.session
    key = session.key
    session.key = b"not the key"
    session.auth = None
    import hmac
    import hashlib
    session.auth = hmac.HMAC(b"not the key", digestmod=hashlib.sha256)
    bad = kc.execute("echo forged")
    session.key = key
    session.auth = hmac.HMAC(key, digestmod=hashlib.sha256)
    with pytest.raises(Exception):
        while True:
            r = kc.get_shell_msg(timeout=3)
            assert r["parent_header"].get("msg_id") != bad, "a forged message was answered"
    reply, out = run_cell(kc, "echo genuine")
    assert "genuine" in text(out) and "forged" not in text(out)


def test_shutdown_ends_the_kernel(kernel):
    km, kc = kernel
    kc.shutdown()
    for _ in range(50):
        if not km.is_alive():
            break
        time.sleep(0.1)
    assert not km.is_alive()


def test_the_example_notebook_runs_with_nbclient(tmp_path, kernel):
    nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (pip install nbclient)")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed (pip install nbclient)")
    nb = nbformat.read(os.path.join(ROOT, "Examples", "mnist.ipynb"), as_version=4)
    nb.cells[1].source = nb.cells[1].source.replace("set epochs 50", "set epochs 2")
    nbclient.NotebookClient(nb, timeout=600, kernel_name="mlpsh", resources={"metadata": {"path": ROOT}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    streamed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert streamed.count("epoch: ") == 2 and "epoch: 1,train_loss:" in streamed, streamed
    figures = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.data]
    assert len(figures) == 2 and all("image/svg+xml" in o.data for o in figures)
    assert "precision" in streamed
