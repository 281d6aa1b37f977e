"""Remedies for the large-batch gap, each as a training `Step` (see lbgap.training.train).

The paper (appendix) tried data augmentation, conservative (proximal) training and robust/adversarial
training; we add sharpness-aware minimization (SAM, Foret et al. 2021) and its adaptive variant (ASAM,
Kwon et al. 2021). Every factory returns a step that wraps the same base optimizer (Adam) that plain
training uses, so a strategy changes one thing only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from lbgap.batchnorm import kept_buffers
from lbgap.training import Step, derived_seed, plain_step


# ---------------------------------------------------------------------------------------------------
# Augmentation: 1-D signals (the embedded MNIST-1D default) and images (the paper's)
# ---------------------------------------------------------------------------------------------------
SIGNAL_DATA = ("mnist1d",)
IMAGE_DATA = ("mnist", "fashion-mnist", "cifar10", "cifar100")

@dataclass(frozen=True)
class SignalAugmentation:
    """Per-sample random transforms close to how MNIST-1D itself is generated (mnist1d.transform):
    a circular shift of up to `max_shift` positions (its `translate`), an amplitude scale drawn from
    [1 − scale, 1 + scale] (its `scale_coeff`), and i.i.d. Gaussian noise of std `noise` (its
    `iid_noise_scale`). Signals are standardized, so `noise` is in units of the feature std."""

    max_shift: int = 4
    scale: float = 0.1
    noise: float = 0.05


def augment_signals(x: torch.Tensor, config: SignalAugmentation, generator: torch.Generator) -> torch.Tensor:
    """x (N, L) → augmented (N, L); the labels are unchanged. Reproducible from `generator`'s state."""
    n, length = x.shape
    shifts = torch.randint(-config.max_shift, config.max_shift + 1, (n, 1), generator=generator)
    index = (torch.arange(length).unsqueeze(0) - shifts) % length  # circular, like mnist1d's translate
    scales = 1 + config.scale * (2 * torch.rand(n, 1, generator=generator) - 1)
    noise = config.noise * torch.randn(n, length, generator=generator)  # drawn on the CPU: device-independent
    return torch.gather(x, 1, index.to(x.device)) * scales.to(x.device) + noise.to(x.device)


@dataclass(frozen=True)
class ImageAugmentation:
    """The paper's image augmentation (appendix), per image: a horizontal flip with probability
    `hflip`, a rotation by up to ±`degrees`, a translation by up to ±`translate` of the width and
    height (torchvision transforms v2; pixels uncovered by the affine map are filled with 0)."""

    hflip: float = 0.5
    degrees: float = 10.0
    translate: float = 0.2


def augment_images(x: torch.Tensor, config: ImageAugmentation, generator: torch.Generator) -> torch.Tensor:
    """x (N, C, H, W) → augmented (N, C, H, W), each image with its own random transform.

    torchvision draws transform parameters from torch's global CPU generator; we seed a forked copy of
    it from `generator` once per batch, so the result is reproducible and the caller's RNG untouched."""
    from torchvision.transforms import v2  # imported on use: torchvision takes seconds to import

    transform = v2.Compose([
        v2.RandomHorizontalFlip(config.hflip),
        v2.RandomAffine(degrees=config.degrees, translate=(config.translate, config.translate)),
    ])
    batch_seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(batch_seed)
        return torch.stack([transform(image) for image in x])


def augmentation_step(config: SignalAugmentation | ImageAugmentation, seed: int) -> Step:
    """A plain step on freshly augmented copies of each batch (on the fly, seeded)."""
    generator = torch.Generator().manual_seed(seed)
    augment = augment_signals if isinstance(config, SignalAugmentation) else augment_images
    rank = 2 if isinstance(config, SignalAugmentation) else 4

    def step(model, optimizer, x, y):
        if x.dim() != rank:
            raise ValueError(f"{type(config).__name__} needs inputs of rank {rank}, got shape {tuple(x.shape)}")
        return plain_step(model, optimizer, augment(x, config, generator), y)

    return step


# ---------------------------------------------------------------------------------------------------
# Conservative (proximal) training
# ---------------------------------------------------------------------------------------------------
def conservative_step(lam: float, inner_steps: int) -> Step:
    """x_{k+1} ≈ argmin_x f_B(x) + (λ/2)‖x − x_k‖², solved inexactly by `inner_steps` steps of the
    base optimizer from x_k on the same batch (paper: λ = 1e-3, 3 steps)."""
    if lam < 0 or inner_steps < 1:
        raise ValueError(f"conservative training needs lam >= 0 and inner_steps >= 1 (got lam={lam}, inner_steps={inner_steps})")

    def step(model, optimizer, x, y):
        anchor = [p.detach().clone() for p in model.parameters()]
        for _ in range(inner_steps):
            loss = F.cross_entropy(model(x), y)
            proximal = sum(((p - a) ** 2).sum() for p, a in zip(model.parameters(), anchor))
            optimizer.zero_grad(set_to_none=True)
            (loss + 0.5 * lam * proximal).backward()
            optimizer.step()
        return loss.detach()

    return step


# ---------------------------------------------------------------------------------------------------
# Adversarial training on inputs
# ---------------------------------------------------------------------------------------------------
def adversarial_inputs(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, radius: float, steps: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Projected gradient ascent on the batch loss within the L∞ ball of `radius` around x.

    steps = 1 is FGSM (one signed step of size `radius` from x); more steps are PGD (Madry et al.):
    a uniformly random start in the ball (drawn on the CPU from `generator`), then steps of size
    2.5·radius/steps. The attack sees the network the update will see: train mode (BatchNorm normalizes
    with the batch's statistics), with every BN buffer restored afterwards so the attack's forward
    passes do not count as batches in the running statistics."""
    step_size = radius if steps == 1 else 2.5 * radius / steps
    x_adv = x.detach().clone()
    if steps > 1:
        start = torch.rand(x.shape, generator=generator) * 2 - 1  # uniform in [-1, 1]
        x_adv = x_adv + radius * start.to(x.device, x.dtype)
    was_training = model.training
    model.train()
    with kept_buffers(model):
        for _ in range(steps):
            x_adv.requires_grad_(True)
            (grad,) = torch.autograd.grad(F.cross_entropy(model(x_adv), y), x_adv)
            x_adv = (x_adv.detach() + step_size * grad.sign()).clamp(x - radius, x + radius)
    model.train(was_training)
    return x_adv.detach()


def adversarial_step(radius: float, steps: int, seed: int = 0) -> Step:
    """A plain step on the adversarial version of each batch (PGD's random starts from a stream derived
    from the run's `seed`)."""
    if radius < 0 or steps < 1:
        raise ValueError(f"adversarial training needs radius >= 0 and steps >= 1 (got radius={radius}, steps={steps})")
    generator = torch.Generator().manual_seed(derived_seed(seed, "attack"))

    def step(model, optimizer, x, y):
        return plain_step(model, optimizer, adversarial_inputs(model, x, y, radius, steps, generator), y)

    return step


# ---------------------------------------------------------------------------------------------------
# Sharpness-aware minimization
# ---------------------------------------------------------------------------------------------------
def sam_step(rho: float, adaptive: bool = False, eta: float = 0.01) -> Step:
    """SAM: ε = ρ·g/‖g‖ (ASAM: ε = ρ·T²g/‖Tg‖ with T = |w| + η on weight matrices and kernels, T = 1
    on biases and BatchNorm parameters), take the gradient at w + ε, apply it at w with the base optimizer.

    BatchNorm: both passes normalize with the batch's own statistics (train mode); the running
    statistics are updated by the first pass only (the second runs inside `kept_buffers`).
    """

    def step(model, optimizer, x, y):
        params = [p for p in model.parameters() if p.requires_grad]
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():
            scales = [(p.abs() + eta) if (adaptive and p.dim() > 1) else torch.ones_like(p) for p in params]
            norm = torch.sqrt(sum(((t * p.grad) ** 2).sum() for t, p in zip(scales, params)))
            originals = [p.clone() for p in params]  # restored exactly below ((w + ε) − ε ≠ w in floats)
            for t, p in zip(scales, params):
                p.add_(rho * t * t * p.grad / (norm + 1e-12))
        with kept_buffers(model):
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
        with torch.no_grad():
            for p, w in zip(params, originals):
                p.copy_(w)
        optimizer.step()
        return loss.detach()

    return step


def step_for(strategy: str, options: dict, seed: int, data_name: str) -> Step:
    """The training step of `strategy` configured by its params section; ValueError on bad options.

    Augmentation depends on the data set (`data_name`): signal augmentation for mnist1d (options
    under `signal`), image augmentation for the image data sets (options under `image`); for others
    (npz) no augmentation is defined and asking for one is an error."""
    try:
        if strategy == "augmentation":
            if data_name in SIGNAL_DATA:
                return augmentation_step(SignalAugmentation(**options["signal"]), seed)
            if data_name in IMAGE_DATA:
                return augmentation_step(ImageAugmentation(**options["image"]), seed)
            raise ValueError(
                f"no augmentation is defined for data set {data_name!r} "
                f"(signal: {', '.join(SIGNAL_DATA)}; image: {', '.join(IMAGE_DATA)})"
            )
        if strategy == "conservative":
            return conservative_step(lam=float(options["lam"]), inner_steps=int(options["inner_steps"]))
        if strategy == "adversarial":
            return adversarial_step(radius=float(options["radius"]), steps=int(options["steps"]), seed=seed)
        if strategy == "sam":
            return sam_step(rho=float(options["rho"]), adaptive=bool(options["adaptive"]), eta=float(options["eta"]))
    except (KeyError, TypeError) as error:
        raise ValueError(f"bad options for {strategy}: {error!r}") from None
    raise ValueError(f"unknown strategy {strategy!r}")
