"""What closes the gap: one row per remedy with its test accuracy, the share of the SB − LB gap it closes,
its sharpness and its cost, and two figures (gap closed vs φ; accuracy vs parameter updates)."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lbgap.report.tables import markdown_table  # noqa: E402


def gap_closed(accuracy: float, sb: float, lb: float) -> float:
    """(accuracy − LB) / (SB − LB) in %: 0 = no better than plain LB, 100 = as good as plain SB (nan
    when SB and LB test equally)."""
    return 100 * (accuracy - lb) / (sb - lb) if sb != lb else float("nan")


def _mean(summary: Mapping, key: str, scale: float = 1.0) -> float:
    value = summary.get(key, {}).get("mean")
    return float("nan") if value is None else scale * value


def _std(summary: Mapping, key: str, scale: float = 1.0) -> float:
    value = summary.get(key, {}).get("std")
    return float("nan") if value is None else scale * value


def _row(name: str, batch: int, train: Mapping, sharpness: Mapping, eps_key: str, lambda_max: float, sb: float, lb: float) -> dict:
    s = train["summary"]
    accuracy = _mean(s, "test_accuracy", 100)
    return {
        "training": name, "batch_size": batch, "test_accuracy": accuracy, "test_accuracy_std": _std(s, "test_accuracy", 100),
        "gap_closed": gap_closed(accuracy, sb, lb), "gap_closed_std": _std(s, "test_accuracy", 100) / abs(sb - lb) * 100 if sb != lb else float("nan"),
        "phi": sharpness["summary"]["full"][eps_key]["phi"]["mean"],
        "phi_certified": sharpness["summary"]["full"][eps_key].get("certified"), "lambda_max": lambda_max,
        "distance_from_x0": _mean(s, "distance_from_x0"), "updates": _mean(s, "updates"), "samples": _mean(s, "samples"),
        "seconds": _mean(s, "seconds"), "diverged": not math.isfinite(_mean(s, "train_loss")),
    }


def gap_closed_frame(
    train: Mapping[str, Mapping], sharpness: Mapping[str, Mapping], remedies: Sequence[Mapping], lambda_max: Mapping[str, float],
) -> pd.DataFrame:
    """Plain SB, plain LB, then every remedy (its LB runs; a remedy also trained at SB adds its own SB
    accuracy and its own gap SB − LB). `lambda_max`: family → mean λ_max (the predictors stage's table).
    Accuracies in %, gap closed in % of the plain SB − LB gap, φ full space at the first ε."""
    eps_key = next(iter(sharpness["sb"]["summary"]["full"]))
    sb, lb = (100 * train[r]["summary"]["test_accuracy"]["mean"] for r in ("sb", "lb"))
    rows = [
        _row(f"{r.upper()} (plain Adam)", train[r]["batch_size"], train[r], sharpness[r], eps_key, lambda_max.get(r, float("nan")), sb, lb)
        for r in ("sb", "lb")
    ]
    for m in remedies:
        row = _row(m["strategy"], m["batch_size"], m["train"], m["sharpness"], eps_key, lambda_max.get(m["strategy"], float("nan")), sb, lb)
        if "small_batch" in m:
            own_sb = _mean(m["small_batch"]["train"]["summary"], "test_accuracy", 100)
            row.update(own_sb_accuracy=own_sb, own_gap=own_sb - row["test_accuracy"])
        rows.append(row)
    return pd.DataFrame(rows)


def _cell(value: float, std: float = float("nan"), digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = f"{value:.{digits}f}"
    return text if std is None or math.isnan(std) else f"{text} ± {std:.{digits}f}"


def gap_closed_table(frame: pd.DataFrame) -> str:
    table = []
    for row in frame.to_dict(orient="records"):
        table.append({
            "training": row["training"] + (" (diverged)" if row["diverged"] else ""), "batch": row["batch_size"],
            "test accuracy (%)": _cell(row["test_accuracy"], row["test_accuracy_std"]),
            "gap closed (%)": _cell(row["gap_closed"], row["gap_closed_std"], 0),
            "φ": _cell(row["phi"], digits=1) + (" (flagged)" if row.get("phi_certified") is False else ""), "λ_max": _cell(row["lambda_max"], digits=1),
            "‖x − x0‖": _cell(row["distance_from_x0"], digits=1), "updates": _cell(row["updates"], digits=0),
            "samples (M)": _cell(row["samples"] / 1e6, digits=2), "wall (s)": _cell(row["seconds"], digits=0),
            "own SB (%)": _cell(row.get("own_sb_accuracy", float("nan"))),
            "own gap (points)": _cell(row.get("own_gap", float("nan"))),
        })
    return markdown_table(pd.DataFrame(table))


def _label_points(axis, frame: pd.DataFrame, x: str, y: str) -> None:
    for row in frame.itertuples():
        axis.annotate(row.training, (getattr(row, x), getattr(row, y)), textcoords="offset points", xytext=(4, 3), fontsize="x-small")


def gap_closed_figures(frame: pd.DataFrame) -> dict[str, Figure]:
    """'gap_closed': gap closed (%) against φ (log); 'updates': test accuracy against parameter updates (log)."""
    remedies, plain = frame.iloc[2:], frame.iloc[:2]
    figure, axis = plt.subplots(figsize=(7, 4.6))
    axis.scatter(remedies.phi, remedies.gap_closed, color="tab:purple", zorder=3)
    axis.scatter(plain.phi, plain.gap_closed, color=["tab:blue", "tab:red"], marker="s", zorder=3)
    _label_points(axis, frame, "phi", "gap_closed")
    axis.axhline(0, color="0.6", lw=0.8)
    axis.axhline(100, color="0.6", lw=0.8, ls="--")
    axis.set_xscale("log")
    axis.set_xlabel("sharpness φ (full space, first ε; log)")
    axis.set_ylabel("gap closed (%): 0 = plain LB, 100 = plain SB")
    axis.set_title("Remedies: how much of the SB − LB gap each closes, and how sharp it ends")
    figures = {"gap_closed": figure}
    figure, axis = plt.subplots(figsize=(7, 4.6))
    axis.scatter(remedies.updates, remedies.test_accuracy, color="tab:purple", zorder=3)
    axis.scatter(plain.updates, plain.test_accuracy, color=["tab:blue", "tab:red"], marker="s", zorder=3)
    _label_points(axis, frame, "updates", "test_accuracy")
    axis.set_xscale("log")
    axis.set_xlabel("parameter updates (log)")
    axis.set_ylabel("test accuracy (%)")
    axis.set_title("Is it just more steps? Test accuracy vs number of updates")
    figures["updates"] = figure
    return figures
