"""Loss and accuracy of a network over a whole split, in chunks so memory stays bounded."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

from lbgap.data import Split
from lbgap.tensors import Params, unflatten


@dataclass(frozen=True)
class Evaluation:
    loss: float  # mean cross-entropy, nats per sample
    accuracy: float  # fraction in [0, 1]


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, chunk: int) -> Evaluation:
    """Mean cross-entropy and accuracy of `model` in eval mode (BN running statistics) over `split`.

    The model's train/eval mode is restored afterwards.
    """
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    for start in range(0, len(split), chunk):
        x, y = split.x[start : start + chunk], split.y[start : start + chunk]
        logits = model(x)
        total_loss += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(dim=1) == y).sum().item()
    model.train(was_training)
    return Evaluation(total_loss / len(split), correct / len(split))


@torch.no_grad()
def loss_at(model: nn.Module, flat: torch.Tensor, like: Params, split: Split, chunk: int) -> float:
    """f(w) alone, with the arithmetic of `loss_and_grad` (same chunks, same sum), so the two agree
    bit for bit — one forward pass where no gradient is needed."""
    named = unflatten(flat.detach(), like)
    total = 0.0
    for start in range(0, len(split), chunk):
        x, y = split.x[start : start + chunk], split.y[start : start + chunk]
        total += (F.cross_entropy(functional_call(model, named, (x,)), y, reduction="sum") / len(split)).item()
    return total


def loss_and_grad(model: nn.Module, flat: torch.Tensor, like: Params, split: Split, chunk: int) -> tuple[float, torch.Tensor]:
    """f(w) = mean cross-entropy over all of `split` with parameters w = `flat` (n,), and ∇f(w) (n,).

    `flat` is laid out as `tensors.flatten(like)`. The model runs with views of `flat` substituted for
    its own parameters (functional_call: no model copies) and must already be in the mode the caller
    wants (eval for the sharpness metric). Gradients are summed chunk by chunk, so peak memory is that
    of one chunk.
    """
    w = flat.detach().requires_grad_(True)
    named = unflatten(w, like)
    total = 0.0
    for start in range(0, len(split), chunk):
        x, y = split.x[start : start + chunk], split.y[start : start + chunk]
        loss = F.cross_entropy(functional_call(model, named, (x,)), y, reduction="sum") / len(split)
        loss.backward()  # accumulates into w.grad
        total += loss.item()
    return total, w.grad
