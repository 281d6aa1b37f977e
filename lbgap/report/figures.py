"""Matplotlib figures in the paper's style. Each function returns a Figure; callers save it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # files only, no screen needed
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

if TYPE_CHECKING:
    from lbgap.measures.landscape import PathPoint

COLORS = {"sb": "tab:blue", "lb": "tab:red"}
LOSS_COLOR, ACCURACY_COLOR = "tab:blue", "tab:red"


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
    loss_axis.set_ylabel("cross-entropy", color=LOSS_COLOR)
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
    accuracy_axis.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy (each line one seed)")
    accuracy_axis.set_ylim(bottom=max(0, accuracy_axis.get_ylim()[0]))
    loss_axis.set(xlabel="epoch", ylabel="cross-entropy", yscale="log", title="Loss")
    accuracy_axis.legend(fontsize="small")
    return figure


def sharpness_figure(summaries: Mapping[str, Mapping[str, Mapping[str, Mapping]]], batch_sizes: Mapping[str, int]) -> Figure:
    """Bars of mean φ with ±std error bars for SB and LB, grouped by space and ε (log scale).
    `summaries[regime][space][eps_key]["phi"]` holds {"mean", "std"}."""
    groups = [(space, key) for space, by_eps in summaries["sb"].items() for key in by_eps]
    figure, axis = plt.subplots(figsize=(7, 4.2))
    width = 0.38
    for offset, regime in ((-width / 2, "sb"), (width / 2, "lb")):
        stats = [summaries[regime][space][key]["phi"] for space, key in groups]
        axis.bar(
            [i + offset for i in range(len(groups))],
            [s["mean"] for s in stats],
            width,
            yerr=[s["std"] or 0.0 for s in stats],
            capsize=3,
            color=COLORS[regime],
            label=f"{regime.upper()} (batch {batch_sizes[regime]})",
        )
    axis.set_xticks(range(len(groups)), [f"{space}\n{key.replace('eps_', 'ε=')}" for space, key in groups])
    axis.set(yscale="log", ylabel="sharpness φ (mean ± std over seeds)", title="Sharpness (Metric 2.1)")
    axis.legend()
    return figure


def mitigation_figure(rows: Sequence[Mapping]) -> Figure:
    """Two bar charts over rows {"name", "test_accuracy": {mean, std}, "phi": {mean, std}}: test accuracy
    (%) and sharpness φ (full space, the first ε; log scale), with ±std error bars."""
    figure, (accuracy_axis, sharpness_axis) = plt.subplots(1, 2, figsize=(11, 4.2))
    names = [row["name"] for row in rows]
    colors = [COLORS.get(name.split()[0].lower(), "tab:gray") for name in names]
    for axis, key, scale in ((accuracy_axis, "test_accuracy", 100.0), (sharpness_axis, "phi", 1.0)):
        axis.bar(
            range(len(rows)),
            [scale * row[key]["mean"] for row in rows],
            yerr=[scale * (row[key]["std"] or 0.0) for row in rows],
            capsize=3,
            color=colors,
        )
        axis.set_xticks(range(len(rows)), names, rotation=30, ha="right")
    low = min(100 * row["test_accuracy"]["mean"] for row in rows)
    accuracy_axis.set(ylabel="test accuracy (%)", title="Test accuracy (mean ± std)", ylim=(max(0, low - 5), None))
    sharpness_axis.set(ylabel="φ, full space, first ε", yscale="log", title="Sharpness (mean ± std)")
    return figure


def sweep_figure(frame: pd.DataFrame, threshold: float | None, epochs: int) -> Figure:
    """Test accuracy (left axis) and sharpness φ (right axis, log) against batch size (log x), mean ±
    std over seeds; the threshold batch size (if any) as a vertical line. `frame` has one row per batch
    size: batch_size, test_accuracy_mean/_std (%), sharpness_mean/_std."""
    figure, accuracy_axis = plt.subplots(figsize=(6.4, 4.2))
    sharpness_axis = accuracy_axis.twinx()
    accuracy_axis.errorbar(
        frame.batch_size, frame.test_accuracy_mean, yerr=frame.test_accuracy_std.fillna(0), fmt="o-",
        color=ACCURACY_COLOR, capsize=3, label="test accuracy",
    )
    sharpness_axis.errorbar(
        frame.batch_size, frame.sharpness_mean, yerr=frame.sharpness_std.fillna(0), fmt="s--",
        color=LOSS_COLOR, capsize=3, label="sharpness φ",
    )
    if threshold is not None:
        accuracy_axis.axvline(threshold, color="0.5", linewidth=0.9, linestyle=":", label=f"threshold ≈ {threshold:.0f}")
    accuracy_axis.set_xscale("log")
    sharpness_axis.set_yscale("log")
    accuracy_axis.set(xlabel="batch size", title=f"Accuracy and sharpness vs batch size ({epochs} epochs each)")
    accuracy_axis.set_ylabel("test accuracy (%)", color=ACCURACY_COLOR)
    sharpness_axis.set_ylabel("sharpness φ, full space", color=LOSS_COLOR)
    handles = accuracy_axis.get_legend_handles_labels()[0] + sharpness_axis.get_legend_handles_labels()[0]
    accuracy_axis.legend(handles, [h.get_label() for h in handles], fontsize="small", loc="lower left")
    return figure


def warm_start_figure(frame: pd.DataFrame, small_batch: int, large_batch: int, lb_epochs: int) -> Figure:
    """Paper's piggybacking figure: test accuracy of the SB iterates and of the LB solutions
    warm-started from them (left), and the LB solutions' sharpness (right, log), against SB epochs."""
    figure, accuracy_axis = plt.subplots(figsize=(6.4, 4.2))
    sharpness_axis = accuracy_axis.twinx()
    accuracy_axis.plot(frame.sb_epochs, 100 * frame.sb_test_accuracy, "o-", color=COLORS["sb"], label=f"SB iterate (batch {small_batch})")
    accuracy_axis.plot(frame.sb_epochs, 100 * frame.lb_test_accuracy, "o-", color=COLORS["lb"], label=f"LB from it (batch {large_batch}, {lb_epochs} epochs)")
    sharpness_axis.plot(frame.sb_epochs, frame.lb_sharpness, "s--", color="tab:green", label="φ of the LB solution")
    sharpness_axis.set_yscale("log")
    accuracy_axis.set(xlabel="SB epochs before switching to LB", ylabel="test accuracy (%)", title="Warm-started large-batch training")
    sharpness_axis.set_ylabel("sharpness φ, full space", color="tab:green")
    handles = accuracy_axis.get_legend_handles_labels()[0] + sharpness_axis.get_legend_handles_labels()[0]
    accuracy_axis.legend(handles, [h.get_label() for h in handles], fontsize="small", loc="lower right")
    return figure


def trajectory_figure(frames: Mapping[str, pd.DataFrame], batch_sizes: Mapping[str, int]) -> Figure:
    """Sharpness φ of the iterates against their training loss (both log), SB and LB on one plot, each
    point labelled with its epoch; training runs right to left as the loss falls."""
    figure, axis = plt.subplots(figsize=(6.4, 4.2))
    for regime, frame in frames.items():
        axis.plot(frame.train_loss, frame.sharpness, "o-", color=COLORS[regime], label=f"{regime.upper()} (batch {batch_sizes[regime]})")
        for row in frame.itertuples():
            axis.annotate(str(row.epoch), (row.train_loss, row.sharpness), fontsize="x-small", xytext=(3, 3), textcoords="offset points")
    axis.set(xscale="log", yscale="log", xlabel="training loss (cross-entropy)", ylabel="sharpness φ, full space",
             title="Sharpness along training (labels: epoch)")
    axis.invert_xaxis()
    axis.legend(fontsize="small")
    return figure
