"""lbgap.experiments.study: the design's configurations, dropout inserted into a network, and the runs'
trainer with weight decay and dropout against torch's own optimizers run the plain way (float64)."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from lbgap.experiments.grid import GridRun, train_cell
from lbgap.experiments.study import AXES, Configuration, configurations, with_dropout
from lbgap.train.evaluation import evaluate


def test_the_design_is_the_product_of_its_axes_in_order():
    values = {"batch_size": [16, 64], "learning_rate": [0.1], "width": [8, 16], "depth": [1], "weight_decay": [0.0, 1e-4],
              "dropout": [0.0]}
    points = configurations(values)
    assert len(points) == 8 and points[0] == Configuration(16, 0.1, 8, 1, 0.0, 0.0) and points[1].weight_decay == 1e-4
    assert points[-1] == Configuration(64, 0.1, 16, 1, 1e-4, 0.0)
    with pytest.raises(ValueError, match="dropout"):
        configurations({axis: values[axis] for axis in AXES if axis != "dropout"})


def test_dropout_follows_every_relu_and_is_off_in_eval_mode(small_mlp):
    model = with_dropout(small_mlp(0, width=8, depth=2), 0.5)
    kinds = [type(m).__name__ for m in model.net]
    assert kinds == ["Flatten"] + ["Linear", "BatchNorm1d", "ReLU", "Dropout"] * 2 + ["Linear"]
    plain = small_mlp(0, width=8, depth=2)
    x = torch.randn(5, 6)
    torch.testing.assert_close(model.eval()(x), plain.eval()(x))  # same weights, dropout off
    assert with_dropout(plain, 0.0) is plain and len(plain.net) == 8
    with pytest.raises(ValueError, match="dropout"):
        with_dropout(plain, 1.0)


def _alone(model, data, *, learning_rate, weight_decay, seed, batch_size, epochs):
    """One run the plain way: torch's SGD with momentum and weight decay, its seed's sample order and, for
    dropout, torch's global stream seeded by its seed; `epochs` whole epochs."""
    opt = torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=0.9, weight_decay=weight_decay)
    generator, n = torch.Generator().manual_seed(seed), len(data.train)
    torch.manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n - batch_size + 1, batch_size):
            batch = order[start : start + batch_size]
            model.train()
            opt.zero_grad()
            F.cross_entropy(model(data.train.x[batch]), data.train.y[batch]).backward()
            opt.step()
    return model


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_a_run_with_weight_decay_and_dropout_equals_torchs_sgd(data64, small_mlp, dropout):
    run = GridRun(0.05, 3, weight_decay=1e-2)
    epochs, batch_size = 3, 16
    before = torch.random.get_rng_state()
    (result,) = train_cell([with_dropout(small_mlp(run.seed, width=8, depth=2).double(), dropout)], [run], data64, optimizer="sgd",
                           batch_size=batch_size, target_loss=1e-9, max_steps=epochs * len(data64.train) // batch_size)
    assert torch.equal(torch.random.get_rng_state(), before)  # the caller's stream is left as it was
    alone = _alone(with_dropout(small_mlp(run.seed, width=8, depth=2).double(), dropout), data64, learning_rate=run.learning_rate,
                   weight_decay=run.weight_decay, seed=run.seed, batch_size=batch_size, epochs=epochs)
    assert not result.reached and result.steps == epochs * len(data64.train) // batch_size
    for name, value in alone.state_dict().items():
        torch.testing.assert_close(result.state[name], value, rtol=1e-7, atol=1e-9)
    assert result.train_loss == pytest.approx(evaluate(alone, data64.train, chunk=1000).loss, rel=1e-8)


def test_weight_decay_changes_the_run_and_dropout_networks_train_one_at_a_time(data64, small_mlp):
    runs = [GridRun(0.05, 0), GridRun(0.05, 0, weight_decay=0.1)]
    plain, decayed = train_cell([small_mlp(0).double() for _ in runs], runs, data64, optimizer="sgd", batch_size=16,
                                target_loss=1e-9, max_steps=8)
    norm = lambda state: sum(float(v.square().sum()) for k, v in state.items() if k.endswith("weight"))  # noqa: E731
    assert norm(decayed.state) < norm(plain.state)
    with pytest.raises(ValueError, match="one run at a time"):
        train_cell([with_dropout(small_mlp(0), 0.2) for _ in runs], runs, data64, optimizer="sgd", batch_size=16,
                   target_loss=0.1, max_steps=4)


def test_each_run_records_its_first_check_at_the_milestone_loss(data64, small_mlp):
    runs = [GridRun(0.01, 0), GridRun(0.2, 0)]
    slow, fast = train_cell([small_mlp(0).double() for _ in runs], runs, data64, optimizer="sgd", batch_size=16,
                            target_loss=0.05, max_steps=400, milestone=0.5)
    per_epoch = len(data64.train) // 16
    for result in (slow, fast):  # checked after whole epochs (the milestone is far above the within-epoch gate)
        assert result.milestone_steps is not None and result.milestone_steps % per_epoch == 0
        assert result.milestone_steps <= result.steps
    assert fast.milestone_steps < slow.milestone_steps
    (alone,) = train_cell([small_mlp(0).double()], runs[:1], data64, optimizer="sgd", batch_size=16, target_loss=0.05,
                          max_steps=slow.milestone_steps)  # stopped at its milestone: its loss is there, not an epoch before
    assert alone.train_loss <= 0.5
    (before,) = train_cell([small_mlp(0).double()], runs[:1], data64, optimizer="sgd", batch_size=16, target_loss=0.05,
                           max_steps=slow.milestone_steps - per_epoch)
    assert before.train_loss > 0.5


def test_a_study_run_is_one_row_of_configuration_measures_and_baselines(data64, small_mlp, curvature_settings, tiny_data):
    from lbgap.experiments.study import study_run

    settings = curvature_settings()
    configuration = Configuration(batch_size=16, learning_rate=0.1, width=8, depth=2, weight_decay=1e-4, dropout=0.1)
    network = lambda width, depth, seed: small_mlp(seed, width=width, depth=depth)  # noqa: E731
    row = study_run(configuration, 5, network, tiny_data, tiny_data.train, settings, epsilons=[1e-3], subspace_dim=4,
                    target_loss=0.05, max_epochs=40, momentum=0.9, milestone=0.5)
    assert row["reached"] and row["train_loss"] <= 0.05 and row["seed"] == 5 and row["dropout"] == 0.1
    assert 0 < row["steps_from_milestone"] < row["steps"]
    assert row["lr_over_batch"] == pytest.approx(0.1 / 16) and row["lr_over_sqrt_batch"] == pytest.approx(0.1 / 4)
    for key in ("gap", "test_accuracy", "distance_from_x0", "path_norm", "log_spectral_product", "lambda_max", "trace",
                "phi_full_eps_1e-03", "phi_subspace_eps_1e-03"):
        assert math.isfinite(row[key]), key
    # a run that cannot reach the target in its budget is a row without measures
    short = study_run(configuration, 5, network, tiny_data, tiny_data.train, settings, epsilons=[1e-3], subspace_dim=4,
                      target_loss=1e-6, max_epochs=1, momentum=0.9, milestone=0.5)
    assert not short["reached"] and "gap" not in short and math.isnan(short["steps_from_milestone"])
