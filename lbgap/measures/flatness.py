"""Flatness measures that answer the sharpness metric's critics (beyond the paper).

- Adaptive sharpness (in the sense of ASAM, Kwon et al. 2021): the paper's Metric 2.1 with the box
  |δᵢ| ≤ ε(|wᵢ| + η) instead of ε(|wᵢ| + 1). With η = 0 it is invariant to the rescaling below; the
  paper's box is the case η = 1. We scale every parameter (ASAM scales weights only); coordinates with
  wᵢ = 0 get a zero-width side when η = 0 and stay fixed.
- Dinh et al. (2017) rescaling: for a block BN → ReLU (→ pooling/dropout/flatten) → Linear/Conv,
  multiplying BN's γ and β by a > 0 and the next layer's weight by 1/a leaves the network's function
  unchanged (ReLU, max-pooling and flattening commute with positive scaling). Scaling the Linear layer
  *before* BN instead would change BN's running statistics and break exactness through BN's ε.
- PAC-Bayes σ-flatness (Jiang et al. 2020, "Fantastic generalization measures"): the largest σ for which
  Gaussian weight noise lowers the expected training accuracy by at most `max_drop`. Absolute noise:
  N(0, σ²). Magnitude-aware noise, as Jiang et al. define it: N(0, σ²wᵢ² + ε²) with ε fixed (they use
  1e-3), so a weight at zero still gets noise of std ε. Found by bisection in log σ with common random
  numbers (the same noise draws, rescaled, at every σ), so the accuracy is a smooth function of σ along
  the search. The reference accuracy is that of the noise-free network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
import torch
from torch import nn
from torch.func import functional_call

from lbgap.data import Split
from lbgap.tensors import parameters_of

PASS_THROUGH = (nn.ReLU, nn.MaxPool1d, nn.MaxPool2d, nn.Dropout, nn.Flatten, nn.Identity)


def rescalable_pairs(model: nn.Module) -> list[tuple[nn.modules.batchnorm._BatchNorm, nn.Module]]:
    """(BatchNorm, next Linear/Conv) pairs with only positively homogeneous modules between, in forward
    order (the order of `model.modules()` for the registry's sequential networks)."""
    leaves = [m for m in model.modules() if not list(m.children())]
    pairs = []
    for i, module in enumerate(leaves):
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.affine:
            for after in leaves[i + 1 :]:
                if isinstance(after, (nn.Linear, nn.Conv1d, nn.Conv2d)):
                    pairs.append((module, after))
                    break
                if not isinstance(after, PASS_THROUGH):
                    break
    return pairs


@torch.no_grad()
def dinh_rescale(model: nn.Module, factor: float, block: int = 0) -> None:
    """In place: BN γ, β of rescalable pair `block` × factor, the next layer's weight × 1/factor."""
    if not factor > 0:
        raise ValueError(f"the rescaling factor must be > 0 (got {factor})")
    pairs = rescalable_pairs(model)
    if not 0 <= block < len(pairs):
        raise ValueError(f"block {block} does not exist: the network has {len(pairs)} BN → ReLU → layer pairs")
    norm, layer = pairs[block]
    norm.weight.mul_(factor)
    norm.bias.mul_(factor)
    layer.weight.div_(factor)


def noise_std(weights: dict[str, torch.Tensor], sigma: float, magnitude_epsilon: float | None) -> dict[str, torch.Tensor]:
    """Per-weight standard deviation of the noise at σ: σ (absolute, `magnitude_epsilon` None) or
    √(σ²wᵢ² + ε²) (magnitude-aware, ε = `magnitude_epsilon`)."""
    if magnitude_epsilon is None:
        return {name: torch.full_like(w, sigma) for name, w in weights.items()}
    return {name: torch.sqrt((sigma * w) ** 2 + magnitude_epsilon**2) for name, w in weights.items()}


def noisy_accuracy(
    model: nn.Module, split: Split, std: dict[str, torch.Tensor] | None, draws: list[dict[str, torch.Tensor]], chunk: int
) -> float:
    """Mean training accuracy over the noise draws of w + std ⊙ ξ (ξ fixed per draw), eval mode; `std`
    None is the noise-free network (one evaluation)."""
    model.eval()
    weights = parameters_of(model)
    total = 0.0
    with torch.no_grad():
        for noise in draws if std is not None else [None]:
            noisy = weights if noise is None else {name: w + std[name] * noise[name] for name, w in weights.items()}
            correct = 0
            for start in range(0, len(split), chunk):
                logits = functional_call(model, noisy, (split.x[start : start + chunk],))
                correct += (logits.argmax(1) == split.y[start : start + chunk]).sum().item()
            total += correct / len(split)
    return total / (len(draws) if std is not None else 1)


@dataclass(frozen=True)
class SigmaResult:
    sigma: float  # the largest σ found whose accuracy drop stays ≤ max_drop
    accuracy_at_zero: float  # training accuracy of the solution itself (fraction)
    accuracy_at_sigma: float  # mean noisy training accuracy at σ
    evaluations: int  # σ values tried

    @property
    def inverse_square(self) -> float:
        """1/σ², the flatness measure of Jiang et al. (large = sharp)."""
        return 1.0 / self.sigma**2


def pac_bayes_sigma(
    model: nn.Module,
    split: Split,
    *,
    max_drop: float,
    magnitude_epsilon: float | None,
    draws: int,
    steps: int,
    seed: int,
    chunk: int,
    sigma_range: tuple[float, float] = (1e-5, 10.0),
) -> SigmaResult:
    """The largest σ in `sigma_range` with accuracy(0) − E accuracy(σ) ≤ `max_drop` (fractions), by
    `steps` bisections in log σ. `magnitude_epsilon` None: absolute noise N(0, σ²); a number ε: noise
    N(0, σ²w² + ε²) (Jiang et al.). Noise is drawn once per draw from `seed` (on the CPU, so any device
    agrees)."""
    weights = parameters_of(model)
    generator = torch.Generator().manual_seed(seed)
    noise = [
        {name: torch.randn(w.shape, generator=generator).to(w.device, w.dtype) for name, w in weights.items()}
        for _ in range(draws)
    ]
    base = noisy_accuracy(model, split, None, noise, chunk)

    def ok(sigma: float) -> tuple[bool, float]:
        accuracy = noisy_accuracy(model, split, noise_std(weights, sigma, magnitude_epsilon), noise, chunk)
        return base - accuracy <= max_drop, accuracy

    lo, hi = sigma_range
    lo_ok, lo_accuracy = ok(lo)
    if not lo_ok:
        return SigmaResult(lo, base, lo_accuracy, 1)
    hi_ok, hi_accuracy = ok(hi)
    if hi_ok:
        return SigmaResult(hi, base, hi_accuracy, 2)
    evaluations = 2
    for _ in range(steps):
        mid = math.sqrt(lo * hi)
        mid_ok, mid_accuracy = ok(mid)
        evaluations += 1
        if mid_ok:
            lo, lo_accuracy = mid, mid_accuracy
        else:
            hi = mid
    return SigmaResult(lo, base, lo_accuracy, evaluations)

