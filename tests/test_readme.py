"""The README's set-up commands are the ones CI and the pipeline really use, pyproject.toml declares
every package the code imports (a package that happens to be installed must not hide a missing one), and
the Fashion-MNIST numbers are those of the committed results folders."""

from __future__ import annotations

from pathlib import Path

import ast
import json
import re
import sys
import tomllib
from importlib.metadata import packages_distributions

import pytest

REPO = Path(__file__).resolve().parents[1]  # the repository root


LOCAL = {"lbgap", "stages", "tests", "benchmarks"}
SCANNED = ("lbgap", "stages", "tests", "benchmarks")


def test_ci_runs_the_readme_test_command():
    command = (REPO / ".ci/run").read_text().strip().splitlines()[-1]
    assert command == 'pip install -q -e ".[test]" && python -m pytest'
    assert command in (REPO / "README.md").read_text()


def test_ci_runs_in_a_fresh_virtual_environment():
    script = (REPO / ".ci/run").read_text()
    assert re.search(r"python3? -m venv", script) and "activate" in script and "mktemp -d" in script


def test_readme_run_command_reproduces_the_pipeline():
    assert "pip install -q -e . && dvc repro" in (REPO / "README.md").read_text()


def _top_level_imports(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _declared_distributions() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    return {_normalize(re.split(r"[ <>=!~;\[]", r, maxsplit=1)[0]) for r in requirements}


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_packages() -> dict[str, set[str]]:
    """Third-party top-level import name → the files that import it, over lbgap/, stages/, tests/, benchmarks/."""
    found: dict[str, set[str]] = {}
    for folder in SCANNED:
        for path in (REPO / folder).rglob("*.py"):
            for name in _top_level_imports(path.read_text()) - LOCAL - set(sys.stdlib_module_names):
                found.setdefault(name, set()).add(str(path.relative_to(REPO)))
    return found


# import name → distribution of packages in an extra the test command does not install (so importlib cannot map them)
OPTIONAL_ONLY = {"vl_convert": "vl-convert-python"}  # the `plots` extra: python -m stages.offline_plots


def test_every_import_is_declared_in_pyproject():
    declared = _declared_distributions()
    distributions = packages_distributions()  # import name → distributions that provide it
    missing = {}
    for name, files in imported_packages().items():
        providers = {_normalize(d) for d in distributions.get(name, [])} or {_normalize(OPTIONAL_ONLY.get(name, name))}
        if not providers & declared:
            missing[name] = sorted(files)
    assert not missing, f"imported but not declared in pyproject.toml (dependencies or the test extra): {missing}"


def test_the_import_scan_sees_the_packages_we_use():
    """Guard against a scan that finds nothing (and so passes vacuously)."""
    found = imported_packages()
    assert {"torch", "torchvision", "numpy", "scipy", "typer", "pytest", "yaml", "pandas"} <= set(found)


def _table_after(text: str, marker: str) -> list[list[str]]:
    """The cells of the first markdown table after `marker` (header and body rows, separator dropped)."""
    lines = text[text.index(marker):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip().strip("*") for cell in line.strip().strip("|").split("|")])
    return [rows[0], *rows[2:]]


def test_the_fashion_mnist_table_is_the_committed_results():
    """Each Fashion-MNIST column of docs/fashion-mnist.md's comparison holds its results/<name>/summary.json, rounded."""
    header, *body = _table_after((REPO / "docs/fashion-mnist.md").read_text(), "# The paper's F1 on Fashion-MNIST")
    rows = {row[0]: row for row in body}
    columns = {"fashion-mnist-F1": "running-statistics BN", "fashion-mnist-F1-batchnorm-batch": "batch-statistics BN"}
    for folder, label in columns.items():
        summary = json.loads((REPO / "results" / folder / "summary.json").read_text())
        column = next(i for i, name in enumerate(header) if name.endswith(label))
        cell = lambda row: rows[row][column]
        acc = summary["test_acc_pct"]
        assert cell("test accuracy SB (%)").split(" ± ")[0] == f"{acc['sb']:.2f}", folder
        assert cell("test accuracy LB (%)").split(" ± ")[0] == f"{acc['lb']:.2f}", folder
        assert cell("gap SB − LB (points)") == f"{acc['gap']:.2f}", folder
        ratio = summary["sharpness"]["full"]["eps_1e-03"]["lb_over_sb"]
        assert f"({ratio:.0f}×" in cell("φ full space ε=1e-3, SB / LB"), folder
        ratio = summary["sharpness"]["subspace"]["eps_1e-03"]["lb_over_sb"]
        assert f"({ratio:.0f}×" in cell("φ subspace ε=1e-3, SB / LB"), folder
        assert cell("‖x_SB − x0‖ / ‖x_LB − x0‖") == f"{summary['distance_ratio']:.1f}", folder
        assert summary["ended_by"] == {"SB": {"stopping rule": 5}, "LB": {"stopping rule": 5}}  # "none by the cap"
        train = {r: json.loads((REPO / "results" / folder / f"train_{r}.json").read_text()) for r in ("sb", "lb")}
        assert cell("epochs SB / LB") == " / ".join(
            f"{min(e)}–{max(e)}" for e in ([s["epoch"] for s in train[r]["per_seed"]] for r in ("sb", "lb"))), folder
        sb, lb = (part.split(" ± ")[0] for part in cell("train accuracy SB / LB (%)").split(" / "))
        assert (sb, lb) == (f"{summary['train_acc_pct']['sb']:.2f}", f"{summary['train_acc_pct']['lb']:.2f}"), folder
        for space, row in (("full", "φ full space ε=1e-3, SB / LB"), ("subspace", "φ subspace ε=1e-3, SB / LB")):
            shown = [float(v) for v in cell(row).split(" (")[0].split(" / ")]
            measured = [summary["sharpness"][space]["eps_1e-03"][r] for r in ("sb", "lb")]
            assert shown == pytest.approx(measured, rel=0.005), (folder, row)  # printed to 3 significant figures


def test_the_maximizer_table_in_the_docs_is_the_committed_benchmark():
    """docs/measures.md's table of the defaults' evidence holds benchmarks/results/maximizer.json, rounded."""
    header, *body = _table_after((REPO / "docs/measures.md").read_text(), "*The defaults, from `python -m benchmarks.maximizer`*")
    rows = json.loads((REPO / "benchmarks/results/maximizer.json").read_text())["result"]["rows"]
    best = {r["solution"]: r for r in rows if "best_phi" in r}
    columns = {2: ("lbfgsb", 1, 10), 3: ("lbfgsb_log", 1, 10), 4: ("apgd", 1, 5), 5: ("apgd", 1, 10), 6: ("apgd", 1, 20)}
    assert len(body) == len(best) == 3
    for row in body:
        solution = row[0].split(" (")[0]
        assert row[0].endswith(f"({best[solution]['loss_at_x']:.1e})".replace("e-0", "e-")), row[0]
        assert float(row[1]) == pytest.approx(best[solution]["best_phi"], rel=0.005)
        assert row[0].split(" (")[0] in best
        for column, (ascents, starts, iterations) in columns.items():
            (measured,) = [r["fraction_of_best"] for r in rows if r.get("ascents") == ascents and r["solution"] == solution
                           and r["starts"] == starts and r["iterations"] == iterations]
            assert row[column] == f"{measured:.3f}", (solution, header[column])


def test_the_readme_result_table_is_the_committed_default_run():
    """The README's first table holds metrics/summary.json of the committed default run, rounded as printed."""
    header, *body = _table_after((REPO / "README.md").read_text(), "From the committed default run")
    rows = {row[0]: row[1:] for row in body}
    summary = json.loads((REPO / "metrics/summary.json").read_text())
    assert header[1:] == [f"SB ({summary['batch']['sb']})", f"LB ({summary['batch']['lb']})"]
    for label, key in (("test accuracy (%)", "test_acc_pct"), ("train accuracy (%)", "train_acc_pct")):
        assert rows[label] == [f"{summary[key][r]:.2f}" for r in ("sb", "lb")], label
    for label, space in (("sharpness φ, full space, ε = 1e-3", "full"), ("sharpness φ, random 100-dim subspace, ε = 1e-3", "subspace")):
        phi = summary["sharpness"][space]["eps_1e-03"]
        assert float(rows[label][0]) == pytest.approx(phi["sb"], rel=0.005), label
        lb, ratio = rows[label][1].split(" (")
        assert float(lb) == pytest.approx(phi["lb"], rel=0.005) and ratio.startswith(f"{phi['lb_over_sb']:.0f}×"), label
        assert ("flagged" in ratio) == (not phi["certified"]), label  # a flagged mean says so
        paper = phi["paper_protocol"]
        shown = rows[label.replace("sharpness φ", "φ by the paper's protocol")]
        assert float(shown[0]) == pytest.approx(paper["sb"], rel=0.005), label
        lb, ratio = shown[1].split(" (")
        assert float(lb) == pytest.approx(paper["lb"], rel=0.005) and ratio == f"{paper['lb_over_sb']:.0f}×)", label
    assert rows["distance travelled from x0, SB / LB"][0] == f"{summary['distance_ratio']['mean']:.2f}×"



def test_the_readme_rows_at_the_target_loss_are_the_committed_default_run():
    """The README's rows at the target training loss hold metrics/summary.json's `at_target_loss`, rounded."""
    _, *body = _table_after((REPO / "README.md").read_text(), "From the committed default run")
    rows = {row[0]: row[1:] for row in body}
    at = json.loads((REPO / "metrics/summary.json").read_text())["at_target_loss"]
    prefix = f"at train loss ≤ {at['target_loss']:g}: "
    assert rows[prefix + "test accuracy (%)"] == [f"{at['test_acc_pct'][r]:.2f}" for r in ("sb", "lb")]
    assert rows[prefix + "train loss reached"] == [f"{at['train_loss'][r]:.4f}" for r in ("sb", "lb")]
    for label, space in ((prefix + "φ, full space, ε = 1e-3", "full"), (prefix + "φ, random 100-dim subspace, ε = 1e-3", "subspace")):
        phi = at["sharpness"][space]["eps_1e-03"]
        flagged = {f["regime"]: sum(1 for g in at["sharpness_flagged"] if (g["regime"], g["space"], g["eps"]) == (f["regime"], space, "1e-03"))
                   for f in at["sharpness_flagged"]}
        sb, *sb_note = rows[label][0].split(" (")
        assert float(sb) == pytest.approx(phi["sb"], rel=0.005), label
        lb, ratio = rows[label][1].split(" (")
        assert float(lb) == pytest.approx(phi["lb"], rel=0.005) and ratio.startswith(f"{phi['lb_over_sb']:.0f}×"), label
        # a mean with flagged seeds says how many
        assert (f"{flagged['SB']} of" in sb_note[0]) if flagged.get("SB") else not sb_note, label
        assert (f"{flagged['LB']} of" in ratio) if flagged.get("LB") else "flagged" not in ratio, label


def test_the_readme_configurations_table_quotes_the_results_folders():
    """The README's short table of configurations: each Fashion-MNIST row's gap and φ ratio are its folder's."""
    header, *body = _table_after((REPO / "README.md").read_text(), "## The paper's configurations and real data")
    rows = {row[0]: row for row in body}
    folders = {"F1 on Fashion-MNIST, running-statistics BN": "fashion-mnist-F1",
               "F1 on Fashion-MNIST, batch-statistics BN": "fashion-mnist-F1-batchnorm-batch"}
    for label, folder in folders.items():
        summary = json.loads((REPO / "results" / folder / "summary.json").read_text())
        ratio = summary["sharpness"]["full"]["eps_1e-03"]["lb_over_sb"]
        assert rows[label][2].startswith(f"gap {summary['test_acc_pct']['gap']:.2f} points, φ LB/SB {ratio:.0f}×"), label
        if "GPU re-run" in rows[label][2]:  # the one-off re-run with the validated maximizer (docs/fashion-mnist.md)
            gpu = json.loads((REPO / "benchmarks/results/fashion_f1_batch_cuda/summary.json").read_text())
            again = gpu["sharpness"]["full"]["eps_1e-03"]["lb_over_sb"]
            assert f"gap {gpu['test_acc_pct']['gap']:.2f} points, φ LB/SB {again:.0f}×, the validated search did not stall" in rows[label][2], label
        if "(≈" in rows[label][1]:  # the wall time quoted for running it again: the folder's own, in hours
            assert f"(≈ {summary['seconds'] / 3600:.0f} h on 2 cores)" in rows[label][1], label


def test_the_readme_study_row_is_the_committed_study():
    """The designed study's row: its verdict and wall time are results/study-grid's."""
    header, *body = _table_after((REPO / "README.md").read_text(), "## The paper's configurations and real data")
    row = next(row for row in body if row[0].startswith("designed predictor study"))
    summary = json.loads((REPO / "results/study-grid/study_summary.json").read_text())
    run = json.loads((REPO / "results/study-grid/run.json").read_text())
    assert row[0].startswith(f"designed predictor study: {summary['models']} MLPs")
    assert f"(≈ {run['cell_seconds'] / 3600:.0f} h on 2 cores)" in row[1]
    measures = [s for s in summary["scores"] if s["kind"] == "measure"]
    assert not any(s["predicts"] for s in measures) and row[2].startswith("no measure predicts")
    # "a baseline — how far the weights moved from x0, farther with a smaller gap — ranks it about as well as the best measures":
    # the best baseline, reversed, and no measure's Ψ above its by more than the interval of the difference allows
    best = next(s for s in summary["scores"] if s["name"] == s["best_baseline"])
    assert best["name"] == "distance_from_x0" and best["orientation"] == -1 and "how far the weights moved from x0" in row[2]
    assert all(s["Psi_minus_best_baseline_low"] <= 0 for s in measures) and "about as well as the best measures" in row[2]
    # "sharpness ranks the gap along batch size and dropout, not along depth": φ at ε = 1e-3, full space
    phi = next(s for s in measures if s["name"] == "phi_full_eps_1e-03")
    assert min(phi["psi_seeds_averaged_batch_size"], phi["psi_seeds_averaged_dropout"]) > 0 > phi["psi_seeds_averaged_depth"]


def test_the_readme_fashion_mnist_p_values_are_welch_tests_of_the_committed_seeds():
    """"Welch's t-test p ≈ 0.10 and 0.08": SB against LB test accuracy over the 5 seeds of each results folder."""
    from scipy import stats

    text = " ".join((REPO / "README.md").read_text().split())
    quoted = re.search(r"Welch's t-test p ≈ ([0-9.]+) and ([0-9.]+)", text)
    assert quoted, "the README quotes the two p-values"
    for folder, shown in zip(("fashion-mnist-F1", "fashion-mnist-F1-batchnorm-batch"), quoted.groups()):
        accuracy = {r: [s["test_accuracy"] for s in json.loads((REPO / "results" / folder / f"train_{r}.json").read_text())["per_seed"]]
                    for r in ("sb", "lb")}
        assert f"{stats.ttest_ind(accuracy['sb'], accuracy['lb'], equal_var=False).pvalue:.2f}" == shown, folder


def _interval(low: float, high: float) -> str:
    import math

    return "—" if math.isnan(low) else f"[{low:.0f}, {high:.0f}]"


def test_the_readme_remedies_table_is_the_committed_all_remedies_run():
    """Each row of the README's "What closes the gap" holds results/all-remedies/remedies.csv (that run's report
    table), rounded: accuracy, gap closed with its paired interval, own SB accuracy and own gap, φ; every remedy
    once."""
    import pandas as pd

    header, *body = _table_after((REPO / "README.md").read_text(), "## What closes the gap")
    frame = pd.read_csv(REPO / "results/all-remedies/remedies.csv").set_index("training")
    assert len(body) == len(frame) - 1 == len({row[0] for row in body})  # plain SB and LB share the first row
    plain = body[0]
    sb, lb = frame.iloc[0], frame.iloc[1]
    def phi(row) -> str:  # a mean with a maximization that failed its certificate says so
        return f"{row.phi:.0f}" + ("" if row.phi_certified else " (flagged)")

    assert plain[1:] == [f"{lb.test_accuracy:.2f}", "0", "—", f"{sb.test_accuracy:.2f}", f"{sb.test_accuracy - lb.test_accuracy:.2f}",
                         phi(lb), f"{lb.updates:.0f}"], plain
    for row in body[1:]:
        remedy = frame.loc[row[0].removeprefix("+ ")]
        own = ["—", "—"] if pd.isna(remedy.get("own_sb_accuracy")) else [f"{remedy.own_sb_accuracy:.2f}", f"{remedy.own_gap:.2f}"]
        interval = _interval(remedy.gap_closed_low, remedy.gap_closed_high)
        assert row[1:] == [f"{remedy.test_accuracy:.2f}", f"{remedy.gap_closed:.0f}", interval, *own, phi(remedy),
                           f"{remedy.updates:.0f}"], row


def test_the_readme_summary_of_the_remedies_is_the_all_remedies_run():
    """The sentence under the remedies table, against results/all-remedies (tests/test_remedies_numbers.py's reading of
    it): who does not help, how many survive the correction, who passes plain SB, who does not fit the training set."""
    from tests.test_remedies_numbers import _derived, _frame, _stage_outputs

    derived, frame = _derived(), _frame()
    remedies = frame.drop(["SB (plain Adam)", "LB (plain Adam)"])
    unhelpful = sorted(remedies.index[~remedies.helps.astype(bool)])
    unfit = sorted(name for name, doc in _stage_outputs().items() if doc["train"]["summary"]["train_accuracy"]["mean"] < 0.99)
    assert unhelpful == ["adaptive_batch", "matched_updates"] and unfit == ["augmentation", "lamb"]
    assert derived["passes_sb"] == ("asam", "augmentation") and derived["tau_phi"] < 0
    text = " ".join((REPO / "README.md").read_text().split())
    assert (f"All but adaptive batch growth and matched updates help by their own interval, {derived['bonferroni']} after a "
            f"correction for testing {derived['remedies']}; only augmentation and ASAM pass plain SB; augmentation and LAMB "
            "do not fit the training set") in text


def test_the_readme_counts_of_flagged_seeds_are_the_committed_run():
    """"(…; 1 of 3 SB seeds flagged)": each regime's failed certificates at ε = 1e-3 in each space, as the table's
    LB cell says them."""
    _, *body = _table_after((REPO / "README.md").read_text(), "From the committed default run")
    rows = {row[0]: row[1:] for row in body}
    summary = json.loads((REPO / "metrics/summary.json").read_text())
    seeds = len(json.loads((REPO / "metrics/train_sb.json").read_text())["per_seed"])
    for label, space in (("sharpness φ, full space, ε = 1e-3", "full"), ("sharpness φ, random 100-dim subspace, ε = 1e-3", "subspace")):
        counts = {r: sum(1 for f in summary["sharpness_flagged"] if (f["regime"], f["space"], f["eps"]) == (r, space, "1e-03"))
                  for r in ("SB", "LB")}
        cell = rows[label][1]
        flagged = {r: c for r, c in counts.items() if c}
        if len(flagged) == 2 and counts["SB"] == counts["LB"]:
            assert f"{counts['SB']} of {seeds} seeds flagged on each side" in cell, label
        for regime, count in flagged.items():
            assert f"{count} of {seeds}" in cell and (len(flagged) == 2 or f"{regime} seeds flagged" in cell), label
        assert flagged or "flagged" not in cell, label


def test_the_readme_says_none_was_flagged_only_when_none_was():
    text = " ".join((REPO / "README.md").read_text().split())
    summary = json.loads((REPO / "metrics/summary.json").read_text())
    # SB and LB, the one-φ probes (sweep, warm start, trajectory), and the remedies, which the report marks
    none = (not summary["sharpness_flagged"] and not summary["sharpness_probes_not_levelled_off"]
            and "(flagged)" not in (REPO / "report.md").read_text())
    assert ("flags every value that did not (none in this run)" in text) == none


def test_the_readme_points_at_the_committed_all_remedies_run():
    """"keeps that run in results/all-remedies/ (≈ N h on 2 cores)": the folder holds a row for every remedy and its wall time."""
    run = json.loads((REPO / "results/all-remedies/run.json").read_text())
    assert f"[results/all-remedies/](results/all-remedies/report.md) (≈ {run['seconds'] / 3600:.0f} h on 2 cores)" in (REPO / "README.md").read_text()
    import pandas as pd
    from lbgap.remedies.registry import list_strategies

    rows = set(pd.read_csv(REPO / "results/all-remedies/remedies.csv").training)
    assert set(list_strategies()) <= rows, set(list_strategies()) - rows  # a row for every registered remedy
