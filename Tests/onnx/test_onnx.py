"""ONNX: models mlpsh exports run in onnxruntime with mlpsh's logits and accuracy, pass ONNX's
checker, and read back into mlpsh with the same numbers; models torch.onnx.export writes load
into mlpsh with PyTorch's logits (skipped, and said so, without torch); hostile files are
refused with an error.

Run by scripts/test; MLPSH_BIN names the binary. MNIST is read from data/mnist.
"""
import gzip
import os
import re
import subprocess

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install onnx onnxruntime)")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnx onnxruntime)")

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("MLPSH_BIN", os.path.join(ROOT, ".build", "debug", "mlpsh"))
MNIST = os.path.join(ROOT, "data", "mnist")
N = 1000

MODELS = {
    "mlp": "flatten; linear 784 120; relu; linear 120 84; relu; linear 84 10",
    "lenet5": "conv2d 1 6 5 padding=2; relu; maxpool2d 2; conv2d 6 16 5; relu; maxpool2d 2; flatten; "
              "linear 400 120; relu; linear 120 84; relu; linear 84 10",
    "bn_cnn": "conv2d 1 8 3 padding=1; batchnorm2d 8; relu; maxpool2d 2; conv2d 8 16 3 padding=1; batchnorm2d 16; relu; "
              "avgpool2d 2; flatten; linear 784 32; batchnorm1d 32; relu; dropout p=0.3; linear 32 10",
    "residual": "conv2d 1 8 3 padding=1 bias=false; batchnorm2d 8; relu; "
                "residual; conv2d 8 8 3 padding=1 bias=false; batchnorm2d 8; relu; conv2d 8 8 3 padding=1 bias=false; batchnorm2d 8; end; relu; "
                "residual; conv2d 8 16 3 stride=2 padding=1 bias=false; batchnorm2d 16; "
                "shortcut; conv2d 8 16 1 stride=2 bias=false; batchnorm2d 16; end; relu; "
                "concat; conv2d 16 8 1; branch; conv2d 16 8 3 padding=1; end; leaky_relu; "
                "adaptive_avgpool2d 1; flatten; linear 16 10; log_softmax",
}


def run(args, cwd, timeout=300):
    return subprocess.run([BIN, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def mnist_test_images():
    raw = gzip.open(os.path.join(MNIST, "t10k-images-idx3-ubyte.gz")).read()[16:16 + N * 784]
    labels = np.frombuffer(gzip.open(os.path.join(MNIST, "t10k-labels-idx1-ubyte.gz")).read()[8:8 + N], np.uint8)
    return np.frombuffer(raw, np.uint8).reshape(N, 1, 28, 28).astype(np.float32) / 255, labels


def train_and_export(name, tmp_path):
    model = MODELS[name].replace("; ", "\n")
    script = (f"seed 0\ndata train mnist split=train limit=2000 path={MNIST}\ndata test mnist split=test limit={N} path={MNIST}\n"
              f"model\n{model}\nend\nloss cross_entropy\noptim sgd lr=0.02 momentum=0.9\ntrain epochs=1 batch=64\n"
              f"test logits=mlpsh.csv\nexport {name}.onnx\n")
    (tmp_path / "m.mlp").write_text(script)
    p = run(["m.mlp"], tmp_path)
    assert p.returncode == 0, p.stderr
    acc = float(re.findall(r"test_acc:([0-9.]+)%", p.stdout)[-1])
    return tmp_path / f"{name}.onnx", np.loadtxt(tmp_path / "mlpsh.csv", delimiter=",", dtype=np.float32), acc


@pytest.mark.parametrize("name", list(MODELS))
def test_exported_models_run_in_onnxruntime_as_in_mlpsh(name, tmp_path):
    path, logits, acc = train_and_export(name, tmp_path)
    m = onnx.load(str(path))
    onnx.checker.check_model(m, full_check=True)
    assert m.opset_import[0].version == 17
    assert [i.name for i in m.graph.input] == ["input"] and [o.name for o in m.graph.output] == ["logits"]
    assert m.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    names = {i.name for i in m.graph.initializer}
    assert ("1.weight" if name == "mlp" else "0.weight") in names, names   # the safetensors names
    assert "Dropout" not in {n.op_type for n in m.graph.node}
    x, labels = mnist_test_images()
    ours = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(["logits"], {"input": x})[0]
    assert ours.shape == logits.shape == (N, 10)
    scale = np.abs(logits).max()
    assert np.abs(ours - logits).max() <= 1e-5 * scale, (np.abs(ours - logits).max(), scale)
    # The same accuracy to the printed digit.
    assert f"{100 * (ours.argmax(1) == labels).mean():.1f}" == f"{acc:.1f}"


def test_an_exported_graph_reads_back_with_the_same_numbers(tmp_path):
    path, logits, _ = train_and_export("residual", tmp_path)
    p = run(["-c", f"data test mnist split=test limit={N} path={MNIST}; load {path}; summary; loss cross_entropy; test logits=again.csv; export again.onnx"],
            tmp_path)
    assert p.returncode == 0, p.stderr
    assert "residual" in p.stdout and "concat" in p.stdout, p.stdout
    assert np.array_equal(np.loadtxt(tmp_path / "again.csv", delimiter=",", dtype=np.float32), logits)
    assert (tmp_path / "again.onnx").read_bytes() == path.read_bytes()


def test_hostile_onnx_files_are_refused(tmp_path):
    path, _, _ = train_and_export("lenet5", tmp_path)
    good = path.read_bytes()
    m = onnx.load(str(path))
    cases = {"truncated.onnx": good[:len(good) // 2], "empty.onnx": b"", "text.onnx": b"not a model at all\n" * 10,
             "huge.onnx": b"\x3a\xff\xff\xff\xff\x0f" + good[6:200]}
    unknown = onnx.load(str(path))
    unknown.graph.node[1].op_type = "Selu"
    external = onnx.load(str(path))
    t = external.graph.initializer[0]
    t.ClearField("raw_data")
    t.data_location = onnx.TensorProto.EXTERNAL
    t.external_data.add(key="location", value="../../etc/passwd")
    beside = onnx.load(str(path))
    t = beside.graph.initializer[0]
    t.ClearField("raw_data")
    t.data_location = onnx.TensorProto.EXTERNAL
    t.external_data.add(key="location", value="weights.bin")
    t.external_data.add(key="offset", value="4096")
    (tmp_path / "weights.bin").write_bytes(b"\0" * 100)
    cycle = onnx.load(str(path))
    cycle.graph.node[0].input[0] = cycle.graph.node[2].output[0]
    doubles = onnx.load(str(path))
    d = doubles.graph.initializer[0]
    d.data_type = onnx.TensorProto.DOUBLE
    for name, model in [("unknown.onnx", unknown), ("external.onnx", external), ("cycle.onnx", cycle), ("doubles.onnx", doubles), ("beside.onnx", beside)]:
        cases[name] = model.SerializeToString()
    why = {"unknown.onnx": "(Selu) has no mlpsh layer", "external.onnx": "external data", "cycle.onnx": "no earlier node writes",
           "doubles.onnx": "not float32", "beside.onnx": "weights.bin: holds 100 bytes, not 600 from offset 4096"}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        p = run(["-c", f"load {name}"], tmp_path)
        assert p.returncode == 1 and "error:" in p.stderr and "Fatal" not in p.stderr, (name, p.stderr)
        if name in why:
            assert why[name] in p.stderr, (name, p.stderr)
    assert m is not None


def torch_modules():
    torch = pytest.importorskip("torch", reason="torch is not installed: the PyTorch-to-mlpsh checks are skipped")
    nn = torch.nn

    class Residual(nn.Module):
        def __init__(self, body, shortcut=None):
            super().__init__()
            self.body = body
            if shortcut is not None:
                self.shortcut = shortcut

        def forward(self, x):
            return self.body(x) + (self.shortcut(x) if hasattr(self, "shortcut") else x)

    class Concat(nn.Module):
        def __init__(self, *branches):
            super().__init__()
            self.branches = nn.ModuleList(branches)

        def forward(self, x):
            return torch.cat([b(x) for b in self.branches], 1)

    torch.manual_seed(0)
    return torch, {
        "mlp": nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10)),
        "lenet5": nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                                nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                                nn.Linear(84, 10)),
        "blocks": nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                Residual(nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.Sigmoid())),
                                Residual(nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1)), nn.Sequential(nn.Conv2d(8, 16, 1, stride=2))),
                                Concat(nn.Sequential(nn.Conv2d(16, 4, 1)), nn.Sequential(nn.AvgPool2d(3, stride=1, padding=1), nn.Conv2d(16, 4, 1))),
                                nn.Tanh(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10), nn.Softmax(1)),
    }


@pytest.mark.parametrize("dynamo", [False, True], ids=["script", "dynamo"])
@pytest.mark.parametrize("name", ["mlp", "lenet5", "blocks"])
def test_models_torch_exports_load_with_pytorchs_logits(name, dynamo, tmp_path):
    """Both of torch.onnx.export's exporters: the TorchScript one, and the dynamo one (torch's
    default) that keeps the weights in a file beside the model, folds batch norm into the
    convolutions and writes flattening as Reshape and global pooling as ReduceMean."""
    torch, modules = torch_modules()
    m = modules[name]
    for mod in m.modules():   # running statistics that are not the defaults
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2)
    m.eval()
    x, _ = mnist_test_images()
    with torch.no_grad():
        theirs = m(torch.from_numpy(x)).numpy()
    if dynamo:
        torch.onnx.export(m, (torch.from_numpy(x[:2]),), str(tmp_path / "t.onnx"), input_names=["input"], output_names=["logits"],
                          dynamic_shapes=({0: torch.export.Dim("batch")},), opset_version=17, dynamo=True, external_data=True)
        assert (tmp_path / "t.onnx.data").exists()
    else:
        torch.onnx.export(m, (torch.from_numpy(x[:2]),), str(tmp_path / "t.onnx"), input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}}, opset_version=17, dynamo=False)
    p = run(["-c", f"data test mnist split=test limit={N} path={MNIST}; load t.onnx; loss cross_entropy; test logits=ours.csv; export back.onnx"], tmp_path)
    assert p.returncode == 0, p.stderr
    ours = np.loadtxt(tmp_path / "ours.csv", delimiter=",", dtype=np.float32)
    assert np.abs(ours - theirs).max() <= 1e-5 * max(1, np.abs(theirs).max()), np.abs(ours - theirs).max()
    back = ort.InferenceSession(str(tmp_path / "back.onnx"), providers=["CPUExecutionProvider"]).run(["logits"], {"input": x})[0]
    assert np.abs(back - theirs).max() <= 1e-5 * max(1, np.abs(theirs).max())


def test_matmul_and_add_read_as_a_linear_layer(tmp_path):
    """MatMul by a [in, out] weight and the Add of a bias (as some exporters write nn.Linear)
    become one linear layer: mlpsh's export of it (a Gemm) gives the same numbers."""
    from onnx import helper, TensorProto, numpy_helper
    rng = np.random.default_rng(0)
    w, b = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["input", "w"], ["h"]), helper.make_node("Add", ["h", "b"], ["a"]),
         helper.make_node("Tanh", ["a"], ["logits"])], "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(tmp_path / "mm.onnx"))
    p = run(["-c", "load mm.onnx; summary; export back.onnx"], tmp_path)
    assert p.returncode == 0, p.stderr
    assert "linear(4 -> 3)" in p.stdout and "tanh" in p.stdout, p.stdout
    x = rng.standard_normal((5, 4)).astype(np.float32)
    ref = np.tanh(x @ w + b)
    back = ort.InferenceSession(str(tmp_path / "back.onnx"), providers=["CPUExecutionProvider"]).run(["logits"], {"input": x})[0]
    assert np.abs(back - ref).max() <= 1e-6
