"""lbgap.report.core and stages.core_report: the paper's core result of a run, kept in a results folder."""

from __future__ import annotations

import copy
import json

import pytest
from typer.testing import CliRunner

from lbgap.report.core import core_report, ending, endings_frame
from lbgap.report.tables import certificate_frame, flagged_measurements
from stages import core_report as command

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


def test_a_run_ended_by_its_cap_its_rule_or_divergence():
    falling = [1.0 - 0.01 * e for e in range(10)]
    assert ending(falling, cap=10, patience=3, min_delta=0.001) == "cap"
    flat = [1.0, 0.5, 0.5, 0.5, 0.5]  # no improvement in the last 3 epochs: the rule fires at epoch 5
    assert ending(flat, cap=100, patience=3, min_delta=0.001) == "stopping rule"
    assert ending(flat, cap=5, patience=3, min_delta=0.001) == "stopping rule"  # at the cap, still the rule
    assert ending([1.0, float("nan")], cap=100, patience=3, min_delta=0.001) == "diverged"


def test_the_core_report_of_the_committed_run(committed_run, repeated_prose):
    run = committed_run
    report = core_report(run.params, run.train, run.curves, run.sharpness, command="dvc repro", seconds=960.0,
                         commit="abc1234", interpolation="interpolation.png")
    frame = endings_frame(run.train, run.curves, run.params)
    assert len(frame) == 2 * len(run.train["sb"]["per_seed"]) and set(frame["ended by"]) <= {"stopping rule", "cap"}
    # the committed runs stopped before the cap: the rule, by the loop's own test
    assert (frame[frame.epochs < run.params["train"]["max_epochs"]]["ended by"] == "stopping rule").all()
    assert report.summary["ended_by"]["SB"] == frame[frame.regime == "SB"]["ended by"].value_counts().to_dict()
    assert report.summary["test_acc_pct"]["gap"] == pytest.approx(
        100 * (run.train["sb"]["summary"]["test_accuracy"]["mean"] - run.train["lb"]["summary"]["test_accuracy"]["mean"]))
    assert report.summary["seconds"] == 960.0 and report.summary["commit"] == "abc1234"
    for text in ("cf. the paper's Table 2", "cf. Table 3", "cf. Table 4", "paper F1 (MNIST)", "not one of the paper's configurations",
                 "```bash\ndvc repro\n```", "The command took 16 min wall time", "![interpolation](interpolation.png)"):
        assert text in report.markdown
    assert set(report.figures) == {"training_curves", "sharpness"}
    assert not repeated_prose(report.markdown)


def test_a_maximization_that_failed_its_certificate_is_flagged(committed_run):
    run = committed_run
    frame = certificate_frame(run.sharpness)
    seeds, epsilons = len(run.train["sb"]["per_seed"]), len(run.sharpness["lb"]["per_seed"]["full"])
    assert len(frame) == 2 * 2 * seeds * epsilons  # regimes × spaces × seeds × ε
    failed = copy.deepcopy(run.sharpness)
    first = failed["lb"]["per_seed"]["full"]["eps_1e-03"][0]
    # as LB seeds 1 and 3 of the batch-BN F1 run under the paper's protocol: φ 0.0005 where the subspace found 10.3
    first.update(phi=0.0005, clipped_subspace_phi=10.3, paper_protocol_phi=None, certified=False)
    failed["lb"]["summary"]["full"]["eps_1e-03"]["certified"] = False
    report = core_report(run.params, run.train, run.curves, failed, command="dvc repro", seconds=60.0,
                         commit="abc", interpolation="interpolation.png")
    committed = flagged_measurements(frame)
    injected = {"regime": "LB", "seed": first["seed"], "space": "full", "eps": "1e-03",
                "why": "its best f was still rising" if not first["levelled_off"] else "below its clipped-subspace bound (φ 10.3)"}
    assert injected not in committed
    def key(flag):
        return flag["regime"], flag["seed"], flag["space"], flag["eps"]
    assert sorted(report.summary["sharpness_flagged"], key=key) == sorted([injected, *committed], key=key)
    assert "Flagged (failed their certificate): " in report.markdown
    assert f"LB seed {first['seed']} full ε=1e-03: {injected['why']}" in report.markdown
    assert "(flagged)" in report.markdown
    assert "| 1e-03 |" in report.markdown and "| 0.001 |" not in report.markdown  # ε as the stages key it
    first.update(phi=0.5 * run.sharpness["lb"]["per_seed"]["full"]["eps_1e-03"][0]["paper_protocol_phi"], clipped_subspace_phi=0.0,
                 paper_protocol_phi=run.sharpness["lb"]["per_seed"]["full"]["eps_1e-03"][0]["paper_protocol_phi"], levelled_off=True)
    below = [f for f in flagged_measurements(certificate_frame(failed)) if key(f) == key(injected)]
    assert below and below[0]["why"].startswith("below the paper's protocol from the same start")
    clean = core_report(run.params, run.train, run.curves, run.sharpness, command="dvc repro", seconds=60.0,
                        commit="abc", interpolation="interpolation.png")
    assert clean.summary["sharpness_flagged"] == committed
    for flag in committed:  # the committed run's own flags are named in its report
        assert f"{flag['regime']} seed {flag['seed']} {flag['space']} ε={flag['eps']}: {flag['why']}" in clean.markdown


def test_the_command_writes_a_results_folder(tmp_path):
    out = tmp_path / "results/run"
    result = CliRunner().invoke(command.app, ["--out", str(out), "--command", "dvc repro", "--seconds", "60",
                                              "--commit", "abc", "--root", str(REPO), "--params", str(REPO / "params.yaml")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted([
        "report.md", "summary.json", "training_curves.png", "sharpness.png", "interpolation.png", "interpolation.csv",
        "interpolation_curvilinear.png", "interpolation_curvilinear.csv",
        "train_sb.json", "train_lb.json", "sharpness_sb.json", "sharpness_lb.json", "train_sb.csv", "train_lb.csv"])
    assert "](interpolation.png)" in (out / "report.md").read_text()  # the figure it links, copied beside it
    assert json.loads((out / "summary.json").read_text())["command"] == "dvc repro"
    assert not list(tmp_path.glob("results/.*"))  # no temporary leftovers


def test_the_command_refuses_a_folder_that_is_not_a_dvc_project(tmp_path):
    result = CliRunner().invoke(command.app, ["--out", str(tmp_path / "results/run"), "--command", "dvc repro", "--seconds", "60",
                                              "--commit", "abc", "--root", str(tmp_path), "--params", str(REPO / "params.yaml")])
    assert result.exit_code == 2 and "no stages train@sb, train@lb, sharpness@sb, sharpness@lb, interpolate to read the run from" in result.output
    assert not (tmp_path / "results").exists()
