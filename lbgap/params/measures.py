"""Typed views of the measurement sections: the paper's sharpness and parametric plots, and the
curvature, noise-scale, rescaling and surface measures beyond it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from lbgap.measures.maximizer import ASCENT_NAMES, Maximizer
from lbgap.params.core import RuntimeParams, bn_statistics
from lbgap.params.read import ParamsError, choice, get, integer, number, numbers, size_or_all

METHODS = ("paper", "validated")


def maximizer(raw: Mapping[str, Any]) -> Maximizer:
    """`sharpness.method`: paper (one start of L-BFGS-B on f, `max_iter` iterations) or validated
    (`ascents` × `starts`, `max_iter` iterations each); `plateau` for the certificate of both."""
    method = choice(raw, "sharpness.method", METHODS, "sharpness method")
    ascents = get(raw, "sharpness.ascents")  # checked under either method: the whole file is valid or refused
    if not isinstance(ascents, list) or not ascents or any(name not in ASCENT_NAMES for name in ascents):
        raise ParamsError(f"params: 'sharpness.ascents' must be a non-empty list of {', '.join(ASCENT_NAMES)} (got {ascents!r})")
    starts, iterations = integer(raw, "sharpness.starts", 1), integer(raw, "sharpness.max_iter", 1)
    plateau = number(raw, "sharpness.plateau", minimum=0)
    if method == "paper":
        return Maximizer(("lbfgsb",), 1, iterations, plateau)
    return Maximizer(tuple(dict.fromkeys(ascents)), starts, iterations, plateau)


@dataclass(frozen=True)
class SharpnessParams:
    epsilons: tuple[float, ...]
    subspace_dim: int
    maximizer: Maximizer
    seed: int
    runtime: RuntimeParams

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> SharpnessParams:
        return cls(
            epsilons=numbers(raw, "sharpness.epsilons", positive=True),
            subspace_dim=integer(raw, "sharpness.subspace_dim", 1),
            maximizer=maximizer(raw),
            seed=integer(raw, "sharpness.seed", 0),
            runtime=RuntimeParams.parse(raw),
        )


@dataclass(frozen=True)
class ProbeParams:
    """How the batch-size sweep, warm start and trajectory measure a solution: φ in the full space at the
    first ε of `sharpness.epsilons`, with the maximizer of `sharpness` and `sharpness.seed` (Metric 2.1)."""

    epsilon: float
    maximizer: Maximizer
    seed: int

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> ProbeParams:
        (first,) = numbers(raw, "sharpness.epsilons", positive=True, first_only=True)
        return cls(first, maximizer(raw), integer(raw, "sharpness.seed", 0))


def check_seed(raw: Mapping[str, Any], key: str, seeds_key: str = "seeds") -> int:
    """The seed at `key`, which must name one of the runs 0 .. `seeds_key` − 1."""
    seed = integer(raw, key, 0)
    if seed >= (count := integer(raw, seeds_key, 1)):
        raise ParamsError(f"params: '{key}' = {seed} must be < '{seeds_key}' = {count}")
    return seed


@dataclass(frozen=True)
class InterpolateParams:
    seed: int  # which SB/LB pair
    alpha_min: float
    alpha_max: float
    points: int
    runtime: RuntimeParams
    bn_statistics: str  # "recompute" | "interpolate" (lbgap.train.batchnorm)

    @classmethod
    def parse(cls, raw: Mapping[str, Any], seeds_key: str = "seeds") -> InterpolateParams:
        """`seeds_key` names the count the pair's seed must stay below (`mitigation_seeds` for a remedy)."""
        params = cls(
            seed=check_seed(raw, "interpolate.seed", seeds_key),
            alpha_min=number(raw, "interpolate.alpha_min"),
            alpha_max=number(raw, "interpolate.alpha_max"),
            points=integer(raw, "interpolate.points", 2),
            runtime=RuntimeParams.parse(raw),
            bn_statistics=bn_statistics(raw),
        )
        if not params.alpha_min < params.alpha_max:
            raise ParamsError(
                f"params: the α range is empty: 'interpolate.alpha_min' = {params.alpha_min} must be "
                f"< 'interpolate.alpha_max' = {params.alpha_max}"
            )
        return params

    @property
    def alphas(self) -> list[float]:
        step = (self.alpha_max - self.alpha_min) / (self.points - 1)
        return [self.alpha_min + i * step for i in range(self.points)]


NOISE_SCALE_UNDER_BATCH_STATISTICS = (
    "params: the gradient noise scale is undefined with 'batchnorm: batch' (one sample's gradient would "
    "depend on the batch it is evaluated in); set 'curvature.noise_scale.batches: 0' to skip it"
)


@dataclass(frozen=True)
class NoiseScaleParams:
    """`curvature.noise_scale` and `curvature.seed`: the gradient noise scale B_simple."""

    small: int
    big: int
    batches: int  # 0: not measured
    seed: int

    @classmethod
    def parse(cls, raw: Mapping[str, Any], *, measured_here: bool = True) -> NoiseScaleParams:
        """`measured_here`: the caller computes the noise scale, so `batchnorm: batch` (where it is
        undefined) is refused unless `batches` is 0."""
        params = cls(
            small=integer(raw, "curvature.noise_scale.small", 1), big=integer(raw, "curvature.noise_scale.big", 2),
            batches=integer(raw, "curvature.noise_scale.batches", 0), seed=integer(raw, "curvature.seed", 0),
        )
        if params.small >= params.big:
            raise ParamsError("params: 'curvature.noise_scale.small' must be < 'curvature.noise_scale.big'")
        if measured_here and params.batches and RuntimeParams.parse(raw).batchnorm == "batch":
            raise ParamsError(NOISE_SCALE_UNDER_BATCH_STATISTICS)
        return params


@dataclass(frozen=True)
class CurvatureParams:
    samples: int | None  # training subset for every measure (None: all)
    seed: int
    top_k: int
    lanczos_steps: int
    trace_tol: float
    trace_max_probes: int
    density_runs: int
    density_steps: int
    epsilons: tuple[float, ...]  # ε-sensitivity grid
    adaptive_etas: tuple[float, ...]
    epsilon: float  # ε of the adaptive sharpness: the first of sharpness.epsilons
    maximizer: Maximizer  # how every φ is maximized (the sharpness section)
    max_drop: float  # PAC-Bayes: allowed drop of training accuracy (fraction)
    pac_draws: int
    pac_steps: int
    pac_epsilon: float  # magnitude-aware noise N(0, σ²w² + ε²) (Jiang et al.)
    noise: NoiseScaleParams
    runtime: RuntimeParams

    @property
    def eval_chunk(self) -> int:
        return self.runtime.eval_chunk

    @classmethod
    def parse(cls, raw: Mapping[str, Any], *, measures_noise: bool = False) -> CurvatureParams:
        """`measures_noise`: the caller computes the noise scale (the curvature stages; see NoiseScaleParams)."""
        params = cls(
            samples=size_or_all(raw, "curvature.samples"),
            seed=integer(raw, "curvature.seed", 0),
            top_k=integer(raw, "curvature.lanczos.top_k", 1),
            lanczos_steps=integer(raw, "curvature.lanczos.steps", 1),
            trace_tol=number(raw, "curvature.trace.tol", minimum=0),
            trace_max_probes=integer(raw, "curvature.trace.max_probes", 2),
            density_runs=integer(raw, "curvature.density.runs", 1),
            density_steps=integer(raw, "curvature.density.steps", 1),
            epsilons=numbers(raw, "curvature.epsilons", positive=True),
            adaptive_etas=numbers(raw, "curvature.adaptive_eta", positive=False),
            epsilon=numbers(raw, "sharpness.epsilons", positive=True)[0],
            maximizer=maximizer(raw),
            max_drop=number(raw, "curvature.pac_bayes.max_drop", minimum=0),
            pac_draws=integer(raw, "curvature.pac_bayes.draws", 1),
            pac_steps=integer(raw, "curvature.pac_bayes.steps", 1),
            pac_epsilon=number(raw, "curvature.pac_bayes.epsilon", minimum=0),
            noise=NoiseScaleParams.parse(raw, measured_here=measures_noise),
            runtime=RuntimeParams.parse(raw),
        )
        if params.top_k > params.lanczos_steps:
            raise ParamsError(f"params: 'curvature.lanczos.top_k' = {params.top_k} exceeds 'curvature.lanczos.steps' = {params.lanczos_steps}")
        return params


@dataclass(frozen=True)
class RescalingParams:
    factor: float  # a in Dinh et al.'s (γ, β) × a, next weight × 1/a
    block: int  # which BN → ReLU → layer pair (0 = first)
    seed: int  # which SB/LB pair
    curvature: CurvatureParams

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> RescalingParams:
        return cls(
            factor=number(raw, "rescaling.factor", positive=True), block=integer(raw, "rescaling.block", 0),
            seed=check_seed(raw, "rescaling.seed"), curvature=CurvatureParams.parse(raw),
        )


@dataclass(frozen=True)
class SurfaceParams:
    span: float  # around a solution: a, b ∈ [−span, span] (filter-normalized units)
    points: int  # per axis
    plane_min: float  # the plane through x0, x_SB, x_LB: a, b ∈ [plane_min, plane_max]
    plane_max: float
    seed: int  # which SB/LB pair
    curvature: CurvatureParams
    bn_statistics: str  # "recompute" | "interpolate" (lbgap.train.batchnorm)

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> SurfaceParams:
        params = cls(
            span=number(raw, "surface.span", positive=True),
            points=integer(raw, "surface.points", 2),
            plane_min=number(raw, "surface.plane_min"),
            plane_max=number(raw, "surface.plane_max"),
            seed=check_seed(raw, "surface.seed"),
            curvature=CurvatureParams.parse(raw),
            bn_statistics=bn_statistics(raw),
        )
        if not params.plane_min < params.plane_max:
            raise ParamsError("params: 'surface.plane_min' must be < 'surface.plane_max'")
        return params

    def axis(self, low: float, high: float) -> list[float]:
        step = (high - low) / (self.points - 1)
        return [low + i * step for i in range(self.points)]
