"""Signals sent to a real mlpsh process: SIGHUP and SIGTERM at the prompt and during training
keep the history and end mlpsh by that signal; Ctrl-C stops `bench` and a blocked read; a
signal in the middle of `save`, in a script, never leaves a temporary file behind and the
file saved always loads.

Run by scripts/test after `swift build`; MLPSH_BIN names the binary.
"""
import os
import random
import re
import signal
import subprocess
import time

import pexpect
import pytest

from test_repl import BIN, PROMPT, home, spawn, training_session  # noqa: F401 (home is a fixture)


def wait_for_handler(pid, sig, timeout=60):
    """Waits until process `pid` catches `sig` (its SigCgt mask in /proc), so that a signal
    sent next meets mlpsh's handler, however slowly the process started."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/status") as f:
            caught = next(int(line.split()[1], 16) for line in f if line.startswith("SigCgt:"))
        if caught & (1 << (int(sig) - 1)):
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} never caught signal {sig}")


def ended_by(child, sig):
    child.expect(pexpect.EOF, timeout=30)
    child.close()
    assert child.signalstatus == sig, (child.exitstatus, child.signalstatus)


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM])
def test_a_signal_at_the_prompt_keeps_the_history(home, sig):
    c = spawn(home, "--norc")
    c.sendline("echo first-entry")
    c.expect(PROMPT)
    c.sendline("set kept second-entry")
    c.expect(PROMPT)
    c.send("echo half-typed")
    time.sleep(0.3)
    c.kill(sig)
    ended_by(c, sig)
    history = (home / "hist").read_text()
    assert "echo first-entry" in history and "set kept second-entry" in history
    assert "half-typed" not in history
    assert oct(os.stat(home / "hist").st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM])
def test_a_signal_during_training_stops_it_and_keeps_the_history(home, sig):
    c = training_session(home, "train epochs=100000 batch=8", samples=20000)
    c.expect(r"epoch: 0,train_loss")
    start = time.monotonic()
    c.kill(sig)
    ended_by(c, sig)
    assert time.monotonic() - start < 10
    history = (home / "hist").read_text()
    assert "train epochs=100000 batch=8" in history and "linear 64 10" in history


def test_ctrl_c_stops_bench_and_the_rest_of_the_line(home):
    c = spawn(home, "--norc")
    c.sendline("model; linear 784 512; relu; linear 512 10; end")
    c.expect(PROMPT)
    c.sendline("bench batch=256 steps=1000000; echo not-reached")
    time.sleep(1.5)
    start = time.monotonic()
    c.sendintr()
    c.expect(r"bench: interrupted")
    c.expect(PROMPT)
    assert time.monotonic() - start < 10
    c.sendline("echo still-here")
    c.expect("\r\nstill-here\r\n")
    assert "not-reached" not in c.before
    c.sendeof()
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_script_blocked_reading_standard_input_stops(home, sig):
    # Standard input is a pipe nobody writes to: the read blocks until the signal.
    p = subprocess.Popen([BIN, "-"], cwd=str(home), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    wait_for_handler(p.pid, sig)
    time.sleep(0.5)
    p.send_signal(sig)
    out, err = p.communicate(timeout=10)
    assert p.returncode == -sig, (p.returncode, err)
    assert "stopped by " + signal.Signals(sig).name in err


def test_ctrl_c_in_a_script_stops_training_and_the_script(home):
    script = home / "long.mlp"
    script.write_text("data train synthetic n=20000 features=64 classes=4\nmodel\nlinear 64 10\nend\n"
                      "loss cross_entropy\noptim sgd lr=0.1\ntrain epochs=100000 batch=8\necho not-reached\n")
    p = subprocess.Popen([BIN, str(script)], cwd=str(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_handler(p.pid, signal.SIGINT)
    time.sleep(2)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=10)
    assert p.returncode == -signal.SIGINT, (p.returncode, err)
    assert "interrupted in epoch" in out + err
    assert "not-reached" not in out


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_during_save_leaves_no_temporary_file(home, sig):
    # A 16 MB checkpoint saved over and over; the signal comes at a random moment, most often
    # in the middle of a write. Every try must leave only whole files.
    lines = ["seed 1", "model", "linear 2048 2048", "end"] + ["save big.safetensors"] * 200
    (home / "saves.mlp").write_text("\n".join(lines) + "\n")
    rng = random.Random(int(sig))
    for attempt in range(4):
        # The signal is sent once this run has saved (not the last run's file).
        (home / "big.safetensors").unlink(missing_ok=True)
        p = subprocess.Popen([BIN, "saves.mlp"], cwd=str(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        while not (home / "big.safetensors").exists() and p.poll() is None:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.3))
        p.send_signal(sig)
        _, err = p.communicate(timeout=30)
        assert p.returncode == -sig, (attempt, p.returncode, err)
        leftovers = [f for f in os.listdir(home) if ".tmp-" in f]
        assert leftovers == [], (attempt, leftovers, err)
        check = subprocess.run([BIN, "-c", "load big.safetensors; summary"], cwd=str(home),
                               capture_output=True, text=True, timeout=60)
        assert check.returncode == 0 and "4,196,352" in check.stdout, (attempt, check.stdout, check.stderr)


def test_ctrl_z_at_the_prompt_and_fg(home):
    # Under a job-control shell: Ctrl-Z gives the terminal back in its own mode, and `fg`
    # brings back readline's mode with the prompt and the half-typed line drawn again.
    (home / "inputrc").write_text("set enable-bracketed-paste off\n")
    env = dict(os.environ, HOME=str(home), MLPSH_HISTORY=str(home / "hist"), TERM="xterm",
               INPUTRC=str(home / "inputrc"), PS1="SHELL$ ")
    sh = pexpect.spawn("bash", ["--norc", "--noprofile", "-i"], cwd=str(home), env=env, encoding="utf-8",
                       timeout=30, dimensions=(40, 120))
    sh.expect(r"SHELL\$ ")
    sh.sendline(f"{BIN} --norc")
    sh.expect(PROMPT)
    sh.send("echo half")
    sh.expect("echo half")  # read by readline: a Ctrl-Z flushes keys not yet read
    sh.sendcontrol("z")
    sh.expect(r"Stopped.*\r\nSHELL\$ ")
    sh.sendline("stty -a")
    sh.expect(r"SHELL\$ ")
    assert re.search(r"(?<!-)icanon", sh.before) and re.search(r"(?<!-)echo ", sh.before), sh.before
    sh.sendline("fg")
    sh.expect(PROMPT + "echo half")
    sh.sendline("-done")
    sh.expect(r"\r\nhalf-done\r\n")
    sh.expect(PROMPT)
    sh.sendeof()
    sh.expect(r"SHELL\$ ")
    sh.sendline("exit")
    sh.expect(pexpect.EOF)
