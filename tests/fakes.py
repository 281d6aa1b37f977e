"""Tiny data files in the exact on-disk formats torchvision reads, so tests drive the real parsers.

- MNIST / Fashion-MNIST: IDX (big-endian magic 0x0803 / 0x0801, dims, then uint8 pixels / labels),
  optionally gzipped as distributed.
- CIFAR-10/100: the "python version" pickles (dicts with 'data' (N, 3072) uint8 in CHW order and
  'labels' / 'fine_labels'), plus the meta file with the class names.
"""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
from torchvision import datasets


def idx_images(images: np.ndarray) -> bytes:
    """(N, H, W) uint8 → IDX3 bytes."""
    n, h, w = images.shape
    return struct.pack(">IIII", 0x0803, n, h, w) + images.astype(np.uint8).tobytes()


def idx_labels(labels: np.ndarray) -> bytes:
    return struct.pack(">II", 0x0801, len(labels)) + labels.astype(np.uint8).tobytes()


def fake_mnist_arrays(n_train: int, n_test: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(n_train) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.arange(n_test) % 10,
    }


def write_fake_mnist(folder: Path, arrays: dict[str, np.ndarray], gzipped: bool) -> None:
    """The four IDX files named as distributed, in `folder` (gzipped like the downloads or Debian's)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        payload = idx_images(array) if array.ndim == 3 else idx_labels(array)
        if gzipped:
            with gzip.open(folder / f"{name}.gz", "wb") as handle:
                handle.write(payload)
        else:
            (folder / name).write_bytes(payload)


def write_fake_cifar(root: Path, cls: type[datasets.CIFAR10], per_batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Every file `cls` expects under root/<base_folder>; returns the images (N, 32, 32, 3) and labels."""
    rng = np.random.default_rng(seed)
    folder = root / cls.base_folder
    folder.mkdir(parents=True, exist_ok=True)
    classes = 100 if cls is datasets.CIFAR100 else 10
    label_key = "fine_labels" if classes == 100 else "labels"
    written = {"train_x": [], "train_y": [], "test_x": [], "test_y": []}
    for split, files in (("train", cls.train_list), ("test", cls.test_list)):
        for name, _ in files:
            chw = rng.integers(0, 256, (per_batch, 3, 32, 32), dtype=np.uint8)
            labels = rng.integers(0, classes, per_batch).tolist()
            with (folder / name).open("wb") as handle:
                pickle.dump({"data": chw.reshape(per_batch, 3072), label_key: labels}, handle)
            written[f"{split}_x"].append(chw.transpose(0, 2, 3, 1))
            written[f"{split}_y"].append(np.asarray(labels))
    with (folder / cls.meta["filename"]).open("wb") as handle:
        pickle.dump({cls.meta["key"]: [f"class{i}" for i in range(classes)]}, handle)
    return {key: np.concatenate(parts) for key, parts in written.items()}
