"""The default thread count on a shared machine, through real mlpsh processes: the affinity
mask (taskset), a cgroup CPU quota, and MLPSH_THREADS / OPENBLAS_NUM_THREADS / OMP_NUM_THREADS,
each named as the number's source by `threads`, `show` and `device`.

Run by scripts/test after `swift build`; MLPSH_BIN names the binary.
"""
import os
import shutil
import subprocess
import uuid

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("MLPSH_BIN", os.path.join(ROOT, ".build", "debug", "mlpsh"))
VARIABLES = ("MLPSH_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")


def mlpsh(commands, env=None, prefix=(), **kw):
    clean = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    clean.update(env or {})
    return subprocess.run([*prefix, BIN, "-c", commands], env=clean, capture_output=True, text=True, timeout=120, **kw)


def cores():
    return os.cpu_count()


def test_the_default_is_the_cores_and_says_so():
    if len(os.sched_getaffinity(0)) < cores():
        pytest.skip("this process is already held to fewer CPUs than the machine has")
    out = mlpsh("threads; show; device")
    assert out.returncode == 0, out.stderr
    n = min(cores(), 8)
    lines = out.stdout.splitlines()
    assert lines[0] == f"{n} (cores)" or lines[0].endswith("(cgroup quota)")
    assert any(l.split()[:1] == ["threads:"] and "(" in l for l in lines)
    assert "threads (" in lines[-1]


@pytest.mark.skipif(shutil.which("taskset") is None, reason="taskset is not installed")
def test_taskset_to_one_cpu_gives_one_thread():
    out = mlpsh("threads; show", prefix=("taskset", "-c", "0"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "1 (affinity)"
    assert "threads:     1 (affinity)" in out.stdout


@pytest.mark.parametrize("name", VARIABLES)
def test_each_variable_sets_the_threads(name):
    out = mlpsh("threads", env={name: "1"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"1 ({name})"


def test_the_variables_win_in_order():
    out = mlpsh("threads", env={"MLPSH_THREADS": "1", "OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2"})
    assert out.stdout.strip() == "1 (MLPSH_THREADS)"
    out = mlpsh("threads", env={"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "2"})
    assert out.stdout.strip() == "1 (OPENBLAS_NUM_THREADS)"


def test_a_variable_that_is_not_a_number_is_named_in_a_warning():
    out = mlpsh("threads", env={"MLPSH_THREADS": "lots"})
    assert out.returncode == 0
    assert "warning: MLPSH_THREADS=lots is not a number of threads" in out.stderr


def test_threads_n_says_who_set_it():
    out = mlpsh("threads 1; threads")
    assert out.stdout.strip().splitlines()[-1] == "1 (threads)"


def cpu_cgroup():
    """A writable cgroup folder whose CPU quota can be set: (folder, quota file writer), or None."""
    if os.geteuid() != 0:
        return None
    v1 = "/sys/fs/cgroup/cpu"
    if os.path.exists(os.path.join(v1, "cpu.cfs_quota_us")):
        return v1, lambda d: open(os.path.join(d, "cpu.cfs_quota_us"), "w").write("150000")
    v2 = "/sys/fs/cgroup"
    if os.path.exists(os.path.join(v2, "cgroup.controllers")):
        return v2, lambda d: open(os.path.join(d, "cpu.max"), "w").write("150000 100000")
    return None


def test_a_cgroup_quota_of_one_and_a_half_cpus_gives_one_thread():
    found = cpu_cgroup()
    if found is None:
        pytest.skip("no writable CPU cgroup here (not root, or no cpu controller): the quota is tested by SharedMachineTests")
    root, set_quota = found
    folder = os.path.join(root, "mlpsh-test-" + uuid.uuid4().hex[:8])
    try:
        os.mkdir(folder)
        set_quota(folder)
    except OSError as e:
        pytest.skip(f"cannot make a cgroup with a CPU quota here ({e}): the quota is tested by SharedMachineTests")
    try:
        def enter():
            with open(os.path.join(folder, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        out = mlpsh("threads", preexec_fn=enter)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "1 (cgroup quota)"
    finally:
        os.rmdir(folder)
