"""Networks by name.

A small registry in the style of torchvision's `_api.py`: builders are registered under a name and
called keyword-only with the input shape and class count that the data set dictates, plus the
network's own options from `params.yaml`.

The paper's six networks (Table 1; layer details from the authors' Keras code) are registered as
F1, F2 (fully connected) and C1/C3 (shallow convolutional), C2/C4 (VGG-16-like). C1 and C3 are one
architecture (as are C2 and C4): the paper's names differ only by data set (CIFAR-10 vs -100), and
here the class count always follows the data.

BatchNorm evaluation semantics (`batchnorm` in `build_model`): "running" is PyTorch's `eval()`
(normalize with running averages collected in training); "batch" normalizes with the statistics of
the batch being evaluated, in training and evaluation alike, as Keras-1 `BatchNormalization(mode=2)`
in the authors' code did. "batch" networks keep no running statistics at all.
"""

from __future__ import annotations

import inspect
import math
from typing import Callable, get_args

import torch
from torch import nn

from lbgap.params.sections import BatchNormMode, ModelName

Builder = Callable[..., nn.Module]
_REGISTRY: dict[str, Builder] = {}


def register_model(name: str) -> Callable[[Builder], Builder]:
    def decorate(builder: Builder) -> Builder:
        if name not in get_args(ModelName):  # params.yaml's vocabulary (lbgap.params.sections)
            raise ValueError(f"model {name!r} is not a ModelName of lbgap.params.sections; add it there first")
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        _REGISTRY[name] = builder
        return builder

    return decorate


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def model_options(name: str) -> tuple[str, ...]:
    """The options `models.<name>` may set: the builder's keyword arguments beyond input shape and classes."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(list_models())}")
    fixed = {"input_shape", "num_classes"}
    return tuple(key for key, p in inspect.signature(_REGISTRY[name]).parameters.items()
                 if key not in fixed and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))


def get_model(name: str, *, input_shape: tuple[int, ...], num_classes: int, **options) -> nn.Module:
    """Build the registered network `name`; raises ValueError naming the known models, or an option the
    network does not take (a builder with **kwargs takes any)."""
    unknown = sorted(set(options) - set(model_options(name)))  # model_options refuses an unknown name
    takes_any = any(p.kind == p.VAR_KEYWORD for p in inspect.signature(_REGISTRY[name]).parameters.values())
    if unknown and not takes_any:  # a clear message rather than the builder's TypeError
        raise ValueError(f"model {name!r} has no option {', '.join(unknown)}; its options: {', '.join(model_options(name)) or 'none'}")
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
def mlp(*, input_shape: tuple[int, ...], num_classes: int, width: int, depth: int) -> MLP:
    if width < 1 or depth < 0:
        raise ValueError(f"mlp needs width >= 1 and depth >= 0 (got width={width}, depth={depth})")
    return MLP(math.prod(input_shape), num_classes, width, depth)


def _flat_features(features: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Size of `features`' output for one input, by a forward pass in eval mode (no RNG used)."""
    was_training = features.training
    with torch.no_grad():
        size = features.eval()(torch.zeros(2, *input_shape)).flatten(1).shape[1]
    features.train(was_training)
    return size


def _image_shape(name: str, input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(input_shape) != 3:
        raise ValueError(f"{name} needs image inputs (channels, height, width), got input shape {input_shape}")
    return input_shape  # type: ignore[return-value]


def _classifier(in_features: int, hidden: list[int], num_classes: int, dropout: float) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(in_features, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout)]
        in_features = width
    return layers + [nn.Linear(in_features, num_classes)]


class ConvNet(nn.Module):
    """`features` (convolutions) → flatten → `classifier`; input (N, C, H, W), output (N, classes) logits."""

    def __init__(self, features: nn.Sequential, classifier: nn.Sequential):
        super().__init__()
        self.features, self.classifier = features, classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


def shallow_convnet(input_shape: tuple[int, ...], num_classes: int) -> ConvNet:
    """C1/C3 ("AlexNet-like"): 2 × [Conv 64 5×5 same → BN → ReLU → MaxPool 3×3 stride 2 same] →
    Linear 384 → BN → ReLU → Dropout 0.5 → Linear 192 → BN → ReLU → Dropout 0.5 → classes.
    Keras' "same" pooling pads only at the bottom/right; `ceil_mode=True` does exactly that."""
    channels, _, _ = _image_shape("C1/C3", input_shape)
    layers: list[nn.Module] = []
    for c_in in (channels, 64):
        layers += [nn.Conv2d(c_in, 64, 5, padding="same"), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True)]
    features = nn.Sequential(*layers)
    classifier = nn.Sequential(*_classifier(_flat_features(features, input_shape), [384, 192], num_classes, 0.5))
    return ConvNet(features, classifier)


VGG_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))


def deep_convnet(input_shape: tuple[int, ...], num_classes: int) -> ConvNet:
    """C2/C4 ("VGG-16-like"): 13 × [Conv 3×3 same → BN → ReLU] in blocks 2×64, 2×128, 3×256, 3×512,
    3×512, MaxPool 2×2 after each block; Dropout 0.3 after the net's first conv and 0.4 after every
    other conv that is not last in its block; then Dropout 0.5 → Linear 512 → BN → ReLU → Dropout 0.5
    → classes."""
    c_in, _, _ = _image_shape("C2/C4", input_shape)
    layers: list[nn.Module] = []
    for block, (width, convs) in enumerate(VGG_BLOCKS):
        for index in range(convs):
            layers += [nn.Conv2d(c_in, width, 3, padding="same"), nn.BatchNorm2d(width), nn.ReLU()]
            if index < convs - 1:
                layers.append(nn.Dropout(0.3 if block == index == 0 else 0.4))
            c_in = width
        layers.append(nn.MaxPool2d(2))
    features = nn.Sequential(*layers)
    classifier = nn.Sequential(nn.Dropout(0.5), *_classifier(_flat_features(features, input_shape), [512], num_classes, 0.5))
    return ConvNet(features, classifier)


@register_model("F1")
def f1(*, input_shape: tuple[int, ...], num_classes: int) -> MLP:
    """Paper F1 (MNIST): 784 → 5 × [Linear 512 → BN → ReLU] → 10; 1,462,794 parameters on MNIST."""
    return MLP(math.prod(input_shape), num_classes, width=512, depth=5)


@register_model("F2")
def f2(*, input_shape: tuple[int, ...], num_classes: int) -> MLP:
    """Paper F2 (TIMIT): 360 → 7 × [Linear 512 → BN → ReLU] → 1973; 2,780,085 parameters on TIMIT."""
    return MLP(math.prod(input_shape), num_classes, width=512, depth=7)


for _name in ("C1", "C3"):
    register_model(_name)(lambda *, input_shape, num_classes: shallow_convnet(input_shape, num_classes))
for _name in ("C2", "C4"):
    register_model(_name)(lambda *, input_shape, num_classes: deep_convnet(input_shape, num_classes))


BATCHNORM_MODES = get_args(BatchNormMode)


def use_batch_statistics(model: nn.Module) -> nn.Module:
    """Make every BatchNorm layer normalize with the current batch's statistics in eval mode too, and
    drop its running statistics (Keras-1 mode=2). In place; returns `model`."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.track_running_stats = False
            module.running_mean = module.running_var = module.num_batches_tracked = None
    return model


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def build_model(
    name: str,
    *,
    input_shape: tuple[int, ...],
    num_classes: int,
    seed: int,
    options: dict | None = None,
    batchnorm: str = "running",
) -> nn.Module:
    """`get_model` with its random initial point x0 drawn from `seed`, leaving the global RNG as it was.

    The network is built on the CPU (so x0 does not depend on the device); move it afterwards.
    `batchnorm` is one of BATCHNORM_MODES (see the module docstring)."""
    if batchnorm not in BATCHNORM_MODES:
        raise ValueError(f"batchnorm must be one of {', '.join(BATCHNORM_MODES)} (got {batchnorm!r})")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = get_model(name, input_shape=input_shape, num_classes=num_classes, **(options or {}))
    return use_batch_statistics(model) if batchnorm == "batch" else model
