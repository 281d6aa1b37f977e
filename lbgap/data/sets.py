"""Data sets as in-memory tensors: the embedded MNIST-1D default, and real data via `lbgap.data.sources`.

The embedded default is MNIST-1D (Greydanus 2020): 1-D signals of length 40, ten classes, generated
locally from ten templates by padding, scaling, translation, correlated noise and shear. We call the
package's generator (`mnist1d.data.make_dataset`), never its downloader, so no network is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

import numpy as np
import torch

from pathlib import Path

from lbgap.params.sections import DataName
from lbgap.data.sources import CIFAR, MNIST_LIKE, RawData, load_image_set, load_npz

DATA_SETS = get_args(DataName)  # mnist1d, MNIST_LIKE, CIFAR, npz


@dataclass(frozen=True)
class Split:
    """One split: inputs `x` (N, *feature_shape) float32 and labels `y` (N,) int64."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)

    def to(self, device: torch.device | str) -> Split:
        return Split(self.x.to(device), self.y.to(device))


@dataclass(frozen=True)
class DataSet:
    train: Split
    test: Split
    classes: int = 0  # declared class count (e.g. 100 for CIFAR-100 even if a subset lacks some)
    validation: Split | None = None  # held out of the training set for choosing hyperparameters (`data.validation`)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])

    @property
    def num_classes(self) -> int:
        return max(self.classes, int(max(self.train.y.max(), self.test.y.max())) + 1)

    def to(self, device: torch.device | str) -> DataSet:
        """Every split on `device` (a no-op on the device they are on)."""
        validation = None if self.validation is None else self.validation.to(device)
        return DataSet(self.train.to(device), self.test.to(device), self.classes, validation)


def make_mnist1d(num_train: int, num_test: int, seed: int) -> DataSet:
    """Generate MNIST-1D with `num_train` + `num_test` samples from `seed` (signals (N, 40), not rescaled).

    mnist1d makes `num_samples // 10` samples per class and splits by `train_split`, so the total is
    rounded to a multiple of 10. The generator seeds numpy's global RNG itself; we save and restore
    that state so that calling this function leaves no trace on the caller's RNG.
    """
    from mnist1d.data import get_dataset_args, make_dataset

    total = num_train + num_test
    if total % 10:
        raise ValueError(f"data.num_train + data.validation + data.num_test must be a multiple of 10 (got {total})")
    args = get_dataset_args()
    args.num_samples = total
    args.train_split = num_train / total
    args.seed = seed
    state = np.random.get_state()
    try:
        raw = make_dataset(args)
    finally:
        np.random.set_state(state)
    train = Split(torch.as_tensor(raw["x"], dtype=torch.float32), torch.as_tensor(raw["y"], dtype=torch.int64))
    test = Split(torch.as_tensor(raw["x_test"], dtype=torch.float32), torch.as_tensor(raw["y_test"], dtype=torch.int64))
    return DataSet(train, test, classes=10)


def standardize(data: DataSet) -> DataSet:
    """Shift and scale to zero mean and unit variance on the *training* set: per feature for vectors
    (N, F), per channel for images (N, C, H, W) — statistics over every axis but 1.

    The validation and test sets are transformed with the training statistics, so nothing about them
    leaks into training.
    """
    x = data.train.x
    axes = [0, *range(2, x.dim())]
    mean = x.mean(dim=axes, keepdim=True)
    std = x.std(dim=axes, keepdim=True).clamp_min(1e-8)

    def scaled(split: Split | None) -> Split | None:
        return None if split is None else Split((split.x - mean) / std, split.y)

    return DataSet(scaled(data.train), scaled(data.test), data.classes, scaled(data.validation))


def hold_out(data: DataSet, size: int, seed: int) -> DataSet:
    """`size` training samples, drawn without replacement from `seed`, moved to the validation split
    (both splits keep the samples' order); `size` 0 leaves `data` as it is."""
    if size == 0:
        return data
    if size >= len(data.train):
        raise ValueError(f"data.validation = {size} leaves no training sample (of {len(data.train)})")
    order = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(seed))
    held, kept = order[:size].sort().values, order[size:].sort().values
    train = data.train
    return DataSet(Split(train.x[kept], train.y[kept]), data.test, data.classes, Split(train.x[held], train.y[held]))


def subset(split: Split, size: int | None, generator: torch.Generator, what: str) -> Split:
    """`size` samples drawn without replacement (all, in order, when size is None)."""
    if size is None:
        return split
    if size > len(split):
        raise ValueError(f"{what} = {size} exceeds the {len(split)} samples available")
    index = torch.randperm(len(split), generator=generator)[:size].sort().values
    return Split(split.x[index], split.y[index])


def make_data_set(
    name: str,
    *,
    num_train: int | None,
    num_test: int | None,
    seed: int,
    validation: int = 0,
    standardized: bool = True,
    root: Path = Path("datasets"),
    path: Path | None = None,
    checksums: bool = True,
    download: bool = True,
) -> DataSet:
    """Build the data set called `name` (one of DATA_SETS).

    mnist1d is generated with exactly `num_train` + `validation` / `num_test` samples from `seed`. The
    others are loaded (images scaled to [0, 1]); `num_train` + `validation` / `num_test` then draw a
    seeded random subset, None keeps every sample. `validation` of those training samples are then held
    out (`hold_out`, from `seed`), so `num_train` is what training sees. `standardized` applies
    `standardize` with the training samples' statistics. `path` is the file for name 'npz'.
    """
    if name == "mnist1d":
        if num_train is None or num_test is None:
            raise ValueError("mnist1d needs data.num_train and data.num_test (it is generated)")
        data = make_mnist1d(num_train + validation, num_test, seed)
    else:
        if name == "npz":
            if path is None:
                raise ValueError("data.name npz needs data.path (an npz file)")
            raw = load_npz(path)
        elif name in MNIST_LIKE or name in CIFAR:
            raw = load_image_set(name, root, checksums=checksums, download=download)
        else:
            raise ValueError(f"unknown data set {name!r}; known: {', '.join(DATA_SETS)}")
        wanted = "data.num_train + data.validation" if validation else "data.num_train"
        data = _from_raw(raw, None if num_train is None else num_train + validation, num_test, seed, wanted)
    data = hold_out(data, validation, seed)
    return standardize(data) if standardized else data


def _from_raw(raw: RawData, num_train: int | None, num_test: int | None, seed: int, wanted: str = "data.num_train") -> DataSet:
    generator = torch.Generator().manual_seed(seed)
    train = subset(Split(raw.x_train, raw.y_train), num_train, generator, wanted)
    test = subset(Split(raw.x_test, raw.y_test), num_test, generator, "data.num_test")
    return DataSet(train, test, raw.num_classes)


def to_arrays(data: DataSet) -> dict[str, np.ndarray]:
    """The arrays to save (npz keys x_train, y_train, x_test, y_test, num_classes, and x_val, y_val when
    there is a validation split)."""
    validation = {} if data.validation is None else {"x_val": data.validation.x.numpy(), "y_val": data.validation.y.numpy()}
    return {
        "x_train": data.train.x.numpy(),
        "y_train": data.train.y.numpy(),
        "x_test": data.test.x.numpy(),
        "y_test": data.test.y.numpy(),
        **validation,
        "num_classes": np.asarray(data.num_classes),
    }


def _split(arrays, name: str) -> Split:
    return Split(torch.as_tensor(arrays[f"x_{name}"]), torch.as_tensor(arrays[f"y_{name}"]).long())


def from_arrays(arrays) -> DataSet:
    """Inverse of `to_arrays` (accepts an open npz file or a dict)."""
    return DataSet(
        _split(arrays, "train"), _split(arrays, "test"), int(arrays["num_classes"]) if "num_classes" in arrays else 0,
        _split(arrays, "val") if "x_val" in arrays else None,
    )


def tuning_from_arrays(arrays) -> DataSet:
    """What a hyperparameter search may see: the training split, and the validation split in the test
    split's place (training code evaluates `test` as its held-out split). The test arrays are not read (an
    npz file reads an array only when it is asked for). KeyError when there is no validation split."""
    return DataSet(_split(arrays, "train"), _split(arrays, "val"), int(arrays["num_classes"]) if "num_classes" in arrays else 0)


def training_subset(split: Split, samples: int | None, seed: int) -> Split:
    """`samples` training samples drawn without replacement from `seed` (all when None or larger)."""
    if samples is None or samples >= len(split):
        return split
    index = torch.randperm(len(split), generator=torch.Generator().manual_seed(seed))[:samples].sort().values
    return Split(split.x[index.to(split.x.device)], split.y[index.to(split.y.device)])

