"""`predict` on digits drawn as people draw them, not as MNIST stores them: MNIST test digits
redrawn large and off-centre, as black ink on a transparent PNG, as a JPEG photo-like grey
on light paper, as a photo of paper lit unevenly by a lamp, and a blank page. Each must be read as mlpsh reads the original digit (the
preparation puts them back as MNIST prepared its digits); the blank page is an error.

Uses the MLP that test_interop trains (2 epochs on 5,000 images). Pillow writes the images.
"""
import re
import subprocess
import sys

from test_interop import BIN, mnist_test, read_idx, trained  # noqa: F401  (fixtures)

try:
    from PIL import Image
except ImportError:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "pillow"])
    from PIL import Image

import numpy as np
import pytest

PREDICTED = re.compile(r"predicted: (\d)")


def predict(weights, image_path):
    r = subprocess.run([BIN, "-c", f"load {weights}; predict {image_path} show=false"], capture_output=True, text=True, timeout=120)
    return r


def redraw(digit, size=200, at=(20, 70), scale=4):
    """The digit scaled up by `scale` (nearest), placed with its corner at `at` in a black field."""
    big = np.kron(digit, np.ones((scale, scale), dtype=np.uint8))
    field = np.zeros((size, size), dtype=np.uint8)
    field[at[0]:at[0] + big.shape[0], at[1]:at[1] + big.shape[1]] = big
    return field


@pytest.mark.parametrize("index", [0, 1, 2, 3, 4, 5, 6, 7])
def test_drawn_digits_are_read_as_the_originals(trained, mnist_test, tmp_path, index):
    _, weights, _ = trained
    images, _ = mnist_test
    digit = images[index]
    original = tmp_path / "original.pgm"
    original.write_bytes(b"P5\n28 28\n255\n" + digit.tobytes())
    expected = PREDICTED.search(predict(weights, original).stdout).group(1)

    # Large, off-centre, light on dark.
    field = redraw(digit)
    Image.fromarray(field).save(tmp_path / "large.png")
    # Black ink on a transparent ground: the grey is black everywhere, the alpha is the ink.
    rgba = np.zeros((200, 200, 4), dtype=np.uint8)
    rgba[..., 3] = field
    Image.fromarray(rgba, "RGBA").save(tmp_path / "ink.png")
    # A JPEG of dark ink on light grey paper.
    paper = (230 - field.astype(np.int32) * 200 // 255).astype(np.uint8)
    Image.fromarray(paper).save(tmp_path / "paper.jpg", quality=90)
    # A photo of the paper under a lamp: the light falls off across the page and down it, and
    # the ink reflects a seventh of whatever light reaches it.
    light = np.linspace(250, 110, 200)[None, :] * np.linspace(1.0, 0.8, 200)[:, None]
    lamp = np.clip(light * (1 - 0.85 * field.astype(np.float64) / 255), 0, 255).astype(np.uint8)
    Image.fromarray(lamp).save(tmp_path / "lamp.jpg", quality=90)
    for name in ["large.png", "ink.png", "paper.jpg", "lamp.jpg"]:
        r = predict(weights, tmp_path / name)
        assert r.returncode == 0, r.stderr
        assert PREDICTED.search(r.stdout).group(1) == expected, (name, r.stdout)


def test_a_blank_page_is_an_error(trained, tmp_path):
    _, weights, _ = trained
    Image.fromarray(np.full((100, 100), 240, dtype=np.uint8)).save(tmp_path / "blank.jpg")
    r = predict(weights, tmp_path / "blank.jpg")
    assert r.returncode == 1
    assert "is blank" in r.stderr, r.stderr
    rgba = np.zeros((50, 50, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "clear.png")
    r = predict(weights, tmp_path / "clear.png")
    assert r.returncode == 1 and "is blank" in r.stderr, r.stderr


def test_a_broken_jpeg_is_refused_cleanly(trained, tmp_path):
    _, weights, _ = trained
    Image.fromarray(np.zeros((30, 30), dtype=np.uint8)).save(tmp_path / "ok.jpg")
    data = (tmp_path / "ok.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[:len(data) // 3])
    r = predict(weights, tmp_path / "cut.jpg")
    assert r.returncode == 1, r.stdout
    assert "cut.jpg" in r.stderr and "Traceback" not in r.stderr, r.stderr
