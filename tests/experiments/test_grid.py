"""lbgap.experiments.grid: a cell of (learning rate, seed) runs trained at once equals each run trained
alone with torch's own SGD or Adam, each to its own target step (float64)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch.nn import functional as F

from lbgap.experiments.grid import (
    FIRST_SEED, GridRun, StackedOptimizer, grid_cell, measure_run, stability_ratio, train_cell, training_sharpness,
)
from lbgap.experiments.grid_analysis import (
    batch_effect, critical_batch, edge_along_training, edge_table, grid_summary, sharpness_scaling, steps_scaling, temperature_fit,
)
from lbgap.data import Split
from lbgap.train.evaluation import evaluate
from lbgap.train.loop import TARGET_CHECKS_PER_EPOCH, TARGET_GATE

TARGET = 0.05


def _alone(model, data, *, optimizer, learning_rate, seed, batch_size, max_steps, target=TARGET):
    """One run the plain way: torch.optim, its seed's sample order, the loss checked after every epoch
    and, in an epoch that starts within TARGET_GATE × the target, every ⌊updates / 10⌋ updates."""
    opt = (torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=0.9) if optimizer == "sgd"
           else torch.optim.Adam(model.parameters(), lr=learning_rate, betas=(0.9, 0.999), foreach=False))
    generator, n = torch.Generator().manual_seed(seed), len(data.train)
    per_epoch = n // batch_size
    every = max(1, per_epoch // TARGET_CHECKS_PER_EPOCH)
    loss, steps = evaluate(model, data.train, chunk=1000).loss, 0

    def ended() -> bool:
        return loss <= target or not math.isfinite(loss) or steps >= max_steps

    while not ended():
        order, near = torch.randperm(n, generator=generator), loss <= TARGET_GATE * target
        for step in range(1, per_epoch + 1):
            batch = order[(step - 1) * batch_size : step * batch_size]
            model.train()
            opt.zero_grad()
            F.cross_entropy(model(data.train.x[batch]), data.train.y[batch]).backward()
            opt.step()
            steps += 1
            if steps >= max_steps or (near and step % every == 0 and step < per_epoch):
                loss = evaluate(model, data.train, chunk=1000).loss
                if ended():
                    return steps, loss, opt
        loss = evaluate(model, data.train, chunk=1000).loss
    return steps, loss, opt


@pytest.mark.parametrize("optimizer, rates, batch_size, max_steps, target", [
    ("sgd", [0.01, 0.05, 0.2], 16, 60, TARGET), ("adam", [3e-3, 3e-2, 1e-1], 16, 60, TARGET),
    ("sgd", [0.005, 0.02, 0.05], 4, 150, 0.2),  # 24 updates an epoch: checked every 2 updates near the target
])
def test_a_cell_equals_its_runs_trained_alone(data64, small_mlp, optimizer, rates, batch_size, max_steps, target):
    runs = [GridRun(rate, seed) for rate in rates for seed in (0, 1)]
    models = [small_mlp(run.seed, width=8, depth=2).double() for run in runs]
    before = [{k: v.clone() for k, v in m.state_dict().items()} for m in models]
    results = train_cell(models, runs, data64, optimizer=optimizer, batch_size=batch_size, target_loss=target, max_steps=max_steps)
    assert all(torch.equal(m.state_dict()[k], v) for m, b in zip(models, before) for k, v in b.items())  # untouched
    ended_at = set()
    for run, result in zip(runs, results):
        alone = small_mlp(run.seed, width=8, depth=2).double()
        steps, loss, opt = _alone(alone, data64, optimizer=optimizer, learning_rate=run.learning_rate, seed=run.seed,
                             batch_size=batch_size, max_steps=max_steps, target=target)
        assert result.run == run and result.steps == steps, (run, result.steps, steps)
        assert result.reached == (loss <= target) and result.train_loss == pytest.approx(loss, rel=1e-8)
        for name, value in alone.state_dict().items():
            torch.testing.assert_close(result.state[name], value, rtol=1e-7, atol=1e-9)
        if optimizer == "sgd":
            assert result.preconditioner is None
        else:  # Adam's √v̂ + ε where the run ended, as torch's Adam holds it
            for name, p in alone.named_parameters():
                state = opt.state[p]
                expected = state["exp_avg_sq"].sqrt() / math.sqrt(1 - 0.999 ** float(state["step"])) + 1e-8
                torch.testing.assert_close(result.preconditioner[name], expected, rtol=1e-7, atol=1e-12)
        test = evaluate(alone, data64.test, chunk=1000)
        assert result.test_loss == pytest.approx(test.loss, rel=1e-8) and result.test_accuracy == test.accuracy
        ended_at.add((result.steps, result.reached))
    # the case under test: runs that end at different steps, within an epoch and at the cap
    assert len(ended_at) >= 3 and any(r.reached for r in results) and any(not r.reached for r in results), ended_at
    assert any(r.reached and r.steps % (len(data64.train) // batch_size) for r in results)  # one ended within an epoch


def test_a_diverging_run_ends_and_the_others_go_on(data64, small_mlp):
    runs = [GridRun(1e30, 0), GridRun(0.05, 0)]  # the first overflows to a non-finite loss within an epoch
    results = train_cell([small_mlp(0).double() for _ in runs], runs, data64, optimizer="sgd", batch_size=16,
                         target_loss=TARGET, max_steps=200)
    assert results[0].diverged and not results[0].reached and results[0].steps < results[1].steps
    assert results[1].reached and not results[1].diverged


def test_the_stacked_adam_is_torchs_per_learning_rate():
    torch.manual_seed(0)
    w = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    rates = torch.tensor([1e-3, 1e-2, 0.0], dtype=torch.float64)
    stacked = StackedOptimizer("adam", rates)
    singles = [w[i].detach().clone().requires_grad_() for i in range(3)]
    references = [torch.optim.Adam([s], lr=float(r), foreach=False) for s, r in zip(singles, rates)]
    for _ in range(5):
        g = torch.randn(3, 4, dtype=torch.float64)
        w.grad = g.clone()
        stacked.step({"w": w})
        for i, (s, opt) in enumerate(zip(singles, references)):
            s.grad = g[i].clone()
            opt.step()
    for i, s in enumerate(singles):
        torch.testing.assert_close(w[i].detach(), s.detach(), rtol=1e-12, atol=1e-14)
    assert torch.equal(w[2].detach(), singles[2].detach())  # rate 0: the run stands still


@pytest.mark.parametrize("bad, message", [
    ({"optimizer": "rmsprop"}, "sgd or adam"), ({"batch_size": 0}, "batch size"), ({"max_steps": 0}, "max_steps"),
    ({"target_loss": 0.0}, "target_loss"),
])
def test_bad_settings_are_refused(data64, small_mlp, bad, message):
    settings = {"optimizer": "sgd", "batch_size": 16, "target_loss": TARGET, "max_steps": 10, **bad}
    with pytest.raises(ValueError, match=message):
        train_cell([small_mlp(0).double()], [GridRun(0.1, 0)], data64, **settings)


def _grid(k_true: float, noise: float, seed: int = 0):
    """Runs on a 5 × 4 grid of (η, B), 2 seeds, whose y is a bump in log(η / B^k_true) plus noise."""
    generator = np.random.default_rng(seed)
    lr, batch = np.meshgrid(np.logspace(-4, -1, 5), [64, 256, 1024, 4096], indexing="ij")
    lr, batch = np.repeat(lr.ravel(), 2), np.repeat(batch.ravel(), 2)
    z = np.log(lr) - k_true * np.log(batch)
    y = 90 - (z - z.mean()) ** 2 + noise * generator.standard_normal(len(z))
    return lr, batch, y


@pytest.mark.parametrize("k_true", [0.0, 0.5, 1.0])
def test_the_temperature_fit_recovers_the_exponent_and_says_the_ratio_suffices(k_true):
    lr, batch, y = _grid(k_true, noise=0.3)
    fit = temperature_fit(lr, batch, y, resamples=200, confidence=0.95, seed=0)
    assert fit["k_low"] <= k_true <= fit["k_high"] and abs(fit["k"] - k_true) < 0.1 and fit["k_high"] - fit["k_low"] < 0.3
    assert fit["r2_ratio"] > 0.95 and fit["r2_ratio"] >= fit["r2_both"] - 0.02  # the ratio explains what both do
    if k_true == 1.0:  # η alone or B alone explains much less
        assert fit["r2_lr"] < 0.8 * fit["r2_ratio"] and fit["r2_batch"] < 0.8 * fit["r2_ratio"]


def test_a_y_that_depends_on_lr_and_batch_separately_is_not_a_temperature():
    generator = np.random.default_rng(1)
    lr, batch, _ = _grid(0.5, noise=0.0)
    y = 90 - (np.log(lr) + 5) ** 2 - 3 * (np.log(batch) - 6) ** 2 + 0.1 * generator.standard_normal(len(lr))  # two bumps
    fit = temperature_fit(lr, batch, y, resamples=100, confidence=0.95, seed=0)
    assert fit["r2_both"] > 0.95 and fit["r2_ratio"] < fit["r2_both"] - 0.1


def test_the_temperature_fit_refuses_a_grid_with_one_batch_size():
    with pytest.raises(ValueError, match="2 batch sizes"):
        temperature_fit(np.logspace(-3, -1, 8), np.full(8, 256), np.arange(8.0), resamples=10, confidence=0.9, seed=0)


@pytest.mark.parametrize("optimizer, rate", [("sgd", 0.05), ("adam", 3e-2)])
def test_watched_runs_are_seen_every_few_epochs_and_training_is_unchanged(data64, small_mlp, optimizer, rate):
    runs = [GridRun(rate, 0), GridRun(rate / 3, 1), GridRun(rate, 1)]
    models = lambda: [small_mlp(run.seed, width=8, depth=2).double() for run in runs]  # noqa: E731
    settings = {"optimizer": optimizer, "batch_size": 16, "target_loss": 1e-3, "max_steps": 40}  # 6 updates an epoch: a cap
    seen = []
    watched = train_cell(models(), runs, data64, **settings, watched=[0, 1], watch_every=2,
                         on_watch=lambda i, epoch, loss, weights, preconditioner: seen.append((i, epoch, loss, weights, preconditioner)))
    plain = train_cell(models(), runs, data64, **settings)
    for a, b in zip(watched, plain):  # watching takes no random draw and changes no weight
        assert a.steps == b.steps and all(torch.equal(a.state[k], b.state[k]) for k in a.state)
    assert [(i, epoch) for i, epoch, *_ in seen] == [(i, epoch) for epoch in (0, 2, 4, 6) for i in (0, 1)]  # run 2 unwatched
    for i, epoch, loss, weights, preconditioner in seen:  # each record is the run as a cap at that epoch leaves it (alone)
        if epoch:
            (capped,) = train_cell([small_mlp(runs[i].seed, width=8, depth=2).double()], [runs[i]], data64,
                                   **{**settings, "max_steps": epoch * 6})
            for k in weights:
                torch.testing.assert_close(weights[k], capped.state[k], rtol=1e-7, atol=1e-9)
            assert loss == pytest.approx(capped.train_loss, rel=1e-8)
            if optimizer == "adam":
                for k in preconditioner:
                    torch.testing.assert_close(preconditioner[k], capped.preconditioner[k], rtol=1e-7, atol=1e-12)
            else:
                assert preconditioner is None
        else:  # at the start: x0 and its loss, no preconditioner yet
            x0 = small_mlp(runs[i].seed, width=8, depth=2).double().state_dict()
            assert all(torch.equal(weights[k], x0[k]) for k in weights) and preconditioner is None
    with pytest.raises(ValueError, match="watch_every"):
        train_cell(models(), runs, data64, **settings, watched=[0], watch_every=0, on_watch=lambda *a: None)


def test_a_cell_traces_its_first_seed_without_changing_its_rows(data64, small_mlp, curvature_settings):
    settings = curvature_settings(steps=6)  # what is traced, not how well: the same function is checked at the end
    cell = {"optimizer": "sgd", "batch_size": 16, "learning_rates": [0.1, 0.5], "seeds": 2, "target_loss": TARGET, "max_epochs": 8,
            "momentum": 0.9, "betas": (0.9, 0.999), "stacked": True}
    new_model = lambda seed: small_mlp(seed, width=8, depth=2).double()  # noqa: E731
    rows, trace = grid_cell(new_model, data64, data64.train, settings, **cell, edge_every=1)
    plain, none = grid_cell(new_model, data64, data64.train, settings, **cell)
    pd.testing.assert_frame_equal(pd.DataFrame(rows), pd.DataFrame(plain))  # NaN where B_simple is undefined, in both
    assert none == [] and {(p["learning_rate"], p["seed"]) for p in trace} == {(0.1, FIRST_SEED), (0.5, FIRST_SEED)}  # the first seed only
    ended = {(r["learning_rate"], r["steps"]) for r in rows if r["seed"] == FIRST_SEED}
    assert len({steps for _, steps in ended}) == 2  # the traced runs end at different steps: one leaves the stack first
    for row in (r for r in rows if r["seed"] == FIRST_SEED):
        points = [p for p in trace if p["learning_rate"] == row["learning_rate"]]
        *along, end = points
        assert [p["epoch"] for p in along] == list(range(len(along))) and along[-1]["epoch"] < row["epochs"]  # every epoch from 0
        assert end["end"] and not any(p["end"] for p in along) and end["epoch"] == row["epochs"]  # then where it ended
        assert end["stability_ratio"] == row["stability_ratio"] and all(p["reached"] == row["reached"] for p in points)
    first = trace[0]  # at x0: the same measure as at the end, and the ratio against SGD's threshold (2 + 2μ)/η
    assert first["training_sharpness"] == pytest.approx(training_sharpness(new_model(FIRST_SEED), data64.train, 16, "sgd", None, settings))
    assert first["stability_ratio"] == pytest.approx(first["training_sharpness"] * first["learning_rate"] / 3.8)
    table = edge_table([{"optimizer": "sgd", "batch_size": 16, "edge_trace": trace}, {"optimizer": "adam", "batch_size": 32, "rows": []}])
    assert len(table) == len(trace) and set(table.optimizer) == {"sgd"}


def test_adams_start_has_no_ratio_and_its_later_records_use_its_preconditioner(data64, small_mlp, curvature_settings):
    settings = curvature_settings(steps=6)
    new_model = lambda seed: small_mlp(seed, width=8, depth=2).double()  # noqa: E731
    _, trace = grid_cell(new_model, data64, data64.train, settings, optimizer="adam", batch_size=16, learning_rates=[0.03], seeds=1,
                         target_loss=1e-4, max_epochs=2, momentum=0.9, betas=(0.9, 0.999), stacked=False, edge_every=1)
    start, one, end = trace
    assert start["epoch"] == 0 and math.isnan(start["training_sharpness"]) and math.isnan(start["stability_ratio"])
    (capped,) = train_cell([new_model(FIRST_SEED)], [GridRun(0.03, FIRST_SEED)], data64, optimizer="adam", batch_size=16,
                           target_loss=1e-4, max_steps=6)  # the run at its first record: one epoch of 6 updates
    model = new_model(FIRST_SEED)
    model.load_state_dict(capped.state)
    expected = training_sharpness(model, data64.train, 16, "adam", capped.preconditioner, settings)
    assert one["epoch"] == 1 and one["training_sharpness"] == pytest.approx(expected, rel=1e-6)
    assert one["stability_ratio"] == pytest.approx(expected * 0.03 / 38) and end["end"] and end["epoch"] == 2 and not end["reached"]


def test_the_edge_along_training_summarizes_each_runs_peak_after_its_start():
    """Batch 64: two runs that reached the target — one above its edge at epoch 5, the other highest at x0
    (the start is not a peak) — and one that missed it (left out); batch 256 has no ratio at x0 (as Adam)."""
    rows = [(64, 0.1, 0, 0.2, False, True), (64, 0.1, 5, 1.3, False, True), (64, 0.1, 10, 0.9, False, True), (64, 0.1, 12.5, 0.7, True, True),
            (64, 0.2, 0, 2.0, False, True), (64, 0.2, 5, 0.5, False, True), (64, 0.2, 7.0, 0.3, True, True),
            (64, 0.3, 0, 0.1, False, False), (64, 0.3, 5, 9.0, False, False),
            (256, 0.1, 0, float("nan"), False, True), (256, 0.1, 5, 0.4, False, True), (256, 0.1, 6.5, 0.2, True, True)]
    trace = pd.DataFrame(rows, columns=["batch_size", "learning_rate", "epoch", "stability_ratio", "end", "reached"]).assign(seed=0)
    found = edge_along_training(trace)
    assert found["64"] == {"runs": 2, "start_ratio_median": pytest.approx(1.1), "peak_ratio_median": pytest.approx(0.9),
                           "peak_ratio_max": 1.3, "peak_epoch_median": 5.0, "above_edge": 0.5, "near_edge": pytest.approx(2 / 5)}
    assert found["256"]["start_ratio_median"] is None and found["256"]["peak_ratio_max"] == 0.4 and found["256"]["above_edge"] == 0.0


def test_the_stability_ratio_is_one_at_the_edge():
    assert stability_ratio("sgd", 0.1, (2 + 2 * 0.9) / 0.1) == pytest.approx(1.0)
    assert stability_ratio("adam", 1e-3, 38 / 1e-3) == pytest.approx(1.0)
    assert stability_ratio("sgd", 0.1, 19.0, momentum=0.0) == pytest.approx(0.95)


def test_a_run_is_measured_where_it_ended(data64, small_mlp, curvature_settings):
    runs = [GridRun(3e-2, 0), GridRun(1e300, 1)]  # the second overflows
    models = [small_mlp(run.seed, width=8, depth=2).double() for run in runs]
    x0 = {k: v.clone() for k, v in models[0].named_parameters()}
    results = train_cell(models, runs, data64, optimizer="adam", batch_size=16, target_loss=TARGET, max_steps=60)
    model = small_mlp(0, width=8, depth=2).double()
    settings = curvature_settings(steps=40)  # a full Lanczos on the 3-class net: its λ_max is the dense one
    row = measure_run(model, results[0], "adam", 16, x0, data64, data64.train, settings)
    assert row["reached"] and row["steps"] == results[0].steps and row["epochs"] == results[0].steps / 6
    assert row["test_accuracy"] == pytest.approx(100 * results[0].test_accuracy)
    assert row["distance_from_x0"] > 0 and row["phi"] > 0 and row["lambda_max"] > 0 and row["trace"] > 0
    # Adam's stability ratio is the training loss's preconditioned λ_max over 38/η
    assert row["stability_ratio"] == pytest.approx(row["training_sharpness"] * 3e-2 / 38) and row["training_sharpness"] > 0
    dense = torch.autograd.functional.hessian(lambda w: _loss_at(model, w, data64.train), torch.cat([p.detach().reshape(-1) for p in model.parameters()]))
    assert row["lambda_max"] == pytest.approx(float(torch.linalg.eigvalsh(dense)[-1]), rel=1e-3)
    # the training sharpness: the top eigenvalue of P^(-1/2) H P^(-1/2), H the Hessian of the mean loss over the
    # subset's batches of 16, each normalized by its own BatchNorm statistics (dense, in train mode)
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    batches = [Split(data64.train.x[i : i + 16], data64.train.y[i : i + 16]) for i in range(0, 96, 16)]
    train_mode = torch.autograd.functional.hessian(lambda w: sum(_loss_at(model, w, b, train=True) for b in batches) / 6, flat)
    scale = torch.cat([results[0].preconditioner[n].reshape(-1) for n, _ in model.named_parameters()]).rsqrt()
    expected = float(torch.linalg.eigvalsh(scale[:, None] * train_mode * scale[None, :])[-1])
    assert row["training_sharpness"] == pytest.approx(expected, rel=1e-3)
    diverged = measure_run(model, results[1], "adam", 16, x0, data64, data64.train, settings)
    assert diverged["diverged"] and "phi" not in diverged


def _loss_at(model, flat, split, train=False):
    """Mean cross-entropy over `split` at the flat weights; `train`: BatchNorm on the split's own statistics
    (a copy of the model, so its running statistics stay)."""
    from torch.func import functional_call

    params, start = {}, 0
    for name, p in model.named_parameters():
        params[name] = flat[start : start + p.numel()].reshape(p.shape)
        start += p.numel()
    used = copy.deepcopy(model).train() if train else model.eval()
    return F.cross_entropy(functional_call(used, params, (split.x,)), split.y)


@pytest.mark.parametrize("effect", [0.0, -1.5])
def test_the_batch_effect_at_equal_temperature_is_recovered_with_k_fitted_alongside(effect):
    lr, batch, y = _grid(0.5, noise=0.2)
    y = y + effect * np.log2(batch)
    found = batch_effect(lr, batch, y, resamples=100, confidence=0.95, seed=0)
    assert found["low"] <= effect <= found["high"] and abs(found["per_doubling"] - effect) < 0.15
    assert (found["high"] < 0) == (effect < 0) and abs(found["k"] - 0.5) < 0.1 and not found["k_at_edge"]


def test_a_batch_effect_fits_better_than_the_temperature_alone_only_when_there_is_one():
    """The two models compete: with a batch effect the ratio-plus-log-B model's adjusted R² is clearly above the
    ratio's alone; without one it gains (about) nothing."""
    lr, batch, y = _grid(0.5, noise=0.2)
    for effect, better in ((-1.5, True), (0.0, False)):
        moved = y + effect * np.log2(batch)
        ratio_alone = temperature_fit(lr, batch, moved, resamples=5, confidence=0.9, seed=0)["r2_ratio"]
        with_batch = batch_effect(lr, batch, moved, resamples=5, confidence=0.9, seed=0)["r2_adjusted"]
        assert (with_batch > ratio_alone + 0.01) == better, (effect, with_batch, ratio_alone)


def test_the_steps_slope_reads_perfect_scaling_and_its_end():
    sizes = np.array([64, 128, 256, 512, 1024, 2048, 4096])
    rates = np.array([0.01, 0.03, 0.1])
    lr, batch, seed_of = (a.ravel() for a in np.meshgrid(rates, sizes, [0, 1], indexing="ij"))
    slower = np.where(lr == 0.03, 1.0, 1.6) * (1 + 0.02 * seed_of)  # η = 0.03 best everywhere
    perfect = steps_scaling(lr, batch, 10 * 4096 / batch * slower, resamples=100, confidence=0.95, seed=0)
    assert perfect["slope"] == pytest.approx(-1.0) and perfect["slope_low"] <= -1.0 <= perfect["slope_high"]
    assert all(pair["ratio"] == pytest.approx(0.5) for pair in perfect["per_doubling"]) and perfect["draws"] == 100
    curve = 200 * (1 + 500 / sizes)  # McCandlish: halves well below B_crit = 500, flat far above it
    found = steps_scaling(lr, batch, 200 * (1 + 500 / batch) * slower, resamples=50, confidence=0.95, seed=0)
    ratios = [pair["ratio"] for pair in found["per_doubling"]]
    assert ratios == pytest.approx(list(curve[1:] / curve[:-1]), rel=1e-6) and ratios[0] < 0.6 < 0.9 < ratios[-1]
    assert all(pair["low"] <= pair["ratio"] <= pair["high"] for pair in found["per_doubling"])
    one_seed = steps_scaling(lr[seed_of == 0], batch[seed_of == 0], (10 * 4096 / batch * slower)[seed_of == 0], resamples=10,
                             confidence=0.9, seed=0)
    assert one_seed["slope"] == pytest.approx(-1.0) and one_seed["slope_low"] is None and "one seed" in one_seed["why_no_interval"]
    with pytest.raises(ValueError, match="3 or more"):
        steps_scaling(np.array([0.1, 0.1]), np.array([64, 128]), np.array([10.0, 20.0]), resamples=10, confidence=0.9, seed=0)


def test_a_pure_batch_effect_is_not_absorbed_into_the_exponent():
    """y falls with B at every η, no temperature at all: fitting k alone would move it to soak up the B
    dependence; fitted together, the per-doubling effect is found."""
    lr, batch, _ = _grid(0.5, noise=0.0)
    y = 90 - (np.log(lr) + 5) ** 2 - 1.0 * np.log2(batch) + 0.05 * np.random.default_rng(2).standard_normal(len(lr))
    found = batch_effect(lr, batch, y, resamples=100, confidence=0.95, seed=0)
    assert found["low"] <= -1.0 <= found["high"] and found["high"] < -0.5


def test_the_temperature_fit_refuses_a_grid_of_too_few_cells_and_flags_an_exponent_at_its_edge():
    lr, batch = np.repeat([1e-3, 1e-2, 1e-1], 4), np.tile([64, 256], 6)  # 6 cells, 2 runs each
    with pytest.raises(ValueError, match="6 distinct"):
        temperature_fit(lr[:8], batch[:8], np.arange(8.0), resamples=10, confidence=0.9, seed=0)  # 4 cells
    flat = temperature_fit(lr, batch, 80 + np.log(lr), resamples=20, confidence=0.9, seed=0)  # linear in log η: any k fits
    assert flat["cells"] == 6 and flat["draws"] > 0
    steep = temperature_fit(lr, batch, 80 - (np.log(lr) - 3 * np.log(batch) + 15) ** 2, resamples=20, confidence=0.9, seed=0)
    assert steep["k"] == 2.0 and steep["k_at_edge"]  # the true exponent (3) lies beyond the searched range


def test_the_critical_batch_is_recovered_from_the_best_learning_rate_of_each_batch_size():
    sizes = np.array([64, 128, 256, 512, 1024, 2048, 4096])
    rates = np.array([0.01, 0.03, 0.1])
    lr, batch, seed_of = (a.ravel() for a in np.meshgrid(rates, sizes, [0, 1], indexing="ij"))
    best = 200 * (1 + 500 / batch)
    steps = np.round(best * np.where(lr == 0.03, 1.0, 1.6) * (1 + 0.02 * seed_of))  # η = 0.03 is best everywhere
    found = critical_batch(lr, batch, steps, resamples=100, confidence=0.95, seed=0)
    assert found["critical_batch"] == pytest.approx(500, rel=0.05) and found["best_learning_rates"] == [0.03] * 7
    assert found["critical_batch_low"] <= found["critical_batch"] <= found["critical_batch_high"] and found["draws"] == 100
    assert found["best_at_grid_edge"] == []
    one_seed = critical_batch(lr[seed_of == 0], batch[seed_of == 0], steps[seed_of == 0], resamples=10, confidence=0.9, seed=0)
    assert one_seed["critical_batch_low"] is None and "one seed" in one_seed["why_no_interval"]
    edge = critical_batch(lr, batch, np.round(best * np.where(lr == 0.1, 1.0, 1.6)), resamples=10, confidence=0.9, seed=0)
    assert edge["best_at_grid_edge"] == [int(b) for b in sizes]  # the best η is the grid's largest everywhere
    with pytest.raises(ValueError, match="3 or more"):
        critical_batch(np.array([0.1, 0.1]), np.array([64, 128]), np.array([10.0, 20.0]), resamples=10, confidence=0.9, seed=0)
    with pytest.raises(ValueError, match="do not fall with the batch size"):  # more steps at larger batches: no B_crit > 0
        critical_batch(np.full(3, 0.1), np.array([64, 128, 256]), np.array([10.0, 20.0, 40.0]), resamples=10, confidence=0.9, seed=0)


def test_the_ratios_adjusted_r2_counts_the_fitted_exponent():
    """k is chosen outside the least squares, so the ratio's quadratic has one more parameter than its columns."""
    lr, batch, y = _grid(1.0, noise=0.5)
    found = temperature_fit(lr, batch, y, resamples=5, confidence=0.9, seed=0)
    design = np.column_stack([np.ones_like(lr), np.log(lr / batch ** found["k"]), np.log(lr / batch ** found["k"]) ** 2])
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    r2 = 1 - ((y - design @ coefficients) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    assert found["r2_ratio"] == pytest.approx(1 - (1 - r2) * (len(y) - 1) / (len(y) - 3 - 1))


def test_a_sharpness_at_the_edge_follows_the_learning_rate_not_the_batch():
    generator = np.random.default_rng(0)
    lr, batch, _ = _grid(0.5, noise=0.0)
    at_edge = 3.8 / lr * np.exp(0.05 * generator.standard_normal(len(lr)))
    found = sharpness_scaling(lr, batch, at_edge, resamples=200, confidence=0.95, seed=0)
    assert found["lr_slope_low"] <= -1 <= found["lr_slope_high"] and found["batch_slope_low"] <= 0 <= found["batch_slope_high"]
    by_batch = sharpness_scaling(lr, batch, batch ** 0.5 * np.exp(0.05 * generator.standard_normal(len(lr))), resamples=200,
                                 confidence=0.95, seed=0)
    assert by_batch["batch_slope_low"] <= 0.5 <= by_batch["batch_slope_high"] and by_batch["lr_slope_high"] < 0.1


def test_the_grid_summary_answers_each_prediction_or_says_why_not():
    lr, batch, accuracy = _grid(1.0, noise=0.2)
    frame = pd.DataFrame({"optimizer": "sgd", "learning_rate": lr, "batch_size": batch, "test_accuracy": accuracy,
                          "reached": True, "diverged": False, "steps": np.round(100 * (1 + 300 / batch) / lr ** 0.1),
                          "training_sharpness": 3.8 / lr, "stability_ratio": 1.0})
    small = frame[frame.batch_size <= 256].assign(optimizer="adam")  # two batch sizes only
    summary = grid_summary(pd.concat([frame, small]), resamples=50, confidence=0.9, seed=0)
    sgd, adam = summary["sgd"], summary["adam"]
    assert sgd["reached"] == sgd["runs"] == len(frame) and abs(sgd["temperature"]["k"] - 1.0) < 0.15
    assert sgd["critical_batch"]["critical_batch"] > 0 and sgd["sharpness_scaling"]["lr_slope"] == pytest.approx(-1.0)
    assert sgd["stability"]["64"] == {"median_ratio": 1.0, "above_edge": 0.0, "runs": 10}  # at the edge, none above it
    assert sgd["unreached_by_batch"] == {"64": 0, "256": 0, "1024": 0, "4096": 0} and sgd["diverged"] == 0
    assert "noise_scale_median" not in sgd  # the frame has no noise scale column
    assert sgd["steps_scaling"]["slope"] < 0 and sgd["sharpness_temperature"] is None  # no φ column: said why not
    assert adam["critical_batch"] is None and "3 or more" in adam["critical_batch_why_not"]
    noise = frame.assign(phi=3.8 * batch / lr, noise_scale=np.where(np.arange(len(frame)) % 4 == 0, np.nan, batch.astype(float)))
    measured = grid_summary(noise, resamples=20, confidence=0.9, seed=0)["sgd"]
    defined = noise.noise_scale.dropna()
    assert measured["noise_scale_undefined"] == int(noise.noise_scale.isna().sum()) > 0
    assert measured["noise_scale_median"] == defined.median() and measured["noise_scale_quartiles"] == list(defined.quantile([0.25, 0.75]))
    assert abs(measured["sharpness_temperature"]["k"] - 1.0) < 0.05  # log φ = log 3.8 − log(η / B)
