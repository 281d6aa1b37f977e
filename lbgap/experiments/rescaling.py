"""What Dinh et al.'s function-preserving rescaling does to each measure of one solution."""

from __future__ import annotations

import torch
from torch import nn

from lbgap.data import Split
from lbgap.measures.flatness import dinh_rescale
from lbgap.measures.hessian import hessian_operator, top_eigenvalues
from lbgap.measures.sharpness import model_loss, sharpness_of_model
from lbgap.experiments.curvature import CurvatureSettings
from lbgap.results import eta_key
from lbgap.tensors import flatten, parameters_of
from lbgap.train.evaluation import evaluate


def _measures(model: nn.Module, split: Split, settings: CurvatureSettings) -> dict[str, float]:
    matvec, n = hessian_operator(model, split, settings.eval_chunk)
    like = flatten(parameters_of(model))
    out = {"lambda_1": float(top_eigenvalues(matvec, n, 1, iterations=settings.curvature.lanczos.steps, seed=settings.curvature.seed, like=like)[0])}
    loss_at_x = model_loss(model, split, settings.eval_chunk)  # shared by the φ below
    out["phi"] = sharpness_of_model(
        model, split, settings.epsilon, None, chunk=settings.eval_chunk, maximizer=settings.maximizer, seed=settings.curvature.seed,
        loss_at_x=loss_at_x,
    ).phi
    for eta in settings.curvature.adaptive_eta:
        out[f"adaptive_{eta_key(eta)}"] = sharpness_of_model(
            model, split, settings.epsilon, None, chunk=settings.eval_chunk, maximizer=settings.maximizer,
            seed=settings.curvature.seed, offset=eta, loss_at_x=loss_at_x,
        ).phi
    return out


@torch.no_grad()
def _logits(model: nn.Module, split: Split, chunk: int) -> torch.Tensor:
    model.eval()
    return torch.cat([model(split.x[i : i + chunk]) for i in range(0, len(split), chunk)])


def rescaling_effect(model: nn.Module, split: Split, settings: CurvatureSettings, factor: float, block: int) -> dict:
    """Measures before and after rescaling `model` in place (it is left rescaled), the largest change
    of any logit relative to the largest logit, and the loss before and after (equal up to rounding)."""
    before = _measures(model, split, settings)
    logits, loss = _logits(model, split, settings.eval_chunk), evaluate(model, split, settings.eval_chunk).loss
    dinh_rescale(model, factor, block)
    after_logits, after_loss = _logits(model, split, settings.eval_chunk), evaluate(model, split, settings.eval_chunk).loss
    after = _measures(model, split, settings)
    change = float((after_logits - logits).abs().max() / logits.abs().max())
    return {
        "before": before, "after": after, "ratio": {k: after[k] / before[k] if before[k] else None for k in before},
        "max_relative_logit_change": change, "loss_before": loss, "loss_after": after_loss,
    }
