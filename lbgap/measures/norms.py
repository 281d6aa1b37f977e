"""Norm-based measures of a trained network (Jiang et al. 2020's strongest families), over its Linear and
Conv layers' weight matrices W_1 … W_d in order (biases and BatchNorm left out, as their code does):

- `log_spectral_product`: Σ log ‖W_i‖₂ — the log of the product of spectral norms (a convolution's
  kernel reshaped to (out, in·k·k), an approximation of the operator's norm);
- `log_frobenius_product`: Σ log ‖W_i‖_F;
- `path_norm`: √(Σ over input-output paths of the product of the squared weights along the path)
  (Neyshabur et al. 2015), computed as the network with every weight squared, biases zero and BatchNorm
  skipped, applied to an input of ones: with nonnegative weights every ReLU passes its input, so the output
  sums the paths. Defined here for fully connected networks only.
"""

from __future__ import annotations

import math

import torch
from torch import nn

LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d)


def weight_matrices(model: nn.Module) -> list[torch.Tensor]:
    """Each Linear/Conv layer's weight as a matrix (out, fan-in), in module order."""
    return [m.weight.detach().reshape(m.weight.shape[0], -1) for m in model.modules() if isinstance(m, LAYERS)]


def log_spectral_product(model: nn.Module) -> float:
    return float(sum(math.log(float(torch.linalg.matrix_norm(w.double(), ord=2))) for w in weight_matrices(model)))


def log_frobenius_product(model: nn.Module) -> float:
    return float(sum(math.log(float(torch.linalg.matrix_norm(w.double()))) for w in weight_matrices(model)))


def path_norm(model: nn.Module) -> float:
    """√(sum over paths of Π w²) for a network of Flatten, Linear, BatchNorm, ReLU and Dropout layers in
    order (BatchNorm and Dropout skipped); anything else is refused."""
    layers = [m for m in model.modules() if not list(m.children())]
    if any(isinstance(m, (nn.Conv1d, nn.Conv2d)) for m in layers) or not any(isinstance(m, nn.Linear) for m in layers):
        raise ValueError("path_norm is defined here for fully connected networks")
    h = None
    for layer in layers:
        if isinstance(layer, nn.Linear):
            squared = layer.weight.detach().double() ** 2
            h = squared.sum(1) if h is None else squared @ h  # a ones input: the first layer sums its rows
        elif not isinstance(layer, (nn.Flatten, nn.ReLU, nn.Dropout, nn.modules.batchnorm._BatchNorm)):
            raise ValueError(f"path_norm cannot pass a {type(layer).__name__} layer")
    return float(h.sum().sqrt())


def norm_measures(model: nn.Module) -> dict[str, float]:
    """The three measures (oriented: larger = more capacity, as Jiang et al. rank them)."""
    return {"log_spectral_product": log_spectral_product(model), "log_frobenius_product": log_frobenius_product(model),
            "path_norm": path_norm(model)}
