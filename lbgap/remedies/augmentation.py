"""Data augmentation on the fly (paper appendix): 1-D signals for the embedded MNIST-1D default, the
paper's image transforms for the image data sets; per sample, seeded."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lbgap.params.sections import Fraction, Index, NonNegative
from lbgap.remedies.registry import Run, register_strategy
from lbgap.train.recipe import Recipe, Step, plain_step

SIGNAL_DATA = ("mnist1d",)
IMAGE_DATA = ("mnist", "fashion-mnist", "cifar10", "cifar100")


@dataclass(frozen=True)
class SignalAugmentation:
    """Per-sample random transforms close to how MNIST-1D itself is generated (mnist1d.transform):
    a circular shift of up to `max_shift` positions (its `translate`), an amplitude scale drawn from
    [1 − scale, 1 + scale] (its `scale_coeff`), and i.i.d. Gaussian noise of std `noise` (its
    `iid_noise_scale`). Signals are standardized, so `noise` is in units of the feature std."""

    max_shift: Index
    scale: NonNegative
    noise: NonNegative


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

    hflip: Fraction
    degrees: NonNegative
    translate: Fraction


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


@dataclass(frozen=True)
class AugmentationOptions:
    """`mitigation.augmentation`: one section per kind of data; the data set picks which applies."""

    signal: SignalAugmentation
    image: ImageAugmentation


@register_strategy("augmentation", AugmentationOptions, with_small_batch=True)
def augmentation(options: AugmentationOptions, run: Run) -> Recipe:
    """Signal augmentation for mnist1d, image augmentation for the image data sets; for others (npz)
    no augmentation is defined and asking for one is a ValueError."""
    if run.data_name in SIGNAL_DATA:
        return Recipe(step=augmentation_step(options.signal, run.seed), resumable=False)
    if run.data_name in IMAGE_DATA:
        return Recipe(step=augmentation_step(options.image, run.seed), resumable=False)
    raise ValueError(
        f"no augmentation is defined for data set {run.data_name!r} "
        f"(signal: {', '.join(SIGNAL_DATA)}; image: {', '.join(IMAGE_DATA)})"
    )
