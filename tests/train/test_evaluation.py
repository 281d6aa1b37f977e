"""lbgap.train.evaluation: chunked whole-split loss and gradient."""

from __future__ import annotations

import pytest
import torch

from lbgap.train.evaluation import loss_and_grad, loss_at
from lbgap.models import build_model
from lbgap.tensors import flatten, parameters_of


def test_chunked_loss_and_gradient_match_one_pass_autograd(tiny_data):
    model = build_model("mlp", input_shape=(6,), num_classes=3, seed=1, options={"width": 8, "depth": 1}).eval()
    like = parameters_of(model)
    w = flatten(like) + 0.01
    loss, grad = loss_and_grad(model, w, like, tiny_data.train, chunk=25)  # 96 samples: uneven chunks
    w_ref = w.clone().requires_grad_(True)
    from torch.func import functional_call
    from lbgap.tensors import unflatten

    logits = functional_call(model, unflatten(w_ref, like), (tiny_data.train.x,))
    ref = torch.nn.functional.cross_entropy(logits, tiny_data.train.y)
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-6)
    torch.testing.assert_close(grad, w_ref.grad, rtol=1e-5, atol=1e-7)


def test_the_loss_alone_is_the_same_number_as_with_its_gradient(tiny_data):
    model = build_model("mlp", input_shape=(6,), num_classes=3, seed=2, options={"width": 8, "depth": 1}).eval()
    like = parameters_of(model)
    w = flatten(like) - 0.02
    assert loss_at(model, w, like, tiny_data.train, chunk=25) == loss_and_grad(model, w, like, tiny_data.train, chunk=25)[0]
