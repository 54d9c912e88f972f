"""The run history (a SQLite database) and TensorBoard event files, through real mlpsh
processes: the epochs recorded are the epochs printed; two processes train at once; a
process killed with SIGKILL leaves a sound database with its finished epochs, not marked
finished; a store another process is creating is waited for; a store that cannot be used
warns once and training completes; TensorBoard's own reader reads the scalars back; compare
and plot work on three runs.

Run by scripts/test after `swift build`; MLPSH_BIN names the binary.
"""
import os
import re
import pathlib
import shutil
import signal
import tempfile
import sqlite3
import subprocess
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("MLPSH_BIN", os.path.join(ROOT, ".build", "debug", "mlpsh"))

SETUP = ("seed 0; data train synthetic n=1280 features=16 classes=4; data test synthetic n=256 features=16 classes=4; "
         "model; linear 16 8; relu; linear 8 4; end; loss cross_entropy; optim sgd lr={lr}")


def mlpsh(store, commands, cwd, **kw):
    env = dict(os.environ, MLPSH_RUNS=str(store))
    return subprocess.run([BIN, "-c", commands], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, **kw)


def rows(store, sql, *args):
    with sqlite3.connect(store) as db:
        return db.execute(sql, args).fetchall()


def line(epoch, train_loss, train_acc, test_loss, test_acc):
    return f"epoch:{epoch:2d},train_loss:{train_loss:.6f},train_acc:{train_acc * 100:.1f}%,test_loss:{test_loss:.5f},test_acc:{test_acc * 100:.1f}%"


def test_the_recorded_epochs_are_the_printed_ones(tmp_path):
    store = tmp_path / "runs.sqlite"
    p = mlpsh(store, SETUP.format(lr=0.1) + "; train epochs=4 batch=32 shuffle=true name=first", tmp_path)
    assert p.returncode == 0, p.stderr
    printed = [l for l in p.stdout.splitlines() if l.startswith("epoch:")]
    (run, name, status), = rows(store, "SELECT id, name, status FROM runs")
    assert (name, status) == ("first", "finished")
    recorded = rows(store, "SELECT epoch, train_loss, train_acc, test_loss, test_acc FROM epochs WHERE run = ? ORDER BY epoch", run)
    assert [line(*r) for r in recorded] == printed
    (integrity,), = rows(store, "PRAGMA integrity_check")
    assert integrity == "ok"
    shown = mlpsh(store, f"runs show {run}", tmp_path)
    assert all(l in shown.stdout for l in printed) and "optim sgd lr=0.1" in shown.stdout


def test_two_processes_train_at_once(tmp_path):
    store = tmp_path / "runs.sqlite"
    env = dict(os.environ, MLPSH_RUNS=str(store))
    procs = [subprocess.Popen([BIN, "-c", SETUP.format(lr=lr) + "; train epochs=30 batch=16"], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for lr in (0.1, 0.2)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0 and err == "", err
    assert rows(store, "SELECT status, (SELECT count(*) FROM epochs WHERE run = runs.id) FROM runs") == [("finished", 30)] * 2


def test_a_store_being_created_elsewhere_is_waited_for(tmp_path):
    # Another process holds the new store's write lock while mlpsh opens it. Switching to
    # WAL then fails at once in SQLite, busy timeout or not (how two processes creating the
    # store together collided): mlpsh must wait for the lock and go on.
    store = tmp_path / "runs.sqlite"
    other = sqlite3.connect(store, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    env = dict(os.environ, MLPSH_RUNS=str(store))
    p = subprocess.Popen([BIN, "-c", "runs"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1)
    assert p.poll() is None, p.communicate()
    other.execute("ROLLBACK")
    other.close()
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0 and err == "", err
    assert rows(store, "PRAGMA journal_mode") == [("wal",)]


def test_a_killed_run_keeps_its_epochs_and_is_not_finished(tmp_path):
    store = tmp_path / "runs.sqlite"
    env = dict(os.environ, MLPSH_RUNS=str(store))
    p = subprocess.Popen([BIN, "-c", SETUP.format(lr=0.1) + "; train epochs=100000 batch=16"], cwd=tmp_path, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = 0
    while seen < 3:
        if p.stdout.readline().startswith("epoch:"):
            seen += 1
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    (integrity,), = rows(store, "PRAGMA integrity_check")
    assert integrity == "ok"
    (status, epochs), = rows(store, "SELECT status, (SELECT count(*) FROM epochs WHERE run = runs.id) FROM runs")
    assert status == "running" and epochs >= 3


@pytest.mark.parametrize("kind", ["a folder that cannot be made", "a corrupt file"])
def test_a_store_that_cannot_be_used_warns_once_and_training_goes_on(tmp_path, kind):
    if kind == "a corrupt file":
        store = tmp_path / "runs.sqlite"
        store.write_bytes(b"this is not a SQLite database" * 100)
    else:
        (tmp_path / "file").write_text("a file, not a folder")
        store = tmp_path / "file" / "runs.sqlite"
    p = mlpsh(store, SETUP.format(lr=0.1) + "; train epochs=3 batch=32", tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("epoch:") == 3 and "Done" in p.stdout
    assert len(re.findall("warning: this run is not recorded", p.stderr)) == 1, p.stderr


def test_tensorboard_reads_the_printed_numbers(tmp_path):
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    store = tmp_path / "runs.sqlite"
    p = mlpsh(store, SETUP.format(lr=0.1) + "; train epochs=3 batch=32 tensorboard=tb", tmp_path)
    assert p.returncode == 0, p.stderr
    # Each run in a folder of its own: run-ID when unnamed.
    run_id = rows(store, "SELECT id FROM runs")[-1][0]
    assert os.listdir(tmp_path / "tb") == [f"run-{run_id}"]
    files = os.listdir(tmp_path / "tb" / f"run-{run_id}")
    assert len(files) == 1 and files[0].startswith("events.out.tfevents.")
    ea = accumulator.EventAccumulator(str(tmp_path / "tb" / f"run-{run_id}" / files[0]))
    ea.Reload()
    scalars = {t: [(e.step, e.value) for e in ea.Scalars(t)] for t in ea.Tags()["scalars"]}
    assert set(scalars) == {"loss/train", "loss/test", "accuracy/train", "accuracy/test", "lr"}
    printed = [l for l in p.stdout.splitlines() if l.startswith("epoch:")]
    for step, text in enumerate(printed):
        values = dict(scalars[t][step] for t in scalars if scalars[t][step][0] == step) and {t: scalars[t][step][1] for t in scalars}
        assert line(step, values["loss/train"], values["accuracy/train"], values["loss/test"], values["accuracy/test"]) == text
        assert abs(values["lr"] - 0.1) < 1e-7


def test_named_runs_get_a_tensorboard_folder_each(tmp_path):
    store = tmp_path / "runs.sqlite"
    for name in ("A", "B", "../x/y"):
        p = mlpsh(store, SETUP.format(lr=0.1) + f"; train epochs=1 batch=32 tensorboard=tb name={name}", tmp_path)
        assert p.returncode == 0, p.stderr
    assert sorted(os.listdir(tmp_path / "tb")) == [".._x_y", "A", "B"]
    for folder in ("A", "B", ".._x_y"):
        files = os.listdir(tmp_path / "tb" / folder)
        assert len(files) == 1 and files[0].startswith("events.out.tfevents."), files


def test_compare_and_plot_three_runs(tmp_path):
    store = tmp_path / "runs.sqlite"
    for lr in (0.05, 0.1, 0.3):
        assert mlpsh(store, SETUP.format(lr=lr) + f"; train epochs=3 batch=32 name=lr{lr}", tmp_path).returncode == 0
    p = mlpsh(store, "runs; runs compare 1 2 3; plot loss runs=1,2,3 out=runs.svg; plot accuracy runs=1,3", tmp_path)
    assert p.returncode == 0, p.stderr
    listing, compare = p.stdout.split("   setting", 1)
    assert all(f"lr{lr}" in listing for lr in (0.05, 0.1, 0.3))
    # Side by side, one row a setting; the rows that differ first, marked with '*'.
    rows = {line[3:].split()[0]: line for line in compare.splitlines()[1:] if line[3:].strip() and not line.startswith("run ")}
    assert re.match(r"^\*  lr +0\.05 +0\.1 +0\.3$", rows["lr"]), rows["lr"]
    assert re.match(r"^\*  name +lr0\.05 +lr0\.1 +lr0\.3$", rows["name"]), rows["name"]
    assert rows["optimizer"].startswith("   ") and rows["optimizer"].split()[1:] == ["sgd"] * 3
    assert rows["model"].startswith("   "), "a setting that is the same is not marked"
    svg = (tmp_path / "runs.svg").read_text()
    assert svg.count('class="series"') == 3 and "run 2 lr0.1" in svg
    p = mlpsh(store, "runs rm 2; runs; runs show 2", tmp_path)
    assert "run 2 deleted" in p.stdout and p.returncode == 1 and "no run 2" in p.stderr


def test_tab_completes_run_ids(tmp_path):
    pexpect = pytest.importorskip("pexpect")
    store = tmp_path / "runs.sqlite"
    for lr in (0.1, 0.2):
        assert mlpsh(store, SETUP.format(lr=lr) + "; train epochs=1 batch=32", tmp_path).returncode == 0
    (tmp_path / "inputrc").write_text("set enable-bracketed-paste off\n")
    env = dict(os.environ, HOME=str(tmp_path), MLPSH_HISTORY=str(tmp_path / "hist"), MLPSH_RUNS=str(store),
               TERM="xterm", INPUTRC=str(tmp_path / "inputrc"))
    c = pexpect.spawn(BIN, ["--norc"], cwd=str(tmp_path), env=env, encoding="utf-8", timeout=30, dimensions=(40, 120))
    c.expect("mlp> ")
    c.send("runs show \t\t")
    c.expect(r"1\s+2")
    c.send("2\r")
    c.expect("run 2: finished")
    c.expect("mlp> ")
    c.sendeof()
    c.expect(pexpect.EOF)


def test_another_programs_database_is_left_alone(tmp_path):
    store = tmp_path / "notes.sqlite"
    with sqlite3.connect(store) as db:
        db.execute("CREATE TABLE notes (x)")
    before = store.read_bytes()
    p = mlpsh(store, SETUP.format(lr=0.1) + "; train epochs=1 batch=32", tmp_path)
    assert p.returncode == 0, p.stderr
    assert "is not mlpsh's run history" in p.stderr and p.stderr.count("warning:") == 1, p.stderr
    assert store.read_bytes() == before, "not a byte of another program's database changes"
    p = mlpsh(store, "runs", tmp_path)
    assert p.returncode == 1 and "-c:1: error:" in p.stderr and "not mlpsh's run history" in p.stderr, p.stderr


def test_an_unknown_schema_version_warns_for_each_run_and_training_goes_on(tmp_path):
    store = tmp_path / "runs.sqlite"
    assert mlpsh(store, SETUP.format(lr=0.1) + "; train epochs=1 batch=32", tmp_path).returncode == 0
    with sqlite3.connect(store) as db:
        db.execute("PRAGMA user_version = -1")
    p = mlpsh(store, SETUP.format(lr=0.1) + "; train epochs=1 batch=32; train epochs=1 batch=32", tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stderr.count("warning: this run is not recorded") == 2, p.stderr
    assert p.stdout.count("Done") == 2


def test_dev_null_or_off_turns_recording_off(tmp_path):
    for value in ("/dev/null", "off"):
        env = dict(os.environ, MLPSH_RUNS=value)
        p = subprocess.run([BIN, "-c", SETUP.format(lr=0.1) + "; train epochs=1 batch=32"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0 and p.stderr == "", p.stderr
        p = subprocess.run([BIN, "-c", "runs"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert p.returncode == 1 and "the run history is off" in p.stderr, p.stderr
    assert not os.path.exists("/dev/null-journal")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    p = mlpsh(fifo, SETUP.format(lr=0.1) + "; train epochs=1 batch=32", tmp_path)
    assert p.returncode == 0 and "is not a regular file" in p.stderr, p.stderr


def test_run_names_are_bounded_and_tables_never_grow_with_them(tmp_path):
    store = tmp_path / "runs.sqlite"
    p = mlpsh(store, SETUP.format(lr=0.1) + "; train epochs=1 batch=32 name=" + "n" * 201, tmp_path)
    assert p.returncode == 1 and "a run's name is at most 200" in p.stderr, p.stderr
    p = mlpsh(store, SETUP.format(lr=0.1) + '; train epochs=1 batch=32 name="my run"', tmp_path)
    assert p.returncode == 0, p.stderr
    assert rows(store, "SELECT name FROM runs") == [("my run",)]
    # A name written by something else may be any length: the tables stay narrow.
    with sqlite3.connect(store) as db:
        db.execute("UPDATE runs SET name = ?", ("x" * 1_000_000,))
    assert mlpsh(store, SETUP.format(lr=0.2) + "; train epochs=1 batch=32", tmp_path).returncode == 0
    p = mlpsh(store, "runs; runs compare 1 2", tmp_path)
    assert p.returncode == 0, p.stderr
    assert len(p.stdout) < 5_000 and max(len(line) for line in p.stdout.splitlines()) < 300


def test_an_error_quotes_at_most_200_characters_of_what_it_was_given(tmp_path):
    script = tmp_path / "long.mlp"
    script.write_text("echo ${" + "a" * 10_000_000 + "\n")
    p = subprocess.run([BIN, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert p.returncode == 1
    assert p.stderr.startswith(f"{script}:1: error:") and "…" in p.stderr and len(p.stderr) < 2_500, len(p.stderr)


def test_a_run_whose_output_fails_ends_as_failed(tmp_path):
    store = tmp_path / "runs.sqlite"
    with open("/dev/full", "w") as full:
        p = subprocess.run([BIN, "-c", SETUP.format(lr=0.1) + "; train epochs=3 batch=32"], cwd=tmp_path, stdout=full,
                           stderr=subprocess.PIPE, text=True, timeout=300, env=dict(os.environ, MLPSH_RUNS=str(store)))
    assert p.returncode == 1 and "cannot write to standard output" in p.stderr, p.stderr
    assert rows(store, "SELECT status FROM runs") == [("failed",)]


def test_a_store_that_cannot_be_written_can_still_be_read(tmp_path):
    runuser = shutil.which("runuser")
    if os.geteuid() != 0 or runuser is None:
        pytest.skip("needs root and runuser, to read the store as a user who cannot write it")
    if subprocess.run([runuser, "-u", "nobody", "--", BIN, "--version"], capture_output=True, timeout=60).returncode != 0:
        pytest.skip(f"user nobody cannot run {BIN} (a private folder above it)")
    # A folder that user can reach (pytest's own are private to root) but not write.
    folder = pathlib.Path(tempfile.mkdtemp(prefix="mlpsh-ro-"))
    request_cleanup = lambda: shutil.rmtree(folder, ignore_errors=True)  # noqa: E731
    store = folder / "runs.sqlite"
    for lr in (0.1, 0.2):
        assert mlpsh(store, SETUP.format(lr=lr) + "; train epochs=1 batch=32", tmp_path).returncode == 0
    os.chmod(folder, 0o755)
    os.chmod(store, 0o644)
    before = sorted(os.listdir(folder))
    env = dict(os.environ, MLPSH_RUNS=str(store))
    p = subprocess.run([runuser, "-u", "nobody", "--", BIN, "-c", "runs; runs show 1; runs compare 1 2; plot loss runs=1,2"],
                       cwd="/", env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "finished" in p.stdout and "run 1" in p.stdout
    assert sorted(os.listdir(folder)) == before
    p = subprocess.run([runuser, "-u", "nobody", "--", BIN, "-c", "runs rm 1"], cwd="/", env=env, capture_output=True, text=True, timeout=120)
    request_cleanup()
    assert p.returncode == 1 and "-c:1: error:" in p.stderr, p.stderr


def test_the_stores_own_errors_name_the_statement(tmp_path):
    store = tmp_path / "runs.sqlite"
    assert mlpsh(store, SETUP.format(lr=0.1) + "; train epochs=1 batch=32", tmp_path).returncode == 0
    with sqlite3.connect(store) as db:
        db.execute("ALTER TABLE runs RENAME COLUMN name TO renamed")
    script = tmp_path / "list.mlp"
    script.write_text("echo listing\nruns\n")
    p = subprocess.run([BIN, str(script)], cwd=tmp_path, env=dict(os.environ, MLPSH_RUNS=str(store)),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and p.stderr.startswith(f"{script}:2: error:") and "no such column" in p.stderr, p.stderr


def test_a_tensorboard_folder_that_cannot_be_made_is_a_clear_error(tmp_path):
    (tmp_path / "afile").write_text("x")
    os.mkfifo(tmp_path / "afifo")
    os.symlink("/nonexistent/target", tmp_path / "dangling")
    cases = {"afile": "afile is a file, not a folder", "afifo": "afifo is a FIFO, not a folder",
             "/dev/null": "/dev/null is a device, not a folder", "dangling": "dangling is a link to nothing",
             "afile/under": "afile is a file, not a folder"}
    for folder, why in cases.items():
        p = mlpsh(tmp_path / "runs.sqlite", SETUP.format(lr=0.1) + f"; train epochs=1 batch=32 tensorboard={folder}", tmp_path)
        assert p.returncode == 1, p.stdout
        assert p.stderr.startswith(f"-c:1: error: tensorboard={folder}: cannot make the folder") and why in p.stderr, p.stderr
    assert {s for (s,) in rows(tmp_path / "runs.sqlite", "SELECT status FROM runs")} == {"failed"}


def test_a_runs_name_in_a_terminal_chart_is_escaped(tmp_path):
    store = tmp_path / "runs.sqlite"
    assert mlpsh(store, SETUP.format(lr=0.1) + "; train epochs=2 batch=32", tmp_path).returncode == 0
    with sqlite3.connect(store) as db:
        db.execute("UPDATE runs SET name = ?", ("evil\x1b[2J\x07",))
    p = mlpsh(store, "plot loss runs=1", tmp_path)
    assert p.returncode == 0, p.stderr
    assert "\x1b" not in p.stdout and "\x07" not in p.stdout and "evil\\e[2J" in p.stdout, p.stdout


def test_a_fifo_at_the_events_files_name_is_refused_not_waited_on(tmp_path):
    # The events file is named events.out.tfevents.SECONDS.HOST.PID: in the child, before mlpsh
    # starts, FIFOs take that name for the next minute, so that train meets one.
    import socket
    board = tmp_path / "board" / "fifo"
    board.mkdir(parents=True)
    hosts = {socket.gethostname().split(".")[0], socket.getfqdn().split(".")[0]}

    def plant():
        now = int(time.time())
        for t in range(now, now + 60):
            for host in hosts:
                os.mkfifo(board / f"events.out.tfevents.{t}.{host}.{os.getpid()}")

    start = time.monotonic()
    p = subprocess.run([BIN, "-c", "data train synthetic n=64; model; linear 4 3; end; loss cross_entropy; optim sgd lr=0.1; "
                                   f"train epochs=1 batch=16 name=fifo tensorboard={tmp_path / 'board'}"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=60, preexec_fn=plant,
                       env=dict(os.environ, MLPSH_RUNS="off"))
    assert time.monotonic() - start < 30
    assert p.returncode == 1, p.stdout
    assert "tensorboard=" in p.stderr and "events.out.tfevents" in p.stderr, p.stderr
