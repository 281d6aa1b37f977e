"""Every curvature and flatness measure of one solution, on one training subset: the numbers the
curvature stages put beside the paper's φ (see lbgap.measures.hessian, lbgap.measures.flatness, lbgap.measures.noise_scale).

All measures use the same f — mean cross-entropy over `split` with the model in eval mode — so they
differ only in what they ask of it. Keys of the returned dict name the measure and its setting; larger
means sharper for every key except σ (larger = flatter) and the noise-scale quantities.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import torch
from torch import nn

from lbgap.data import Split
from lbgap.measures.flatness import pac_bayes_sigma
from lbgap.measures.hessian import Quadrature, hessian_operator, hutchinson_trace, slq_density, top_eigenvalues
from lbgap.measures.noise_scale import noise_scale
from lbgap.measures.sharpness import model_loss, sharpness_of_model
from lbgap.measures.maximizer import Maximizer, maximizer_of
from lbgap.params.sections import Curvature, Sharpness
from lbgap.results import eps_key, eta_key, summarize
from lbgap.tensors import flatten, parameters_of


@dataclass(frozen=True)
class CurvatureSettings:
    """What every measure here reads: the `curvature` section, the ε and maximizer of φ (the first of
    `sharpness.epsilons`, lbgap.measures.maximizer.maximizer_of), and `runtime.eval_chunk`."""

    curvature: Curvature
    epsilon: float
    maximizer: Maximizer
    eval_chunk: int

    @classmethod
    def of(cls, curvature: Curvature, sharpness: Sharpness, eval_chunk: int, *, subspace: bool = False) -> CurvatureSettings:
        """`subspace`: the stage also measures φ in a random subspace (`sharpness.subspace_ascents` there)."""
        return cls(curvature, sharpness.epsilon, maximizer_of(sharpness, subspace=subspace), eval_chunk)


def _eigen_and_trace(matvec, n: int, like, settings: CurvatureSettings) -> dict[str, float]:
    top = top_eigenvalues(matvec, n, settings.curvature.lanczos.top_k, iterations=settings.curvature.lanczos.steps, seed=settings.curvature.seed, like=like)
    trace = hutchinson_trace(
        matvec, n, tol=settings.curvature.trace.tol, min_probes=min(10, settings.curvature.trace.max_probes),
        max_probes=settings.curvature.trace.max_probes, seed=settings.curvature.seed, like=like,
    )
    out = {f"lambda_{i + 1}": float(v) for i, v in enumerate(top)}
    out.update(
        trace=trace.trace, trace_standard_error=trace.standard_error, trace_probes=float(trace.probes),
        trace_converged=float(trace.converged),  # 1 when the standard error met trace.tol
    )
    return out


def hessian_measures(model: nn.Module, split: Split, settings: CurvatureSettings) -> dict[str, float]:
    """Top-k eigenvalues (Lanczos) and trace (Hutchinson) of the Hessian, without the density."""
    matvec, n = hessian_operator(model, split, settings.eval_chunk)
    return _eigen_and_trace(matvec, n, flatten(parameters_of(model)), settings)


def spectrum_measures(model: nn.Module, split: Split, settings: CurvatureSettings) -> tuple[dict[str, float], Quadrature]:
    """Top-k eigenvalues (Lanczos), trace (Hutchinson) and the SLQ density of the Hessian."""
    matvec, n = hessian_operator(model, split, settings.eval_chunk)
    like = flatten(parameters_of(model))
    out = _eigen_and_trace(matvec, n, like, settings)
    density = slq_density(matvec, n, iterations=settings.curvature.density.steps, runs=settings.curvature.density.runs, seed=settings.curvature.seed, like=like)
    return out, density


def adaptive_measures(model: nn.Module, split: Split, settings: CurvatureSettings, loss_at_x: float) -> dict[str, float]:
    """The adaptive φ at the first sharpness ε for each η (box ε(|w| + η)), f(x) given."""
    return {
        f"adaptive_{eta_key(eta)}": sharpness_of_model(
            model, split, settings.epsilon, None, chunk=settings.eval_chunk, maximizer=settings.maximizer,
            seed=settings.curvature.seed, offset=eta, loss_at_x=loss_at_x,
        ).phi
        for eta in settings.curvature.adaptive_eta
    }


def sharpness_measures(model: nn.Module, split: Split, settings: CurvatureSettings) -> dict[str, float]:
    """The paper's φ (full space) over the ε grid, and the adaptive φ at ε for each η."""
    out = {}
    loss_at_x = model_loss(model, split, settings.eval_chunk)  # shared by every φ below
    for eps in settings.curvature.epsilons:
        value = sharpness_of_model(
            model, split, eps, None, chunk=settings.eval_chunk, maximizer=settings.maximizer, seed=settings.curvature.seed, loss_at_x=loss_at_x,
        )
        out[f"phi_{eps_key(eps)}"] = value.phi
        out[f"levelled_off_{eps_key(eps)}"] = float(value.levelled_off)  # 1: the search's certificate held
    out.update(adaptive_measures(model, split, settings, loss_at_x))
    return out


def flatness_measures(model: nn.Module, split: Split, settings: CurvatureSettings) -> dict[str, float]:
    """PAC-Bayes σ (absolute and magnitude-aware) with 1/σ², and the gradient noise scale."""
    out = {}
    for name, epsilon in (("absolute", None), ("magnitude", settings.curvature.pac_bayes.epsilon)):
        result = pac_bayes_sigma(
            model, split, max_drop=settings.curvature.pac_bayes.max_drop, magnitude_epsilon=epsilon, draws=settings.curvature.pac_bayes.draws,
            steps=settings.curvature.pac_bayes.steps, seed=settings.curvature.seed, chunk=settings.eval_chunk,
        )
        out[f"sigma_{name}"] = result.sigma
        out[f"inverse_sigma_sq_{name}"] = result.inverse_square
    if settings.curvature.noise_scale.batches == 0:  # not measured (e.g. batchnorm: batch, where it is undefined)
        out.update(noise_scale=float("nan"), gradient_sq=float("nan"), trace_sigma=float("nan"))
        return out
    noise = noise_scale(
        model, split, small=settings.curvature.noise_scale.small, big=settings.curvature.noise_scale.big, batches=settings.curvature.noise_scale.batches, seed=settings.curvature.seed,
    )
    out.update(noise_scale=noise.b_simple, gradient_sq=noise.gradient_sq, trace_sigma=noise.trace_sigma)
    return out


def measure_solution(
    model: nn.Module, split: Split, settings: CurvatureSettings, on_part: Callable[[str], None] | None = None
) -> tuple[dict[str, float], Quadrature]:
    """Every measure of `model`'s current weights over `split` (on the model's device)."""
    values, density = spectrum_measures(model, split, settings)
    if on_part is not None:
        on_part("spectrum")
    values.update(sharpness_measures(model, split, settings))
    if on_part is not None:
        on_part("sharpness")
    values.update(flatness_measures(model, split, settings))
    if on_part is not None:
        on_part("flatness")
    return values, density



def curvature_of_solutions(
    model: nn.Module, solutions: Sequence[tuple[int, Mapping[str, torch.Tensor]]], split: Split, settings: CurvatureSettings,
    on_part: Callable[[int, str], None] | None = None,
) -> tuple[dict, list[dict]]:
    """`measure_solution` of every (seed, state_dict): ({'per_seed': one row per solution (its seed and every
    measure), 'summary': mean ± std per measure}, the SLQ nodes and weights as rows {seed, node, weight}).
    `on_part(seed, part)` after each part of each solution. `model` is left at the last solution."""
    rows, nodes = [], []
    for seed, state in solutions:
        model.load_state_dict(state)
        values, density = measure_solution(model, split, settings, None if on_part is None else lambda part, seed=seed: on_part(seed, part))
        rows.append({"seed": seed, **values})
        nodes += [{"seed": seed, "node": float(t), "weight": float(w)} for t, w in zip(density.nodes, density.weights)]
    keys = [k for k in rows[0] if k != "seed"] if rows else []
    return {"per_seed": rows, "summary": summarize(rows, keys)}, nodes
