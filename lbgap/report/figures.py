"""Matplotlib figures in the paper's style. Each function returns a Figure; callers save it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # files only, no screen needed
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator  # noqa: E402

if TYPE_CHECKING:
    from lbgap.measures.landscape import PathPoint

# Blue and red mean SB and LB in every figure; other quantities take other colours
COLORS = {"sb": "tab:blue", "lb": "tab:red"}
LOSS_COLOR, ACCURACY_COLOR, SHARPNESS_COLOR = "0.15", "tab:green", "0.15"
# remedies: any colour but SB's and LB's, and a marker each (8 colours × 11 markers never repeat a pair)
REMEDY_COLORS = ("tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray")
REMEDY_MARKERS = "ovD^<>pP*hX"


def _seed_dots(axis, position: float, values: Sequence[float], color: str, *, horizontal: bool = False, spread: float = 0.12) -> None:
    """Each seed's value as a small dot beside `position` (spread so equal values stay visible), and the
    mean as a larger open marker: a mean never hides a failed seed."""
    values = [v for v in values if v is not None]
    if not values:
        return
    offsets = [spread * (i - (len(values) - 1) / 2) / max(1, len(values) - 1) for i in range(len(values))]
    places = [position + o for o in offsets]
    mean = sum(values) / len(values)
    if horizontal:
        axis.scatter(values, places, s=14, color=color, alpha=0.75, zorder=3)
        axis.scatter([mean], [position], s=70, facecolors="none", edgecolors=color, linewidths=1.6, zorder=4)
    else:
        axis.scatter(places, values, s=14, color=color, alpha=0.75, zorder=3)
        axis.scatter([position], [mean], s=70, facecolors="none", edgecolors=color, linewidths=1.6, marker="D", zorder=4)


def interpolation_figure(
    points: Sequence[PathPoint], title: str, right_label: str = "LB", curvilinear: bool = False
) -> Figure:
    """Paper's Figure 3: cross-entropy (left axis) and accuracy (right axis) against α;
    train solid, test dashed; α = 0 is the SB solution, α = 1 the LB one (named `right_label`).
    `curvilinear`: the points lie on sin(απ/2)·x_LB + cos(απ/2)·x_SB instead of the straight line."""
    frame = pd.DataFrame(points)
    figure, loss_axis = plt.subplots(figsize=(6.4, 4.2))
    accuracy_axis = loss_axis.twinx()
    loss_axis.plot(frame.alpha, frame.train_loss, "-", color=LOSS_COLOR, label="train loss")
    loss_axis.plot(frame.alpha, frame.test_loss, "--", color=LOSS_COLOR, label="test loss")
    accuracy_axis.plot(frame.alpha, 100 * frame.train_accuracy, "-", color=ACCURACY_COLOR, label="train accuracy")
    accuracy_axis.plot(frame.alpha, 100 * frame.test_accuracy, "--", color=ACCURACY_COLOR, label="test accuracy")
    for alpha, name in ((0.0, "SB"), (1.0, right_label)):
        loss_axis.axvline(alpha, color="0.6", linewidth=0.8)
        loss_axis.annotate(name, (alpha, 1.0), xycoords=("data", "axes fraction"), ha="center", va="bottom")
    path = f"sin(απ/2)·x_{right_label} + cos(απ/2)·x_SB" if curvilinear else f"α·x_{right_label} + (1−α)·x_SB"
    loss_axis.set_xlabel(f"α   (weights {path})")
    loss_axis.set_ylabel("cross-entropy (log scale)", color=LOSS_COLOR)
    accuracy_axis.set_ylabel("accuracy (%)", color=ACCURACY_COLOR)
    loss_axis.set_yscale("log")
    handles = loss_axis.get_legend_handles_labels()[0] + accuracy_axis.get_legend_handles_labels()[0]
    loss_axis.legend(
        handles, [h.get_label() for h in handles], loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=4,
        fontsize="small", frameon=False,
    )
    loss_axis.set_title(title, pad=18)
    return figure


def training_curves_figure(curves: Mapping[str, pd.DataFrame], batch_sizes: Mapping[str, int]) -> Figure:
    """Paper's Figure 2: accuracy and loss against epochs, one thin line per seed, train solid, test
    dashed. `curves[regime]` holds columns seed, epoch, train_/test_ loss and accuracy."""
    figure, (accuracy_axis, loss_axis) = plt.subplots(1, 2, figsize=(11, 4.2))
    for regime, frame in curves.items():
        label = f"{regime.upper()} (batch {batch_sizes[regime]})"
        for i, (_, run) in enumerate(frame.groupby("seed")):
            for split, style in (("train", "-"), ("test", "--")):
                kwargs = {"label": f"{label} {split}"} if i == 0 else {}
                accuracy_axis.plot(run.epoch, 100 * run[f"{split}_accuracy"], style, color=COLORS[regime], lw=0.9, **kwargs)
                loss_axis.plot(run.epoch, run[f"{split}_loss"], style, color=COLORS[regime], lw=0.9, **kwargs)
    seeds = max(frame.seed.nunique() for frame in curves.values())
    accuracy_axis.set(xlabel="epoch", ylabel="accuracy (%)", title=f"Accuracy (each line one seed, n = {seeds})")
    accuracy_axis.set_ylim(bottom=max(0, accuracy_axis.get_ylim()[0]))
    loss_axis.set(xlabel="epoch", ylabel="cross-entropy (log scale)", yscale="log", title="Loss")
    accuracy_axis.legend(fontsize="small")
    return figure


def sharpness_figure(per_seed: Mapping[str, Mapping[str, Mapping[str, Sequence[Mapping]]]], batch_sizes: Mapping[str, int]) -> Figure:
    """φ of every seed (dots) and its mean (open diamond) for SB and LB, grouped by space and ε (log
    scale). `per_seed[regime][space][eps_key]` is the sharpness stage's list of per-seed records ({"phi", …})."""
    groups = [(space, key) for space, by_eps in per_seed["sb"].items() for key in by_eps]
    seeds = max(len(per_seed[r][space][key]) for r in ("sb", "lb") for space, key in groups)
    figure, axis = plt.subplots(figsize=(7, 4.2))
    for offset, regime in ((-0.18, "sb"), (0.18, "lb")):
        for i, (space, key) in enumerate(groups):
            _seed_dots(axis, i + offset, [r["phi"] for r in per_seed[regime][space][key]], COLORS[regime])
        axis.scatter([], [], color=COLORS[regime], label=f"{regime.upper()} (batch {batch_sizes[regime]})")
    axis.set_xticks(range(len(groups)), [f"{space}\n{key.replace('eps_', 'ε=')}" for space, key in groups])
    axis.set(yscale="log", ylabel="sharpness φ (log scale)",
             title=f"Sharpness (Metric 2.1): dots are seeds (n = {seeds}), diamonds their mean")
    axis.legend()
    return figure


def mitigation_figure(rows: Sequence[Mapping]) -> Figure:
    """Each training method on its own line: test accuracy (%) and φ (full space, first ε; log scale) of
    its LB runs (red) and, where it has one, of its own SB control (blue) — dots for seeds, open circles
    for means, a grey line for its own gap. `rows`: {"name", "lb": {"test_accuracy": [...], "phi": [...]},
    "sb": the same or None}, plain Adam first. Dotted lines: plain SB and plain LB means."""
    figure, (accuracy_axis, sharpness_axis) = plt.subplots(1, 2, figsize=(11, 0.5 * len(rows) + 1.8), sharey=True)
    plain = rows[0]
    for axis, key, scale in ((accuracy_axis, "test_accuracy", 100.0), (sharpness_axis, "phi", 1.0)):
        for regime in ("sb", "lb"):
            values = [scale * v for v in plain[regime][key]]
            axis.axvline(sum(values) / len(values), color=COLORS[regime], lw=0.8, ls=":")
        for line, row in enumerate(rows):
            means = {}
            for regime in ("sb", "lb"):
                if row.get(regime):
                    values = [scale * v for v in row[regime][key] if v is not None]
                    _seed_dots(axis, line, values, COLORS[regime], horizontal=True)
                    means[regime] = sum(values) / len(values)
            if len(means) == 2:
                axis.plot([means["sb"], means["lb"]], [line, line], color="0.6", lw=1, zorder=2)
    seeds = max(len(row["lb"]["test_accuracy"]) for row in rows)
    accuracy_axis.set_yticks(range(len(rows)), [row["name"] for row in rows])
    accuracy_axis.invert_yaxis()
    accuracy_axis.set(xlabel="test accuracy (%)", title="Test accuracy")
    sharpness_axis.set(xlabel="φ, full space, first ε (log scale)", xscale="log", title="Sharpness")
    for regime, text in (("sb", "SB: the method's own SB run"), ("lb", "LB"), ):
        accuracy_axis.scatter([], [], color=COLORS[regime], label=text)
    figure.legend(fontsize="small", loc="lower center", ncol=2, frameon=False)
    figure.suptitle(f"Remedies at SB and LB: dots are seeds (up to {seeds}), circles their mean, grey lines the own gap;\n"
                    "dotted: plain SB and LB", fontsize="medium")
    figure.tight_layout(rect=(0, 0.05, 1, 1))
    return figure


def sweep_figure(frame: pd.DataFrame, per_seed: pd.DataFrame, threshold: float | None, epochs: int) -> Figure:
    """Test accuracy (left axis) and sharpness φ (right axis, log) against batch size (log x): the mean over
    seeds as a line, each seed as a dot; the threshold batch size (if any) as a vertical line. `frame` has
    one row per batch size: batch_size, test_accuracy_mean (%), sharpness_mean; `per_seed` one row per run:
    batch_size, test_accuracy (%), sharpness."""
    figure, accuracy_axis = plt.subplots(figsize=(6.4, 4.2))
    sharpness_axis = accuracy_axis.twinx()
    accuracy_axis.plot(frame.batch_size, frame.test_accuracy_mean, "o-", color=ACCURACY_COLOR, label="test accuracy")
    accuracy_axis.scatter(per_seed.batch_size, per_seed.test_accuracy, s=12, color=ACCURACY_COLOR, alpha=0.5, zorder=3)
    sharpness_axis.plot(frame.batch_size, frame.sharpness_mean, "s--", color=SHARPNESS_COLOR, label="sharpness φ")
    sharpness_axis.scatter(per_seed.batch_size, per_seed.sharpness, s=12, marker="s", color=SHARPNESS_COLOR, alpha=0.5, zorder=3)
    if threshold is not None:
        accuracy_axis.axvline(threshold, color="0.5", linewidth=0.9, linestyle=":", label=f"threshold ≈ {threshold:.0f}")
    accuracy_axis.set_xscale("log")
    sharpness_axis.set_yscale("log")
    seeds = per_seed.groupby("batch_size").size()
    counted = f"{seeds.iloc[0]} seeds" if seeds.nunique() == 1 else f"{seeds.min()}–{seeds.max()} seeds"
    accuracy_axis.set(xlabel="batch size", title=f"Accuracy and sharpness vs batch size ({epochs} epochs each)\n"
                                                  f"line: mean of {counted}; dots: each seed")
    accuracy_axis.set_ylabel("test accuracy (%)", color=ACCURACY_COLOR)
    sharpness_axis.set_ylabel("sharpness φ, full space (log scale)", color=SHARPNESS_COLOR)
    handles = accuracy_axis.get_legend_handles_labels()[0] + sharpness_axis.get_legend_handles_labels()[0]
    accuracy_axis.legend(handles, [h.get_label() for h in handles], fontsize="small", loc="lower left")
    figure.tight_layout()
    return figure


def warm_start_figure(frame: pd.DataFrame, small_batch: int, large_batch: int, lb_epochs: int, seed: int) -> Figure:
    """Paper's piggybacking figure: test accuracy of seed `seed`'s SB iterates and of the LB solutions
    warm-started from them (left), and the LB solutions' sharpness (right, log), against SB epochs."""
    figure, accuracy_axis = plt.subplots(figsize=(6.4, 4.2))
    sharpness_axis = accuracy_axis.twinx()
    accuracy_axis.plot(frame.sb_epochs, 100 * frame.sb_test_accuracy, "o-", color=COLORS["sb"], label=f"SB iterate (batch {small_batch})")
    accuracy_axis.plot(frame.sb_epochs, 100 * frame.lb_test_accuracy, "o-", color=COLORS["lb"], label=f"LB from it (batch {large_batch}, {lb_epochs} epochs)")
    sharpness_axis.plot(frame.sb_epochs, frame.lb_sharpness, "s--", color=SHARPNESS_COLOR, label="φ of the LB solution")
    sharpness_axis.set_yscale("log")
    low, high = frame.lb_sharpness.min(), frame.lb_sharpness.max()
    if 0 < low and high < 10 * low:  # less than a decade: a log axis would show one or two labels, so label more ticks
        sharpness_axis.yaxis.set_minor_locator(LogLocator(subs=(1.2, 1.5, 2.0, 3.0, 5.0, 7.0)))
        sharpness_axis.yaxis.set_minor_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    accuracy_axis.set(xlabel="SB epochs before switching to LB", ylabel="test accuracy (%)", title=f"Warm-started large-batch training, seed {seed}")
    sharpness_axis.set_ylabel("sharpness φ, full space (log scale)", color=SHARPNESS_COLOR)
    handles = accuracy_axis.get_legend_handles_labels()[0] + sharpness_axis.get_legend_handles_labels()[0]
    accuracy_axis.legend(handles, [h.get_label() for h in handles], fontsize="small", loc="lower right")
    return figure


def trajectory_figure(frames: Mapping[str, pd.DataFrame], batch_sizes: Mapping[str, int], seed: int) -> Figure:
    """Sharpness φ of seed `seed`'s iterates against their training loss (both log), SB and LB on one plot,
    each point labelled with its epoch in its regime's colour (SB's above left, LB's below right, so that
    close points keep apart; the shared starting point once); training runs right to left as the loss falls."""
    figure, axis = plt.subplots(figsize=(6.4, 4.2))
    offsets = {"sb": ((-4, 4), "right", "bottom"), "lb": ((4, -4), "left", "top")}
    labelled: set[tuple[float, float]] = set()
    for regime, frame in frames.items():
        axis.plot(frame.train_loss, frame.sharpness, "o-", color=COLORS[regime], label=f"{regime.upper()} (batch {batch_sizes[regime]})")
        offset, ha, va = offsets.get(regime, ((3, 3), "left", "bottom"))
        for row in frame.itertuples():
            if (row.train_loss, row.sharpness) in labelled:  # epoch 0: x0, the same point for both regimes
                continue
            labelled.add((row.train_loss, row.sharpness))
            axis.annotate(str(row.epoch), (row.train_loss, row.sharpness), fontsize="x-small", xytext=offset,
                          textcoords="offset points", ha=ha, va=va, color=COLORS[regime])
    axis.set(xscale="log", yscale="log", xlabel="training loss (cross-entropy, log scale, decreasing to the right)",
             ylabel="sharpness φ, full space (log scale)", title=f"Sharpness along training, seed {seed} (labels: epoch)")
    axis.invert_xaxis()
    axis.legend(fontsize="small")
    return figure
