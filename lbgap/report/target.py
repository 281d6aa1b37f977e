"""Every solution where its run ended and where its training loss first reached train.target_loss:
the report's "At the same training loss" section and its numbers in summary.json.

Near zero cross-entropy every loss-based sharpness measure shrinks with the loss, and SB and LB runs stop
at different losses; comparing both at (about) the same loss, in the spirit of Jiang et al. 2020's
criterion (train to cross-entropy 0.01), separates what the batch size does from how far training went.
The target is checked at every epoch end and, in epochs that start near it, within the epoch
(lbgap.train.loop); the section shows the loss actually reached. Documents written before runs checked
the target have no target fields: their runs are not listed as never reaching it. A run that never
reached the target is named, not dropped."""

from __future__ import annotations

import math
from typing import Mapping

import pandas as pd

from lbgap.report.curvature_tables import measures_table
from lbgap.report.numbers import REGIME_NAMES
from lbgap.report.predictors import tau_cell
from lbgap.report.run import RunResults
from lbgap.report.tables import certificate_frame, flag_mark, flagged_measurements, markdown_table, pm_significant
from lbgap.results import mean_std
from lbgap.train.loop import TARGET_CHECKS_PER_EPOCH, TARGET_GATE

CURVATURE_KEYS = ("lambda_1", "trace", "phi_eps_1e-03", "adaptive_eta_0", "inverse_sigma_sq_magnitude")


def _families(run: RunResults) -> list[tuple[str, str, Mapping, Mapping]]:
    """(name, predictors family, train document, sharpness document) for SB, LB and every remedy's runs
    (LB, and SB for a remedy compared at both batch sizes)."""
    out = [(REGIME_NAMES[r], r, run.train[r], run.sharpness[r]) for r in ("sb", "lb")]
    for doc in run.remedies:
        out.append((doc["strategy"], doc["strategy"], doc["train"], doc["sharpness"]))
        if "small_batch" in doc:
            side = doc["small_batch"]
            out.append((f"{doc['strategy']} SB", f"{doc['strategy']} sb", side["train"], side["sharpness"]))
    return out


def _reached_seeds(train: Mapping) -> list[int]:
    return [row["seed"] for row in train["per_seed"] if row.get("target_epoch") is not None]


def _phi(survey: Mapping | None, space: str, key: str, seeds: list[int]) -> str:
    """Mean ± std of φ over `seeds` (flagged when one of them failed its certificate)."""
    rows = [row for row in (survey or {}).get("per_seed", {}).get(space, {}).get(key, []) if row["seed"] in seeds]
    if not rows:
        return "–"
    return pm_significant(mean_std(row["phi"] for row in rows)) + flag_mark(all(row.get("certified", True) for row in rows))


def _lambda_max(run: RunResults, family: str, point: str) -> str:
    """Mean λ_max of a family's solutions at `point` on the predictors subset ('–' when none was measured)."""
    rows = run.solutions
    if "point" not in rows:
        return "–"
    picked = rows[(rows.family == family) & (rows.point == point)]["lambda_max"]
    return "–" if picked.empty or picked.isna().all() else f"{picked.mean():.4g}"


def target_row(name: str, train: Mapping, sharpness: Mapping, key: str, lambda_max: tuple[str, str] = ("–", "–")) -> dict:
    """One family's row: how many runs reached the target loss, at which epochs and what loss; φ (full space
    and subspace, ε `key`) and `lambda_max` (text) of those runs at their final weights and at the target."""
    seeds = _reached_seeds(train)
    at = [row for row in train["per_seed"] if row["seed"] in seeds]
    losses = [row.get("target_train_loss") for row in at]
    return {
        "solutions": name, "reached": f"{len(seeds)} of {len(train['per_seed'])}",
        "epochs": ", ".join(str(row["target_epoch"]) for row in at) or "–",
        "train loss at target": "–" if not at or None in losses else ", ".join(f"{v:.2g}" for v in losses),
        "φ full final": _phi(sharpness, "full", key, seeds), "φ full at target": _phi(sharpness.get("at_target_loss"), "full", key, seeds),
        "φ subspace final": _phi(sharpness, "subspace", key, seeds),
        "φ subspace at target": _phi(sharpness.get("at_target_loss"), "subspace", key, seeds),
        "λ_max final": lambda_max[0], "λ_max at target": lambda_max[1],
    }


def target_frame(run: RunResults) -> pd.DataFrame:
    """`target_row` of SB, LB and every remedy, with λ_max on the predictors subset."""
    return pd.DataFrame([
        target_row(name, train, sharpness, run.first_eps_key,
                   (_lambda_max(run, family, "final"), _lambda_max(run, family, "target")))
        for name, family, train, sharpness in _families(run)
    ])


def crossing_frame(train: Mapping[str, Mapping], curves: Mapping[str, pd.DataFrame], target: float) -> pd.DataFrame:
    """Per SB and LB run, how the target was crossed: the epoch and update, the training loss at the end of
    the epoch before (and so whether the epoch was checked within, lbgap.train.loop.TARGET_GATE) and at the
    target iterate, train and test accuracy there, and how many later epoch ends were back above it."""
    rows = []
    for regime in ("sb", "lb"):
        frame = curves[regime]
        for row in train[regime]["per_seed"]:
            epoch = row.get("target_epoch")
            if epoch is None:
                continue
            run = frame[frame.seed == row["seed"]].set_index("epoch")
            later = run.loc[run.updates > row["target_updates"], "train_loss"]  # epoch ends after the target iterate
            before = run.loc[epoch - 1, "train_loss"]
            rows.append({
                "run": f"{REGIME_NAMES[regime]} seed {row['seed']}", "epoch": epoch, "update": row["target_updates"],
                "loss at the epoch end before": f"{before:.4f}",
                "checked within the epoch": "yes" if before <= TARGET_GATE * target else "no (at its end)",
                "loss at target": f"{row['target_train_loss']:.4f}", "train acc (%)": f"{100 * row['target_train_accuracy']:.2f}",
                "test acc (%)": f"{100 * row['target_test_accuracy']:.2f}",
                "later epoch ends above target": f"{int((later > target).sum())} of {len(later)}",
            })
    return pd.DataFrame(rows)


def probes_frame(run: RunResults) -> pd.DataFrame:
    """The fixed-budget runs (sweep per batch size, warm start): how many reached the target within their
    budget, and mean φ (the probes' ε) of those runs at the end and at the target."""
    def mean(values) -> str:
        values = [v for v in values if v is not None]
        return f"{sum(values) / len(values):.4g}" if values else "–"

    rows = []
    for doc in run.sweep:
        at = [r for r in doc["per_seed"] if r.get("target_epoch") is not None]
        rows.append({"runs": f"sweep batch {doc['batch_size']}", "reached": f"{len(at)} of {len(doc['per_seed'])}",
                     "epochs": ", ".join(str(r["target_epoch"]) for r in at) or "–",
                     "φ final": mean(r["sharpness"] for r in at), "φ at target": mean(r.get("sharpness_at_target") for r in at)})
    points = run.warm_start["points"]
    at = [p for p in points if p.get("lb_target_epoch") is not None]
    rows.append({"runs": f"warm start (LB from {len(points)} SB iterates)", "reached": f"{len(at)} of {len(points)}",
                 "epochs": ", ".join(str(p["lb_target_epoch"]) for p in at) or "–",
                 "φ final": mean(p["lb_sharpness"] for p in at), "φ at target": mean(p.get("lb_sharpness_at_target") for p in at)})
    return pd.DataFrame(rows)


def not_reached(run: RunResults) -> list[str]:
    """Every run that never reached the target training loss, by name."""
    def never(row: Mapping, key: str = "target_epoch") -> bool:  # a document without the key did not check
        return key in row and row[key] is None

    out = [f"{name} seed {row['seed']}" for name, _, train, _ in _families(run) for row in train["per_seed"] if never(row)]
    out += [f"sweep batch {doc['batch_size']} seed {r['seed']}" for doc in run.sweep for r in doc["per_seed"] if never(r)]
    out += [f"warm start after {p['sb_epochs']} SB epochs" for p in run.warm_start["points"] if never(p, "lb_target_epoch")]
    return out


def _gap_taus(study: Mapping | None) -> dict[str, Mapping]:
    return {r["measure"]: r for r in (study or {}).get("tau", []) if r["target"] == "gap" and r["scope"] == "all"}


def tau_at_target(predictors: Mapping) -> pd.DataFrame:
    """Kendall τ of each measure with the gap over all solutions: every final solution; the runs that reached
    the target, at their final weights; the same runs at the target (only the point differs between the last two)."""
    studies = [("final", predictors), ("final, runs that reached the target", predictors.get("final_of_those_at_target")),
               ("at target", predictors.get("at_target_loss"))]
    taus = [(f"τ {label} ({(study or {}).get('included', 0)})", _gap_taus(study)) for label, study in studies]
    return pd.DataFrame([{"measure": m, **{column: "–" if m not in by else tau_cell(by[m]) for column, by in taus}} for m in taus[0][1]])


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


def flagged_at_target(sharpness: Mapping[str, Mapping]) -> list[dict]:
    """SB's and LB's maximizations at the target loss that failed their certificate ({regime, seed, space, eps, why})."""
    at = {r: sharpness[r].get("at_target_loss") or {} for r in ("sb", "lb")}
    if not all("per_seed" in doc for doc in at.values()):
        return []
    return flagged_measurements(certificate_frame(at))


def target_loss_ratio(train: Mapping[str, Mapping]) -> float | None:
    """LB/SB ratio of the mean training loss at the target epochs (1 would be a perfect match)."""
    means = [[row["target_train_loss"] for row in train[r]["per_seed"] if row.get("target_train_loss") is not None] for r in ("sb", "lb")]
    return None if not all(means) else (sum(means[1]) / len(means[1])) / (sum(means[0]) / len(means[0]))


def ratios_text(sharpness: Mapping[str, Mapping]) -> str:
    """'full ε=1e-03: 12.3×, …': the LB/SB ratios of mean φ at the target loss, in words."""
    return ", ".join(
        f"{space} {k.replace('eps_', 'ε=')}: {v['lb_over_sb']:.1f}×" for space, by_eps in target_ratios(sharpness).items()
        for k, v in by_eps.items() if v["lb_over_sb"] is not None
    ) or "no ratio (SB or LB never reached the target)"


def _curvature_at_target(run: RunResults) -> tuple[str, dict] | None:
    at = {r: run.curvature[r].get("at_target_loss") or {} for r in ("sb", "lb")}
    if not all(doc.get("summary") for doc in at.values()):
        return None
    return measures_table({r: {k: v for k, v in at[r]["summary"].items() if k in CURVATURE_KEYS} for r in ("sb", "lb")})


def curvature_at_target(run: RunResults) -> str:
    """The curvature stages' main measures of SB and LB at the target loss (their table's format), or a line
    saying why there is none."""
    found = _curvature_at_target(run)
    return "No curvature at the target loss: SB or LB has no run that reached it." if found is None else found[0]


def target_numbers(run: RunResults) -> dict:
    """summary.json's `at_target_loss`: the target; for SB and LB the runs that reached it, their mean train
    loss and test accuracy (%) there, φ there with the LB/SB ratio; the LB/SB ratio of the losses actually
    reached; the LB/SB ratio of the main curvature measures there; the runs that never reached it; each
    measure's τ with the gap there."""
    def mean_at(regime: str, key: str, scale: float = 1.0) -> float | None:
        values = [row.get(key) for row in run.train[regime]["per_seed"] if row.get("target_epoch") is not None]
        return None if not values or None in values else scale * sum(values) / len(values)

    return {
        "target_loss": run.params["train"].get("target_loss"),
        "reached": {r: len(_reached_seeds(run.train[r])) for r in ("sb", "lb")},
        "train_loss": {r: mean_at(r, "target_train_loss") for r in ("sb", "lb")},
        "test_acc_pct": {r: mean_at(r, "target_test_accuracy", 100) for r in ("sb", "lb")},
        "sharpness": target_ratios(run.sharpness),
        "sharpness_flagged": flagged_at_target(run.sharpness),
        "curvature": {} if (found := _curvature_at_target(run)) is None else {k: v["lb_over_sb"] for k, v in found[1].items()},
        "train_loss_lb_over_sb": target_loss_ratio(run.train),
        "not_reached": not_reached(run),
        "predictors": {m: {"tau_gap_all": r["tau"]} for m, r in _gap_taus(run.predictors.get("at_target_loss")).items()},
    }


def flagged_text(sharpness: Mapping[str, Mapping]) -> str:
    """' Flagged at the target: …' naming SB's and LB's maximizations there that failed their certificate."""
    flagged = flagged_at_target(sharpness)
    return "" if not flagged else " Flagged at the target (failed their certificate): " + "; ".join(
        f"{f['regime']} seed {f['seed']} {f['space']} ε={f['eps']}: {f['why']}" for f in flagged) + "."


def target_ratio_text(sharpness: Mapping[str, Mapping]) -> str:
    """The LB/SB ratios of mean φ at the target loss, and the measurements there whose search failed."""
    return f"LB/SB ratio of mean φ at the target loss: {ratios_text(sharpness)}.{flagged_text(sharpness)}"


def regimes_target_section(params: Mapping, train: Mapping[str, Mapping], sharpness: Mapping[str, Mapping]) -> str:
    """The core report's short form of the section: SB and LB where they ended and at the target loss."""
    key = next(iter(sharpness["sb"]["summary"]["full"]))
    rows = [target_row(REGIME_NAMES[r], train[r], sharpness[r], key) for r in ("sb", "lb")]
    frame = pd.DataFrame(rows).drop(columns=["λ_max final", "λ_max at target"])
    return f"""## At the same training loss

Each run also kept its iterate where its training loss first was ≤ {params['train'].get('target_loss')}
(`train.target_loss`), and φ is measured there as well as at the final weights
({key.replace('eps_', 'ε=')}; both columns over the runs that reached the target).

{markdown_table(frame)}

{target_ratio_text(sharpness)}"""


def target_section(run: RunResults) -> str:
    """The report's section comparing every solution where it ended and at the target training loss."""
    target, key = run.params["train"].get("target_loss"), run.first_eps_key
    missing, loss_ratio = not_reached(run), target_loss_ratio(run.train)
    crossings = crossing_frame(run.train, run.curves, target)
    return f"""## At the same training loss

Runs stop where their stopping rule fires, at different training losses, and near zero cross-entropy
every loss-based sharpness shrinks with the loss. Each run therefore also kept its first checked iterate
whose full-training-set loss (eval mode, BatchNorm as `runtime.batchnorm` says) was ≤ {target}
(`train.target_loss`, after Jiang et al. 2020, who train every model to cross-entropy 0.01), and every
measure is taken there as well as at the final weights. The loss is checked at every epoch end and, in an
epoch that starts within {TARGET_GATE:g}× the target, after every ⌊updates / {TARGET_CHECKS_PER_EPOCH}⌋ updates (after every update of
an LB epoch here), so where the epoch was checked within, the iterate lands below the target by at most
about a tenth of an epoch's progress:

{markdown_table(crossings) if not crossings.empty else "(No SB or LB run reached the target.)"}

LB/SB ratio of the mean training loss at the target epochs: {"–" if loss_ratio is None else f"{loss_ratio:.2f}"} (1 would be an exact match).

φ at {key.replace('eps_', 'ε=')}, mean ± std; "final" and "at target" over the same runs (those that reached
the target); λ_max on the predictors subset:

{markdown_table(target_frame(run))}

{target_ratio_text(run.sharpness)}

Curvature at the target loss (cf. the curvature table at the final weights below):

{curvature_at_target(run)}

Fixed-budget runs (the batch-size sweep, the warm start), φ in the full space at the probes' ε, over the
runs that reached the target:

{markdown_table(probes_frame(run))}

Kendall τ with the generalization gap (train − test accuracy) over all solutions, with the number of
solutions ranked: the two right-hand columns rank the same runs, at their final weights and at the target.

{markdown_table(tau_at_target(run.predictors))}

{"Never reached the target, so left out of every value at the target: " + "; ".join(missing) + "." if missing else "Every run reached the target."}

What this does not show: matching one number (the training loss) leaves SB and LB different in updates,
distance travelled, training accuracy and weight norms, so it says nothing causal; it describes only the
runs that reached the target; and {target} is one level, its choice untested."""
