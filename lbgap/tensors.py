"""Helpers over lists of tensors (a network's parameters), in the style of PyHessian's utilities.

A network's parameters are kept as a dict name → tensor, the form `torch.func.functional_call` takes.
Where scipy needs one flat vector we flatten once; `unflatten` returns *views* into a flat vector,
so a point x + A·y is built with one allocation and no per-parameter copies.
"""

from __future__ import annotations

import torch
from torch import nn

Params = dict[str, torch.Tensor]


def parameters_of(model: nn.Module) -> Params:
    """The model's trainable parameters, detached (name → tensor, shared storage)."""
    return {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}


def flatten(params: Params) -> torch.Tensor:
    """(n,) concatenation of all parameters in the dict's order."""
    return torch.cat([t.reshape(-1) for t in params.values()])


def unflatten(flat: torch.Tensor, like: Params) -> Params:
    """Views of `flat` (n,) shaped like each tensor of `like`; gradients flow back to `flat`."""
    out: Params = {}
    offset = 0
    for name, t in like.items():
        out[name] = flat[offset : offset + t.numel()].view_as(t)
        offset += t.numel()
    if offset != flat.numel():
        raise ValueError(f"flat vector has {flat.numel()} entries, parameters need {offset}")
    return out


def distance(a: Params, b: Params) -> float:
    """Euclidean distance ‖a − b‖ over the tensors of `a` (b may hold more, e.g. a whole state_dict)."""
    return torch.linalg.vector_norm(flatten(a) - flatten({name: b[name] for name in a})).item()

