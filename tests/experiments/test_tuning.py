"""lbgap.experiments.tuning: a remedy's options chosen on the held-out split by mean accuracy."""

from __future__ import annotations

from lbgap.data import DataSet
from lbgap.experiments.remedy import Remedy
from lbgap.experiments.tuning import tune_remedy
from lbgap.models import build_model
from lbgap.remedies.registry import get_strategy, grid_points, read_options
from lbgap.train.loop import TrainConfig

CONFIG = TrainConfig(max_epochs=4, patience=4, min_delta=0.0, lr=1e-3, betas=(0.9, 0.999), eval_chunk=1000)


def _tuned(data: DataSet, grid: dict, seeds: int = 1) -> dict:
    def remedy_at(point) -> Remedy:
        options = read_options("sgd", {"lr": 0.05, "momentum": 0.9, **point})
        return Remedy(get_strategy("sgd"), options, "blobs", 8, 24, seeds, CONFIG, amp=False)

    def new_model(seed: int):
        return build_model("mlp", input_shape=(6,), num_classes=3, seed=seed, options={"width": 8, "depth": 1})

    return tune_remedy(remedy_at, grid_points(grid), new_model, data, sb_epochs={})


def test_the_point_with_the_best_validation_accuracy_is_chosen(blobs):
    data = DataSet(blobs(96, seed=0), blobs(60, seed=5))  # the held-out split stands in the test split's place
    tuned = _tuned(data, {"lr": [1e-7, 0.1]}, seeds=2)
    still, learning = tuned["trials"]
    assert still["options"] == {"lr": 1e-7} and len(still["per_seed"]) == 2
    assert learning["mean_validation_accuracy"] > still["mean_validation_accuracy"] + 0.2  # 1e-7 barely moves in 4 epochs
    assert tuned["chosen"] == {"lr": 0.1} and tuned["chosen_trial"] == 1
    assert all(run["updates"] == 4 * 4 for run in learning["per_seed"])  # 96 samples, batch 24, 4 epochs: large-batch runs


def test_a_tie_keeps_the_first_point(blobs):
    data = DataSet(blobs(96, seed=0), blobs(60, seed=5))
    tuned = _tuned(data, {"lr": [0.1, 0.1]})
    assert tuned["trials"][0]["mean_validation_accuracy"] == tuned["trials"][1]["mean_validation_accuracy"]
    assert tuned["chosen_trial"] == 0
