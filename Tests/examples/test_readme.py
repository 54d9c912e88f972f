"""What the README must tell a newcomer, checked so that it is not lost in an edit: how to run
mpirun as root (Open MPI refuses otherwise, as in a container or CI), and that pixels are
divided by 255 and not normalised (PyTorch users ask)."""
import os
import re

README = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")


def text():
    with open(README, encoding="utf-8") as f:
        return f.read()


def test_mpirun_as_root_is_explained_where_mpirun_is_first_shown():
    t = text()
    first = t.index("mpirun -np 2")
    assert "--allow-run-as-root" in t[first:first + 400], t[first:first + 400]


def test_the_pixel_scaling_is_documented():
    t = re.sub(r"\s+", " ", text())
    assert "pixels are divided by 255" in t and "not normalised" in t
