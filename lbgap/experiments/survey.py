"""The sharpness survey of a family of solutions: Metric 2.1 at every seed's solution, in the full space
and in one random subspace, at every ε (paper Tables 3 and 4; also each remedy's solutions)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Callable, Mapping, Sequence

import torch
from torch import nn

from lbgap.data import Split
from lbgap.measures.sharpness import (
    certify, clipped_subspace_loss_of_model, model_loss, phi_of, reaches_paper_protocol, sharpness_of_model,
)
from lbgap.measures.subspace import random_subspace
from lbgap.measures.maximizer import Maximizer
from lbgap.results import eps_key, summarize
from lbgap.tensors import parameters_of
from lbgap.train.checkpoint import Checkpoint


def sharpness_survey(
    model: nn.Module,
    solutions: Sequence[tuple[int, Mapping[str, torch.Tensor]]],
    train: Split,
    epsilons: Sequence[float],
    *,
    subspace_dim: int,
    maximizer: Maximizer,
    seed: int,
    chunk: int,
    on_run: Callable[[str], None] | None = None,
) -> dict:
    """φ for every (seed, state_dict) solution, in the full space and in one random subspace, at each ε.

    The same subspace A (drawn from `seed`) serves every solution, so regimes and strategies are measured
    along the same directions; the maximizer's starts for solution k are seeded by `seed + k`. Returns
    the JSON document the sharpness stages write: per-seed records (lbgap.measures.sharpness.Sharpness)
    and mean ± std. Each full-space record also carries its certificate: `clipped_subspace_phi`, φ at
    the subspace maximizer clipped into the full box (a feasible point, so the full-space φ must not be
    below it), and `certified` (levelled off, not below the paper's protocol where it ran, and not below that bound). `on_run` is called after each
    maximization with a short description (for progress bars).
    """
    like = parameters_of(model)
    n = sum(p.numel() for p in like.values())
    device = next(iter(like.values())).device
    spaces = {"full": None, "subspace": random_subspace(n, subspace_dim, seed, device)}
    results: dict[str, dict[str, list[dict]]] = {space: {eps_key(e): [] for e in epsilons} for space in spaces}
    for solution_seed, state in solutions:
        model.load_state_dict(state)
        loss_at_x = model_loss(model, train, chunk)  # one f(x) for every space and ε at this solution
        for eps in epsilons:
            found = {}
            for space in ("subspace", "full"):  # the subspace first: its maximizer certifies the full space
                found[space] = sharpness_of_model(
                    model, train, eps, spaces[space], chunk=chunk, maximizer=maximizer, seed=seed + solution_seed,
                    loss_at_x=loss_at_x,
                )
                if on_run is not None:
                    on_run(f"seed {solution_seed} {space} ε={eps:g}")
            y = found["subspace"].argmax
            bound = float("nan") if y is None else clipped_subspace_loss_of_model(model, train, eps, spaces["subspace"], y, chunk=chunk)
            full = found["full"].record()
            full["clipped_subspace_phi"] = phi_of(bound, loss_at_x)
            full["certified"] = certify(found["full"], bound)
            results["full"][eps_key(eps)].append({"seed": solution_seed, **full})
            subspace = found["subspace"].record()
            subspace["certified"] = subspace["levelled_off"] and reaches_paper_protocol(found["subspace"])
            results["subspace"][eps_key(eps)].append({"seed": solution_seed, **subspace})
    searches = {"full": maximizer, "subspace": maximizer.in_subspace()}
    summary = {
        space: {
            key: summarize(rows, ["phi", "iterations", "evaluations"] + (["paper_protocol_phi"] if searches[space].includes_paper_protocol else []))
            | {"certified": all(row["certified"] for row in rows)}
            for key, rows in by_eps.items()
        }
        for space, by_eps in results.items()
    }
    return {
        "parameters": n, "subspace_dim": subspace_dim, "maximizer": asdict(maximizer), "per_seed": results, "summary": summary,
    }


def survey_of_runs(model: nn.Module, runs: Sequence[Checkpoint], train: Split, epsilons: Sequence[float], **options) -> dict:
    """`sharpness_survey` of the runs' final weights, and under 'at_target_loss' the same survey of the
    weights where each run's training loss first was ≤ train.target_loss: {'target_epoch': seed → the epoch
    it was reached in, 'not_reached': the seeds that never reached it, and the survey's keys (none when no run reached
    it)}. `options` are sharpness_survey's keyword arguments."""
    document = sharpness_survey(model, [(run.seed, run.final) for run in runs], train, epsilons, **options)
    reached = [(run.seed, run.at_target) for run in runs if run.at_target is not None]
    document["at_target_loss"] = {
        "target_epoch": {str(run.seed): run.target_epoch for run in runs},
        "not_reached": [run.seed for run in runs if run.at_target is None],
        **(sharpness_survey(model, reached, train, epsilons, **options) if reached else {}),
    }
    return document


def survey_size(runs: Sequence[Checkpoint], epsilons: Sequence[float]) -> int:
    """How many maximizations `survey_of_runs` makes (for progress bars)."""
    return 2 * len(epsilons) * sum(1 + (run.at_target is not None) for run in runs)
