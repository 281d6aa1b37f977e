"""Typed views of the `curvature`, `rescaling` and `surface` sections of params.yaml (the measures
beyond the paper), validated like lbgap.config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import math

from lbgap.config import ModelParams, ParamsError, _float, _get, _int, _size_or_all, bn_statistics


def _floats(raw: Mapping[str, Any], key: str, *, positive: bool) -> tuple[float, ...]:
    values = _get(raw, key)
    if not isinstance(values, list) or not values:
        raise ParamsError(f"params: '{key}' must be a non-empty list (got {values!r})")
    for value in values:
        bad = isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf or (positive and value == 0)
        if bad:
            raise ParamsError(f"params: every '{key}' entry must be {'> 0' if positive else '>= 0'} (got {value!r})")
    return tuple(float(v) for v in values)


def _non_negative(raw: Mapping[str, Any], key: str) -> float:
    value = _float(raw, key)
    if value < 0:
        raise ParamsError(f"params: '{key}' must be >= 0 (got {value})")
    return value


NOISE_SCALE_UNDER_BATCH_STATISTICS = (
    "params: the gradient noise scale is undefined with 'batchnorm: batch' (one sample's gradient would "
    "depend on the batch it is evaluated in); set 'curvature.noise_scale.batches: 0' to skip it"
)


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
    max_iter: int  # L-BFGS-B iterations (sharpness.max_iter)
    max_drop: float  # PAC-Bayes: allowed drop of training accuracy (fraction)
    pac_draws: int
    pac_steps: int
    pac_epsilon: float  # magnitude-aware noise N(0, σ²w² + ε²) (Jiang et al.)
    noise_small: int
    noise_big: int
    noise_batches: int  # 0: the noise scale is not measured
    model: ModelParams
    eval_chunk: int

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> CurvatureParams:
        params = cls(
            samples=_size_or_all(raw, "curvature.samples"),
            seed=_int(raw, "curvature.seed", 0),
            top_k=_int(raw, "curvature.lanczos.top_k", 1),
            lanczos_steps=_int(raw, "curvature.lanczos.steps", 1),
            trace_tol=_non_negative(raw, "curvature.trace.tol"),
            trace_max_probes=_int(raw, "curvature.trace.max_probes", 2),
            density_runs=_int(raw, "curvature.density.runs", 1),
            density_steps=_int(raw, "curvature.density.steps", 1),
            epsilons=_floats(raw, "curvature.epsilons", positive=True),
            adaptive_etas=_floats(raw, "curvature.adaptive_eta", positive=False),
            epsilon=_floats(raw, "sharpness.epsilons", positive=True)[0],
            max_iter=_int(raw, "sharpness.max_iter", 1),
            max_drop=_non_negative(raw, "curvature.pac_bayes.max_drop"),
            pac_draws=_int(raw, "curvature.pac_bayes.draws", 1),
            pac_steps=_int(raw, "curvature.pac_bayes.steps", 1),
            pac_epsilon=_non_negative(raw, "curvature.pac_bayes.epsilon"),
            noise_small=_int(raw, "curvature.noise_scale.small", 1),
            noise_big=_int(raw, "curvature.noise_scale.big", 2),
            noise_batches=_int(raw, "curvature.noise_scale.batches", 0),
            model=ModelParams.parse(raw),
            eval_chunk=_int(raw, "eval_chunk", 1),
        )
        if params.top_k > params.lanczos_steps:
            raise ParamsError(f"params: 'curvature.lanczos.top_k' = {params.top_k} exceeds 'curvature.lanczos.steps' = {params.lanczos_steps}")
        NoiseScaleParams.parse(raw, measured_here=False)  # ranges only: rescaling and surface never measure it
        return params


@dataclass(frozen=True)
class NoiseScaleParams:
    """`curvature.noise_scale` and `curvature.seed` alone: what sharpness along training needs."""

    small: int
    big: int
    batches: int  # 0: not measured
    seed: int

    @classmethod
    def parse(cls, raw: Mapping[str, Any], *, measured_here: bool = True) -> NoiseScaleParams:
        """`measured_here`: the caller computes the noise scale, so `batchnorm: batch` (where it is
        undefined) is refused unless `batches` is 0."""
        params = cls(
            small=_int(raw, "curvature.noise_scale.small", 1), big=_int(raw, "curvature.noise_scale.big", 2),
            batches=_int(raw, "curvature.noise_scale.batches", 0), seed=_int(raw, "curvature.seed", 0),
        )
        if params.small >= params.big:
            raise ParamsError("params: 'curvature.noise_scale.small' must be < 'curvature.noise_scale.big'")
        if measured_here and params.batches and ModelParams.parse(raw).batchnorm == "batch":
            raise ParamsError(NOISE_SCALE_UNDER_BATCH_STATISTICS)
        return params


@dataclass(frozen=True)
class RescalingParams:
    factor: float  # a in Dinh et al.'s (γ, β) × a, next weight × 1/a
    block: int  # which BN → ReLU → layer pair (0 = first)
    seed: int  # which SB/LB pair
    curvature: CurvatureParams

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> RescalingParams:
        factor = _float(raw, "rescaling.factor", positive=True)
        seed = _int(raw, "rescaling.seed", 0)
        if seed >= _int(raw, "seeds", 1):
            raise ParamsError(f"params: 'rescaling.seed' = {seed} must be < 'seeds' = {raw['seeds']}")
        return cls(factor, _int(raw, "rescaling.block", 0), seed, CurvatureParams.parse(raw))


@dataclass(frozen=True)
class SurfaceParams:
    span: float  # around a solution: a, b ∈ [−span, span] (filter-normalized units)
    points: int  # per axis
    plane_min: float  # the plane through x0, x_SB, x_LB: a, b ∈ [plane_min, plane_max]
    plane_max: float
    seed: int  # which SB/LB pair
    curvature: CurvatureParams
    bn_statistics: str  # "recompute" | "interpolate" (lbgap.batchnorm)

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> SurfaceParams:
        params = cls(
            span=_float(raw, "surface.span", positive=True),
            points=_int(raw, "surface.points", 2),
            plane_min=_float(raw, "surface.plane_min"),
            plane_max=_float(raw, "surface.plane_max"),
            seed=_int(raw, "surface.seed", 0),
            curvature=CurvatureParams.parse(raw),
            bn_statistics=bn_statistics(raw),
        )
        if not params.plane_min < params.plane_max:
            raise ParamsError("params: 'surface.plane_min' must be < 'surface.plane_max'")
        if params.seed >= _int(raw, "seeds", 1):
            raise ParamsError(f"params: 'surface.seed' = {params.seed} must be < 'seeds' = {raw['seeds']}")
        return params

    def axis(self, low: float, high: float) -> list[float]:
        step = (high - low) / (self.points - 1)
        return [low + i * step for i in range(self.points)]
