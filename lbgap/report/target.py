"""Every solution where its run ended and at the first epoch whose training loss reached train.target_loss:
the report's "At the same training loss" section and its numbers in summary.json.

Near zero cross-entropy every loss-based sharpness measure shrinks with the loss, and SB and LB runs stop
at different losses; comparing both at the same loss (Jiang et al. 2020 use 0.01) separates what the
batch size does from how far training went. A run that never reached the target is named, not dropped."""

from __future__ import annotations

import math
from typing import Mapping

import pandas as pd

from lbgap.report.numbers import REGIME_NAMES
from lbgap.report.run import RunResults
from lbgap.report.tables import _flag, _markdown, pm, pm_significant


def _families(run: RunResults) -> list[tuple[str, str, Mapping, Mapping]]:
    """(name, predictors family, train document, sharpness document) for SB, LB and every remedy's LB runs."""
    plain = [(REGIME_NAMES[r], r, run.train[r], run.sharpness[r]) for r in ("sb", "lb")]
    return plain + [(doc["strategy"], doc["strategy"], doc["train"], doc["sharpness"]) for doc in run.remedies]


def _phi(survey: Mapping | None, space: str, key: str) -> str:
    if not survey or "summary" not in survey:
        return "–"
    summary = survey["summary"][space][key]
    return pm_significant(summary["phi"]) + _flag(summary.get("certified"))


def _lambda_max(run: RunResults, family: str, point: str) -> str:
    """Mean λ_max of a family's solutions at `point` on the predictors subset ('–' when none was measured)."""
    rows = run.solutions
    if "point" not in rows:
        return "–"
    picked = rows[(rows.family == family) & (rows.point == point)]["lambda_max"]
    return "–" if picked.empty or picked.isna().all() else f"{picked.mean():.4g}"


def _reached(train: Mapping) -> tuple[int, int, str]:
    """(runs that reached the target, runs, their epochs at the target as text)."""
    epochs = [row.get("target_epoch") for row in train["per_seed"]]
    hit = [e for e in epochs if e is not None]
    return len(hit), len(epochs), ", ".join(map(str, hit)) or "–"


def target_row(name: str, train: Mapping, sharpness: Mapping, key: str, lambda_max: tuple[str, str] = ("–", "–")) -> dict:
    """One family's row: how many runs reached the target loss and at which epochs, the train loss and test
    accuracy there, φ (full space and subspace, ε `key`) and `lambda_max` (text) at the end and at the target."""
    hit, total, epochs = _reached(train)
    at = [row for row in train["per_seed"] if row.get("target_epoch") is not None]

    def mean_at(field: str, scale: float, digits: str) -> str:
        values = [row.get(field) for row in at]
        return "–" if not values or None in values else format(scale * sum(values) / len(values), digits)

    return {
        "solutions": name, "reached": f"{hit} of {total}", "epochs": epochs,
        "train loss (final → target)": f"{train['summary']['train_loss']['mean']:.2g} → {mean_at('target_train_loss', 1, '.2g')}",
        "test acc % (final → target)": f"{100 * train['summary']['test_accuracy']['mean']:.2f} → {mean_at('target_test_accuracy', 100, '.2f')}",
        "φ full final": _phi(sharpness, "full", key), "φ full at target": _phi(sharpness.get("at_target_loss"), "full", key),
        "φ subspace final": _phi(sharpness, "subspace", key),
        "φ subspace at target": _phi(sharpness.get("at_target_loss"), "subspace", key),
        "λ_max final": lambda_max[0], "λ_max at target": lambda_max[1],
    }


def target_frame(run: RunResults) -> pd.DataFrame:
    """`target_row` of SB, LB and every remedy, with λ_max on the predictors subset."""
    return pd.DataFrame([
        target_row(name, train, sharpness, run.first_eps_key,
                   (_lambda_max(run, family, "final"), _lambda_max(run, family, "target")))
        for name, family, train, sharpness in _families(run)
    ])


def probes_frame(run: RunResults) -> pd.DataFrame:
    """The fixed-budget runs (sweep per batch size, warm start per SB epoch count): how many reached the
    target within their budget, and mean φ (the probes' ε) at the end and at the target."""
    def mean(values) -> str:
        values = [v for v in values if v is not None]
        return f"{sum(values) / len(values):.4g}" if values else "–"

    rows = []
    for doc in run.sweep:
        runs = doc["per_seed"]
        at = [r for r in runs if r.get("target_epoch") is not None]
        rows.append({"runs": f"sweep batch {doc['batch_size']}", "reached": f"{len(at)} of {len(runs)}",
                     "epochs": ", ".join(str(r["target_epoch"]) for r in at) or "–",
                     "φ final": mean(r["sharpness"] for r in runs), "φ at target": mean(r.get("sharpness_at_target") for r in at)})
    points = run.warm_start["points"]
    at = [p for p in points if p.get("lb_target_epoch") is not None]
    rows.append({"runs": f"warm start (LB from {len(points)} SB iterates)", "reached": f"{len(at)} of {len(points)}",
                 "epochs": ", ".join(str(p["lb_target_epoch"]) for p in at) or "–",
                 "φ final": mean(p["lb_sharpness"] for p in points), "φ at target": mean(p.get("lb_sharpness_at_target") for p in at)})
    return pd.DataFrame(rows)


def not_reached(run: RunResults) -> list[str]:
    """Every run that never reached the target training loss, by name."""
    out = [f"{name} seed {row['seed']}" for name, _, train, _ in _families(run) for row in train["per_seed"]
           if row.get("target_epoch") is None]
    out += [f"sweep batch {doc['batch_size']} seed {r['seed']}" for doc in run.sweep for r in doc["per_seed"] if r.get("target_epoch") is None]
    out += [f"warm start after {p['sb_epochs']} SB epochs" for p in run.warm_start["points"] if p.get("lb_target_epoch") is None]
    return out


def tau_at_target(run: RunResults) -> pd.DataFrame:
    """Kendall τ of each measure with the gap over all solutions: final weights beside those at the target."""
    at = run.predictors.get("at_target_loss") or {}
    final = {r["measure"]: r for r in run.predictors["tau"] if r["target"] == "gap" and r["scope"] == "all"}
    target = {r["measure"]: r for r in at.get("tau", []) if r["target"] == "gap" and r["scope"] == "all"}

    def cell(row: Mapping | None) -> str:
        if row is None or row["tau"] is None or math.isnan(row["tau"]):
            return "–"
        return f"{row['tau']:+.2f} [{row['low']:+.2f}, {row['high']:+.2f}]"

    return pd.DataFrame([{"measure": m, f"τ final ({run.predictors['included']} solutions)": cell(final[m]),
                          f"τ at target ({at.get('included', 0)} solutions)": cell(target.get(m))} for m in final])


def target_ratios(sharpness: Mapping[str, Mapping]) -> dict:
    """Mean φ of SB and LB at the target loss and their LB/SB ratio, per space and ε (None where a side has
    no value); `sharpness`: regime → the sharpness stage's document."""
    out = {}
    at = {r: sharpness[r].get("at_target_loss") or {} for r in ("sb", "lb")}
    for space, by_eps in sharpness["sb"]["summary"].items():
        for key in by_eps:
            means = [at[r].get("summary", {}).get(space, {}).get(key, {}).get("phi", {}).get("mean") for r in ("sb", "lb")]
            ok = all(m is not None and math.isfinite(m) for m in means) and means[0] > 0
            out.setdefault(space, {})[key] = {"sb": means[0], "lb": means[1], "lb_over_sb": means[1] / means[0] if ok else None}
    return out


def target_numbers(run: RunResults) -> dict:
    """summary.json's `at_target_loss`: the target, φ of SB and LB there with their ratio, the runs that
    never reached it and each measure's τ with the gap over the solutions at the target."""
    at = run.predictors.get("at_target_loss") or {}
    return {
        "target_loss": run.params["train"].get("target_loss"),
        "sharpness": target_ratios(run.sharpness),
        "not_reached": not_reached(run),
        "predictors": {r["measure"]: {"tau_gap_all": r["tau"]} for r in at.get("tau", []) if r["target"] == "gap" and r["scope"] == "all"},
    }


def ratios_text(sharpness: Mapping[str, Mapping]) -> str:
    """'full ε=1e-03: 12.3×, …': the LB/SB ratios of mean φ at the target loss, in words."""
    return ", ".join(
        f"{space} {k.replace('eps_', 'ε=')}: {v['lb_over_sb']:.1f}×" for space, by_eps in target_ratios(sharpness).items()
        for k, v in by_eps.items() if v["lb_over_sb"] is not None
    ) or "no ratio (SB or LB never reached the target)"


def regimes_target_section(params: Mapping, train: Mapping[str, Mapping], sharpness: Mapping[str, Mapping]) -> str:
    """The core report's short form of the section: SB and LB where they ended and at the target loss."""
    key = next(iter(sharpness["sb"]["summary"]["full"]))
    rows = [target_row(REGIME_NAMES[r], train[r], sharpness[r], key) for r in ("sb", "lb")]
    frame = pd.DataFrame(rows).drop(columns=["λ_max final", "λ_max at target"])
    return f"""## At the same training loss

Each run also kept its iterate at the first epoch whose training loss was ≤ {params['train'].get('target_loss')}
(`train.target_loss`), and φ is measured there as well as at the final weights ({key.replace('eps_', 'ε=')}).

{_markdown(frame)}

LB/SB ratio of mean φ at the target loss: {ratios_text(sharpness)}."""


def target_section(run: RunResults) -> str:
    """The report's section comparing every solution where it ended and at the target training loss."""
    target, key = run.params["train"].get("target_loss"), run.first_eps_key
    ratio_text = ratios_text(run.sharpness)
    missing = not_reached(run)
    return f"""## At the same training loss

Runs stop where their stopping rule fires, at different training losses; near zero cross-entropy every
loss-based sharpness shrinks with the loss. Each run therefore also kept its iterate at the first epoch
whose full-training-set loss was ≤ {target} (`train.target_loss`; Jiang et al. 2020 train every model to
0.01), and every measure is taken there as well as at the final weights. φ at the first ε ({key.replace('eps_', 'ε=')}),
mean ± std over the runs that reached the target; λ_max on the predictors subset.

{_markdown(target_frame(run))}

LB/SB ratio of mean φ at the target loss: {ratio_text}.

Fixed-budget runs (the batch-size sweep, the warm start), φ in the full space at the probes' ε:

{_markdown(probes_frame(run))}

Kendall τ with the generalization gap (train − test accuracy), over all solutions, where they ended and at
the target loss (the solutions that reached it):

{_markdown(tau_at_target(run))}

{"Never reached the target (measured at their final weights only): " + "; ".join(missing) + "." if missing else "Every run reached the target."}"""
