"""The sharpness survey of a family of solutions: Metric 2.1 at every seed's solution, in the full space
and in one random subspace, at every ε (paper Tables 3 and 4; also each remedy's solutions)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Callable, Mapping, Sequence

import torch
from torch import nn

from lbgap.data import Split
from lbgap.measures.sharpness import model_loss, sharpness_of_model
from lbgap.measures.subspace import random_subspace
from lbgap.results import eps_key, summarize
from lbgap.tensors import parameters_of


def sharpness_survey(
    model: nn.Module,
    solutions: Sequence[tuple[int, Mapping[str, torch.Tensor]]],
    train: Split,
    epsilons: Sequence[float],
    *,
    subspace_dim: int,
    max_iter: int,
    seed: int,
    chunk: int,
    on_run: Callable[[str], None] | None = None,
) -> dict:
    """φ for every (seed, state_dict) solution, in the full space and in one random subspace, at each ε.

    The same subspace A (drawn from `seed`) serves every solution, so regimes and strategies are measured
    along the same directions; L-BFGS-B's start for solution k is seeded by `seed + k`. Returns the JSON
    document the sharpness stages write: per-seed values with iterations and evaluations, and mean ± std.
    `on_run` is called after each maximization with a short description (for progress bars).
    """
    like = parameters_of(model)
    n = sum(p.numel() for p in like.values())
    device = next(iter(like.values())).device
    spaces = {"full": None, "subspace": random_subspace(n, subspace_dim, seed, device)}
    results: dict[str, dict[str, list[dict]]] = {space: {eps_key(e): [] for e in epsilons} for space in spaces}
    for solution_seed, state in solutions:
        model.load_state_dict(state)
        loss_at_x = model_loss(model, train, chunk)  # one f(x) for every space and ε at this solution
        for space, A in spaces.items():
            for eps in epsilons:
                value = sharpness_of_model(
                    model, train, eps, A, chunk=chunk, max_iter=max_iter, seed=seed + solution_seed, loss_at_x=loss_at_x,
                )
                results[space][eps_key(eps)].append({"seed": solution_seed, **asdict(value)})
                if on_run is not None:
                    on_run(f"seed {solution_seed} {space} ε={eps:g}")
    summary = {
        space: {key: summarize(rows, ["phi", "iterations", "evaluations"]) for key, rows in by_eps.items()}
        for space, by_eps in results.items()
    }
    return {"parameters": n, "subspace_dim": subspace_dim, "per_seed": results, "summary": summary}
