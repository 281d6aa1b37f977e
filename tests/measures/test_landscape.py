"""lbgap.measures.landscape: the straight and curvilinear paths, against an independent float64 recompute."""

from __future__ import annotations

from pathlib import Path

import math

import pytest
import torch
from torch.nn import functional as F

from lbgap.data import Split
from lbgap.train.evaluation import evaluate
from lbgap.measures.landscape import blend_into, combine_into, curvilinear_path, linear_path
from lbgap.models import build_model

REPO = Path(__file__).resolve().parents[2]  # the repository root

OPTIONS = {"width": 8, "depth": 2}


def independent_loss(state: dict, train_split: Split, evaluated: Split, chunk: int | None = None) -> float:
    """Cross-entropy on `evaluated` of the MLP with weights `state`, each BN layer normalized (in eval) by
    running statistics recomputed from `train_split` as defined — per chunk of `chunk` samples (default:
    one chunk) a train-mode pass where every BN layer normalizes with that chunk's own mean and biased
    variance, then each layer's chunk means and unbiased variances averaged over the chunks — computed
    here by hand in float64, layer by layer, with no torch.nn module involved."""
    linears = sorted({k.rsplit(".", 1)[0] for k in state if k.endswith(".weight") and state[k].dim() == 2},
                     key=lambda name: int(name.split(".")[-1]))
    norms = sorted({k.rsplit(".", 1)[0] for k in state if k.endswith(".running_mean")}, key=lambda name: int(name.split(".")[-1]))
    s = {k: v.double() for k, v in state.items()}

    def forward(x: torch.Tensor, stats: list | None):
        h = x.double().flatten(1)
        collected = []
        for i, linear in enumerate(linears):
            h = h @ s[f"{linear}.weight"].T + s[f"{linear}.bias"]
            if i < len(norms):
                if stats is None:  # train mode: this chunk's own statistics (biased variance normalizes)
                    mean, scale = h.mean(0), h.var(0, unbiased=False)
                    collected.append((mean, h.var(0, unbiased=True)))
                else:
                    mean, scale = stats[i]
                h = (h - mean) / torch.sqrt(scale + 1e-5) * s[f"{norms[i]}.weight"] + s[f"{norms[i]}.bias"]
                h = torch.relu(h)
        return h, collected

    size = chunk or len(train_split)
    per_chunk = [forward(train_split.x[i : i + size], None)[1] for i in range(0, len(train_split), size)]
    stats = [
        (torch.stack([c[layer][0] for c in per_chunk]).mean(0), torch.stack([c[layer][1] for c in per_chunk]).mean(0))
        for layer in range(len(norms))
    ]
    logits, _ = forward(evaluated.x, stats)
    return float(F.cross_entropy(logits, evaluated.y.long()))


@pytest.mark.parametrize("alpha", [-1.0, 1.25, 2.0, 0.5])
def test_interpolation_matches_an_independent_recompute_inside_and_beyond_the_solutions(tiny_data, two_solutions, alpha):
    small, large = two_solutions
    model = build_model("mlp", input_shape=(6,), num_classes=3, seed=9, options=OPTIONS)
    # one chunk holding the whole training set: the cumulative average is then exactly its statistics
    (point,) = linear_path(model, small, large, [alpha], tiny_data, chunk=len(tiny_data.train))
    blended = {k: (1 - alpha) * small[k] + alpha * large[k] for k in small if small[k].is_floating_point()}
    assert point.train_loss == pytest.approx(independent_loss(blended, tiny_data.train, tiny_data.train), rel=1e-5)
    assert point.test_loss == pytest.approx(independent_loss(blended, tiny_data.train, tiny_data.test), rel=1e-5)


def test_the_curvilinear_path_matches_an_independent_recompute(tiny_data, two_solutions):
    small, large = two_solutions
    model = build_model("mlp", input_shape=(6,), num_classes=3, seed=9, options=OPTIONS)
    alphas = [0.0, 0.5, 1.5]
    points = curvilinear_path(model, small, large, alphas, tiny_data, chunk=len(tiny_data.train))
    for point, alpha in zip(points, alphas):
        a, b = math.cos(alpha * math.pi / 2), math.sin(alpha * math.pi / 2)
        state = {k: a * small[k] + b * large[k] for k in small if small[k].is_floating_point()}
        assert point.train_loss == pytest.approx(independent_loss(state, tiny_data.train, tiny_data.train), rel=1e-5)


def test_interpolate_mode_keeps_the_old_behaviour_and_differs_from_recompute_outside(tiny_data, two_solutions):
    small, large = two_solutions
    model = build_model("mlp", input_shape=(6,), num_classes=3, seed=9, options=OPTIONS)
    old = linear_path(model, small, large, [0.0, 1.0, 2.0], tiny_data, bn_statistics="interpolate")
    for point, state in ((old[0], small), (old[1], large)):  # the solutions, bit for bit, statistics and all
        model.load_state_dict(state)
        assert point.train_loss == evaluate(model, tiny_data.train, 1000).loss
    new = linear_path(model, small, large, [2.0], tiny_data, chunk=len(tiny_data.train))
    assert new[0].train_loss != pytest.approx(old[2].train_loss, rel=1e-3)
    with pytest.raises(ValueError, match="bn_statistics"):
        linear_path(model, small, large, [0.5], tiny_data, bn_statistics="blend")


def test_blend_interpolates_weights_and_statistics_but_not_counters(two_solutions):
    small, large = two_solutions
    model = build_model("mlp", input_shape=(6,), num_classes=3, seed=0, options=OPTIONS)
    model.load_state_dict(small)
    blend_into(model, small, large, 0.25)
    state = model.state_dict()
    torch.testing.assert_close(state["net.2.running_mean"], 0.75 * small["net.2.running_mean"] + 0.25 * large["net.2.running_mean"])
    torch.testing.assert_close(state["net.1.weight"], 0.75 * small["net.1.weight"] + 0.25 * large["net.1.weight"])
    assert state["net.2.num_batches_tracked"] == small["net.2.num_batches_tracked"]
    assert small["net.2.num_batches_tracked"] != large["net.2.num_batches_tracked"]
    combine_into(model, small, large, math.cos(math.pi / 4), math.sin(math.pi / 4))
    torch.testing.assert_close(model.state_dict()["net.1.weight"], (small["net.1.weight"] + large["net.1.weight"]) / math.sqrt(2))


COMMITTED = REPO / "plots/interpolation.csv"


@pytest.mark.skipif(
    not (REPO / "models/sb/seed_0.pt").is_file() or not (REPO / "data/dataset.npz").is_file(),
    reason="the default run's checkpoints and data live in the DVC cache, not in git (run `dvc repro` first)",
)
@pytest.mark.parametrize("alpha", [-1.0, 1.25, 2.0])
def test_the_committed_default_run_matches_an_independent_recompute(alpha):
    """plots/interpolation.csv as committed, against the hand-written recompute on the run's own data and
    seed-`interpolate.seed` checkpoints (available where the default run has been reproduced)."""
    import numpy as np
    import pandas as pd
    import yaml

    from lbgap.data import from_arrays

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    assert params["bn_statistics"] == "recompute"
    seed, chunk = params["interpolate"]["seed"], params["runtime"]["eval_chunk"]
    small, large = (torch.load(REPO / f"models/{r}/seed_{seed}.pt", weights_only=True)["final"] for r in ("sb", "lb"))
    with np.load(REPO / "data/dataset.npz") as arrays:
        data = from_arrays(arrays)
    blended = {k: (1 - alpha) * small[k].double() + alpha * large[k].double() for k in small if small[k].is_floating_point()}
    row = pd.read_csv(COMMITTED).set_index("alpha").loc[alpha]
    assert row.train_loss == pytest.approx(independent_loss(blended, data.train, data.train, chunk), rel=1e-4)
    assert row.test_loss == pytest.approx(independent_loss(blended, data.train, data.test, chunk), rel=1e-4)
