"""Data sets as in-memory tensors.

The embedded default is MNIST-1D (Greydanus 2020): 1-D signals of length 40, ten classes, generated
locally from ten templates by padding, scaling, translation, correlated noise and shear. We call the
package's generator (`mnist1d.data.make_dataset`), never its downloader, so no network is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

DATA_SETS = ("mnist1d",)


@dataclass(frozen=True)
class Split:
    """One split: inputs `x` (N, *feature_shape) float32 and labels `y` (N,) int64."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class DataSet:
    train: Split
    test: Split

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])

    @property
    def num_classes(self) -> int:
        return int(max(self.train.y.max(), self.test.y.max())) + 1


def make_mnist1d(num_train: int, num_test: int, seed: int) -> DataSet:
    """Generate MNIST-1D with `num_train` + `num_test` samples from `seed`, standardized.

    mnist1d makes `num_samples // 10` samples per class and splits by `train_split`, so the total is
    rounded to a multiple of 10. The generator seeds numpy's global RNG itself; we save and restore
    that state so that calling this function leaves no trace on the caller's RNG.
    """
    from mnist1d.data import get_dataset_args, make_dataset

    total = num_train + num_test
    if total % 10:
        raise ValueError(f"data.num_train + data.num_test must be a multiple of 10 (got {total})")
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
    return standardize(DataSet(train, test))


def standardize(data: DataSet) -> DataSet:
    """Shift and scale every input feature to zero mean and unit variance on the *training* set.

    The test set is transformed with the training statistics, so nothing about it leaks into training.
    """
    mean = data.train.x.mean(dim=0, keepdim=True)
    std = data.train.x.std(dim=0, keepdim=True).clamp_min(1e-8)
    return DataSet(
        Split((data.train.x - mean) / std, data.train.y),
        Split((data.test.x - mean) / std, data.test.y),
    )


def make_data_set(name: str, *, num_train: int, num_test: int, seed: int) -> DataSet:
    """Build the data set called `name` (one of DATA_SETS)."""
    if name == "mnist1d":
        return make_mnist1d(num_train, num_test, seed)
    raise ValueError(f"unknown data set {name!r}; known: {', '.join(DATA_SETS)}")


def to_arrays(data: DataSet) -> dict[str, np.ndarray]:
    """The arrays to save (npz keys x_train, y_train, x_test, y_test)."""
    return {
        "x_train": data.train.x.numpy(),
        "y_train": data.train.y.numpy(),
        "x_test": data.test.x.numpy(),
        "y_test": data.test.y.numpy(),
    }


def from_arrays(arrays) -> DataSet:
    """Inverse of `to_arrays` (accepts an open npz file or a dict)."""
    return DataSet(
        Split(torch.as_tensor(arrays["x_train"]), torch.as_tensor(arrays["y_train"]).long()),
        Split(torch.as_tensor(arrays["x_test"]), torch.as_tensor(arrays["y_test"]).long()),
    )
