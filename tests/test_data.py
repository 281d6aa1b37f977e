"""The embedded MNIST-1D data: generated locally, reproducible, standardized on the training set."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lbgap.data import DataSet, Split, from_arrays, make_data_set, standardize, to_arrays


def test_mnist1d_shapes_classes_and_standardization():
    data = make_data_set("mnist1d", num_train=400, num_test=100, seed=0)
    assert data.train.x.shape == (400, 40) and data.test.x.shape == (100, 40)
    assert data.train.x.dtype == torch.float32 and data.train.y.dtype == torch.int64
    assert data.num_classes == 10 and data.input_shape == (40,)
    torch.testing.assert_close(data.train.x.mean(0), torch.zeros(40), atol=1e-5, rtol=0)
    torch.testing.assert_close(data.train.x.std(0), torch.ones(40), atol=1e-4, rtol=0)


def test_mnist1d_is_reproducible_and_leaves_numpy_rng_alone():
    np.random.seed(11)
    expected_next = np.random.rand()
    np.random.seed(11)
    a = make_data_set("mnist1d", num_train=80, num_test=20, seed=3)
    assert np.random.rand() == expected_next
    b = make_data_set("mnist1d", num_train=80, num_test=20, seed=3)
    c = make_data_set("mnist1d", num_train=80, num_test=20, seed=4)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)
    assert not torch.equal(a.train.x, c.train.x)


def test_standardize_uses_training_statistics_only():
    train = Split(torch.tensor([[0.0], [2.0]]), torch.tensor([0, 1]))
    test = Split(torch.tensor([[100.0]]), torch.tensor([0]))
    out = standardize(DataSet(train, test))
    std = torch.tensor([0.0, 2.0]).std()
    torch.testing.assert_close(out.test.x, (torch.tensor([[100.0]]) - 1.0) / std)


def test_arrays_round_trip():
    data = make_data_set("mnist1d", num_train=40, num_test=10, seed=0)
    again = from_arrays(to_arrays(data))
    assert torch.equal(again.train.x, data.train.x) and torch.equal(again.test.y, data.test.y)


def test_unknown_data_set_and_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="unknown data set 'cifar7'"):
        make_data_set("cifar7", num_train=10, num_test=10, seed=0)
    with pytest.raises(ValueError, match="multiple of 10"):
        make_data_set("mnist1d", num_train=15, num_test=10, seed=0)


# ---------------------------------------------------------------------------------------------------
# Real data sets through torchvision, from tiny fake files in their exact on-disk formats
# ---------------------------------------------------------------------------------------------------
from pathlib import Path  # noqa: E402

from torchvision import datasets  # noqa: E402

from lbgap.data.sources import DataUnavailable, load_image_set, load_npz  # noqa: E402
from tests.fakes import fake_mnist_arrays, write_fake_cifar, write_fake_mnist  # noqa: E402


@pytest.mark.parametrize(("name", "cls"), [("mnist", datasets.MNIST), ("fashion-mnist", datasets.FashionMNIST)])
def test_mnist_like_reads_gzipped_idx_from_the_root(tmp_path, name, cls):
    arrays = fake_mnist_arrays(30, 12)
    write_fake_mnist(tmp_path, arrays, gzipped=True)  # as Debian ships them: .gz files in one folder
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
def test_cifar_pickles_read_by_torchvision_with_checksums_off(tmp_path, cls):
    written = write_fake_cifar(tmp_path, cls, per_batch=4)
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


def test_real_data_subsets_are_seeded_and_images_standardized_per_channel(tmp_path):
    write_fake_cifar(tmp_path, datasets.CIFAR10, per_batch=6)
    a = make_data_set("cifar10", num_train=10, num_test=None, seed=1, root=tmp_path, checksums=False, download=False)
    b = make_data_set("cifar10", num_train=10, num_test=None, seed=1, root=tmp_path, checksums=False, download=False)
    assert torch.equal(a.train.x, b.train.x) and len(a.test) == 6 and a.num_classes == 10
    means = a.train.x.mean(dim=(0, 2, 3))
    torch.testing.assert_close(means, torch.zeros(3), atol=1e-5, rtol=0)
    raw = make_data_set("cifar10", num_train=None, num_test=None, seed=0, standardized=False, root=tmp_path,
                        checksums=False, download=False)
    assert len(raw.train) == 30 and 0 <= raw.train.x.min() and raw.train.x.max() <= 1
    with pytest.raises(ValueError, match="data.num_train = 31 exceeds the 30 samples"):
        make_data_set("cifar10", num_train=31, num_test=None, seed=0, root=tmp_path, checksums=False, download=False)


DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_debian_fashion_mnist_files_are_found_without_network(tmp_path):
    raw = load_image_set("fashion-mnist", tmp_path, download=False)
    assert raw.x_train.shape == (60000, 1, 28, 28) and raw.x_test.shape == (10000, 1, 28, 28)
    assert raw.num_classes == 10 and set(raw.y_train.unique().tolist()) == set(range(10))
