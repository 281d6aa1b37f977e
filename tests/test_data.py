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
