"""The mlpsh prompt driven through a real pseudo-terminal (pexpect), as a person would use it:
prompts, Tab completion, history kept across runs, Ctrl-C during training, Ctrl-D, and the
progress bar on a terminal but never in a pipe.

Run by scripts/test after `swift build`; MLPSH_BIN names the binary (default .build/debug/mlpsh).
"""
import os
import re
import subprocess
import tempfile

import pexpect
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("MLPSH_BIN", os.path.join(ROOT, ".build", "debug", "mlpsh"))
PROMPT = r"mlp> "
MORE = r"\.\.\.> "


@pytest.fixture
def home(tmp_path):
    """A fresh home folder (no ~/.mlpshrc, empty history) with data/ linked in."""
    (tmp_path / "data").symlink_to(os.path.join(ROOT, "data"))
    return tmp_path


def spawn(home, *args):
    # Bracketed paste off, so that echoed input is plain text to match.
    (home / "inputrc").write_text("set enable-bracketed-paste off\n")
    env = dict(os.environ, HOME=str(home), MLPSH_HISTORY=str(home / "hist"), TERM="xterm",
               INPUTRC=str(home / "inputrc"))
    child = pexpect.spawn(BIN, list(args), cwd=str(home), env=env, encoding="utf-8",
                          timeout=60, dimensions=(40, 120))
    child.expect(PROMPT)
    return child


def test_prompts_and_block_continuation(home):
    c = spawn(home, "--norc")
    c.sendline("model")
    c.expect(MORE)
    c.sendline("linear 4 3")
    c.expect(MORE)
    c.sendline("end")
    c.expect(PROMPT)
    c.sendline("summary")
    c.expect("Total params: 15")
    c.expect(PROMPT)
    c.sendeof()
    c.expect(pexpect.EOF)


def test_data_at_the_prompt_says_what_was_loaded(home):
    c = spawn(home, "--norc")
    c.sendline("data train synthetic classes=3 features=4 n=60")
    c.expect("train: synthetic \\(60 samples, 4 features, 3 classes\\)")
    c.expect(PROMPT)
    c.sendeof()
    c.expect(pexpect.EOF)


def test_errors_keep_the_session(home):
    c = spawn(home, "--norc")
    c.sendline("set x 5")
    c.expect(PROMPT)
    c.sendline("trian")
    c.expect("error: unknown command 'trian'; did you mean 'train'\\?")
    c.expect(PROMPT)
    c.sendline("echo $x")
    c.expect("\r\n5\r\n")
    c.sendeof()
    c.expect(pexpect.EOF)


def test_tab_completes_command_layer_option_and_path(home):
    (home / "weights-for-test.safetensors").write_bytes(b"")
    c = spawn(home, "--norc")
    # A command name.
    c.send("summ\t")
    c.expect("summary")
    c.send("\x15")  # Ctrl-U: clear the line
    # A layer name inside a model block.
    c.sendline("model")
    c.expect(MORE)
    c.send("leaky\t")
    c.expect("leaky_relu")
    c.send("\x15")
    c.sendline("linear 4 3")
    c.sendline("end")
    c.expect(PROMPT)
    # An option of the optimizer named on the line.
    c.send("optim sgd mom\t")
    c.expect("momentum=")
    c.send("\x15")
    # A file path.
    c.send("load weights-for\t")
    c.expect("weights-for-test.safetensors")
    c.send("\x15")
    c.sendeof()
    c.expect(pexpect.EOF)


def test_the_prompt_follows_a_resized_terminal(home):
    # Started 120 columns wide, then narrowed to 50: readline must learn the new width
    # (SIGWINCH), which shows in how Tab Tab lays out the list of commands.
    c = spawn(home, "--norc")
    c.setwinsize(40, 50)
    c.expect(PROMPT)  # the line is drawn again for the new size
    assert_commands_listed_within(c, 50)


def assert_commands_listed_within(c, columns):
    """Tab Tab on an empty line lists the commands in lines of at most `columns`."""
    c.send("\t\t")
    c.expect(r"quit.*\r\n" + PROMPT)
    widths = [len(line) for line in c.before.split("\r\n")]
    assert max(widths) <= columns, c.before
    c.sendeof()
    c.expect(pexpect.EOF)


def test_a_resize_while_a_command_runs_reaches_the_next_prompt(home):
    # Narrowed while training: the prompt after it must lay out Tab Tab for 50 columns.
    c = training_session(home)
    c.expect(r"\d+/7500")
    c.setwinsize(40, 50)
    c.expect("Done", timeout=TRAINING)
    c.expect(PROMPT)
    assert_commands_listed_within(c, 50)


def test_a_plugins_names_complete_once_it_is_loaded(home):
    if not os.path.exists(os.path.join(ROOT, "plugins", "Activations", ".build", "release", "libActivations.so")):
        pytest.fail("plugins/Activations is not built: run scripts/build-plugins")
    c = spawn(home, "--norc")
    c.sendline("plugin load Activations")
    c.expect("loaded plugin Activations")
    c.expect(PROMPT)
    c.sendline("model")
    c.expect(MORE)
    c.send("gel\t")
    c.expect("gelu")
    c.send(" appr\t")
    c.expect("approximate=")
    c.send("\x15")
    c.sendline("end")
    c.expect(PROMPT)
    c.send("gradcheck mis\t")
    c.expect("mish")
    c.sendline("")
    c.expect("ok    mish \\(eval\\)")
    c.expect(PROMPT)
    c.sendeof()
    c.expect(pexpect.EOF)


def test_predict_draws_the_image_on_a_terminal(home):
    c = spawn(home, "--norc")
    for line in ["seed 0", "data test mnist split=test limit=10", "model", "linear 784 10", "end"]:
        c.sendline(line)
        c.expect(r"(mlp> |\.\.\.> )")
    c.sendline("predict test:0")
    c.expect("┌")          # the frame of the shaded image
    c.expect("█")          # the strokes of the 7
    c.expect("predicted: ")
    c.expect("label: 7")
    c.expect(PROMPT)
    c.sendeof()
    c.expect(pexpect.EOF)


def test_history_is_kept_across_runs(home):
    c = spawn(home, "--norc")
    c.sendline("echo remembered-line")
    c.expect(PROMPT)
    c.sendeof()
    c.expect(pexpect.EOF)
    assert "echo remembered-line" in (home / "hist").read_text()
    c = spawn(home, "--norc")
    c.send("\x1b[A")  # Up arrow: the last line of the previous run
    c.expect("echo remembered-line")
    c.sendline("")
    c.expect("\r\nremembered-line\r\n")
    c.sendeof()
    c.expect(pexpect.EOF)


def test_ctrl_c_stops_training_and_train_goes_on(home):
    c = spawn(home, "--norc")
    for line in ["seed 0", "data train mnist split=train limit=20000", "model", "linear 784 32", "relu",
                 "linear 32 10", "end", "loss cross_entropy", "optim sgd lr=0.05"]:
        c.sendline(line)
    c.expect(PROMPT)
    c.sendline("train epochs=1000 batch=64")
    c.expect(r"epoch: 1,train_loss")  # two epochs finished
    c.sendintr()
    c.expect(r"interrupted in epoch (\d+) after \d+ of \d+ batches; (\d+) epochs are complete")
    done = int(c.match.group(2))
    c.expect(PROMPT)
    c.sendline("train epochs=1")
    c.expect(r"epoch:\s*(\d+),train_loss:")
    assert int(c.match.group(1)) == done, "train goes on numbering from the finished epochs"
    c.expect("Done")
    c.expect(PROMPT)
    # Ctrl-C at the prompt clears the line.
    c.send("echo never-run")
    c.sendintr()
    c.expect(PROMPT)
    c.sendline("echo after")
    c.expect("\r\nafter\r\n")
    c.sendeof()
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 0


def test_ctrl_c_in_the_middle_of_typed_text_clears_the_line(home):
    # readline reads the rest of a burst of keys by itself; a Ctrl-C flushes the terminal's
    # queue under it, and must still bring back the prompt rather than leave readline waiting.
    c = spawn(home, "--norc")
    c.delaybeforesend = None
    for attempt in range(20):
        c.send("echo never-run " + "x" * 400)
        c.sendintr()
        c.expect(PROMPT, timeout=10)
    c.delaybeforesend = 0.05
    c.sendline("echo after")
    c.expect("\r\nafter\r\n")
    assert "never-run" not in c.before
    c.sendeof()
    c.expect(pexpect.EOF)


# How long such a `train` may take: seconds on an idle machine, a minute or more on a loaded one.
TRAINING = 300


def training_session(home, train="train epochs=1 batch=8", samples=60000):
    """A prompt with `train` just sent (60,000 samples of batch 8: seconds in a debug build)."""
    c = spawn(home, "--norc")
    for line in [f"data train synthetic n={samples} features=64 classes=4", "model", "linear 64 10", "end",
                 "loss cross_entropy", "optim sgd lr=0.1"]:
        c.sendline(line)
    c.expect(PROMPT)
    c.sendline(train)
    return c


def test_progress_bar_on_a_terminal(home):
    c = training_session(home, "train epochs=2 batch=8")
    c.expect(r"epoch 0 .* \d+/7500 .*samples/s .*loss \d+\.\d+ .*left")
    c.expect("Done", timeout=TRAINING)
    c.sendeof()
    c.expect(pexpect.EOF)


def test_ctrl_d_typed_during_training_ends_the_session(home):
    # The terminal is in its own line mode while a command runs: a Ctrl-D typed then must not
    # be lost when readline takes the terminal back.
    c = training_session(home)
    c.expect(r"\d+/7500")
    c.sendeof()
    c.expect("Done", timeout=TRAINING)
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 0


def test_lines_typed_during_training_run_after_it(home):
    c = training_session(home)
    c.expect(r"\d+/7500")
    c.sendline("echo typed ahead")
    c.send("hel")
    c.sendeof()          # cuts "hel" short: it becomes the start of the next line
    c.expect("Done", timeout=TRAINING)
    c.expect(r"mlp> echo typed ahead\r\n")
    c.expect(r"typed ahead\r\n")
    c.expect(r"mlp> hel")
    c.sendline("p loss")
    c.expect(r"cross_entropy")
    c.expect(PROMPT)
    c.sendeof()
    c.expect(pexpect.EOF)
    assert (home / "hist").read_text().splitlines()[-2:] == ["echo typed ahead", "help loss"]


def test_no_progress_bar_in_a_pipe(home):
    script = "data train synthetic n=60000 features=64 classes=4; model; linear 64 10; end; " \
             "loss cross_entropy; optim sgd lr=0.1; train epochs=1 batch=8"
    p = subprocess.run([BIN, "-c", script], cwd=str(home), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    assert "samples/s" not in p.stdout
    assert re.match(r"epoch: 0,train_loss:\d+\.\d{6},train_acc:\d+\.\d%\nDone\n$", p.stdout)


def test_mlpshrc_runs_at_start_unless_norc(home):
    (home / ".mlpshrc").write_text("set greeting hello-from-rc\n")
    c = spawn(home)
    c.sendline("echo $greeting")
    c.expect("\r\nhello-from-rc\r\n")
    c.sendeof()
    c.expect(pexpect.EOF)
    c = spawn(home, "--norc")
    c.sendline("echo $greeting")
    c.expect("error: undefined variable '\\$greeting'")
    c.sendeof()
    c.expect(pexpect.EOF)


# MARK: - A newcomer's session: paste, recalled blocks, Ctrl-C and Ctrl-D in a block

def spawn_with_paste(home):
    """As spawn, with readline's bracketed paste on (its default in a terminal)."""
    (home / "inputrc").write_text("set enable-bracketed-paste on\n")
    env = dict(os.environ, HOME=str(home), MLPSH_HISTORY=str(home / "hist"), TERM="xterm",
               INPUTRC=str(home / "inputrc"))
    child = pexpect.spawn(BIN, ["--norc"], cwd=str(home), env=env, encoding="utf-8",
                          timeout=60, dimensions=(40, 120))
    child.expect(PROMPT)
    return child


def paste(child, text):
    child.send("\x1b[200~" + text + "\x1b[201~")
    child.send("\r")


def test_pasted_lines_run_one_by_one(home):
    c = spawn_with_paste(home)
    paste(c, "echo one\necho two")
    c.expect("one\r\ntwo\r\n")
    c.expect(PROMPT)
    # The README's model block, pasted whole.
    paste(c, "model\n  linear 4 3\n  relu\n  linear 3 2\nend\nsummary")
    c.expect("Total params: 23")
    c.expect(PROMPT)
    c.sendeof()
    c.expect(pexpect.EOF)


def test_a_block_recalled_from_history_runs(home):
    c = spawn(home, "--norc")
    for line in ["model", "linear 4 3", "end"]:
        c.sendline(line)
        c.expect(PROMPT if line == "end" else MORE)
    c.sendline("reset")
    c.expect(PROMPT)
    c.send("\x1b[A")        # Up: reset
    c.expect("reset")
    c.send("\x1b[A")        # Up again: the block, as one entry
    c.expect("end")
    c.send("\r")
    c.expect(PROMPT)
    c.sendline("summary")
    c.expect("Total params: 15")
    c.expect(PROMPT)
    c.sendeof()
    c.expect(pexpect.EOF)


def test_ctrl_c_at_the_block_prompt_drops_the_block(home):
    c = spawn(home, "--norc")
    c.sendline("model")
    c.expect(MORE)
    c.sendline("linear 4 3")
    c.expect(MORE)
    c.sendintr()
    c.sendline("echo after")
    c.expect("after")
    c.expect(PROMPT)
    c.sendline("summary")
    c.expect("no model yet")
    c.expect(PROMPT)
    c.sendeof()
    c.expect(pexpect.EOF)


def test_ctrl_d_in_a_block_drops_it_and_stays(home):
    c = spawn(home, "--norc")
    c.sendline("model")
    c.expect(MORE)
    c.sendline("linear 4 3")
    c.expect(MORE)
    c.sendeof()
    c.expect("the 'model' block is dropped")
    c.expect(PROMPT)
    c.sendline("echo still here")
    c.expect("still here")
    c.expect(PROMPT)
    c.sendeof()
    c.expect(pexpect.EOF)


def test_progress_bar_fits_a_narrow_terminal(home):
    (home / "inputrc").write_text("set enable-bracketed-paste off\n")
    env = dict(os.environ, HOME=str(home), MLPSH_HISTORY=str(home / "hist"), TERM="xterm", INPUTRC=str(home / "inputrc"))
    c = pexpect.spawn(BIN, ["--norc"], cwd=str(home), env=env, encoding="utf-8", timeout=60, dimensions=(24, 60))
    c.expect(PROMPT)
    for line in ["data train synthetic n=60000 features=64 classes=4", "model", "linear 64 10", "end",
                 "loss cross_entropy", "optim sgd lr=0.1"]:
        c.sendline(line)
    c.expect(PROMPT)
    c.sendline("train epochs=1 batch=8")
    c.expect("Done", timeout=TRAINING)
    drawn = [part.split("\r")[0] for part in c.before.split("\r\x1b[2K")[1:]]
    bars = [d for d in drawn if d.startswith("epoch 0 ")]
    assert bars, c.before[-500:]
    assert max(len(b) for b in bars) <= 59, max(bars, key=len)
    c.sendeof()
    c.expect(pexpect.EOF)
