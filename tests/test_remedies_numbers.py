"""docs/results.md's "What closes the gap" quotes results/all-remedies, the run of every registered remedy: each
number is that folder's (remedies.csv, the report's table; mitigation/ and tuning/, the stage outputs), rounded
as printed, and its claims in words hold there."""

from __future__ import annotations

import functools
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from tests import quoting
from tests.quoting import spaced

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs/results.md"
RUN = REPO / "results/all-remedies"
PLAIN = {"SB": "SB (plain Adam)", "LB": "LB (plain Adam)"}

# Each paragraph of the section as docs/results.md prints it: {name.field:format} is remedies.csv's row `name` (SB and
# LB: plain Adam's), field one of its columns or: lift (own SB − plain SB, points), train_accuracy_pct / train_loss
# (the LB runs' mean at their end), sb_train_accuracy_pct (the own SB runs'); {key:format} one of `_derived()`'s
PARAGRAPHS = [
    (
        "Every remedy the registry holds — {remedies:d}, each as its source defines it ([measures](measures.md)) — ran as "
        "one experiment at LB batch {batch:d}, {seeds:d} seeds each, the options of the {tuned:d} that have any chosen from a "
        "{grid_points:d}-point grid by validation accuracy (the test split is read only for the final numbers): "
        "[results/all-remedies/](../results/all-remedies/report.md), whose table the README shows. The default run "
        "trains two of them, augmentation (the paper's) and linear learning-rate scaling, with the same results. Gap "
        "closed = (accuracy − LB)/(SB − LB) against plain Adam (LB {LB.test_accuracy:.2f} %, SB {SB.test_accuracy:.2f} %), "
        "with a 95 % interval paired by seed; a remedy that changes the training method also trains at SB, so its own "
        "gap stands beside it."
    ),
    (
        "{helps:d} of the {remedies:d} help by their own interval; adaptive batch growth ({adaptive_batch.gap_closed:.0f} %, "
        "[{adaptive_batch.gap_closed_low:.0f}, {adaptive_batch.gap_closed_high:.0f}]) and matched updates "
        "({matched_updates.gap_closed:.0f} %, [{matched_updates.gap_closed_low:.0f}, {matched_updates.gap_closed_high:.0f}]) "
        "do not, and none hurts. If none helped, about one of {remedies:d} would still exclude 0 at 95 %; with a "
        "Bonferroni correction for {remedies:d} (each interval at 1 − 0.05/{remedies:d}) {bonferroni:d} still help: "
        "augmentation, ASAM, SAM, LAMB, linear scaling, adversarial training and ghost BN. Paired with plain SB seed by "
        "seed, two pass plain SB, augmentation ({augmentation.vs_sb:+.2f} points [{augmentation.vs_sb_low:+.2f}, "
        "{augmentation.vs_sb_high:+.2f}]) and ASAM ({asam.vs_sb:+.2f} [{asam.vs_sb_low:+.2f}, {asam.vs_sb_high:+.2f}]), and "
        "{level_with_sb:d} more cannot be told from it, SAM, Hoffer et al.'s recipe, LAMB and linear scaling among them. "
        "Two of these nine do not fit the training set: augmentation's LB runs end at {augmentation.train_accuracy_pct:.1f} % "
        "training accuracy and LAMB's at {lamb.train_accuracy_pct:.1f} % (training loss {lamb.train_loss:.2f}), so their "
        "gain is that of a regularizer, not of a flatter minimum of the same fit; every other remedy's LB runs fit it (each "
        "run at least {fit_floor_pct:.2f} %)."
    ),
    (
        "A change of method often lifts SB too: of the {own_controls:d} remedies with an own SB control (growing batch's SB "
        "run is a baseline, below), {lifted:d} lift it by an interval above 0, augmentation ({augmentation.lift:+.1f} "
        "points), ASAM ({asam.lift:+.1f}), SAM ({sam.lift:+.1f}) and adversarial training ({adversarial.lift:+.1f}); their "
        "own gaps, what remains of the LB penalty within the method, are {augmentation.own_gap:.2f}, {asam.own_gap:.2f}, "
        "{sam.own_gap:.2f} and {adversarial.own_gap:.2f} points against plain Adam's {gap:.2f}. LAMB's SB runs, at the "
        "learning rate chosen for LB, do not fit the training set ({lamb.sb_train_accuracy_pct:.1f} % training accuracy, "
        "{lamb.own_sb_accuracy:.1f} % test): that is all its negative own gap ({lamb.own_gap:.2f} points) says. AdamW's SB "
        "runs end at {adamw.sb_train_accuracy_pct:.1f} % training accuracy, so its own gap sets an SB that does not fit "
        "against an LB that does. SAM and "
        "ASAM cost about four times plain LB's training time ({sam.seconds:.0f} and {asam.seconds:.0f} s per seed against "
        "{LB.seconds:.0f} s). Growing the batch (Smith et al. 2018, an argument made for SGD) closes "
        "{growing_batch.gap_closed:.0f} % against plain LB and comes within {growing_batch.own_gap:.2f} points "
        "[{growing_batch.own_gap_low:.2f}, {growing_batch.own_gap_high:.2f}] of their baseline, batch SB with the learning "
        "rate decayed on the same schedule: not distinguishable from that baseline, not shown equal to it. The baseline "
        "itself tests {growing_batch.lift|abs:.1f} points below plain SB ([{growing_batch.lift_low:+.2f}, "
        "{growing_batch.lift_high:+.2f}])."
    ),
    (
        "Training longer alone does not help here: matched updates — {matched_updates.updates:.0f} updates on average, "
        "SB's count for each seed rounded up to a whole epoch, none cut by the stopping rule — end at "
        "{matched_updates.test_accuracy:.2f} %, plain LB's accuracy. That is at Adam's untuned learning rate with no "
        "schedule, continuing runs that had already fit the training set: the training loss falls "
        "{matched_loss_ratio:.0f}-fold, φ rises ({matched_updates.phi:.0f} against plain LB's {LB.phi:.0f}) while λ_max "
        "falls ({matched_updates.lambda_max:.2f} against {LB.lambda_max:.2f}), and at the target loss the run is plain LB's "
        "own iterate. Hoffer et al.'s full recipe, matched updates with the square-root learning-rate rule and ghost BN, "
        "closes {hoffer.gap_closed:.0f} % [{hoffer.gap_closed_low:.0f}, {hoffer.gap_closed_high:.0f}]; at plain LB's update "
        "count it already stands at {hoffer_at_lb_updates:.2f} %, and later its test accuracy dips to "
        "{hoffer_dip_low:.1f}–{hoffer_dip_high:.1f} % (each seed's lowest) before it ends higher, so its final number "
        "depends on where the budget ends. Its parts alone ran in other settings — the square-root rule "
        "({sqrt_scaling.gap_closed:.0f} %) stopped by the stopping rule, ghost BN ({ghost_bn.gap_closed:.0f} %) tuned to a "
        "virtual batch of {ghost_virtual_batch:d} where the recipe uses {hoffer_virtual_batch:d} — so they do not decompose "
        "it. For Adam the linear rule (Goyal et al.'s, for SGD) closes {linear_scaling.gap_closed:.0f} % and the "
        "square-root rule {sqrt_scaling.gap_closed:.0f} %, a paired difference of {rules_mean:+.2f} points "
        "[{rules_low:+.2f}, {rules_high:+.2f}]: the linear rule gives the higher test accuracy here, where plain Adam's "
        "own step is not tuned (a larger step of either size may be what helps), the two chosen warm-ups lie at opposite "
        "ends of their grid, and Malladi et al.'s square-root rule for Adam also scales β1, β2 and ε, which this run does "
        "not."
    ),
    (
        "Sharpness orders the remedies only loosely. Over the {remedies:d} remedies' means, Kendall's τ of LB test "
        "accuracy with φ is {tau_phi:+.2f}, with the distance from x0 {tau_distance:+.2f} and with λ_max "
        "{tau_lambda:+.2f} — a description, not a test: the remedies are not a sample, and their φ is taken at different "
        "training losses. Scaled initialization ends the sharpest of all (φ {scaled_init.phi:.0f}) and closes "
        "{scaled_init.gap_closed:.0f} %. LAMB's φ, {lamb.phi:.1f}, the smallest, belongs to weights that end "
        "{lamb.distance_from_x0:.0f} from x0 where every other remedy's end {distance_low:.0f}–{distance_high:.0f} from "
        "it, at a training loss ({lamb.train_loss:.2f}) above every other remedy's but augmentation's ({augmentation.train_loss:.2f}, "
        "where φ is {augmentation.phi:.0f}): its trust ratio scales each layer's step with the layer's norm, "
        "and under BN a larger weight scale can lower φ, whose box ε(|x| + 1) is partly absolute, without a flatter "
        "minimum — a hypothesis a scale-invariant measure (the adaptive φ) would test, which this run does not take for "
        "the remedies."
    ),
    (
        "What this does not show: plain Adam's own learning rate is not tuned, so part of each remedy's gain may be its "
        "search; each grid was searched with one seed, and {edge:d} of the {tuned:d} choices lie at an edge of their grid "
        "(the report's tuning table), so wider grids could move them; the remedies make different numbers of updates — "
        "Hoffer's recipe and matched updates {hoffer.updates:.0f}, SAM, ASAM and augmentation {sam.updates:.0f} (the epoch "
        "cap), plain LB {LB.updates:.0f} (the report gives each one's, and every run's accuracy after "
        "{equal_epochs:d} epochs, the shortest run's length); one network, one data set and one batch ratio, "
        "{batch_ratio:.0f}."
    ),
]


def _frame() -> pd.DataFrame:
    return pd.read_csv(RUN / "remedies.csv").set_index("training")


def _stage_outputs() -> dict[str, dict]:
    return {path.stem: json.loads(path.read_text()) for path in sorted((RUN / "mitigation").glob("*.json"))}


def _summary_of(doc: dict, key: str) -> float:
    return doc["summary"][key]["mean"]


def _test_accuracy_by_seed(train: dict) -> dict[int, float]:
    return {r["seed"]: 100 * r["test_accuracy"] for r in train["per_seed"]}


def _plain_sb_by_seed() -> dict[int, float]:
    """Plain SB's test accuracy (%) per seed. The run of every remedy re-used the default's train@sb (the folder keeps
    no copy), so this reads the default's metrics/train_sb.json and checks that its mean is the folder's SB row."""
    by_seed = _test_accuracy_by_seed(json.loads((REPO / "metrics/train_sb.json").read_text()))
    assert np.mean(list(by_seed.values())) == pytest.approx(_frame().loc[PLAIN["SB"]].test_accuracy, abs=1e-3)
    return by_seed


def _paired(differences: list[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean of paired differences and its two-sided t interval at `level` (scipy, not lbgap's implementation)."""
    values = np.asarray(differences)
    half = stats.t.ppf(1 - (1 - level) / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return values.mean(), values.mean() - half, values.mean() + half


def _against(train: dict, reference: dict[int, float], level: float = 0.95) -> tuple[float, float, float]:
    accuracy = _test_accuracy_by_seed(train)
    return _paired([accuracy[k] - reference[k] for k in sorted(accuracy)], level)


def _report_lines() -> list[str]:
    return (RUN / "report.md").read_text().splitlines()


def _tuning_table_edges() -> tuple[int, int]:
    """The report's tuning table: (choices at a grid edge, remedies with a grid), read off its 'at grid edge' column."""
    from tests.test_readme import _table_after  # the markdown-table reader the README tests use

    header, *body = _table_after((RUN / "report.md").read_text(), "## What closes the gap? Remedies beyond the paper")
    cells = [row[header.index("at grid edge")] for row in body]
    return cells.count("yes"), cells.count("yes") + cells.count("no")


def _last_before(curve: list, epoch: float) -> float:
    return 100 * [accuracy for e, accuracy in curve if e <= epoch][-1]


@functools.cache
def _derived() -> dict:
    frame, runs = _frame(), _stage_outputs()
    summary = json.loads((RUN / "summary.json").read_text())
    remedies = frame.drop(list(PLAIN.values()))
    sb, lb = frame.loc[PLAIN["SB"]], frame.loc[PLAIN["LB"]]
    plain_sb = _plain_sb_by_seed()
    plain_lb_doc = json.loads((REPO / "metrics/train_lb.json").read_text())  # the default's train@lb, as for SB
    plain_lb = _test_accuracy_by_seed(plain_lb_doc)
    assert np.mean(list(plain_lb.values())) == pytest.approx(lb.test_accuracy, abs=1e-3)  # the csv keeps 6 digits
    lifts = {name: _against(doc["small_batch"]["train"], plain_sb) for name, doc in runs.items()
             if doc.get("small_batch") and name != "growing_batch"}  # growing batch's SB run is a baseline
    versus_sb = {name: _against(doc["train"], plain_sb) for name, doc in runs.items()}
    bonferroni = sorted(name for name, doc in runs.items() if _against(doc["train"], plain_lb, 1 - 0.05 / len(runs))[1] > 0)
    unfit = ("augmentation", "lamb")
    tunings = {p.stem: json.loads(p.read_text()) for p in sorted((RUN / "tuning").glob("*.json"))}
    grid_sizes = {math.prod(len(values) for values in t["grid"].values()) for t in tunings.values() if t["grid"]}
    seeds = {len(doc["train"]["per_seed"]) for doc in runs.values()}
    edge, tuned = _tuning_table_edges()
    rules = _against(runs["linear_scaling"]["train"], _test_accuracy_by_seed(runs["sqrt_scaling"]["train"]))
    distances = remedies.distance_from_x0.drop("lamb")
    first = plain_lb_doc["per_seed"][0]
    lb_epochs = lb.updates / (first["updates"] / first["epoch"])  # plain LB's mean update count, in epochs
    hoffer_curves = [list(curve) for curve in runs["hoffer"]["train"]["test_accuracy_by_epoch"].values()]
    dips = [min(100 * a for e, a in curve if e > lb_epochs) for curve in hoffer_curves]
    equal = next(int(m.group(1)) for line in _report_lines() if (m := re.search(r"acc\. after (\d+) epochs", line)))
    return {
        "remedies": len(remedies), "helps": int(remedies.helps.astype(bool).sum()),
        "bonferroni": len(bonferroni), "bonferroni_names": tuple(bonferroni),
        "level_with_sb": sum(low < 0 < high for _, low, high in versus_sb.values()),
        "passes_sb": tuple(sorted(name for name, (_, low, _) in versus_sb.items() if low > 0)),
        "lifted": sum(low > 0 for _, low, _ in lifts.values()), "own_controls": len(lifts),
        "lifted_names": tuple(sorted(name for name, (_, low, _) in lifts.items() if low > 0)),
        "fit_floor_pct": min(100 * r["train_accuracy"] for name in runs if name not in unfit for r in runs[name]["train"]["per_seed"]),
        "gap": sb.test_accuracy - lb.test_accuracy,
        "rules_mean": rules[0], "rules_low": rules[1], "rules_high": rules[2],
        "distance_low": distances.min(), "distance_high": distances.max(),
        "tau_phi": stats.kendalltau(remedies.phi, remedies.test_accuracy).statistic,
        "tau_distance": stats.kendalltau(remedies.distance_from_x0, remedies.test_accuracy).statistic,
        "tau_lambda": stats.kendalltau(remedies.lambda_max, remedies.test_accuracy).statistic,
        "tuned": tuned, "edge": edge, "equal_epochs": equal,
        "batch": summary["batch"]["lb"], "batch_ratio": summary["batch"]["lb"] / summary["batch"]["sb"],
        "seeds": seeds.pop() if len(seeds) == 1 else math.nan,
        "grid_points": grid_sizes.pop() if len(grid_sizes) == 1 else math.nan,
        "matched_loss_ratio": _summary_of(plain_lb_doc, "train_loss") / _summary_of(runs["matched_updates"]["train"], "train_loss"),
        "hoffer_at_lb_updates": np.mean([_last_before(curve, math.floor(lb_epochs)) for curve in hoffer_curves]),
        "hoffer_dip_low": min(dips), "hoffer_dip_high": max(dips),
        "ghost_virtual_batch": tunings["ghost_bn"]["chosen"]["virtual_batch"],
        "hoffer_virtual_batch": runs["hoffer"]["options"]["virtual_batch"],
        "versus_sb": versus_sb, "lifts": lifts,
    }


def _value(path: str) -> float:
    path, _, modifier = path.partition("|")
    derived = _derived()
    if path in derived:
        value = derived[path]
    else:
        name, field = path.split(".")
        frame, runs = _frame(), _stage_outputs()
        row = frame.loc[PLAIN.get(name, name)]
        if field in ("lift", "lift_low", "lift_high", "vs_sb", "vs_sb_low", "vs_sb_high"):
            table = derived["versus_sb"] if field.startswith("vs_sb") else derived["lifts"] if name != "growing_batch" else {
                name: _against(runs[name]["small_batch"]["train"], _plain_sb_by_seed())}
            value = table[name][{"lift": 0, "lift_low": 1, "lift_high": 2, "vs_sb": 0, "vs_sb_low": 1, "vs_sb_high": 2}[field]]
        elif field == "train_accuracy_pct":
            value = 100 * _summary_of(runs[name]["train"], "train_accuracy")
        elif field == "train_loss":
            value = _summary_of(runs[name]["train"], "train_loss")
        elif field == "sb_train_accuracy_pct":  # the mean of its own SB runs
            value = 100 * _summary_of(runs[name]["small_batch"]["train"], "train_accuracy")
        else:
            value = float(row[field])
    return abs(value) if modifier == "abs" else value


def render(phrase: str) -> str:
    return quoting.render(phrase, _value)


@pytest.mark.parametrize("paragraph", range(len(PARAGRAPHS)))
def test_each_paragraph_quotes_the_committed_run(paragraph):
    text = render(PARAGRAPHS[paragraph])
    assert text in spaced(PAGE.read_text()), f"docs/results.md does not say: {text!r}"


def test_the_claims_in_words_hold():
    """The section's statements that are not numbers, each against the folder: which remedies help, pass or match
    plain SB, fit the training set, lift SB; what matched updates did; the costs; the scaling rules' order."""
    frame, runs, derived = _frame(), _stage_outputs(), _derived()
    remedies, lb = frame.drop(list(PLAIN.values())), frame.loc[PLAIN["LB"]]
    assert derived["remedies"] == len(runs)  # every remedy the folder ran has its row
    assert set(remedies.index[~remedies.helps.astype(bool)]) == {"adaptive_batch", "matched_updates"}  # "… do not"
    assert not remedies.hurts.astype(bool).any()  # "none hurts"
    assert derived["bonferroni_names"] == ("adversarial", "asam", "augmentation", "ghost_bn", "lamb", "linear_scaling", "sam")
    assert derived["passes_sb"] == ("asam", "augmentation")  # "two pass plain SB"
    level = {name for name, (_, low, high) in derived["versus_sb"].items() if low < 0 < high}
    assert {"sam", "hoffer", "lamb", "linear_scaling"} <= level  # "… among them"
    unfit = {name for name, doc in runs.items() if _summary_of(doc["train"], "train_accuracy") < 0.99}
    assert unfit == {"augmentation", "lamb"}  # "two of these do not fit the training set"
    assert derived["lifted_names"] == ("adversarial", "asam", "augmentation", "sam")
    assert _summary_of(runs["lamb"]["small_batch"]["train"], "train_accuracy") < 0.9  # "do not fit the training set"
    ratios = remedies.loc[["sam", "asam"], "seconds"] / lb.seconds
    assert ratios.between(3.5, 4.5).all(), ratios  # "about four times"
    growing = runs["growing_batch"]
    low, high = remedies.loc["growing_batch", ["own_gap_low", "own_gap_high"]]
    assert low < 0 < high  # "not distinguishable from it"
    assert _against(growing["small_batch"]["train"], _plain_sb_by_seed())[2] < 0  # the baseline "tests … below plain SB"
    # matched updates: SB's update count per seed, rounded up to a whole LB epoch ("none cut by the stopping rule")
    sb_updates = {r["seed"]: r["updates"] for r in json.loads((REPO / "metrics/train_sb.json").read_text())["per_seed"]}
    first = json.loads((REPO / "metrics/train_lb.json").read_text())["per_seed"][0]
    per_epoch = first["updates"] / first["epoch"]
    assert all(0 <= r["updates"] - sb_updates[r["seed"]] < per_epoch for r in runs["matched_updates"]["train"]["per_seed"])
    assert remedies.loc["matched_updates", "phi"] > lb.phi and remedies.loc["matched_updates", "lambda_max"] < lb.lambda_max
    at_target = runs["matched_updates"]["sharpness"]["at_target_loss"]["summary"]["full"]
    plain_at_target = json.loads((REPO / "metrics/sharpness_lb.json").read_text())["at_target_loss"]["summary"]["full"]
    assert at_target["eps_1e-03"]["phi"] == plain_at_target["eps_1e-03"]["phi"]  # "… the run is plain LB's own iterate"
    assert derived["hoffer_dip_high"] < derived["hoffer_at_lb_updates"] < remedies.loc["hoffer", "test_accuracy"]  # "dips … ends higher"
    sqrt_stop = runs["sqrt_scaling"]["train"]["summary"]["epoch"]["mean"]
    assert sqrt_stop < runs["hoffer"]["train"]["summary"]["epoch"]["mean"]  # "stopped by the stopping rule"
    assert derived["rules_low"] > 0  # "the linear rule gives the higher test accuracy"
    chosen = {name: _tuning_choice_at(name) for name in ("linear_scaling", "sqrt_scaling")}
    assert set(chosen.values()) == {"first", "last"}  # "at opposite ends of their grid"
    assert remedies.phi.idxmax() == "scaled_init" and remedies.phi.max() > lb.phi  # "the sharpest of all"
    assert remedies.phi.idxmin() == "lamb" and remedies.distance_from_x0.idxmax() == "lamb"
    losses = {name: _summary_of(doc["train"], "train_loss") for name, doc in runs.items()}
    assert sorted(losses, key=losses.get)[-2:] == ["augmentation", "lamb"]  # "above every other remedy's but augmentation's"
    assert _summary_of(runs["adamw"]["small_batch"]["train"], "train_accuracy") < 0.99 <= _summary_of(runs["adamw"]["train"], "train_accuracy")
    assert remedies.loc["hoffer", "updates"] == remedies.loc["matched_updates", "updates"]
    assert (remedies.loc[["sam", "asam", "augmentation"], "updates"] == remedies.loc["sam", "updates"]).all()
    assert remedies.phi_certified.astype(bool).all()  # φ quoted without a flag


def _tuning_choice_at(name: str) -> str:
    """'first', 'last' or 'inside': where the chosen value of a one-option grid lies in it."""
    tuning = json.loads((RUN / "tuning" / f"{name}.json").read_text())
    ((option, values),) = tuning["grid"].items()
    index = values.index(tuning["chosen"][option])
    return "first" if index == 0 else "last" if index == len(values) - 1 else "inside"


def test_the_default_run_has_the_same_results_for_its_remedies():
    """"The default run trains two of them … with the same results": the committed default's remedy rows are the
    run of every remedy's, at the precision the pages print (a change to the remedies' code or options that moves a
    number makes the folder stale, and this fails)."""
    default = pd.read_csv(REPO / "plots/remedies.csv").set_index("training")
    remedies = [name for name in default.index if name not in PLAIN.values()]
    assert remedies == yaml.safe_load((REPO / "params.yaml").read_text())["remedies"] == ["augmentation", "linear_scaling"]
    columns = ["test_accuracy", "gap_closed", "gap_closed_low", "gap_closed_high", "phi", "lambda_max", "distance_from_x0",
               "updates", "own_sb_accuracy", "own_gap"]
    pd.testing.assert_frame_equal(default.loc[remedies, columns].round(2), _frame().loc[remedies, columns].round(2))
