"""Networks by name.

A small registry in the style of torchvision's `_api.py`: builders are registered under a name and
called keyword-only with the input shape and class count that the data set dictates, plus the
network's own options from `params.yaml`. The paper's image networks (C1-C4) will join here.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

Builder = Callable[..., nn.Module]
_REGISTRY: dict[str, Builder] = {}


def register_model(name: str) -> Callable[[Builder], Builder]:
    def decorate(builder: Builder) -> Builder:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        _REGISTRY[name] = builder
        return builder

    return decorate


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def get_model(name: str, *, input_shape: tuple[int, ...], num_classes: int, **options) -> nn.Module:
    """Build the registered network `name`; raises ValueError naming the known models."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(list_models())}")
    return _REGISTRY[name](input_shape=input_shape, num_classes=num_classes, **options)


class MLP(nn.Module):
    """Fully connected net of the paper's F1 shape: depth × [Linear → BatchNorm1d → ReLU] → Linear.

    Input (N, *input_shape) is flattened to (N, prod(input_shape)); output (N, num_classes) logits.
    """

    def __init__(self, in_features: int, num_classes: int, width: int, depth: int):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        features = in_features
        for _ in range(depth):
            layers += [nn.Linear(features, width), nn.BatchNorm1d(width), nn.ReLU()]
            features = width
        layers.append(nn.Linear(features, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@register_model("mlp")
def mlp(*, input_shape: tuple[int, ...], num_classes: int, width: int = 256, depth: int = 3) -> MLP:
    if width < 1 or depth < 0:
        raise ValueError(f"mlp needs width >= 1 and depth >= 0 (got width={width}, depth={depth})")
    return MLP(math.prod(input_shape), num_classes, width, depth)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def build_model(
    name: str, *, input_shape: tuple[int, ...], num_classes: int, seed: int, options: dict | None = None
) -> nn.Module:
    """`get_model` with its random initial point x0 drawn from `seed`, leaving the global RNG as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return get_model(name, input_shape=input_shape, num_classes=num_classes, **(options or {}))
