"""What closes the gap: one row per remedy with its test accuracy, the share of the SB − LB gap it closes,
its sharpness and its cost, and two figures (gap closed vs φ; accuracy vs parameter updates)."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
from scipy import stats

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import ticker  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lbgap.report.figures import REMEDY_COLORS, REMEDY_MARKERS  # noqa: E402
from lbgap.report.tables import markdown_table  # noqa: E402

CONFIDENCE = 0.95  # of the paired intervals over seeds


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


def paired_interval(differences: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """(mean, low, high) of paired differences: Student's t interval of their mean, since the runs share an
    initial point seed by seed (a remedy's seed k starts where plain LB's seed k starts). Fewer than two
    differences: no interval (nan)."""
    d = np.asarray(differences, dtype=float)
    if len(d) == 0:
        return (float("nan"),) * 3
    mean = float(d.mean())
    if len(d) < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + confidence / 2, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d)))
    return mean, mean - half, mean + half


def _by_seed(train: Mapping) -> dict[int, float]:
    """seed → final test accuracy (%)."""
    return {row["seed"]: 100 * row["test_accuracy"] for row in train["per_seed"]}


def _at_epoch(curve: Sequence[Sequence[float]], epoch: int) -> float:
    """Test accuracy (%) of the last record at or before `epoch` of a run's [epoch, accuracy] records."""
    before = [accuracy for e, accuracy in curve if e <= epoch]
    return 100 * before[-1] if before else float("nan")


def equal_epochs(curves: Mapping[str, pd.DataFrame], remedies: Sequence[Mapping]) -> int:
    """The epochs every run of the table trained: the fewest any plain or remedy run (LB or own SB) lasted."""
    ends = [int(frame.groupby("seed").epoch.max().min()) for frame in curves.values()]
    for m in remedies:
        for part in (m, m.get("small_batch")):
            if part is not None and "test_accuracy_by_epoch" in part["train"]:
                ends += [int(records[-1][0]) for records in part["train"]["test_accuracy_by_epoch"].values()]
    return min(ends)


def _row(name: str, batch: int, train: Mapping, sharpness: Mapping, eps_key: str, lambda_max: float, sb: float, lb: float) -> dict:
    s = train["summary"]
    accuracy = _mean(s, "test_accuracy", 100)
    return {
        "training": name, "batch_size": batch, "seeds": len(train["per_seed"]), "test_accuracy": accuracy,
        "test_accuracy_std": _std(s, "test_accuracy", 100), "gap_closed": gap_closed(accuracy, sb, lb),
        "phi": sharpness["summary"]["full"][eps_key]["phi"]["mean"],
        "phi_certified": sharpness["summary"]["full"][eps_key].get("certified"), "lambda_max": lambda_max,
        "distance_from_x0": _mean(s, "distance_from_x0"), "updates": _mean(s, "updates"), "samples": _mean(s, "samples"),
        "seconds": _mean(s, "seconds"), "diverged": not math.isfinite(_mean(s, "train_loss")),
    }


def gap_closed_frame(
    train: Mapping[str, Mapping], sharpness: Mapping[str, Mapping], remedies: Sequence[Mapping], lambda_max: Mapping[str, float],
    curves: Mapping[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Plain SB, plain LB, then every remedy (its LB runs; a remedy also trained at SB adds its own SB
    accuracy and its own gap SB − LB). `lambda_max`: family → mean λ_max (the predictors stage's table).
    Accuracies in %, φ full space at the first ε.
    A remedy's gap closed is the mean of its accuracy minus plain LB's, seed by seed (the two runs of seed
    k draw their initial weights and batch order from the same seed), in % of the plain gap SB − LB (taken
    as known); its interval (`gap_closed_low`, `_high`) is the paired t interval of that mean, likewise
    scaled; `helps` / `hurts`: the interval lies above / below 0 (None with one seed, and every gap number
    nan when the plain gap is not positive). The own gap has its paired interval too. `curves` (the train
    stages' per-epoch tables): adds every row's mean test accuracy after `equal_epochs` epochs."""
    eps_key = next(iter(sharpness["sb"]["summary"]["full"]))
    sb, lb = (100 * train[r]["summary"]["test_accuracy"]["mean"] for r in ("sb", "lb"))
    plain_lb = _by_seed(train["lb"])
    epochs = equal_epochs(curves, remedies) if curves is not None else None
    nan = float("nan")
    rows = []
    for r in ("sb", "lb"):
        row = _row(f"{r.upper()} (plain Adam)", train[r]["batch_size"], train[r], sharpness[r], eps_key, lambda_max.get(r, nan), sb, lb)
        if epochs is not None:
            row["accuracy_at_equal_epochs"] = float(np.mean([_at_epoch(list(zip(f.epoch, f.test_accuracy)), epochs)
                                                             for _, f in curves[r].groupby("seed")]))
        rows.append(row)
    for m in remedies:
        row = _row(m["strategy"], m["batch_size"], m["train"], m["sharpness"], eps_key, lambda_max.get(m["strategy"], nan), sb, lb)
        remedy = _by_seed(m["train"])
        mean, low, high = paired_interval([remedy[k] - plain_lb[k] for k in sorted(remedy) if k in plain_lb])
        if sb > lb:
            gap = sb - lb
            row.update(gap_closed=100 * mean / gap, gap_closed_low=100 * low / gap, gap_closed_high=100 * high / gap,
                       helps=None if math.isnan(low) else bool(low > 0), hurts=None if math.isnan(high) else bool(high < 0))
        else:
            row.update(gap_closed=nan, gap_closed_low=nan, gap_closed_high=nan, helps=None, hurts=None)
        if epochs is not None and "test_accuracy_by_epoch" in m["train"]:
            row["accuracy_at_equal_epochs"] = float(np.mean([_at_epoch(c, epochs) for c in m["train"]["test_accuracy_by_epoch"].values()]))
        if "small_batch" in m:
            own = _by_seed(m["small_batch"]["train"])
            own_gap, own_low, own_high = paired_interval([own[k] - remedy[k] for k in sorted(own) if k in remedy])
            row.update(own_sb_accuracy=_mean(m["small_batch"]["train"]["summary"], "test_accuracy", 100),
                       own_gap=own_gap, own_gap_low=own_low, own_gap_high=own_high)
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame.attrs["equal_epochs"] = epochs
    return frame


def _cell(value: float, std: float = float("nan"), digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = f"{value:.{digits}f}"
    return text if std is None or math.isnan(std) else f"{text} ± {std:.{digits}f}"


def _interval(low: float, high: float, digits: int = 0) -> str:
    return "–" if math.isnan(low) or math.isnan(high) else f"[{low:.{digits}f}, {high:.{digits}f}]"


def _verdict(row: Mapping) -> str:
    if row.get("helps") is True:
        return "yes"
    if row.get("hurts") is True:
        return "hurts"
    return "not shown" if row.get("helps") is False else "–"


def gap_closed_table(frame: pd.DataFrame) -> str:
    """One row per training: accuracy (mean ± std over its seeds), gap closed with its paired 95 % interval
    and the verdict it gives, the accuracy after the epochs every run trained, φ, λ_max, distance, cost,
    and a remedy's own SB control and own gap (with its interval)."""
    epochs = frame.attrs.get("equal_epochs")
    nan = float("nan")
    table = []
    for row in frame.to_dict(orient="records"):
        cells = {
            "training": row["training"] + (" (diverged)" if row["diverged"] else ""), "batch": row["batch_size"], "seeds": row["seeds"],
            "test accuracy (%)": _cell(row["test_accuracy"], row["test_accuracy_std"]),
            "gap closed (%)": _cell(row["gap_closed"], digits=0),
            "95 % interval": _interval(row.get("gap_closed_low", nan), row.get("gap_closed_high", nan)),
            "helps": _verdict(row),
        }
        if epochs is not None:
            cells[f"acc. after {epochs} epochs (%)"] = _cell(row.get("accuracy_at_equal_epochs", nan))
        cells.update({
            "φ": _cell(row["phi"], digits=1) + (" (flagged)" if row.get("phi_certified") is False else ""), "λ_max": _cell(row["lambda_max"], digits=1),
            "‖x − x0‖": _cell(row["distance_from_x0"], digits=1), "updates": _cell(row["updates"], digits=0),
            "samples (M)": _cell(row["samples"] / 1e6, digits=2), "wall (s)": _cell(row["seconds"], digits=0),
            "own SB (%)": _cell(row.get("own_sb_accuracy", nan)),
            "own gap (points)": _cell(row.get("own_gap", nan)) + (f" {_interval(row['own_gap_low'], row['own_gap_high'], 2)}"
                                                                    if not math.isnan(row.get("own_gap_low", nan)) else ""),
        })
        table.append(cells)
    return markdown_table(pd.DataFrame(table))


def tuning_table(tuning: Sequence[Mapping]) -> str:
    """One row per remedy: each grid point's mean validation accuracy (%), the choice, the validation set's
    sampling error at the choice (binomial: differences within about two of it are noise), and whether
    the choice sits at an edge of its grid (a wider grid might choose beyond it)."""
    rows = []
    for doc in tuning:
        trials, chosen = doc.get("trials") or [], doc.get("chosen", {})
        points = "; ".join(
            ("**" if i == doc.get("chosen_trial") else "") + ", ".join(f"{k} {v}" for k, v in t["options"].items())
            + f": {100 * t['mean_validation_accuracy']:.2f}" + ("**" if i == doc.get("chosen_trial") else "")
            for i, t in enumerate(trials)
        )
        error, edge = "–", "–"
        if trials and doc.get("validation_samples"):
            p = trials[doc["chosen_trial"]]["mean_validation_accuracy"]
            error = f"{100 * math.sqrt(p * (1 - p) / doc['validation_samples']):.2f}"
            edge = "yes" if any(value in (doc["grid"][k][0], doc["grid"][k][-1]) for k, value in chosen.items()) else "no"
        rows.append({"remedy": doc["strategy"],
                     "grid: validation accuracy (%), the choice in bold": points or "nothing to tune: options as declared",
                     "chosen": ", ".join(f"{k} = {v}" for k, v in chosen.items()) or "–",
                     "s.e. (points)": error, "at grid edge": edge})
    return markdown_table(pd.DataFrame(rows))


def scaling_rules_text(remedies: Sequence[Mapping], gap: float) -> str:
    """When both learning-rate scaling rules ran: which fits here, as the paired difference of their test
    accuracies (linear − square root, seed by seed) with its 95 % interval. Goyal et al.'s linear rule is
    SGD's; `sqrt_scaling` is Hoffer et al.'s square-root rule for the learning rate alone (Malladi et al.
    2022's SDE rule for Adam also adjusts β1, β2 and ε, which it does not). '' when either is missing or
    they share no seed."""
    by_name = {m["strategy"]: _by_seed(m["train"]) for m in remedies}
    if not {"linear_scaling", "sqrt_scaling"} <= set(by_name):
        return ""
    linear, sqrt = by_name["linear_scaling"], by_name["sqrt_scaling"]
    mean, low, high = paired_interval([linear[k] - sqrt[k] for k in sorted(linear) if k in sqrt])
    if math.isnan(mean):
        return ""
    if math.isnan(low):
        verdict = "one seed: no interval"
    elif low > 0:
        verdict = "the linear rule fits better here"
    elif high < 0:
        verdict = "the square-root rule fits better here"
    else:
        verdict = "the data do not separate the two rules"
    return (f"Learning-rate scaling: linear − square-root rule (learning rate only), {mean:+.2f} points of test "
            f"accuracy ({_interval(low, high, 2)}, paired by seed; the plain gap is {gap:.2f}): {verdict}.")



def _scatter_by_method(axis, frame: pd.DataFrame, x: str, y: str) -> None:
    """Plain SB and LB as blue and red squares, each remedy its own marker and colour, named in a legend
    beside the axes (labels written at the points would overlap) with the seeds each point averages."""
    plain, remedies = frame.iloc[:2], frame.iloc[2:]
    for row, color in zip(plain.itertuples(), ("tab:blue", "tab:red")):
        axis.scatter(getattr(row, x), getattr(row, y), color=color, marker="s", s=45, zorder=3, label=f"{row.training}, n = {row.seeds}")
    for i, row in enumerate(remedies.itertuples()):
        axis.scatter(getattr(row, x), getattr(row, y), color=REMEDY_COLORS[i % len(REMEDY_COLORS)],
                     marker=REMEDY_MARKERS[i % len(REMEDY_MARKERS)], s=45, zorder=3, label=f"{row.training}, n = {row.seeds}")
    axis.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, title="mean of n seeds",
                title_fontsize="x-small")


def _log_x_ticks(axis) -> None:
    """Ticks at 1, 2 and 5 of each decade, written plainly (matplotlib labels minor ticks of a range under two
    decades in scientific notation, where they run into each other)."""
    axis.xaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0), numticks=20))
    axis.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:,.0f}" if value >= 1 else f"{value:g}"))
    axis.xaxis.set_minor_formatter(ticker.NullFormatter())


def gap_closed_figures(frame: pd.DataFrame) -> dict[str, Figure]:
    """'gap_closed': gap closed (%) against φ (log); 'updates': test accuracy against parameter updates (log)."""
    figure, axis = plt.subplots(figsize=(8, 4.6))
    _scatter_by_method(axis, frame, "phi", "gap_closed")
    axis.axhline(0, color="0.6", lw=0.8)
    axis.axhline(100, color="0.6", lw=0.8, ls="--")
    axis.set_xscale("log")
    _log_x_ticks(axis)
    axis.set_xlabel("sharpness φ (full space, first ε; log scale)")
    axis.set_ylabel("gap closed (%): 0 = plain LB, 100 = plain SB")
    axis.set_title("How much of the SB − LB gap each remedy closes, and how sharp it ends")
    figure.tight_layout()
    figures = {"gap_closed": figure}
    figure, axis = plt.subplots(figsize=(8, 4.6))
    _scatter_by_method(axis, frame, "updates", "test_accuracy")
    axis.set_xscale("log")
    _log_x_ticks(axis)
    axis.set_xlabel("parameter updates (log scale)")
    axis.set_ylabel("test accuracy (%)")
    axis.set_title("Is it just more steps? Test accuracy against the number of updates")
    figure.tight_layout()
    figures["updates"] = figure
    return figures
