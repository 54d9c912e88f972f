"""Memory against input size, measured on a real mlpsh process (its peak resident set, from
wait4): the Tabular plugin's CSV reader keeps the numbers, not the text, so a 36 MB CSV
takes about its size in memory, not 30 times it.

Run by scripts/test after `swift build` and scripts/build-plugins; MLPSH_BIN names the binary.
"""
import os
import random

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("MLPSH_BIN", os.path.join(ROOT, ".build", "debug", "mlpsh"))
PLUGIN = os.path.join(ROOT, "plugins", "Tabular", ".build", "release", "libTabular.so")


def run_measured(args, cwd):
    pid = os.fork()
    if pid == 0:
        os.chdir(cwd)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.execv(BIN, [BIN] + args)
    _, status, usage = os.wait4(pid, 0)
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024


@pytest.mark.skipif(not os.path.exists(PLUGIN), reason="plugins not built (scripts/build-plugins)")
def test_a_large_csv_takes_about_its_size_in_memory(tmp_path):
    rng = random.Random(0)
    rows, features = 500_000, 10
    with open(tmp_path / "big.csv", "w") as f:
        f.write(",".join(f"f{i}" for i in range(features)) + ",label\n")
        for r in range(rows):
            f.write(",".join(f"{rng.random():.4f}" for _ in range(features)) + f",{r % 7}\n")
    size_mb = os.path.getsize(tmp_path / "big.csv") / 2**20
    status, base = run_measured(["-c", "plugin load Tabular"], str(tmp_path))
    assert status == 0
    status, peak = run_measured(["-c", "plugin load Tabular; data train csv path=big.csv"], str(tmp_path))
    assert status == 0
    numbers_mb = rows * features * 4 / 2**20
    # The numbers (19 MB), their array growing by doubling, and nothing of the order of the text.
    assert peak - base < 2.5 * numbers_mb, f"{peak - base:.0f} MB over the {base:.0f} MB baseline for a {size_mb:.0f} MB file"
    # A limit stops reading early.
    status, limited = run_measured(["-c", "plugin load Tabular; data train csv path=big.csv limit=1000"], str(tmp_path))
    assert status == 0 and limited - base < 8
