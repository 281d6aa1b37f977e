"""The paper's published numbers (Keskar et al. 2017, Tables 2-4; see shared/reference/keskar2017.md),
and the comparison of a run with them.

Each value is (mean, std) over the paper's 5 runs. A run is compared with a row when it is that row's
configuration (network and data set); any other run gets the F1 row as a labelled reference only.
"""

from __future__ import annotations

from typing import Mapping

import pandas as pd

from lbgap.report.numbers import REGIME_NAMES

Stat = tuple[float, float]

# Table 2: accuracy (%)
ACCURACY: dict[str, dict[str, Stat]] = {
    "F1": {"train SB": (99.66, 0.05), "train LB": (99.92, 0.01), "test SB": (98.03, 0.07), "test LB": (97.81, 0.07)},
    "F2": {"train SB": (99.99, 0.03), "train LB": (98.35, 2.08), "test SB": (64.02, 0.2), "test LB": (59.45, 1.05)},
    "C1": {"train SB": (99.89, 0.02), "train LB": (99.66, 0.2), "test SB": (80.04, 0.12), "test LB": (77.26, 0.42)},
    "C2": {"train SB": (99.99, 0.04), "train LB": (99.99, 0.01), "test SB": (89.24, 0.12), "test LB": (87.26, 0.07)},
    "C3": {"train SB": (99.56, 0.44), "train LB": (99.88, 0.30), "test SB": (49.58, 0.39), "test LB": (46.45, 0.43)},
    "C4": {"train SB": (99.10, 1.23), "train LB": (99.57, 1.84), "test SB": (63.08, 0.5), "test LB": (57.81, 0.17)},
}
# Tables 3 (full space) and 4 (random 100-dimensional subspace): φ by regime and ε
SHARPNESS: dict[str, dict[str, dict[str, Stat]]] = {
    "full": {
        "F1": {"SB eps_1e-03": (1.23, 0.83), "LB eps_1e-03": (205.14, 69.52), "SB eps_5e-04": (0.61, 0.27), "LB eps_5e-04": (42.90, 17.14)},
        "F2": {"SB eps_1e-03": (1.39, 0.02), "LB eps_1e-03": (310.64, 38.46), "SB eps_5e-04": (0.90, 0.05), "LB eps_5e-04": (93.15, 6.81)},
        "C1": {"SB eps_1e-03": (28.58, 3.13), "LB eps_1e-03": (707.23, 43.04), "SB eps_5e-04": (7.08, 0.88), "LB eps_5e-04": (227.31, 23.23)},
        "C2": {"SB eps_1e-03": (8.68, 1.32), "LB eps_1e-03": (925.32, 38.29), "SB eps_5e-04": (2.07, 0.86), "LB eps_5e-04": (175.31, 18.28)},
        "C3": {"SB eps_1e-03": (29.85, 5.98), "LB eps_1e-03": (258.75, 8.96), "SB eps_5e-04": (8.56, 0.99), "LB eps_5e-04": (105.11, 13.22)},
        "C4": {"SB eps_1e-03": (12.83, 3.84), "LB eps_1e-03": (421.84, 36.97), "SB eps_5e-04": (4.07, 0.87), "LB eps_5e-04": (109.35, 16.57)},
    },
    "subspace": {
        "F1": {"SB eps_1e-03": (0.11, 0.00), "LB eps_1e-03": (9.22, 0.56), "SB eps_5e-04": (0.05, 0.00), "LB eps_5e-04": (9.17, 0.14)},
        "F2": {"SB eps_1e-03": (0.29, 0.02), "LB eps_1e-03": (23.63, 0.54), "SB eps_5e-04": (0.05, 0.00), "LB eps_5e-04": (6.28, 0.19)},
        "C1": {"SB eps_1e-03": (2.18, 0.23), "LB eps_1e-03": (137.25, 21.60), "SB eps_5e-04": (0.71, 0.15), "LB eps_5e-04": (29.50, 7.48)},
        "C2": {"SB eps_1e-03": (0.95, 0.34), "LB eps_1e-03": (25.09, 2.61), "SB eps_5e-04": (0.31, 0.08), "LB eps_5e-04": (5.82, 0.52)},
        "C3": {"SB eps_1e-03": (17.02, 2.20), "LB eps_1e-03": (236.03, 31.26), "SB eps_5e-04": (4.03, 1.45), "LB eps_5e-04": (86.96, 27.39)},
        "C4": {"SB eps_1e-03": (6.05, 1.13), "LB eps_1e-03": (72.99, 10.96), "SB eps_5e-04": (1.89, 0.33), "LB eps_5e-04": (19.85, 4.12)},
    },
}
# (model, data set) of each paper configuration; TIMIT arrives as bring-your-own npz
CONFIGURATIONS = {
    ("F1", "mnist"): "F1", ("F2", "npz"): "F2", ("C1", "cifar10"): "C1",
    ("C2", "cifar10"): "C2", ("C3", "cifar100"): "C3", ("C4", "cifar100"): "C4",
}
DATA_OF = {"F1": "MNIST", "F2": "TIMIT", "C1": "CIFAR-10", "C2": "CIFAR-10", "C3": "CIFAR-100", "C4": "CIFAR-100"}


def paper_row(model: str, data_name: str) -> tuple[str, bool]:
    """The paper's network to compare with, and whether the run *is* that configuration."""
    net = CONFIGURATIONS.get((model, data_name))
    return (net, True) if net else ("F1", False)


def comparison_table(net: str, same: bool, ours: Mapping[str, float]) -> str:
    """Markdown: every published number of `net` beside ours (`ours` keyed like the paper's columns:
    'train SB', …, 'full SB eps_1e-03', …) and, for the same configuration, ours − paper."""
    published = {k: v for k, v in ACCURACY[net].items()}
    for space, by_net in SHARPNESS.items():
        published.update({f"{space} {k}": v for k, v in by_net[net].items()})
    rows = []
    for key, (mean, std) in published.items():
        what = key.replace("eps_", "ε=")
        what = f"accuracy {what} (%)" if key.startswith(("train", "test")) else f"φ {what}"
        row = {"quantity": what, f"paper {net} ({DATA_OF[net]})": f"{mean:g} ± {std:g}"}
        value = ours.get(key)
        row["this run"] = "—" if value is None else f"{value:.4g}"
        if same:
            row["this run − paper"] = "—" if value is None else f"{value - mean:+.4g}"
        rows.append(row)
    return pd.DataFrame(rows).to_markdown(index=False)


def paper_quantities(train: Mapping[str, Mapping], sharpness: Mapping[str, Mapping]) -> dict[str, float]:
    """This run's means keyed like lbgap.report.paper's columns ('train SB', 'full LB eps_1e-03', …)."""
    out = {}
    for regime in ("sb", "lb"):
        name = REGIME_NAMES[regime]
        for split in ("train", "test"):
            out[f"{split} {name}"] = 100 * train[regime]["summary"][f"{split}_accuracy"]["mean"]
        for space, by_eps in sharpness[regime]["summary"].items():
            for key, stats in by_eps.items():
                out[f"{space} {name} {key}"] = stats["phi"]["mean"]
    return out
