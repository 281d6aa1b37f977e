"""Figures of the measures beyond the paper: Hessian eigenvalue density, φ against ε, 2-D surfaces."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from lbgap.measures.hessian import Quadrature, smooth_density
from lbgap.report.figures import COLORS, plt  # noqa: F401 (Agg backend set there)


def density_figure(spectra: Mapping[str, pd.DataFrame], batch_sizes: Mapping[str, int], width_fraction: float = 0.01) -> Figure:
    """SLQ eigenvalue density of the Hessian, SB and LB overlaid (log y), each pooled over its seeds.
    `spectra[regime]` has columns seed, node, weight; Gaussian smoothing of width `width_fraction` of
    the common eigenvalue range."""
    low = min(frame.node.min() for frame in spectra.values())
    high = max(frame.node.max() for frame in spectra.values())
    margin = 0.05 * (high - low)
    grid = np.linspace(low - margin, high + margin, 2000)
    width = width_fraction * (high - low)
    figure, axis = plt.subplots(figsize=(6.4, 4.2))
    for regime, frame in spectra.items():
        seeds = frame.seed.nunique()
        density = smooth_density(Quadrature(frame.node.to_numpy(), frame.weight.to_numpy() / seeds), grid, width)
        axis.plot(grid, np.maximum(density, 1e-12), color=COLORS[regime], label=f"{regime.upper()} (batch {batch_sizes[regime]})")
    axis.set(yscale="log", ylim=(1e-8, None), xlabel="Hessian eigenvalue", ylabel="density (smoothed SLQ)",
             title="Hessian eigenvalue density (stochastic Lanczos quadrature)")
    axis.legend(fontsize="small")
    return figure


def epsilon_figure(frames: Mapping[str, pd.DataFrame], batch_sizes: Mapping[str, int], seeds: int) -> Figure:
    """φ (full space) against ε, SB and LB, mean ± std over `seeds` seeds, log–log."""
    figure, axis = plt.subplots(figsize=(6.4, 4.2))
    for regime, frame in frames.items():
        axis.errorbar(frame.epsilon, frame.phi_mean, yerr=frame.phi_std.fillna(0), fmt="o-", capsize=3,
                      color=COLORS[regime], label=f"{regime.upper()} (batch {batch_sizes[regime]})")
    axis.set(xscale="log", yscale="log", xlabel="ε (box half-width factor, log scale)", ylabel="φ, full space (log scale)",
             title=f"Sensitivity of the sharpness metric to ε (mean ± std, n = {seeds} seeds)")
    axis.legend(fontsize="small")
    return figure


def surface_figure(
    around: Sequence[float], plane: Sequence[float], grids: Mapping[str, np.ndarray], batch_sizes: Mapping[str, int],
    bn_statistics: str = "recompute",
) -> Figure:
    """Three contour plots of log10 loss: around SB, around LB (same filter-normalized coordinates and
    colour scale), and the plane through x0 (0, 0), x_SB (1, 0) and x_LB (0, 1); the title names how BN
    statistics were set at each point."""
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    shared = np.log10(np.concatenate([grids["sb"].ravel(), grids["lb"].ravel()]))
    levels = np.linspace(shared.min(), shared.max(), 21)
    for axis, regime in zip(axes[:2], ("sb", "lb")):
        contour = axis.contourf(around, around, np.log10(grids[regime]).T, levels=levels, cmap="viridis")
        axis.plot(0, 0, "w*", markersize=10)
        axis.set(xlabel="direction 1 (filter-normalized)", title=f"around {regime.upper()} (batch {batch_sizes[regime]})")
    axes[0].set_ylabel("direction 2 (filter-normalized)")
    figure.colorbar(contour, ax=axes[:2].tolist(), label="log10 training loss")
    contour = axes[2].contourf(plane, plane, np.log10(grids["plane"]).T, levels=21, cmap="magma")
    for (a, b), name in (((0, 0), "x0"), ((1, 0), "SB"), ((0, 1), "LB")):
        axes[2].plot(a, b, "wo", markersize=5)
        axes[2].annotate(name, (a, b), color="white", xytext=(4, 4), textcoords="offset points")
    axes[2].set(xlabel="a  (x0 + a·(x_SB − x0) + b·(x_LB − x0))", ylabel="b", title="plane through x0, SB and LB")
    figure.colorbar(contour, ax=axes[2], label="log10 training loss")
    figure.suptitle(f"BN running statistics at each point: {bn_statistics}", y=1.02)
    return figure
