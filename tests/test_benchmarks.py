"""The study benchmarks' arithmetic against hand-worked answers, and the docs' quotes of their committed
results (one-off GPU measurements: the files are the source, the pages must print what they hold)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest
from scipy.stats import kendalltau

from benchmarks.study_network import relative_differences, with_settings
from benchmarks.study_replicate import compare
from lbgap.experiments.study import AXES

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks/results"


def _page(name: str) -> str:
    return re.sub(r"\s+", " ", (REPO / "docs" / name).read_text())


def test_settings_are_set_as_dvc_exp_run_reads_them():
    params = {"study": {"seeds": 1, "widths": [256]}, "runtime": {"device": "auto"}}
    with_settings(params, ["study.widths=[256,512]", "runtime.device=cuda", "study.seeds=2"])
    assert params == {"study": {"seeds": 2, "widths": [256, 512]}, "runtime": {"device": "cuda"}}


def test_relative_differences_skip_the_configuration_and_mark_one_sided_nans():
    ours = {"seed": 1, "reached": True, "phi": 3.0, "noise": 2.0, "both_nan": math.nan}
    theirs = {"seed": 2, "reached": True, "phi": 2.0, "noise": math.nan, "both_nan": math.nan}
    assert relative_differences(ours, theirs) == {"phi": 0.5, "noise": math.inf, "both_nan": 0.0}


def _table(measure, gap):
    rows = [{**{axis: 1 for axis in AXES}, "learning_rate": k, "seed": 3000, "measure": m, "gap": g}
            for k, (m, g) in enumerate(zip(measure, gap))]
    return pd.DataFrame(rows)


def test_a_replicate_is_compared_run_by_run_and_by_its_ranking():
    first = _table([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0])
    second = _table([2.0, 1.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.5])  # two runs' measure swapped, one gap moved
    result = compare(first, second).set_index("column")
    measure = result.loc["measure"]
    assert measure.median_relative_difference == pytest.approx(0.25)  # |2−1|/1, |1−2|/2, 0, 0
    assert measure.largest_relative_difference == pytest.approx(1.0)
    assert measure.tau_with_gap_first == pytest.approx(1.0)
    assert measure.tau_with_gap_second == pytest.approx(kendalltau([2, 1, 3, 4], [1, 2, 3, 4.5])[0])
    assert result.loc["gap", "tau_between_runs"] == pytest.approx(1.0)


def test_tables_of_different_runs_are_refused():
    with pytest.raises(SystemExit, match="different runs"):
        compare(_table([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]), _table([1.0, 2.0], [1.0, 2.0]))


def _replicate(name: str) -> tuple[dict, list[dict]]:
    result = json.loads((RESULTS / f"{name}.json").read_text())["result"]
    return {c["column"]: c for c in result["columns"]}, [s for s in result["scores"] if s["kind"] == "measure"]


def _percent(columns: dict, *names: str) -> str:
    """'8–9 %' or '7 %': the median relative differences of `names`, rounded as the page prints them."""
    rounded = [round(100 * columns[n]["median_relative_difference"]) for n in names]
    return f"{min(rounded)} %" if min(rounded) == max(rounded) else f"{min(rounded)}–{max(rounded)} %"


def test_the_designed_study_section_quotes_the_committed_replicates():
    page = _page("measures.md")
    (gpu, gpu_scores), (seeds, seed_scores) = _replicate("study_replicate_cuda_b1000"), _replicate("study_replicate_seeds_b1000")
    phi_full, phi_sub = ("phi_full_eps_1e-03", "phi_full_eps_5e-04"), ("phi_subspace_eps_1e-03", "phi_subspace_eps_5e-04")
    sigma, adaptive = ("inverse_sigma_sq_absolute", "inverse_sigma_sq_magnitude"), ("adaptive_eta_0", "adaptive_eta_1e-02")
    assert (f"median of {_percent(gpu, 'gap')} in the gap, {_percent(gpu, *phi_full)} in full-space φ, {_percent(gpu, *phi_sub)} "
            f"in subspace φ, {_percent(gpu, *adaptive)} in adaptive φ, {_percent(gpu, 'lambda_max')} in λ_max, {_percent(gpu, 'trace')} "
            f"in tr H, {_percent(gpu, *sigma)} in 1/σ² and {_percent(gpu, 'noise_scale')} in the gradient noise scale") in page
    noise = gpu["noise_scale"]
    assert f"in {noise['undefined_first']:.0f} runs on one machine and {noise['undefined_second']:.0f} on the other" in page
    assert (f"({_percent(seeds, 'gap')} in the gap, {_percent(seeds, *phi_full)} in full-space φ, {_percent(seeds, *phi_sub)} in "
            f"subspace φ, {_percent(seeds, *adaptive)} in adaptive φ, {_percent(seeds, 'lambda_max')} in λ_max, {_percent(seeds, 'trace')} "
            f"in tr H, {_percent(seeds, *sigma)} in 1/σ², {_percent(seeds, 'noise_scale')} in the noise scale)") in page
    tail = lambda names: max(c[n]["largest_relative_difference"] for c in (gpu, seeds) for n in names)  # noqa: E731
    assert f"up to {tail(phi_full):.1f}× in full-space φ and {tail(phi_sub):.0f}× in subspace φ" in page
    steady = lambda columns: max(abs(c["tau_change"]) for n, c in columns.items() if n not in {"gap", "train_loss", "noise_scale"})  # noqa: E731
    assert f"changed by at most {steady(gpu):.2f} between the machines and {steady(seeds):.2f} between the seeds" in page
    train, seed_noise = gpu["train_loss"], seeds["noise_scale"]
    for column in (train, seed_noise):
        quoted = f"{column['tau_with_gap_first']:+.2f} → {column['tau_with_gap_second']:+.2f}".replace("-", "−")  # the page's minus
        assert quoted in page
    shift = lambda scores, drop=(): max(abs(s["Psi_second"] - s["Psi_first"]) for s in scores if s["name"] not in drop)  # noqa: E731
    assert (f"moved by up to {shift(gpu_scores):.2f} between the machines and {shift(seed_scores, {'noise_scale'}):.2f} between the seeds "
            f"(the noise scale's by {shift(seed_scores):.2f})") in page
    positive = lambda scores, run: [s["name"] for s in scores if s[f"psi_positive_{run}"]]  # noqa: E731
    assert positive(gpu_scores, "first") == ["phi_subspace_eps_1e-03"] and positive(gpu_scores, "second") == ["trace"]
    assert positive(seed_scores, "first") == ["phi_subspace_eps_1e-03", "noise_scale"] and positive(seed_scores, "second") == []
    assert not any(s["predicts_first"] or s["predicts_second"] for s in gpu_scores + seed_scores)
    assert f"τ = {gpu['gap']['tau_between_runs']:.2f} between the two runs" not in page  # the old wording is gone


def test_the_performance_page_quotes_the_committed_gpu_runs():
    page = _page("performance.md")
    cell = json.loads((RESULTS / "study_cell_cuda_b1000.json").read_text())["result"]["batches"][0]
    shard = json.loads((REPO / "results/study-grid/shards/study-1000/run.json").read_text())
    assert f"took {cell['seconds']:.0f} s, {cell['seconds_per_network']:.1f} s per network" in page
    assert f"took {shard['seconds']:,} s for its 64 networks" in page
    assert f"{shard['seconds'] / 64:.0f} s per network" in page
    seeds = {r["batch"]: r for r in json.loads((RESULTS / "seeds_cuda.json").read_text())["result"]["rows"]}
    for batch, row in seeds.items():
        assert f"{row['one_by_one_s_per_epoch']:.2f} s against {row['together_s_per_epoch']:.2f} s" in page, batch
    grid = {r["batch"]: r for r in json.loads((RESULTS / "grid_cell_cuda.json").read_text())["result"]["rows"]}
    assert f"made {grid[64]['stacked_updates_per_s']:,.0f} and {grid[1000]['stacked_updates_per_s']:,.0f} updates per second" in page


def test_the_fashion_mnist_page_quotes_the_committed_gpu_run():
    """docs/fashion-mnist.md's one-off GPU run: summary.json is what benchmarks.fashion_f1_device writes from the
    committed stage outputs, and the page prints its numbers."""
    from benchmarks.fashion_f1_device import summarize

    folder = RESULTS / "fashion_f1_batch_cuda"
    summary = json.loads((folder / "summary.json").read_text())
    assert json.loads(json.dumps(summarize(folder))) == summary
    page = _page("fashion-mnist.md")
    rows = summary["per_seed_full_eps_1e-03"]
    sb, lb = ([r for r in rows if r["regime"] == regime] for regime in ("sb", "lb"))
    stalled = [r for r in lb if r["paper_protocol_phi"] < 0.01 * r["phi"]]  # the protocol found < 1 % of the maximum
    others = [r for r in lb if r not in stalled]
    assert len(stalled) == 2 and all(r["certified"] for r in rows)
    assert (f"(seeds {stalled[0]['seed']} and {stalled[1]['seed']}: {stalled[0]['train_loss']:.1e} and {stalled[1]['train_loss']:.1e}); "
            f"there the paper's protocol gives φ {stalled[0]['paper_protocol_phi']:.3g} and {stalled[1]['paper_protocol_phi']:.3g}, "
            f"while the validated search from the same points finds {stalled[0]['phi']:.0f} and {stalled[1]['phi']:.0f}, as sharp as the "
            f"other three LB seeds ({min(r['phi'] for r in others):.0f}–{max(r['phi'] for r in others):.0f})") in page
    full, sub = summary["sharpness"]["full"]["eps_1e-03"], summary["sharpness"]["subspace"]["eps_1e-03"]
    paper = full["paper_protocol"]
    assert (f"LB/SB is {full['lb_over_sb']:.0f}× by the validated maximizer (SB {full['sb']:.2f}, LB {full['lb']:.0f}) and "
            f"{paper['lb_over_sb']:.0f}× by the paper's protocol on the same networks (SB {paper['sb']:.2f}, LB {paper['lb']:.0f})") in page
    share = [r["paper_protocol_phi"] / r["phi"] for r in sb]
    assert f"it finds {100 * min(share):.0f}–{100 * max(share):.0f} % of the validated φ" in page
    target = summary["at_target_loss"]["sharpness"]
    assert (f"agree ({sub['lb_over_sb']:.0f}×). At the training loss 0.01 the full-space ratio is "
            f"{target['full']['eps_1e-03']['lb_over_sb']:.0f}× (subspace {target['subspace']['eps_1e-03']['lb_over_sb']:.0f}×)") in page
    test, spread = summary["test_acc_pct"], [r["test_acc_pct"] for r in lb]
    cpu = json.loads((REPO / "results/fashion-mnist-F1-batchnorm-batch/summary.json").read_text())["test_acc_pct"]
    assert (f"SB tests {test['sb']:.2f} %, LB {test['lb']:.2f} %: a gap of {test['gap']:.2f} points, where the CPU run had {cpu['gap']:.2f}. "
            f"With 5 seeds a side and LB seeds spread over {min(spread):.2f}–{max(spread):.2f} %") in page
