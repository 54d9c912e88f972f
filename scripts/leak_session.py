"""A whole mlpsh prompt session through a pseudo-terminal, for scripts/sanitize: data, a model,
training with Ctrl-C, test, predict, confusion, plots, save and load, help and completion, then
Ctrl-D. Run with an AddressSanitizer build and ASAN_OPTIONS=detect_leaks=1: LeakSanitizer
reports at exit, and any report fails this script."""
import os
import sys
import tempfile

import pexpect

BIN = os.environ["MLPSH_BIN"]
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
home = tempfile.mkdtemp()
os.symlink(os.path.join(ROOT, "data"), os.path.join(home, "data"))
with open(os.path.join(home, "inputrc"), "w") as f:
    f.write("set enable-bracketed-paste off\n")
env = dict(os.environ, HOME=home, TERM="xterm", INPUTRC=os.path.join(home, "inputrc"))
child = pexpect.spawn(BIN, ["--norc"], cwd=home, env=env, encoding="utf-8", timeout=300, dimensions=(40, 120))
child.logfile_read = sys.stdout
PROMPT = "mlp> "
child.expect(PROMPT)
for line in ["seed 0", "data train mnist split=train limit=2000", "data test mnist split=test limit=500",
             "model", "linear 784 64", "relu", "dropout p=0.1", "linear 64 10", "end",
             "loss cross_entropy", "optim adam lr=0.001", "train epochs=2 batch=64 log=run.csv",
             "test", "predict test:0", "confusion", "summary", "plot loss out=loss.svg", "plot accuracy",
             "history", "save w.safetensors optimizer=true", "load w.safetensors", "help", "help linear",
             "trian", "gradcheck relu", "memory"]:
    child.sendline(line)
    child.expect(r"(mlp> |\.\.\.> )")
child.sendline("train epochs=100 batch=64")
child.expect("epoch")
child.sendintr()
child.expect(PROMPT)
child.send("summ\t")
child.expect("summary")
child.sendline("")
child.expect(PROMPT)
child.sendeof()
child.expect(pexpect.EOF)
child.close()
text = child.before or ""
if "LeakSanitizer" in text or "AddressSanitizer" in text:
    print("\nleak_session: the sanitizer reported", file=sys.stderr)
    sys.exit(1)
print(f"\nleak_session: exit status {child.exitstatus}, no sanitizer report", file=sys.stderr)
sys.exit(0 if child.exitstatus == 0 else 1)
