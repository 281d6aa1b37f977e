"""Flat-vector helpers: views, not copies, and the distance travelled from x0."""

from __future__ import annotations

import math

import pytest
import torch

from lbgap.tensors import distance, flatten, unflatten


def test_unflatten_returns_views_of_the_flat_vector():
    like = {"w": torch.zeros(2, 3), "b": torch.zeros(3)}
    flat = torch.arange(9.0)
    views = unflatten(flat, like)
    assert views["w"].shape == (2, 3) and views["b"].tolist() == [6.0, 7.0, 8.0]
    flat[0] = 100.0
    assert views["w"][0, 0] == 100.0  # shares storage
    assert torch.equal(flatten(views), flat)


def test_unflatten_refuses_a_wrong_length():
    with pytest.raises(ValueError, match="flat vector has 4 entries, parameters need 3"):
        unflatten(torch.zeros(4), {"b": torch.zeros(3)})


def test_distance_uses_only_the_tensors_of_the_first_argument():
    a = {"w": torch.tensor([3.0, 0.0]), "b": torch.tensor([0.0])}
    b = {"w": torch.tensor([0.0, 0.0]), "b": torch.tensor([4.0]), "running_mean": torch.tensor([1e6])}
    assert distance(a, b) == pytest.approx(5.0)
    assert distance(a, a) == 0.0
    assert math.isclose(distance({"w": torch.tensor([1.0, 1.0])}, b), math.sqrt(2), rel_tol=1e-6)
