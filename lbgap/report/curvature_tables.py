"""Markdown tables for the measures beyond the paper: one row per measure, SB and LB side by side."""

from __future__ import annotations

from typing import Mapping

import pandas as pd

from lbgap.report.tables import pm_significant


def measure_rows(keys: list[str]) -> list[tuple[str, str, bool | None]]:
    """(key, label, direction) for the curvature stages' summary keys that are reported: direction is
    True when larger means sharper, False when larger means flatter, None for non-flatness quantities."""
    rows: list[tuple[str, str, bool | None]] = []
    for key in keys:
        if key.startswith("lambda_"):
            rows.append((key, f"Hessian eigenvalue λ{key.removeprefix('lambda_')} (Lanczos)", True))
        elif key == "trace":
            rows.append((key, "Hessian trace (Hutchinson)", True))
        elif key.startswith("phi_eps_"):
            rows.append((key, f"φ full space, ε = {float(key.removeprefix('phi_eps_')):g}", True))
        elif key.startswith("adaptive_eta_"):
            eta = key.removeprefix("adaptive_eta_")
            rows.append((key, f"adaptive φ, box ε(|w| + {0 if eta == '0' else float(eta):g})", True))
        elif key.startswith("sigma_"):
            rows.append((key, f"PAC-Bayes σ, {key.removeprefix('sigma_')} noise", False))
        elif key.startswith("inverse_sigma_sq_"):
            rows.append((key, f"PAC-Bayes 1/σ², {key.removeprefix('inverse_sigma_sq_')} noise", True))
        elif key == "noise_scale":
            rows.append((key, "gradient noise scale B_simple (samples)", None))
    return rows


def measures_table(summaries: Mapping[str, Mapping[str, Mapping]], paper_phi: Mapping[str, Mapping] | None = None) -> tuple[str, dict]:
    """The table (markdown) and, per measure, {sb, lb, lb_over_sb, agrees}: `agrees` is True when the
    measure calls LB the sharper solution, as the paper's φ does. `summaries[regime][key]` are
    {mean, std}; `paper_phi[regime]` optionally adds the sharpness stages' φ (all training data)."""
    rows, numbers = [], {}
    entries = []
    if paper_phi is not None:
        entries.append(("paper_phi", "paper's φ (sharpness stage, all training data)", True, paper_phi))
    for key, label, sharper_if_larger in measure_rows(list(summaries["sb"])):
        entries.append((key, label, sharper_if_larger, {r: summaries[r][key] for r in ("sb", "lb")}))
    for key, label, sharper_if_larger, stats in entries:
        sb, lb = stats["sb"]["mean"], stats["lb"]["mean"]
        ratio = lb / sb if sb else None
        agrees = None if sharper_if_larger is None or ratio is None else (ratio > 1) == sharper_if_larger
        numbers[key] = {"sb": sb, "lb": lb, "lb_over_sb": ratio, "agrees": agrees}
        rows.append({
            "measure": label, "SB": pm_significant(stats["sb"]), "LB": pm_significant(stats["lb"]),
            "LB / SB": "—" if ratio is None else f"{ratio:.3g}",
            "LB sharper?": "—" if agrees is None else ("yes" if agrees else "**no**"),
        })
    return pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True), numbers


def rescaling_table(document: Mapping) -> str:
    """Before, after and after/before for each measure of the rescaled SB and LB solutions."""
    rows = []
    for regime in ("sb", "lb"):
        part = document[regime]
        for key, before in part["before"].items():
            ratio = part["ratio"][key]
            rows.append({
                "solution": regime.upper(), "measure": key.replace("lambda_1", "λ_max").replace("adaptive_eta_", "adaptive φ, η = "),
                "before": f"{before:.4g}", "after": f"{part['after'][key]:.4g}", "after / before": "—" if ratio is None else f"{ratio:.3g}",
            })
    return pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True)
