"""lbgap.experiments.mitigation: after a remedy trains, each of its solutions is surveyed at the remedy's ε, and
the parametric plot runs from an SB solution (the remedy's own where it has one) to the remedy's, its ends
being the two solutions as evaluated on their own."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from lbgap.experiments.mitigation import RemedyResult, epoch_budgets, measure_remedy, measure_size
from lbgap.experiments.remedy import Remedy
from lbgap.measures.maximizer import Maximizer
from lbgap.params import Interpolate, read_params
from lbgap.remedies.registry import get_strategy, read_options
from lbgap.train.checkpoint import Checkpoint
from lbgap.train.evaluation import evaluate
from tests.conftest import REPO


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("own_sb", [False, True])
def test_every_solution_is_surveyed_and_the_path_joins_an_sb_solution_to_the_remedys(trained_mlp, tiny_data, train_config, own_sb):
    remedy = Remedy(get_strategy("sgd"), read_options("sgd", {"lr": 0.05, "momentum": 0.9}), "blobs", 8, 24, 2,
                    train_config(max_epochs=4), amp=False)
    plain, lb = _state(trained_mlp(seed=0)), [_state(trained_mlp(seed=s)) for s in (1, 2)]
    own = [_state(trained_mlp(seed=s)) for s in (3, 4)]  # the remedy's own SB runs, seeds 0 and 1
    trained = {"lb": ({"per_seed": []}, [Checkpoint(state, state, 5, seed) for seed, state in enumerate(lb)])}
    if own_sb:  # a change of the training method: its own SB runs, the plot's α = 0
        trained["sb"] = ({"per_seed": []}, [Checkpoint(state, state, 5, seed) for seed, state in enumerate(own)])
    sharpness = dataclasses.replace(read_params(yaml.safe_load((REPO / "params.yaml").read_text())).sharpness,
                                    epsilons=(1e-3, 5e-4), subspace_dim=3)
    calls = []
    model = trained_mlp(seed=0)
    result = measure_remedy(remedy, "sgd", trained, Checkpoint(plain, plain, 5, 0), model, tiny_data, sharpness=sharpness,
                            maximizer=Maximizer(iterations=1), path=Interpolate(seed=1, alpha_min=0.0, alpha_max=1.0, points=2),
                            bn_statistics="interpolate", chunk=40, on_maximization=calls.append)
    assert len(calls) == measure_size(trained, sharpness.epsilons) == 2 * 2 * (2 if own_sb else 1)  # solutions × spaces, first ε only
    assert set(result.regimes["lb"]["sharpness"]["per_seed"]["full"]) == {"eps_1e-03"}
    start, end = result.path[0], result.path[-1]
    for point, state in ((start, own[1] if own_sb else plain), (end, lb[1])):  # run path.seed = 1 at both ends
        model.load_state_dict(state)
        alone = evaluate(model, tiny_data.train, chunk=40)
        assert point.train_loss == pytest.approx(alone.loss, rel=1e-5)
    assert result.title == f"{'SB sgd' if own_sb else 'SB'} (batch 8) → LB sgd (batch 24), seed 1"
    document = result.document()
    assert document["batch_size"] == 24 and ("small_batch" in document) == own_sb
    # an optimizer change trains at both batch sizes; its recipes set no budget, so each run has the cap
    assert remedy.batches == {"lb": 24, "sb": 8} and epoch_budgets(remedy, len(tiny_data.train), {}) == [4] * 4


def test_the_document_keeps_the_lb_runs_at_the_top():
    result = RemedyResult({"lb": {"batch_size": 24, "train": 1, "sharpness": 2}, "sb": {"batch_size": 8}}, [], "t")
    assert result.document() == {"batch_size": 24, "train": 1, "sharpness": 2, "small_batch": {"batch_size": 8}}
    assert list(result.document()) == ["batch_size", "train", "sharpness", "small_batch"]
