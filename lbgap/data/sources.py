"""Where real data comes from: MNIST, Fashion-MNIST and CIFAR-10/100 through torchvision, or an npz file.

Every loader returns raw tensors: images (N, C, H, W) float32 scaled to [0, 1], labels (N,) int64,
and the data set's class count. Preprocessing beyond the scaling (standardization, subsets) belongs
to `lbgap.data`.

Local copies come first, the network last:
- MNIST / Fashion-MNIST: torchvision reads the uncompressed IDX files in `<root>/<Class>/raw/`. Missing
  ones are filled from gzipped (or plain) IDX files found in that folder, in `root` itself or in a
  system folder (Debian's `dataset-fashion-mnist` installs `/usr/share/datasets/fashion-mnist/`).
- CIFAR: torchvision reads `<root>/cifar-10-batches-py/` or `<root>/cifar-100-python/` (the python
  pickles) and checks every file's MD5 first. `checksums=False` skips only that check and keeps
  torchvision's parser (for tiny test files, or re-packed copies).
- Only then, with `download=True`, torchvision downloads into `root`. When that fails too, the error
  names the files we looked for.
"""

from __future__ import annotations

import gzip
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

# data set name → torchvision class name (imported on use: torchvision takes seconds to import)
MNIST_LIKE = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
CIFAR = {"cifar10": "CIFAR10", "cifar100": "CIFAR100"}
SYSTEM_COPIES = {"fashion-mnist": (Path("/usr/share/datasets/fashion-mnist"),)}
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


class DataUnavailable(Exception):
    """The data set is neither on disk nor downloadable; the message says what was expected where."""


@dataclass(frozen=True)
class RawData:
    x_train: torch.Tensor  # (N, *shape) float32
    y_train: torch.Tensor  # (N,) int64
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int


def load_image_set(name: str, root: Path, *, checksums: bool = True, download: bool = True) -> RawData:
    """One of MNIST_LIKE or CIFAR, scaled to [0, 1]."""
    from torchvision import datasets

    if name in MNIST_LIKE:
        return _mnist_like(getattr(datasets, MNIST_LIKE[name]), root, SYSTEM_COPIES.get(name, ()), download)
    if name in CIFAR:
        return _cifar(getattr(datasets, CIFAR[name]), root, checksums, download)
    raise ValueError(f"unknown image data set {name!r}; known: {', '.join([*MNIST_LIKE, *CIFAR])}")


def _scaled(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) → float32 in [0, 1] (torchvision's to_dtype with scale, i.e. x / 255)."""
    from torchvision.transforms.v2 import functional as TF

    return TF.to_dtype(images, torch.float32, scale=True)


def _mnist_like(cls: type, root: Path, system: tuple[Path, ...], download: bool) -> RawData:
    raw = root / cls.__name__ / "raw"
    expected = [name.removesuffix(".gz") for name, _ in cls.resources]
    for plain in expected:
        if not (raw / plain).exists():
            _fill_from_local_copy(raw / plain, [raw, root, *system])
    if not all((raw / plain).exists() for plain in expected) and not download:
        missing = [p for p in expected if not (raw / p).exists()]
        where = ", ".join(str(p) for p in [raw, root, *system])
        raise DataUnavailable(f"{cls.__name__}: missing {', '.join(missing)} (.gz or plain) in {where}; download is off")
    try:
        train, test = cls(str(root), train=True, download=download), cls(str(root), train=False, download=download)
    except (RuntimeError, OSError) as error:
        raise DataUnavailable(
            f"{cls.__name__}: no local copy of {', '.join(expected)} (.gz or plain) in "
            f"{', '.join(str(p) for p in [raw, root, *system])} and the download failed ({_first_line(error)})"
        ) from None
    return RawData(
        _scaled(train.data.unsqueeze(1)), train.targets.long(), _scaled(test.data.unsqueeze(1)), test.targets.long(),
        len(train.classes),
    )


def _fill_from_local_copy(target: Path, folders: list[Path]) -> None:
    """Copy `target.name` (or gunzip `target.name + '.gz'`) from the first folder that has it."""
    for folder in folders:
        plain, packed = folder / target.name, folder / f"{target.name}.gz"
        if plain.is_file() and plain != target:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(plain, target)
            return
        if packed.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            with gzip.open(packed, "rb") as source, tmp.open("wb") as sink:
                shutil.copyfileobj(source, sink)
            tmp.replace(target)
            return


def _unverified(cls: type) -> type:
    """`cls` with every expected MD5 set to None: torchvision then checks that each file exists only."""
    return type(
        f"Unverified{cls.__name__}",
        (cls,),
        {
            "train_list": [[name, None] for name, _ in cls.train_list],
            "test_list": [[name, None] for name, _ in cls.test_list],
            "meta": {**cls.meta, "md5": None},
        },
    )


def _cifar(cls: type, root: Path, checksums: bool, download: bool) -> RawData:
    loader = cls if checksums else _unverified(cls)
    files = [name for name, _ in cls.train_list + cls.test_list] + [cls.meta["filename"]]
    try:
        train, test = loader(str(root), train=True, download=download), loader(str(root), train=False, download=download)
    except (RuntimeError, OSError) as error:
        hint = ""
        if checksums and all((root / cls.base_folder / f).is_file() for f in files):
            hint = " (the files are there but their MD5 differs from torchvision's; data.checksums: false skips the check)"
        raise DataUnavailable(
            f"{cls.__name__}: expected {', '.join(files)} in {root / cls.base_folder}"
            f"{'' if download else ' (download is off)'}: {_first_line(error)}{hint}"
        ) from None

    def images(split) -> torch.Tensor:
        return _scaled(torch.from_numpy(np.ascontiguousarray(split.data)).permute(0, 3, 1, 2))  # NHWC → NCHW

    return RawData(
        images(train), torch.as_tensor(train.targets).long(), images(test), torch.as_tensor(test.targets).long(),
        len(train.classes),
    )


def load_npz(path: Path) -> RawData:
    """Bring-your-own data: an npz with x_train (N, ...), y_train (N,), x_test (M, ...), y_test (M,).

    Inputs are any real dtype (converted to float32, not rescaled); labels are integers 0 .. K−1.
    TIMIT features for F2, for example: x (N, 360) float, y (N,) in 0 .. 1972.
    """
    if not path.is_file():
        raise DataUnavailable(f"npz data file not found: {path} (keys {', '.join(NPZ_KEYS)})")
    with np.load(path) as arrays:
        missing = [k for k in NPZ_KEYS if k not in arrays]
        if missing:
            raise DataUnavailable(f"{path}: missing arrays {', '.join(missing)} (needs {', '.join(NPZ_KEYS)})")
        loaded = {k: arrays[k] for k in NPZ_KEYS}
    for split in ("train", "test"):
        x, y = loaded[f"x_{split}"], loaded[f"y_{split}"]
        if y.ndim != 1 or len(x) != len(y):
            raise DataUnavailable(f"{path}: y_{split} must be (N,) with N = len(x_{split}) (got {y.shape} vs {x.shape})")
        if not np.issubdtype(y.dtype, np.integer) or (len(y) and y.min() < 0):
            raise DataUnavailable(f"{path}: y_{split} must hold integer labels >= 0 (got dtype {y.dtype})")
    if loaded["x_train"].shape[1:] != loaded["x_test"].shape[1:]:
        raise DataUnavailable(f"{path}: x_train and x_test sample shapes differ")
    labels = np.concatenate([loaded["y_train"], loaded["y_test"]])
    return RawData(
        torch.as_tensor(loaded["x_train"], dtype=torch.float32), torch.as_tensor(loaded["y_train"]).long(),
        torch.as_tensor(loaded["x_test"], dtype=torch.float32), torch.as_tensor(loaded["y_test"]).long(),
        int(labels.max()) + 1,
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
