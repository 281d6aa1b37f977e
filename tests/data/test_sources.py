"""lbgap.data.sources: real data sets read by torchvision's own parsers from files in their exact on-disk formats."""

from __future__ import annotations

import numpy as np
import pytest
import torch


# ---------------------------------------------------------------------------------------------------
# Real data sets through torchvision, from tiny fake files in their exact on-disk formats
# ---------------------------------------------------------------------------------------------------
from pathlib import Path  # noqa: E402

from torchvision import datasets  # noqa: E402

from lbgap.data.sources import DataUnavailable, load_image_set, load_npz  # noqa: E402


@pytest.mark.parametrize(("name", "cls"), [("mnist", datasets.MNIST), ("fashion-mnist", datasets.FashionMNIST)])
def test_mnist_like_reads_gzipped_idx_from_the_root(tmp_path, name, cls, fakes):
    arrays = fakes.mnist_arrays(30, 12)
    fakes.write_mnist(tmp_path, arrays, gzipped=True)  # as Debian ships them: .gz files in one folder
    raw = load_image_set(name, tmp_path, download=False)
    assert raw.x_train.shape == (30, 1, 28, 28) and raw.x_test.shape == (12, 1, 28, 28)
    assert raw.num_classes == 10 and raw.x_train.dtype == torch.float32
    np.testing.assert_array_equal((raw.x_train[:, 0] * 255).round().byte().numpy(), arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(raw.y_test.numpy(), arrays["t10k-labels-idx1-ubyte"])
    assert (tmp_path / cls.__name__ / "raw" / "train-images-idx3-ubyte").is_file(), "unpacked where torchvision looks"


def test_mnist_missing_files_are_one_clear_error(tmp_path):
    with pytest.raises(DataUnavailable, match=r"MNIST: missing train-images-idx3-ubyte.*download is off"):
        load_image_set("mnist", tmp_path, download=False)


@pytest.mark.parametrize("cls", [datasets.CIFAR10, datasets.CIFAR100])
def test_cifar_pickles_read_by_torchvision_with_checksums_off(tmp_path, cls, fakes):
    written = fakes.write_cifar(tmp_path, cls, per_batch=4)
    name = "cifar100" if cls is datasets.CIFAR100 else "cifar10"
    with pytest.raises(DataUnavailable, match="MD5 differs.*data.checksums: false"):
        load_image_set(name, tmp_path, checksums=True, download=False)  # torchvision's check is on by default
    raw = load_image_set(name, tmp_path, checksums=False, download=False)
    assert raw.x_train.shape == (4 * len(cls.train_list), 3, 32, 32) and raw.x_test.shape == (4, 3, 32, 32)
    assert raw.num_classes == (100 if cls is datasets.CIFAR100 else 10)
    np.testing.assert_array_equal((raw.x_train * 255).round().byte().permute(0, 2, 3, 1).numpy(), written["train_x"])
    np.testing.assert_array_equal(raw.y_train.numpy(), written["train_y"])


def test_npz_bring_your_own_and_its_errors(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "timit_like.npz"
    np.savez(path, x_train=rng.normal(size=(20, 360)), y_train=np.arange(20) % 7,
             x_test=rng.normal(size=(5, 360)), y_test=np.arange(5))
    raw = load_npz(path)
    assert raw.x_train.shape == (20, 360) and raw.x_train.dtype == torch.float32 and raw.num_classes == 7
    np.savez(tmp_path / "bad.npz", x_train=np.zeros((3, 2)), y_train=np.zeros(3, dtype=int), x_test=np.zeros((1, 2)))
    with pytest.raises(DataUnavailable, match="missing arrays y_test"):
        load_npz(tmp_path / "bad.npz")
    with pytest.raises(DataUnavailable, match="not found"):
        load_npz(tmp_path / "nothing.npz")


DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_debian_fashion_mnist_files_are_found_without_network(tmp_path):
    raw = load_image_set("fashion-mnist", tmp_path, download=False)
    assert raw.x_train.shape == (60000, 1, 28, 28) and raw.x_test.shape == (10000, 1, 28, 28)
    assert raw.num_classes == 10 and set(raw.y_train.unique().tolist()) == set(range(10))
