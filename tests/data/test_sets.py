"""lbgap.data.sets: the embedded MNIST-1D, preprocessing, subsets and the npz round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lbgap.data import DataSet, Split, from_arrays, make_data_set, to_arrays, tuning_from_arrays
from lbgap.data.sets import hold_out, standardize


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


def test_validation_is_held_out_of_the_training_samples_disjoint_seeded_and_standardized_with_training_statistics():
    whole = make_data_set("mnist1d", num_train=300, num_test=50, seed=2, standardized=False)  # the 300 generated samples
    data = make_data_set("mnist1d", num_train=250, num_test=50, seed=2, validation=50, standardized=False)
    assert len(data.train) == 250 and len(data.validation) == 50 and torch.equal(data.test.x, whole.test.x)
    rows = {tuple(x.tolist()) for x in whole.train.x}
    train_rows, val_rows = ({tuple(x.tolist()) for x in split.x} for split in (data.train, data.validation))
    assert train_rows | val_rows == rows and not train_rows & val_rows  # a partition of what was generated
    again = make_data_set("mnist1d", num_train=250, num_test=50, seed=2, validation=50, standardized=False)
    assert torch.equal(again.validation.x, data.validation.x)
    scaled = make_data_set("mnist1d", num_train=250, num_test=50, seed=2, validation=50)
    mean, std = data.train.x.mean(0), data.train.x.std(0)
    torch.testing.assert_close(scaled.validation.x, (data.validation.x - mean) / std, atol=1e-5, rtol=1e-5)
    tuning = tuning_from_arrays(to_arrays(scaled))
    assert torch.equal(tuning.test.x, scaled.validation.x) and tuning.validation is None
    with pytest.raises(ValueError, match="leaves no training sample"):
        hold_out(data, len(data.train), seed=0)


def test_tuning_arrays_never_read_the_test_split():
    class Guarded(dict):  # an npz file reads an array only when asked for it
        def __getitem__(self, key):
            assert not key.endswith("_test"), f"read {key}"
            return super().__getitem__(key)

    data = make_data_set("mnist1d", num_train=40, num_test=10, seed=0, validation=10)
    tuning = tuning_from_arrays(Guarded(to_arrays(data)))
    assert torch.equal(tuning.test.y, data.validation.y) and len(tuning.train) == 40
    with pytest.raises(KeyError):
        tuning_from_arrays(Guarded({k: v for k, v in to_arrays(data).items() if not k.endswith("_val")}))


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


def test_real_data_subsets_are_seeded_and_images_standardized_per_channel(tmp_path, fakes):
    fakes.write_cifar(tmp_path, datasets.CIFAR10, per_batch=6)
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


