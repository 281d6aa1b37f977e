"""Each stage command through Typer's CliRunner: help, a tiny full chain, and every bad-param refusal."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from typer.testing import CliRunner

from lbgap.train.checkpoint import Iterates
from stages import (
    curvature, grid, grid_summary, interpolate, mitigate, predictors, prepare, report, rescaling, sharpness, study, study_summary, surface,
    sweep, train, trajectory, tune, warm_start,
)

REPO = Path(__file__).resolve().parents[2]  # the repository root
runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"})
APPS = {"prepare": prepare.app, "train": train.app, "mitigate": mitigate.app, "sharpness": sharpness.app, "interpolate": interpolate.app, "report": report.app,
        "sweep": sweep.app, "warm_start": warm_start.app, "trajectory": trajectory.app, "curvature": curvature.app,
        "rescaling": rescaling.app, "surface": surface.app, "predictors": predictors.app, "tune": tune.app, "grid": grid.app,
        "grid_summary": grid_summary.app, "study": study.app, "study_summary": study_summary.app}


def invoke(app, *args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("name", APPS)
def test_help(name):
    result = invoke(APPS[name], "--help")
    assert result.exit_code == 0
    assert "--params" in result.output and "Usage" in result.output


def _train(tmp: Path, regime: str, data: Path, params: Path):
    return invoke(
        train.app, regime, "--data", data, "--models", tmp / f"models/{regime}", "--iterates", tmp / f"models/{regime}_iterates",
        "--metrics", tmp / f"metrics/train_{regime}.json", "--curves", tmp / f"plots/train_{regime}.csv",
        "--params", params,
    )

def _tune(tmp: Path, strategy: str, data: Path, sb_models: Path, params: Path):
    return invoke(
        tune.app, strategy, "--data", data, "--sb-iterates", sb_models.parent / "sb_iterates",
        "--out", tmp / f"metrics/tuning/{strategy}.json", "--params", params,
    )


def _mitigate(tmp: Path, strategy: str, data: Path, sb_models: Path, params: Path, tuning: Path | None = None):
    """tune@strategy, then mitigate@strategy with its choice; with `tuning` (a tune document) mitigate alone."""
    if tuning is None:
        result = _tune(tmp, strategy, data, sb_models, params)
        if result.exit_code:
            return result
        tuning = tmp / f"metrics/tuning/{strategy}.json"
    return invoke(
        mitigate.app, strategy, "--data", data, "--sb-models", sb_models, "--sb-iterates", sb_models.parent / "sb_iterates",
        "--tuning", tuning, "--models", tmp / f"models/mitigation/{strategy}",
        "--out", tmp / f"metrics/mitigation/{strategy}.json", "--curve", tmp / f"plots/mitigation/{strategy}.csv",
        "--figure", tmp / f"plots/mitigation/{strategy}.png", "--params", params,
    )


def test_the_stages_chain_on_tiny_params(tmp_path, params_file, report_args):
    data = tmp_path / "data/dataset.npz"
    assert invoke(prepare.app, "--out", data, "--params", params_file).exit_code == 0
    for regime in ("sb", "lb"):
        result = _train(tmp_path, regime, data, params_file)
        assert result.exit_code == 0, result.output
        assert sorted(p.name for p in (tmp_path / f"models/{regime}").iterdir()) == ["seed_0.pt", "seed_1.pt"]
        result = invoke(
            sharpness.app, "--data", data, "--models", tmp_path / f"models/{regime}",
            "--out", tmp_path / f"metrics/sharpness_{regime}.json", "--params", params_file,
        )
        assert result.exit_code == 0, result.output
    for seed in (0, 1):  # each seed's SB and LB runs start from the same x0, and seeds differ
        sb, lb = (torch.load(tmp_path / f"models/{r}/seed_{seed}.pt", weights_only=True) for r in ("sb", "lb"))
        assert all(torch.equal(sb["x0"][k], lb["x0"][k]) for k in sb["x0"])
        assert not all(torch.equal(sb["x0"][k], sb["final"][k]) for k in sb["x0"] if sb["x0"][k].is_floating_point())
    first, second = (torch.load(tmp_path / f"models/sb/seed_{s}.pt", weights_only=True)["x0"] for s in (0, 1))
    assert not torch.equal(first["net.1.weight"], second["net.1.weight"])
    trained = json.loads((tmp_path / "metrics/train_lb.json").read_text())
    assert trained["batch_size"] == 100 and len(trained["per_seed"]) == 2
    assert trained["per_seed"][0]["distance_from_x0"] > 0
    sharp = json.loads((tmp_path / "metrics/sharpness_sb.json").read_text())
    for space in ("full", "subspace"):
        rows = sharp["per_seed"][space]["eps_1e-03"]
        assert len(rows) == 2 and all(r["phi"] > 0 and r["evaluations"] >= 2 for r in rows)

    result = invoke(
        interpolate.app, "--data", data, "--sb-models", tmp_path / "models/sb", "--lb-models", tmp_path / "models/lb",
        "--out", tmp_path / "plots/interpolation.csv", "--figure", tmp_path / "plots/interpolation.png",
        "--curved-out", tmp_path / "plots/interpolation_curvilinear.csv", "--curved-figure", tmp_path / "plots/interpolation_curvilinear.png",
        "--params", params_file,
    )
    assert result.exit_code == 0, result.output
    straight, curved = (pd.read_csv(tmp_path / f"plots/{name}.csv") for name in ("interpolation", "interpolation_curvilinear"))
    assert len(straight) == len(curved) == 5
    assert list(straight["alpha"]) == list(curved["alpha"]) and curved["train_loss"].notna().all()
    assert not np.allclose(straight["train_loss"], curved["train_loss"]), "two different paths"

    for batch in (20, 100):
        result = invoke(
            sweep.app, batch, "--data", data, "--out", tmp_path / f"metrics/sweep/b{batch}.json", "--models", tmp_path / f"models/sweep/b{batch}",
            "--params", params_file,
        )
        assert result.exit_code == 0, result.output
    point = json.loads((tmp_path / "metrics/sweep/b100.json").read_text())
    assert point["batch_size"] == 100 and [r["steps"] for r in point["per_seed"]] == [4, 4]  # 2 epochs · 200/100
    result = invoke(
        warm_start.app, "--data", data, "--sb-iterates", tmp_path / "models/sb_iterates", "--out", tmp_path / "plots/warm_start.csv", "--metrics", tmp_path / "metrics/warm_start.json",
        "--figure", tmp_path / "plots/warm_start.png", "--models", tmp_path / "models/warm_start", "--params", params_file,
    )
    assert result.exit_code == 0, result.output
    assert list(pd.read_csv(tmp_path / "plots/warm_start.csv").sb_epochs) == [0, 1, 2]
    for regime in ("sb", "lb"):
        result = invoke(
            trajectory.app, regime, "--data", data, "--iterates", tmp_path / f"models/{regime}_iterates",
            "--out", tmp_path / f"plots/trajectory_{regime}.csv", "--params", params_file,
        )
        assert result.exit_code == 0, result.output
    along = pd.read_csv(tmp_path / "plots/trajectory_lb.csv")
    assert list(along.epoch) == [0, 1, 2] and (along.sharpness > 0).all() and set(along.batch_size) == {100}
    assert along.noise_scale.notna().all()
    for regime in ("sb", "lb"):
        result = invoke(
            curvature.app, "--data", data, "--models", tmp_path / f"models/{regime}", "--out", tmp_path / f"metrics/curvature_{regime}.json",
            "--spectrum", tmp_path / f"plots/spectrum_{regime}.csv", "--epsilons", tmp_path / f"plots/epsilon_sensitivity_{regime}.csv", "--params", params_file,
        )
        assert result.exit_code == 0, result.output
    measured = json.loads((tmp_path / "metrics/curvature_lb.json").read_text())
    assert measured["samples"] == 100 and len(measured["per_seed"]) == 2
    assert {"lambda_1", "lambda_2", "trace", "phi_eps_1e-03", "adaptive_eta_0", "sigma_absolute", "noise_scale"} <= set(measured["summary"])
    assert list(pd.read_csv(tmp_path / "plots/epsilon_sensitivity_lb.csv").epsilon) == [0.001, 0.01]
    result = invoke(
        rescaling.app, "--data", data, "--sb-models", tmp_path / "models/sb", "--lb-models", tmp_path / "models/lb",
        "--out", tmp_path / "metrics/rescaling.json", "--params", params_file,
    )
    assert result.exit_code == 0, result.output
    rescaled = json.loads((tmp_path / "metrics/rescaling.json").read_text())
    assert rescaled["lb"]["max_relative_logit_change"] < 1e-5 and rescaled["sb"]["ratio"]["lambda_1"] > 1
    result = invoke(
        surface.app, "--data", data, "--sb-models", tmp_path / "models/sb", "--lb-models", tmp_path / "models/lb",
        "--out", tmp_path / "plots/surface.csv", "--figure", tmp_path / "plots/surface.png", "--params", params_file,
    )
    assert result.exit_code == 0, result.output
    assert set(pd.read_csv(tmp_path / "plots/surface.csv").surface) == {"sb", "lb", "plane"}

    raw = yaml.safe_load(params_file.read_text())  # two remedies are enough here; the report reads those of params
    raw["remedies"] = ["sam", "sgd"]
    params_file.write_text(yaml.safe_dump(raw))
    for strategy in raw["remedies"]:
        result = _mitigate(tmp_path, strategy, data, tmp_path / "models/sb", params_file)
        assert result.exit_code == 0, result.output
    with_sb = json.loads((tmp_path / "metrics/mitigation/sgd.json").read_text())  # sgd is compared at both batch sizes
    assert with_sb["batch_size"] == 100 and with_sb["small_batch"]["batch_size"] == 20
    assert sorted(p.name for p in (tmp_path / "models/mitigation/sgd/sb").iterdir()) == ["seed_0.pt"]
    assert with_sb["train"]["per_seed"][0]["updates"] == 3 * 2 and with_sb["small_batch"]["train"]["per_seed"][0]["updates"] == 3 * 10
    result = invoke(
        predictors.app, "--data", data, "--sb-models", tmp_path / "models/sb", "--lb-models", tmp_path / "models/lb",
        "--mitigation-models", tmp_path / "models/mitigation", "--sweep-models", tmp_path / "models/sweep",
        "--warm-start-models", tmp_path / "models/warm_start", "--out", tmp_path / "metrics/predictors.json",
        "--table", tmp_path / "plots/predictors.csv", "--params", params_file,
    )
    assert result.exit_code == 0, result.output
    solutions = pd.read_csv(tmp_path / "plots/predictors.csv")
    # 2 SB + 2 LB + sam and sgd, each at LB and SB + 2 sweep points × 2 seeds + 3 warm starts
    assert len(solutions) == 2 + 2 + 2 + 2 + 4 + 3
    assert set(solutions.family) == {"sb", "lb", "sam", "sam sb", "sgd", "sgd sb", "sweep", "warm_start"}
    assert solutions.included.all()  # tiny params rank every solution (min_train_accuracy 0)
    taus = json.loads((tmp_path / "metrics/predictors.json").read_text())["tau"]
    assert {(t["measure"], t["target"], t["scope"]) for t in taus} >= {("lambda_max", "gap", "within"), ("phi_full_eps_1e-03", "test_loss", "all")}
    for batch in (20, 100):  # tiny params' grid: Adam at batch sizes 20 and 100
        result = invoke(grid.app, "adam", batch, "--data", data, "--out", tmp_path / f"metrics/grid/adam_{batch}.json", "--params", params_file)
        assert result.exit_code == 0, result.output
    result = invoke(grid_summary.app, "--cells", tmp_path / "metrics/grid", "--table", tmp_path / "plots/grid.csv",
                    "--edge-table", tmp_path / "plots/grid_edge.csv", "--out", tmp_path / "metrics/grid_summary.json", "--params", params_file)
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(tmp_path / "plots/grid.csv")) == 2  # one learning rate, one seed, two batch sizes
    for batch in (20, 100):  # tiny params' study: 2 learning rates × 2 weight decays at each batch size
        result = invoke(study.app, batch, "--data", data, "--out", tmp_path / f"metrics/study/b{batch}.json", "--params", params_file)
        assert result.exit_code == 0, result.output
    result = invoke(study_summary.app, "--cells", tmp_path / "metrics/study", "--table", tmp_path / "plots/study.csv",
                    "--out", tmp_path / "metrics/study_summary.json", "--params", params_file)
    assert result.exit_code == 0, result.output
    result = invoke(report.app, *report_args(tmp_path), "--params", params_file)
    assert result.exit_code == 0, result.output
    assert list(pd.read_csv(tmp_path / "plots/sweep.csv").batch_size) == [20, 100]
    summary = json.loads((tmp_path / "metrics/summary.json").read_text())
    assert set(summary["sharpness"]) == {"full", "subspace"}
    headline = json.loads((tmp_path / "metrics/headline.json").read_text())
    assert headline["gap"] == summary["test_acc_pct"]["gap"] and headline["phi_ratio"] == summary["sharpness"]["full"]["eps_1e-03"]["lb_over_sb"]
    assert summary["test_acc_pct"]["gap"] == pytest.approx(summary["test_acc_pct"]["sb"] - summary["test_acc_pct"]["lb"])
    sb, lb = (json.loads((tmp_path / f"metrics/train_{r}.json").read_text())["per_seed"] for r in ("sb", "lb"))
    ratios = [s["distance_from_x0"] / l["distance_from_x0"] for s, l in zip(sb, lb)]
    assert summary["distance_ratio"]["mean"] == pytest.approx(sum(ratios) / len(ratios))
    text = (tmp_path / "report.md").read_text()
    assert "](plots/figures/training_curves.png)" in text and "](plots/interpolation.png)" in text
    assert "](plots/interpolation_curvilinear.png)" in text and "LB + sam" in text
    assert "## What closes the gap?" in text and "## Which measure predicts generalization?" in text
    assert set(summary["mitigation"]) == {"sam", "sgd"} and "gap_closed_pct" in summary["mitigation"]["sgd"]
    assert "lambda_max" in summary["predictors"]
    assert list(pd.read_csv(tmp_path / "plots/remedies.csv").training)[2:] == ["sam", "sgd"]
    assert "not one of the paper's configurations" in text and "paper F1 (MNIST)" in text
    assert "curvature" in summary and summary["curvature"]["lambda_1"] > 0
    for section in ("## Accuracy and sharpness vs batch size", "## Warm-started large-batch training", "## Sharpness along training",
                    "## Beyond the paper: curvature and flatness", "### Function-preserving rescaling"):
        assert section in text
    assert "](plots/figures/sweep.png)" in text and "](plots/warm_start.png)" in text and "](plots/figures/trajectory.png)" in text
    for png in ("plots/figures/training_curves.png", "plots/figures/sharpness.png", "plots/interpolation.png",
                "plots/figures/sweep.png", "plots/figures/trajectory.png", "plots/warm_start.png",
                "plots/figures/hessian_density.png", "plots/figures/epsilon_sensitivity.png", "plots/surface.png",
                "plots/figures/gap_closed.png", "plots/figures/updates.png", "plots/figures/predictors.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def bad(set_key):
    """bad(params_file, key, value) → the same file with that key set (calls nest)."""

    def make(params_file: Path, key: str, value) -> Path:
        params_file.write_text(yaml.safe_dump(set_key(yaml.safe_load(params_file.read_text()), key, value)))
        return params_file

    return make


def _assert_refused(result, message: str, out_dir: Path):
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.output
    assert "Traceback" not in result.output
    assert not out_dir.exists(), "a refused command must write nothing"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("batch", 0, "'batch' must be >= 1 (got 0)"),
        ("batch", 12.5, "'batch' must be an integer"),
        ("batch", 10_000, "'batch' = 10000 exceeds the 200 training samples"),
        ("seeds", 0, "'seeds' must be >= 1 (got 0)"),
        ("runtime.model", "vgg", "'runtime.model' must be one of mlp, F1"),
        ("runtime.models.mlp.width", 0, "'runtime.models.mlp.width' must be >= 1 (got 0)"),
        ("runtime.batchnorm", "ghost", "'runtime.batchnorm' must be one of running, batch (got 'ghost')"),
        ("runtime.device", "tpu", "'runtime.device' must be one of auto, cpu, cuda, mps (got 'tpu')"),
        ("mitigation.sam.rho", -1.0, "'mitigation.sam.rho' must be >= 0 (got -1.0)"),  # a remedy's option, refused by training
        ("runtime.amp", "yes", "'runtime.amp' must be true or false"),
        ("runtime.model", "C1", "C1/C3 needs image inputs"),
    ],
)
def test_train_refuses_bad_params(tmp_path, params_file, mnist1d_file, key, value, message, bad):
    result = _train(tmp_path / "out", "lb", mnist1d_file, bad(params_file, key, value))
    _assert_refused(result, message, tmp_path / "out")


@pytest.mark.parametrize(("key", "value", "message"), [
    ("data.name", "imagenet", "'data.name' must be one of mnist1d, mnist, fashion-mnist"),
    ("sharpness.epsilons", [-0.001], "'sharpness.epsilons[0]' must be > 0 (got -0.001)"),  # keys prepare does not read
    ("remedies", ["sam", "dropout"], "'remedies' names 'dropout', which has no section 'mitigation.dropout'"),
    ("mitigation.sam.rho", -1.0, "'mitigation.sam.rho' must be >= 0"),
])
def test_prepare_refuses_bad_values_anywhere_in_the_file(tmp_path, params_file, bad, key, value, message):
    result = invoke(prepare.app, "--out", tmp_path / "out/d.npz", "--params", bad(params_file, key, value))
    _assert_refused(result, message, tmp_path / "out")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_asking_for_a_missing_gpu_is_one_clear_error(tmp_path, params_file, mnist1d_file, bad):
    result = _train(tmp_path / "out", "sb", mnist1d_file, bad(params_file, "runtime.device", "cuda"))
    _assert_refused(result, "device cuda requested but torch finds none", tmp_path / "out")


def test_prepare_names_the_missing_files_of_an_absent_data_set(tmp_path, params_file, bad):
    params = bad(bad(bad(params_file, "data.name", "cifar10"), "data.root", str(tmp_path / "empty")), "data.download", False)
    result = invoke(prepare.app, "--out", tmp_path / "out/d.npz", "--params", params)
    _assert_refused(result, "CIFAR10: expected data_batch_1", tmp_path / "out")
    params = bad(bad(params_file, "data.name", "npz"), "data.path", None)
    result = invoke(prepare.app, "--out", tmp_path / "out/d.npz", "--params", params)
    _assert_refused(result, "'data.name: npz' needs 'data.path'", tmp_path / "out")


def test_fashion_mnist_through_prepare_and_a_keras_style_batchnorm_network(tmp_path, params_file, fakes, bad):
    """Fake gzipped IDX files in data.root, read by torchvision; F1 with batch-statistics BatchNorm."""
    fakes.write_mnist(tmp_path / "root", fakes.mnist_arrays(60, 20), gzipped=True)
    params = bad(bad(bad(params_file, "data.name", "fashion-mnist"), "data.root", str(tmp_path / "root")), "data.download", False)
    for key, value in (("data.num_train", 40), ("data.validation", 10), ("data.num_test", None), ("runtime.model", "F1"), ("runtime.batchnorm", "batch"),
                       ("small_batch", 20), ("seeds", 1), ("curvature.noise_scale.batches", 0)):
        params = bad(params, key, value)
    result = invoke(prepare.app, "--out", tmp_path / "d.npz", "--params", params)
    assert result.exit_code == 0, result.output
    assert "fashion-mnist: 40 train / 10 validation / 20 test samples, input (1, 28, 28), 10 classes" in result.output
    result = _train(tmp_path / "sb", "sb", tmp_path / "d.npz", params)
    assert result.exit_code == 0, result.output
    state = torch.load(tmp_path / "sb/models/sb/seed_0.pt", weights_only=True)["final"]
    assert not any("running" in name for name in state), "batch-statistics BatchNorm keeps no running averages"


def test_sharpness_refuses_non_positive_epsilon(tmp_path, params_file, mnist1d_file, bad):
    params = bad(params_file, "sharpness.epsilons", [0.001, 0.0])
    result = invoke(sharpness.app, "--data", mnist1d_file, "--models", tmp_path, "--out", tmp_path / "out/s.json", "--params", params)
    _assert_refused(result, "'sharpness.epsilons[1]' must be > 0 (got 0.0)", tmp_path / "out")


def test_interpolate_refuses_an_empty_alpha_range(tmp_path, params_file, mnist1d_file, bad):
    params = bad(params_file, "interpolate.alpha_min", 2.0)
    result = invoke(
        interpolate.app, "--data", mnist1d_file, "--sb-models", tmp_path, "--lb-models", tmp_path,
        "--out", tmp_path / "out/i.csv", "--figure", tmp_path / "out/i.png",
        "--curved-out", tmp_path / "out/c.csv", "--curved-figure", tmp_path / "out/c.png", "--params", params,
    )
    _assert_refused(result, "the α range is empty", tmp_path / "out")


def test_missing_inputs_are_one_line_errors(tmp_path, params_file):
    result = _train(tmp_path / "out", "sb", tmp_path / "nope.npz", params_file)
    _assert_refused(result, "data file not found", tmp_path / "out")
    result = invoke(sharpness.app, "--data", tmp_path / "nope.npz", "--models", tmp_path, "--out", tmp_path / "out/s.json", "--params", tmp_path / "missing.yaml")
    _assert_refused(result, "parameter file not found", tmp_path / "out")


@pytest.fixture
def sb_models(tmp_path, params_file, mnist1d_file) -> Path:
    assert _train(tmp_path / "sb", "sb", mnist1d_file, params_file).exit_code == 0
    return tmp_path / "sb/models/sb"


def test_mitigate_trains_measures_and_plots(tmp_path, params_file, mnist1d_file, sb_models):
    result = _mitigate(tmp_path / "out", "sam", mnist1d_file, sb_models, params_file)
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "out/metrics/mitigation/sam.json").read_text())
    tuned = json.loads((tmp_path / "out/metrics/tuning/sam.json").read_text())
    assert [t["options"] for t in tuned["trials"]] == [{"rho": 0.02}, {"rho": 0.05}]  # tiny params' grid
    best = max(tuned["trials"], key=lambda t: t["mean_validation_accuracy"])["options"]
    assert document["strategy"] == "sam" and document["tuned"] == tuned["chosen"] == best
    assert document["options"]["rho"] == best["rho"]
    assert len(document["train"]["per_seed"]) == 1  # tiny params: mitigation_seeds = 1
    assert document["sharpness"]["per_seed"]["full"]["eps_1e-03"][0]["phi"] > 0
    assert (tmp_path / "out/plots/mitigation/sam.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("strategy", "key", "value", "message"),
    [
        ("sam", "mitigation.sam.rho", -0.1, "'mitigation.sam.rho' must be >= 0 (got -0.1)"),
        ("conservative", "mitigation.conservative", {"lam": 0.1}, "missing key 'mitigation.conservative.inner_steps'"),
        ("adversarial", "mitigation_seeds", 0, "'mitigation_seeds' must be >= 1 (got 0)"),
        ("adversarial", "mitigation.adversarial.steps", 0, "'mitigation.adversarial.steps' must be >= 1 (got 0)"),
        ("conservative", "mitigation.conservative.inner_steps", 0, "'mitigation.conservative.inner_steps' must be >= 1"),
    ],
)
def test_tune_and_mitigate_refuse_bad_params(tmp_path, params_file, mnist1d_file, strategy, key, value, message, bad):
    params = bad(params_file, key, value)
    _assert_refused(_tune(tmp_path / "out", strategy, mnist1d_file, tmp_path, params), message, tmp_path / "out")
    _assert_refused(_mitigate(tmp_path / "out", strategy, mnist1d_file, tmp_path, params, _choice(tmp_path, strategy)), message, tmp_path / "out")


def _choice(folder: Path, remedy: str, **document) -> Path:
    """A tune document of `remedy` choosing nothing (the declared options), or `document`."""
    path = folder / f"{remedy}-tuning.json"
    path.write_text(json.dumps(document or {"strategy": remedy, "grid": {}, "trials": [], "chosen": {}}))
    return path


def test_mitigate_refuses_another_remedys_choice(tmp_path, params_file, mnist1d_file, sb_models):
    wrong = _choice(tmp_path, "sam", strategy="sgd", chosen={"lr": 0.05})
    result = _mitigate(tmp_path / "out", "sam", mnist1d_file, sb_models, params_file, wrong)
    _assert_refused(result, "is not tune@sam's choice of options; rebuild it with `dvc repro tune@sam`", tmp_path / "out")


def test_tune_with_an_empty_grid_trains_nothing_and_needs_no_validation_split(tmp_path, params_file, bad):
    params = bad(bad(params_file, "data.validation", 0), "tuning.grids.sam", {})
    result = _tune(tmp_path / "out", "sam", tmp_path / "absent.npz", tmp_path / "absent", params)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out/metrics/tuning/sam.json").read_text())["chosen"] == {}


def test_tune_refuses_data_without_a_validation_split(tmp_path, params_file, sb_models, bad):
    params = bad(params_file, "data.validation", 0)
    data = tmp_path / "plain.npz"
    assert invoke(prepare.app, "--out", data, "--params", params).exit_code == 0
    result = _tune(tmp_path / "out", "sam", data, sb_models, params)
    _assert_refused(result, "holds no validation split: set 'data.validation' > 0", tmp_path / "out")


def test_tune_never_reads_the_test_arrays(tmp_path, params_file, mnist1d_file, sb_models, monkeypatch):
    """The stage's whole run, through a data file whose test arrays raise when read."""
    import stages.inputs

    load = stages.inputs.np.load

    class Guarded:
        def __init__(self, path, **options):
            self.file = load(path, **options)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def __contains__(self, key):
            return key in self.file

        def __getitem__(self, key):
            assert not key.endswith("_test"), f"the tune stage read {key}"
            return self.file[key]

    monkeypatch.setattr(stages.inputs.np, "load", Guarded)
    result = _tune(tmp_path / "out", "sam", mnist1d_file, sb_models, params_file)
    assert result.exit_code == 0, result.output
    trials = json.loads((tmp_path / "out/metrics/tuning/sam.json").read_text())["trials"]
    assert len(trials) == 2 and all(0 <= t["mean_validation_accuracy"] <= 1 for t in trials)


def test_mitigate_refuses_an_unknown_strategy_and_augmenting_unknown_data(tmp_path, params_file, bad):
    features = tmp_path / "features.npz"
    rng = np.random.default_rng(0)
    np.savez(features, x_train=rng.normal(size=(200, 5)).astype("float32"), y_train=np.arange(200) % 2,
             x_test=rng.normal(size=(10, 5)).astype("float32"), y_test=np.arange(10) % 2,
             x_val=rng.normal(size=(10, 5)).astype("float32"), y_val=np.arange(10) % 2)
    for tuning in (None, _choice(tmp_path, "dropout")):
        _assert_refused(_mitigate(tmp_path / "out", "dropout", features, tmp_path, params_file, tuning), "unknown strategy 'dropout'", tmp_path / "out")
    own_data = bad(bad(params_file, "data.name", "npz"), "data.path", str(features))
    assert _train(tmp_path / "sb", "sb", features, own_data).exit_code == 0  # the SB iterates tune@ reads
    for tuning in (None, _choice(tmp_path, "augmentation")):
        result = _mitigate(tmp_path / "out", "augmentation", features, tmp_path / "sb/models/sb", own_data, tuning)
        _assert_refused(result, "no augmentation is defined for data set 'npz'", tmp_path / "out")


def test_experiment_stages_refuse_sizes_the_data_cannot_hold(tmp_path, params_file, mnist1d_file, sb_models, bad):
    raw = yaml.safe_load(params_file.read_text())
    raw["sweep"]["batches"] = [20, 5000]
    params_file.write_text(yaml.safe_dump(raw))
    out = tmp_path / "out"
    result = invoke(sweep.app, 5000, "--data", mnist1d_file, "--out", out / "b.json", "--models", out / "m", "--params", params_file)
    _assert_refused(result, "'sweep.batches' entry 5000 exceeds the 200 training samples", out)
    result = invoke(sweep.app, 0, "--data", mnist1d_file, "--out", out / "b.json", "--models", out / "m", "--params", params_file)
    _assert_refused(result, "the sweep's batch size 0 is not in 'sweep.batches' (20, 5000)", out)
    result = invoke(sweep.app, 777, "--data", mnist1d_file, "--out", out / "b.json", "--models", out / "m", "--params", params_file)
    _assert_refused(result, "the sweep's batch size 777 is not in 'sweep.batches' (20, 5000)", out)
    result = invoke(
        warm_start.app, "--data", mnist1d_file, "--sb-iterates", sb_models, "--out", out / "w.csv", "--metrics", out / "w.json",
        "--figure", out / "w.png", "--models", out / "m", "--params", bad(params_file, "batch", 500),
    )
    _assert_refused(result, "'batch' = 500 exceeds the 200 training samples", out)
    result = invoke(
        trajectory.app, "lb", "--data", mnist1d_file, "--iterates", sb_models, "--out", out / "t.csv",
        "--params", bad(params_file, "batch", 500),
    )
    _assert_refused(result, "'batch' = 500 exceeds the 200 training samples", out)


def test_experiments_refuse_iterates_the_run_never_reached(tmp_path, params_file, mnist1d_file, sb_models, bad):
    out, iterates = tmp_path / "out", sb_models.parent / "sb_iterates"
    kept = Iterates.load(iterates, 0)
    stopped = tmp_path / "stopped"  # seed 0's iterates as if its stopping rule had ended the run after epoch 1
    stopped.mkdir()
    Iterates(0, 1, {e: s for e, s in kept.states.items() if e <= 1}).save(stopped)
    result = invoke(
        warm_start.app, "--data", mnist1d_file, "--sb-iterates", stopped, "--out", out / "w.csv", "--metrics", out / "w.json",
        "--figure", out / "w.png", "--models", out / "m", "--params", params_file,
    )
    _assert_refused(result, "train@sb seed 0 stopped after epoch 1 (its stopping rule), before epoch(s) 2 that 'warm_start.sb_epochs' asks for", out)
    result = invoke(trajectory.app, "sb", "--data", mnist1d_file, "--iterates", stopped, "--out", out / "t.csv", "--params", params_file)
    _assert_refused(result, "stopped after epoch 1 (its stopping rule), before epoch(s) 2 that 'trajectory.at' asks for", out)
    other = tmp_path / "other"  # kept under other params: epoch 1 missing although the run went on
    other.mkdir()
    Iterates(0, kept.stopped_at, {e: s for e, s in kept.states.items() if e != 1}).save(other)
    result = invoke(trajectory.app, "sb", "--data", mnist1d_file, "--iterates", other, "--out", out / "t.csv", "--params", params_file)
    _assert_refused(result, "keeps no iterate after epoch(s) 1; restore it with `dvc checkout", out)
    result = invoke(trajectory.app, "sb", "--data", mnist1d_file, "--iterates", tmp_path / "none", "--out", out / "t.csv", "--params", params_file)
    _assert_refused(result, "checkpoint not found", out)


def test_rescaling_refuses_a_block_the_network_lacks(tmp_path, params_file, mnist1d_file, sb_models, bad):
    out = tmp_path / "out"
    result = invoke(
        rescaling.app, "--data", mnist1d_file, "--sb-models", sb_models, "--lb-models", sb_models,
        "--out", out / "r.json", "--params", bad(params_file, "rescaling.block", 7),
    )
    _assert_refused(result, "block 7 does not exist: the network has 2 BN → ReLU → layer pairs", out)


@pytest.mark.parametrize(("args", "says"), [
    ([], "Missing argument 'batch'"),
    (["abc", "--data", "d.npz", "--out", "o.json", "--models", "m"], "Invalid value for 'batch'"),
    (["64", "--data", "d.npz", "--out", "o.json", "--models", "m", "--bogus", "1"], "No such option: --bogus"),
])
def test_usage_errors_are_one_error_line_and_exit_code_2(args, says, monkeypatch, capsys):
    from stages.options import run

    monkeypatch.setattr(sys, "argv", ["python -m stages.sweep", *args])
    with pytest.raises(SystemExit) as exit_:
        run(sweep.app)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1 and says in err, err


def test_every_command_runs_through_the_one_line_error_entry():
    for path in sorted((REPO / "stages").glob("*.py")):
        text = path.read_text()
        if 'if __name__ == "__main__":' in text:
            assert text.rstrip().endswith('if __name__ == "__main__":\n    run(app)'), path.name


def test_grid_cells_and_their_summary_on_tiny_params(tmp_path, params_file, mnist1d_file):
    """Two tiny cells per optimizer, trained to a target they can reach, then the summary of all four: the table
    has one row per run, and a summary the tiny grid is too small for says why for each prediction."""
    raw = yaml.safe_load(params_file.read_text())
    raw["train"]["target_loss"] = 0.5
    raw["grid"].update(optimizers=["sgd", "adam"], batches=[20, 50], learning_rates={"sgd": [0.05, 0.2], "adam": [0.003, 0.01]}, max_epochs=6,
                       edge_every=2)
    params_file.write_text(yaml.safe_dump(raw))
    cells = tmp_path / "metrics/grid"
    for optimizer in ("sgd", "adam"):
        for batch in (20, 50):
            result = invoke(grid.app, optimizer, batch, "--data", mnist1d_file, "--out", cells / f"{optimizer}_{batch}.json",
                            "--params", params_file)
            assert result.exit_code == 0, result.output
    cell = json.loads((cells / "adam_50.json").read_text())
    assert [(r["learning_rate"], r["seed"]) for r in cell["rows"]] == [(0.003, 2000), (0.01, 2000)]
    assert all(r["steps"] <= 6 * (200 // 50) for r in cell["rows"]) and "training_sharpness" in cell["rows"][0]  # 200 training samples
    result = invoke(grid_summary.app, "--cells", cells, "--table", tmp_path / "plots/grid.csv", "--edge-table", tmp_path / "e.csv",
                    "--out", tmp_path / "g.json",
                    "--params", params_file)
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(tmp_path / "plots/grid.csv")) == 8
    edge = pd.read_csv(tmp_path / "e.csv")  # the first seed (2000) of every run: from epoch 0 every grid.edge_every epochs, then its end
    along = edge[~edge.end]
    assert set(edge.seed) == {2000} and (along.epoch % raw["grid"]["edge_every"] == 0).all() and (along.epoch == 0).sum() == 8
    assert edge.end.sum() == 8 and len(along) > 8
    summary = json.loads((tmp_path / "g.json").read_text())
    assert set(summary) == {"sgd", "adam"}
    for found in summary.values():  # 4 runs over 2 batch sizes: no fit has enough
        assert found["temperature"] is None and "at least 6 distinct" in found["temperature_why_not"]
        assert found["critical_batch"] is None and "3 or more" in found["critical_batch_why_not"]


def test_the_grid_refuses_a_cell_params_do_not_list(tmp_path, params_file, mnist1d_file):
    out = tmp_path / "out"
    result = invoke(grid.app, "rmsprop", 64, "--data", mnist1d_file, "--out", out / "g.json", "--params", params_file)
    _assert_refused(result, "the grid's optimizer 'rmsprop' is not in 'grid.optimizers' (adam)", out)  # tiny params: Adam only
    result = invoke(grid.app, "adam", 777, "--data", mnist1d_file, "--out", out / "g.json", "--params", params_file)
    _assert_refused(result, "the grid's batch size 777 is not in 'grid.batches' (20, 100)", out)
    result = invoke(grid_summary.app, "--cells", out, "--table", out / "t.csv", "--edge-table", out / "e.csv", "--out", out / "s.json",
                    "--params", params_file)
    _assert_refused(result, "lacks adam_100.json, adam_20.json", out)


def test_the_study_stages_train_measure_and_score_their_configurations(tmp_path, params_file, bad):
    """study@<batch> trains every configuration at its batch size and measures those that reached the
    target; study_summary joins the rows and scores every measure on the axes that vary. Tiny params with a
    target a few epochs reach (cross-entropy 1.5), except at batch 100 with the small learning rate."""
    bad(params_file, "train.target_loss", 1.5)
    bad(params_file, "study.max_epochs", 8)
    bad(params_file, "study.milestone", 2.0)
    data = tmp_path / "data.npz"
    assert invoke(prepare.app, "--out", data, "--params", params_file).exit_code == 0
    for batch in (20, 100):
        result = invoke(study.app, batch, "--data", data, "--out", tmp_path / f"metrics/study/b{batch}.json", "--params", params_file)
        assert result.exit_code == 0, result.output
        rows = json.loads((tmp_path / f"metrics/study/b{batch}.json").read_text())["rows"]
        assert len(rows) == 2 * 2 and {r["batch_size"] for r in rows} == {batch}  # 2 learning rates × 2 weight decays
    refused = invoke(study.app, 50, "--data", data, "--out", tmp_path / "b50.json", "--params", params_file)
    assert refused.exit_code == 2 and "not in 'study.batch_sizes'" in refused.output
    result = invoke(study_summary.app, "--cells", tmp_path / "metrics/study", "--table", tmp_path / "plots/study.csv",
                    "--out", tmp_path / "metrics/study_summary.json", "--params", params_file)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "plots/study.csv")
    summary = json.loads((tmp_path / "metrics/study_summary.json").read_text())
    assert summary["models"] == len(table) == 8 and summary["axes"] == ["batch_size", "learning_rate", "weight_decay"]
    assert summary["reached"] + summary["excluded"] == 8 and len(summary["excluded_runs"]) == summary["excluded"]
    assert summary["reached"] >= 3, summary["excluded_runs"]
    scores = {r["name"]: r for r in summary["scores"]}
    assert {"phi_full_eps_1e-03", "path_norm", "lambda_max", "train_loss"} <= {n for n, r in scores.items() if r["kind"] == "measure"}
    assert {n for n, r in scores.items() if r["kind"] == "baseline"} == {"lr_over_batch", "lr_over_sqrt_batch", "distance_from_x0",
                                                                         "steps_from_milestone"}
    assert all(r["predicts"] == (r["why"] == "") for r in scores.values())
