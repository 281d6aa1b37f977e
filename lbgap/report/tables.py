"""Summaries of per-seed results: mean ± std tables shaped like the paper's Tables 2-4."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import pandas as pd

from lbgap.measures.maximizer import Maximizer
from lbgap.report.numbers import REGIME_NAMES


def pm(stats: Mapping[str, float | None], scale: float = 1.0, digits: int = 2) -> str:
    """'mean ± std' text, e.g. '93.41 ± 0.12'; just the mean when std is None."""
    mean = stats["mean"] * scale
    if stats["std"] is None:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {stats['std'] * scale:.{digits}f}"


def pm_significant(stats: Mapping[str, float | None]) -> str:
    """'mean ± std' in significant digits (4 for the mean, 2 for the std), for values of any magnitude."""
    text = f"{stats['mean']:.4g}"
    return text if stats["std"] is None else f"{text} ± {stats['std']:.2g}"


def markdown_table(frame: pd.DataFrame) -> str:
    """`frame` as a markdown table, every cell as formatted here (tabulate would reparse "94.00" as 94)."""
    return frame.to_markdown(index=False, disable_numparse=True)


def accuracy_table(label: str, train: Mapping[str, Mapping]) -> str:
    """Shaped like the paper's Table 2: train and test accuracy (%) of SB and LB, mean ± std."""
    s = {r: train[r]["summary"] for r in ("sb", "lb")}
    row = {
        "network": label,
        "train SB": pm(s["sb"]["train_accuracy"], 100),
        "train LB": pm(s["lb"]["train_accuracy"], 100),
        "test SB": pm(s["sb"]["test_accuracy"], 100),
        "test LB": pm(s["lb"]["test_accuracy"], 100),
    }
    return markdown_table(pd.DataFrame([row]))


def flag_mark(certified: bool | None) -> str:
    """The mark beside a value whose maximization failed its certificate (None: a run that kept none)."""
    return " (flagged)" if certified is False else ""


def sharpness_table(label: str, sharpness: Mapping[str, Mapping], space: str) -> str:
    """Shaped like the paper's Tables 3 (full space) and 4 (subspace): φ mean ± std per regime and ε;
    "(flagged)" where a seed's maximization failed its certificate (`certificate_frame`)."""
    row = {"network": label}
    for key in sharpness["sb"]["summary"][space]:
        for regime in ("sb", "lb"):
            column = f"{REGIME_NAMES[regime]} {key.replace('eps_', 'ε=')}"
            summary = sharpness[regime]["summary"][space][key]
            row[column] = pm(summary["phi"]) + flag_mark(summary.get("certified"))
    return markdown_table(pd.DataFrame([row]))


def certificate_frame(sharpness: Mapping[str, Mapping]) -> pd.DataFrame:
    """One row per (regime, seed, space, ε) maximization: φ, the paper protocol's φ at the same point
    (L-BFGS-B on f, 10 iterations, start 0), the ascent that found the maximum, whether the best f had
    levelled off, φ at the clipped subspace maximizer (full space: a feasible point the full-space φ must
    reach) and `certified` (None for records of runs that kept no certificate)."""
    rows = []
    for regime in ("sb", "lb"):
        for space, by_eps in sharpness[regime]["per_seed"].items():
            for key, records in by_eps.items():
                for r in records:
                    bound, paper = r.get("clipped_subspace_phi"), r.get("paper_protocol_phi")
                    rows.append({
                        "regime": REGIME_NAMES[regime], "seed": r["seed"], "space": space, "ε": key.removeprefix("eps_"),
                        "φ": f"{r['phi']:.4g}", "paper protocol φ": "—" if paper is None else f"{paper:.4g}",
                        "found by": r.get("found_by", "—"), "loss at x": f"{r['loss_at_x']:.2g}",
                        "levelled off": r.get("levelled_off"), "clipped-subspace φ": "—" if bound is None else f"{bound:.4g}",
                        "certified": r.get("certified"), "not measured": not math.isfinite(r["phi"]),
                        "below paper protocol": paper is not None and r["phi"] < paper * (1 - 1e-9),
                    })
    return pd.DataFrame(rows)


def flagged_measurements(frame: pd.DataFrame) -> list[dict]:
    """The rows of `certificate_frame` whose certificate failed, as {regime, seed, space, eps, why}."""
    out = []
    for _, r in frame[frame["certified"].map(lambda c: c is False)].iterrows():
        if r["not measured"]:
            why = "not measured (non-finite weights or loss)"
        elif not r["levelled off"]:
            why = "its best f was still rising"
        elif r["below paper protocol"]:
            why = f"below the paper's protocol from the same start (φ {r['paper protocol φ']})"
        else:
            why = f"below its clipped-subspace bound (φ {r['clipped-subspace φ']})"
        out.append({"regime": r["regime"], "seed": int(r["seed"]), "space": r["space"], "eps": r["ε"], "why": why})
    return out


def flagged_note(frame: pd.DataFrame) -> str:
    """Which maximizations of `certificate_frame` failed their certificate and why, and how many kept none."""
    flagged = flagged_measurements(frame)
    unchecked = int(frame["certified"].map(lambda c: c is None).sum())
    if unchecked:
        text = f"{unchecked} of {len(frame)} maximizations were recorded without a certificate (a run made before it existed): unchecked."
    else:
        text = "No maximization failed its certificate (each φ is still a lower bound on the maximum)."
    if flagged:
        runs = "; ".join(f"{f['regime']} seed {f['seed']} {f['space']} ε={f['eps']}: {f['why']}" for f in flagged)
        text = (f"**Flagged (failed their certificate): {runs}.** Those values are lower bounds the search "
                "could not vouch for; the means above include them, marked (flagged). " + (text if unchecked else ""))
    return text.strip()


def protocol_table(sharpness: Mapping[str, Mapping]) -> str:
    """Per space and ε: mean φ of SB and LB under the paper's protocol and under this run's maximizer
    (the largest of every ascent, the paper's included), the LB/SB ratio under each, and its change."""
    rows = []
    for space, by_eps in sharpness["sb"]["summary"].items():
        for key in by_eps:
            stats = {r: sharpness[r]["summary"][space][key] for r in ("sb", "lb")}
            if not all("paper_protocol_phi" in stats[r] for r in stats):
                continue
            means = {(r, which): stats[r][which]["mean"] for r in stats for which in ("paper_protocol_phi", "phi")}
            ratio = {which: means[("lb", which)] / means[("sb", which)] if means[("sb", which)] else None
                     for which in ("paper_protocol_phi", "phi")}
            rows.append({
                "space": space, "ε": key.removeprefix("eps_"),
                "SB paper": f"{means[('sb', 'paper_protocol_phi')]:.4g}", "SB this run": f"{means[('sb', 'phi')]:.4g}",
                "LB paper": f"{means[('lb', 'paper_protocol_phi')]:.4g}", "LB this run": f"{means[('lb', 'phi')]:.4g}",
                "LB/SB paper": "—" if ratio["paper_protocol_phi"] is None else f"{ratio['paper_protocol_phi']:.3g}×",
                "LB/SB this run": "—" if ratio["phi"] is None else f"{ratio['phi']:.3g}×",
                "ratio change": "—" if not all(ratio.values()) else f"{ratio['phi'] / ratio['paper_protocol_phi']:.3g}×",
            })
    return markdown_table(pd.DataFrame(rows)) if rows else "(the paper's protocol was not read off this run's maximizer)"


def maximizer_section(sharpness: Mapping[str, Mapping]) -> str:
    """How φ was maximized, the paper's protocol beside it, and the certificate of every maximization."""
    maximizer = sharpness["sb"].get("maximizer")
    if maximizer is None:  # a run made before the maximizer was recorded: the paper's protocol
        return "φ was maximized with the paper's protocol (one random start, 10 iterations of L-BFGS-B on f), unchecked."
    frame = certificate_frame(sharpness)
    search = Maximizer(**{key: tuple(value) if isinstance(value, list) else value for key, value in maximizer.items()})
    beside = "ran beside it from the same start, as a search of its own (not part of φ; a φ below it fails the certificate)"
    paper_search = {(True, True): beside, (False, False): "is read off the same search",
                    (True, False): f"{beside}; in the subspace it is read off the L-BFGS-B search among the ascents",
                    (False, True): f"is read off the same search; in the subspace it {beside}"}[
        (search.extra_paper_search, search.in_subspace().extra_paper_search)]
    subspace = search.in_subspace().ascents
    ascents = (', '.join(search.ascents) if subspace == search.ascents
               else f"{', '.join(search.ascents)} (in the subspace: {', '.join(subspace)})")
    rounds = ("" if search.max_rounds == 1 else
              f"; a search that had not levelled off continued, each ascent from its best point, for up to {search.max_rounds} rounds of {search.iterations}")
    return f"""### How φ was maximized, and the paper's protocol beside it

Each φ is the largest f found by {ascents} from {search.starts} seeded random start(s) in the
box, {search.iterations} iterations each{rounds} (docs/measures.md, "Maximizing φ"): a lower bound on the maximum. The
paper's protocol — one random start, 10 iterations of L-BFGS-B on f — {paper_search}:

{protocol_table(sharpness)}

Certificate: the best f must have levelled off (over the second half of the iterations it rose by at most
{maximizer['plateau']:g} of its gain), φ must reach the paper's protocol where that ran beside it, and a full-space φ must
reach φ at the subspace maximizer clipped into the full box (a feasible full-space point). {flagged_note(frame)}"""


def _run_range(sharpness_regime: Mapping, field: str) -> str:
    """'lo–hi' of `field` (iterations or evaluations) over every single maximization (seed, space, ε)."""
    values = [row[field] for by_eps in sharpness_regime["per_seed"].values() for rows in by_eps.values() for row in rows]
    return f"{min(values)}–{max(values)}"


def run_table(train: Mapping[str, Mapping], sharpness: Mapping[str, Mapping]) -> str:
    """Per-regime details: epochs trained, distance travelled from x0, and the effort the maximizer spent."""
    rows = []
    for regime in ("sb", "lb"):
        s = train[regime]["summary"]
        rows.append(
            {
                "regime": f"{REGIME_NAMES[regime]} (batch {train[regime]['batch_size']})",
                "epochs": pm(s["epoch"], digits=1),
                "final train loss": pm(s["train_loss"], digits=4),
                "‖x − x0‖": pm(s["distance_from_x0"], digits=1),
                "iterations per ascent": _run_range(sharpness[regime], "iterations"),
                "f evaluations per φ": _run_range(sharpness[regime], "evaluations"),
            }
        )
    return markdown_table(pd.DataFrame(rows))


def mitigation_rows(train: Mapping[str, Mapping], sharpness: Mapping[str, Mapping], mitigation: Sequence[Mapping]) -> list[dict]:
    """One row per solution family — plain SB, plain LB, then each strategy — with test accuracy and
    φ for every space and ε (the summaries as the stages wrote them)."""
    rows = [
        {"name": f"{REGIME_NAMES[r]} (batch {train[r]['batch_size']})", "train": train[r]["summary"], "sharpness": sharpness[r]["summary"]}
        for r in ("sb", "lb")
    ]
    rows += [
        {"name": f"LB + {m['strategy']}", "train": m["train"]["summary"], "sharpness": m["sharpness"]["summary"]}
        for m in mitigation
    ]
    return rows


def mitigation_table(rows: Sequence[Mapping]) -> str:
    """Like the paper's appendix tables: test accuracy (%) and φ per space and ε, mean ± std."""
    table = []
    for row in rows:
        line = {"training": row["name"], "test accuracy (%)": pm(row["train"]["test_accuracy"], 100)}
        for space, by_eps in row["sharpness"].items():
            for key, stats in by_eps.items():
                line[f"φ {space} {key.replace('eps_', 'ε=')}"] = pm(stats["phi"]) + flag_mark(stats.get("certified"))
        table.append(line)
    return markdown_table(pd.DataFrame(table))


def sweep_frame(points: Sequence[Mapping]) -> pd.DataFrame:
    """One row per batch size from the sweep stages' JSON documents, in batch order: batch_size, steps,
    test_accuracy_mean/_std (%), train_accuracy_mean (%), sharpness_mean/_std (φ, full space)."""
    rows = []
    for doc in sorted(points, key=lambda d: d["batch_size"]):
        s = doc["summary"]
        rows.append({
            "batch_size": doc["batch_size"],
            "steps": doc["per_seed"][0]["steps"],
            "test_accuracy_mean": 100 * s["test_accuracy"]["mean"],
            "test_accuracy_std": None if s["test_accuracy"]["std"] is None else 100 * s["test_accuracy"]["std"],
            "train_accuracy_mean": 100 * s["train_accuracy"]["mean"],
            "sharpness_mean": s["sharpness"]["mean"],
            "sharpness_std": s["sharpness"]["std"],
        })
    return pd.DataFrame(rows)


def sweep_seeds_frame(points: Sequence[Mapping]) -> pd.DataFrame:
    """One row per sweep run from the sweep stages' JSON documents: batch_size, seed, test_accuracy (%),
    sharpness (φ, full space)."""
    return pd.DataFrame([{"batch_size": doc["batch_size"], "seed": run["seed"], "test_accuracy": 100 * run["test_accuracy"],
                          "sharpness": run["sharpness"]} for doc in points for run in doc["per_seed"]])


def sweep_table(frame: pd.DataFrame) -> str:
    """The sweep as a markdown table: steps, accuracies (%) and φ, mean ± std over seeds."""
    def cell(mean: float, std: float | None, digits: int) -> str:
        return pm({"mean": mean, "std": None if std is None or math.isnan(std) else std}, digits=digits)

    rows = [
        {
            "batch size": int(r.batch_size),
            "steps": int(r.steps),
            "train accuracy (%)": f"{r.train_accuracy_mean:.2f}",
            "test accuracy (%)": cell(r.test_accuracy_mean, r.test_accuracy_std, 2),
            "φ full space": cell(r.sharpness_mean, r.sharpness_std, 1),
        }
        for r in frame.itertuples()
    ]
    return markdown_table(pd.DataFrame(rows))


def points_table(frame: pd.DataFrame, columns: Mapping[str, tuple[str, float, int]]) -> str:
    """A markdown table of `frame`'s rows with the named columns: header → (column, scale, digits)."""
    rows = [{head: f"{scale * row[col]:.{digits}f}" for head, (col, scale, digits) in columns.items()} for _, row in frame.iterrows()]
    return pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True)  # keep the digits as written
