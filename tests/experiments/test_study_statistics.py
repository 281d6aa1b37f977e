"""lbgap.experiments.study_statistics: Jiang et al.'s Ψ and Dziugaite et al.'s sign error on a table whose
answers are worked out by hand."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau

from lbgap.experiments.study_statistics import (
    DZIUGAITE_DELTA, clustered_interval, clustered_intervals, conditional_mutual_information, gap_effects, granulated_tau,
    hoeffding_margin, kendall_tau_b, sign_errors, study_scores,
)

# Two axes, two values each, one model per configuration. By batch size 32, the measure orders the two
# learning rates as the gap does; at 64 it reverses them. By learning rate, it orders both batch sizes right.
TABLE = pd.DataFrame({
    "lr": [0.1, 1.0, 0.1, 1.0], "batch": [32, 32, 64, 64],
    "gap": [1.0, 3.0, 2.0, 5.0], "measure": [10.0, 20.0, 40.0, 30.0],
})


def test_psi_is_the_mean_tau_within_the_groups_where_only_one_hyperparameter_changes():
    found = granulated_tau(TABLE, "measure", ["lr", "batch"])
    # lr: τ = +1 at batch 32 and −1 at batch 64 → 0; batch: +1 at both learning rates → 1; Ψ = ½
    assert found == {"lr": 0.0, "batch": 1.0, "Psi": 0.5}


def test_the_sign_error_per_environment_its_average_and_its_worst_case():
    found = sign_errors(TABLE, "measure", ["lr", "batch"], margin=0.0)
    # four environments, one pair each; only (lr varies, batch 64) has the wrong sign
    assert found == {"average": 0.25, "worst": 1.0, "environments": 4, "pairs": 4}
    # a margin of 1.5 drops the pair whose gaps differ by 1 (batch varies at lr 0.1)
    assert sign_errors(TABLE, "measure", ["lr", "batch"], margin=1.5) == {
        "average": pytest.approx(1 / 3), "worst": 1.0, "environments": 3, "pairs": 3}


def test_a_tied_measure_counts_half_and_an_unresolvable_study_says_so():
    tied = TABLE.assign(measure=[10.0, 10.0, 40.0, 30.0])
    # (lr varies, batch 32): a tie, ½; (lr, 64): wrong, 1; both batch environments right: (½ + 1) / 4
    assert sign_errors(tied, "measure", ["lr", "batch"], margin=0.0) == {"average": 0.375, "worst": 1.0, "environments": 4, "pairs": 4}
    nothing = sign_errors(TABLE, "measure", ["lr", "batch"], margin=10.0)
    assert math.isnan(nothing["average"]) and nothing["environments"] == 0


def test_the_hoeffding_margin_of_two_test_accuracies():
    assert hoeffding_margin(10_000, 0.05) == pytest.approx(2 * math.sqrt(math.log(80) / 20_000))
    assert hoeffding_margin(40_000, 0.05) == pytest.approx(hoeffding_margin(10_000, 0.05) / 2)


def test_dziugaites_level_is_where_both_accuracies_are_within_half_the_margin_with_probability_one_half():
    """Each of two test accuracies on n samples is within ε of its truth with probability ≥ 1 − 2·exp(−2nε²)
    (Hoeffding); at ε = hoeffding_margin / 2 that is 1 − δ/2, and both, independently, (1 − δ/2)²: ½ at their level."""
    n = 10_000
    half = hoeffding_margin(n, DZIUGAITE_DELTA) / 2
    assert (1 - 2 * math.exp(-2 * n * half ** 2)) ** 2 == pytest.approx(0.5)
    assert 0.58 < DZIUGAITE_DELTA < 0.59 and hoeffding_margin(n, DZIUGAITE_DELTA) < hoeffding_margin(n, 0.05)


def test_the_clustered_bootstrap_resamples_whole_configurations():
    # three seeds per configuration: every resample holds whole configurations, so its row count is a multiple of 3
    table = pd.concat([TABLE.assign(seed=s, gap=TABLE.gap + 0.01 * s) for s in range(3)], ignore_index=True)
    sizes = []

    def statistic(sample: pd.DataFrame) -> float:
        sizes.append(len(sample))
        assert (sample.groupby(["lr", "batch"]).size() % 3 == 0).all()
        return float(sample.gap.mean())

    low, high, draws = clustered_interval(table, statistic, ["lr", "batch"], resamples=200, confidence=0.9, seed=0)
    assert len(draws) == 200 and set(sizes) == {12} and low < table.gap.mean() < high
    # a statistic undefined on some resamples: those are dropped
    _, _, some = clustered_interval(table, lambda s: float("nan") if s.lr.nunique() < 2 else 1.0, ["lr", "batch"],
                                    resamples=200, confidence=0.9, seed=0)
    assert 0 < len(some) < 200


def _h(*p: float) -> float:
    return -sum(q * math.log(q) for q in p)


def test_conditional_mutual_information_by_hand():
    # every pair is counted in both orders (V_g, V_μ flip together), so that the order of the rows does not matter.
    # Equal gaps: every V_g is a tie, dropped: Î undefined
    flat = pd.DataFrame({"lr": [0.1, 0.2, 0.3], "gap": [2.0, 2.0, 2.0], "measure": [1.0, 3.0, 2.0]})
    assert math.isnan(conditional_mutual_information(flat, "measure", ["lr"])["unconditioned"])
    # four models, gaps 1, 3, 2, 4 and a measure equal to the gap: V_μ = V_g on every pair, so Î = 1 for any S
    exact = pd.DataFrame({"lr": [0.1, 0.1, 1.0, 1.0], "gap": [1.0, 3.0, 2.0, 4.0]}).assign(measure=lambda t: t.gap)
    assert conditional_mutual_information(exact, "measure", ["lr"]) == {"score": 1.0, "attained_by": "", "unconditioned": 1.0}
    # a measure that only tells the learning rate apart, 0, 0, 1, 1: the pairs (i<j) with (V_g, V_μ) — (0,1) +,0
    # dropped; (0,2) +,+; (0,3) +,+; (1,2) −,+; (1,3) +,+; (2,3) +,0 dropped — and their mirrors: (+,+) 3, (−,−) 3,
    # (−,+) 1, (+,−) 1. Unconditioned I = 2 ln 2 − H(3/8, 3/8, 1/8, 1/8); given lr, U = (lr_i, lr_j) is (0.1, 1.0)
    # with V_μ always + or (1.0, 0.1) with V_μ always −: I = 0, so the score is 0, attained given lr
    by_lr = exact.assign(measure=[0.0, 0.0, 1.0, 1.0])
    found = conditional_mutual_information(by_lr, "measure", ["lr"])
    assert found["unconditioned"] == pytest.approx((2 * math.log(2) - _h(3 / 8, 3 / 8, 1 / 8, 1 / 8)) / math.log(2))
    assert found["score"] == 0.0 and found["attained_by"] == "lr"


def test_conditional_mutual_information_in_between_by_hand():
    # gaps 1, 3, 2, 4 and measure 1, 2, 4, 3: over the six pairs (V_g, V_μ) is (+,+) four times, (−,+) once,
    # (+,−) once; with the mirrors (−,−) four times, (+,−) and (−,+) once more each: H(V_g) = H(V_μ) = ln 2,
    # H(joint) = H(1/3, 1/3, 1/6, 1/6), and Î = I / H(V_g)
    table = pd.DataFrame({"lr": [0.1] * 4, "gap": [1.0, 3.0, 2.0, 4.0], "measure": [1.0, 2.0, 4.0, 3.0]})
    expected = (2 * math.log(2) - _h(1 / 3, 1 / 3, 1 / 6, 1 / 6)) / math.log(2)
    found = conditional_mutual_information(table, "measure", ["lr"])
    assert found["unconditioned"] == pytest.approx(expected) and found["score"] == pytest.approx(expected)
    assert 0.08 < expected < 0.09


def test_the_conditional_mutual_information_does_not_depend_on_the_order_of_the_rows():
    table = _random_study(3)
    found = conditional_mutual_information(table, "noisy", ["a", "b", "c"])
    for seed in range(3):
        shuffled = table.sample(frac=1.0, random_state=seed)
        assert conditional_mutual_information(shuffled, "noisy", ["a", "b", "c"]) == pytest.approx(found)
    by_gap = conditional_mutual_information(table.sort_values("gap"), "noisy", ["a", "b", "c"])
    assert by_gap["score"] == pytest.approx(found["score"]) and by_gap["attained_by"] == found["attained_by"]


def test_a_configuration_drawn_twice_does_not_pair_with_its_copy():
    """A resample that drew each configuration of a two-seed study twice: τ counts the pairs within a draw and
    between configurations, never those between the two draws of one configuration (counted here one by one)."""
    table = _random_study(4)
    doubled = pd.concat([cluster.assign(_draw=2 * k + copy) for k, (_, cluster) in enumerate(table.groupby(["a", "b", "c"]))
                         for copy in (0, 1)], ignore_index=True)
    assert len(doubled) == 2 * len(table) and doubled.groupby("_draw").size().eq(2).all()  # 24 draws of one two-seed configuration
    rows = doubled.to_dict("records")
    concordant = discordant = x_ties = y_ties = pairs = 0
    for i, j in itertools.combinations(range(len(rows)), 2):
        a, b = rows[i], rows[j]
        if (a["a"], a["b"], a["c"]) == (b["a"], b["b"], b["c"]) and a["_draw"] != b["_draw"]:
            continue
        pairs += 1
        sx, sy = np.sign(b["noisy"] - a["noisy"]), np.sign(b["gap"] - a["gap"])
        concordant += sx * sy > 0
        discordant += sx * sy < 0
        x_ties += sx == 0
        y_ties += sy == 0
    expected = (concordant - discordant) / math.sqrt((pairs - x_ties) * (pairs - y_ties))
    copies = (doubled.groupby(["a", "b", "c"]).ngroup().to_numpy(), doubled["_draw"].to_numpy())
    found = kendall_tau_b(doubled[["noisy"]].to_numpy(float), doubled.gap.to_numpy(float), copies)[0]
    assert found == pytest.approx(expected) and found != pytest.approx(kendall_tau_b(doubled[["noisy"]].to_numpy(float), doubled.gap.to_numpy(float))[0])


def test_the_study_rule_passes_a_measure_that_orders_every_environment_and_names_why_others_fail():
    """Two seeds per configuration of TABLE's design. `perfect` is the gap itself plus a seed-sized offset
    (it orders every environment); TABLE's `measure` fails the rule on lr (ψ = 0); `by_batch` only knows the
    batch size (constant within the lr groups: τ undefined there); the baseline `lr` orders the lr axis."""
    table = pd.concat([TABLE.assign(seed=s, gap=TABLE.gap + 0.1 * s) for s in range(2)], ignore_index=True)
    table["perfect"] = table.gap * 10
    table["by_batch"] = table.batch.astype(float)
    table["lr_baseline"] = table.lr
    scores = study_scores(table, ["perfect", "measure", "by_batch"], {"lr_baseline": 1}, ["lr", "batch"],
                          margin=0.0, resamples=100, confidence=0.9, seed=0).set_index("name")
    perfect = scores.loc["perfect"]
    assert perfect.tau == pytest.approx(1.0) and perfect.Psi == pytest.approx(1.0) and perfect.sign_error_worst == 0.0
    assert perfect.predicts and perfect.why == "" and perfect.tau_low <= 1.0 <= perfect.tau_high + 1e-12
    assert perfect.cmi == pytest.approx(1.0) and perfect.models == 8
    measure = scores.loc["measure"]
    assert not measure.predicts and measure.why == "ψ (seeds averaged) not above 0 for lr" and measure.psi_seeds_averaged_lr == pytest.approx(0.0)
    assert not scores.loc["by_batch"].predicts and scores.loc["by_batch"].why.startswith("ψ (seeds averaged) not above 0 for lr")
    baseline = scores.loc["lr_baseline"]
    assert baseline.kind == "baseline" and not baseline.predicts and baseline.why == "a baseline"
    # it orders the lr axis (ψ 1) and cannot order batch (constant within its groups: ψ undefined), which Ψ counts as 0
    assert baseline.psi_seeds_averaged_lr == 1.0 and math.isnan(baseline.psi_seeds_averaged_batch) and baseline.Psi_seeds_averaged == 0.5
    # a measure with ψ > 0 everywhere but no better than the baseline is refused for that reason
    table["weak"] = table.gap.rank() + 5 * table.lr  # orders every environment, as the baseline orders lr
    weak = study_scores(table, ["weak"], {"perfect": 1}, ["lr", "batch"], margin=0.0, resamples=20, confidence=0.9, seed=0).iloc[0]
    assert weak.why.startswith("Ψ") and "not above the best baseline" in weak.why and not weak.predicts


@pytest.mark.parametrize("size", [2, 3, 5, 12])
def test_the_vectorized_tau_b_is_scipys_with_ties_and_constant_columns(size):
    rng = np.random.default_rng(size)
    y = rng.integers(0, 3, size).astype(float)  # ties in y
    x = np.column_stack([rng.normal(size=size), rng.integers(0, 2, size), np.ones(size), y])  # continuous, tied, constant, y itself
    found = kendall_tau_b(x, y)
    expected = [kendalltau(x[:, k], y).statistic for k in range(x.shape[1])]
    assert np.allclose(found, expected, rtol=1e-12, atol=1e-15, equal_nan=True)
    assert np.isnan(found[2]) and (np.isnan(found[3]) or found[3] == pytest.approx(1.0))


def test_the_shared_resamples_give_each_statistic_its_own_interval():
    table = pd.concat([TABLE.assign(seed=s, gap=TABLE.gap + 0.01 * s) for s in range(3)], ignore_index=True)
    options = dict(resamples=200, confidence=0.9, seed=0)
    both = clustered_intervals(table, lambda s: {"mean": float(s.gap.mean()), "max": float(s.gap.max())}, ["lr", "batch"], **options)
    assert both["mean"] == clustered_interval(table, lambda s: float(s.gap.mean()), ["lr", "batch"], **options)
    assert both["max"] == clustered_interval(table, lambda s: float(s.gap.max()), ["lr", "batch"], **options)


def test_a_psi_of_zero_that_rounding_makes_positive_does_not_pass_the_rule():
    """Within the four groups of fixed `a`, τ is +1, −⅓, −1 and +⅓ (worked below): ψ_b is 0, but its float mean
    comes out +1.4e-17. Along `a` everything is ordered (ψ_a = 1), so only ψ_b can fail the rule's first test."""
    base = {0: [1, 2, 3], 1: [2, 3, 1], 2: [3, 2, 1], 3: [1, 3, 2]}  # gap by b within each a, against the measure 1, 2, 3
    # a = 1: pairs (b0,b1) concordant, (b0,b2) and (b1,b2) discordant: −⅓; a = 3: (b1,b2) discordant only: +⅓
    table = pd.DataFrame([{"a": a, "b": b, "measure": b + 10.0 * a, "gap": base[a][b] + 10.0 * a} for a in base for b in range(3)])
    psi = granulated_tau(table, "measure", ["a", "b"])
    assert psi["a"] == 1.0 and 0 < psi["b"] < 1e-15  # the rounding the rule has to see through
    row = study_scores(table, ["measure"], {}, ["a", "b"], margin=0.0, resamples=10, confidence=0.9, seed=0).iloc[0]
    assert row.why == "ψ (seeds averaged) not above 0 for b" and not row.predicts  # one model per configuration: the same ψ


def _random_study(seed: int, seeds: int = 2) -> pd.DataFrame:
    """Three axes (3 × 2 × 2 values), `seeds` models per configuration, a noisy gap, two measures (one tied in
    places), as a designed study's table."""
    rng = np.random.default_rng(seed)
    rows = [{"a": a, "b": b, "c": c, "seed": s} for a in (1, 2, 3) for b in (0.1, 0.2) for c in ("x", "y") for s in range(seeds)]
    table = pd.DataFrame(rows)
    table["gap"] = table.a + 2 * table.b + rng.normal(0, 0.5, len(table))
    table["noisy"] = table.gap + rng.normal(0, 1.0, len(table))
    table["tied"] = np.round(table.gap)
    return table


def _cmi_by_pairs(table, measure, axes, max_conditioned=2, target="gap"):
    """Jiang et al.'s Î, pair by pair and set by set in plain Python: the brute force the vectorized one must equal."""
    import itertools

    def entropy(labels):
        counts = pd.Series(labels).value_counts().to_numpy(float)
        p = counts / counts.sum()
        return float(-(p * np.log(p)).sum())

    pairs = list(itertools.permutations(range(len(table)), 2))  # both orders of every pair
    rows = table.reset_index(drop=True)
    scores = {}
    for size in range(max_conditioned + 1):
        for subset in itertools.combinations(axes, size):
            cells: dict = {}
            for i, j in pairs:
                mu, g = np.sign(rows[measure][j] - rows[measure][i]), np.sign(rows[target][j] - rows[target][i])
                if mu == 0 or g == 0:
                    continue
                key = tuple(rows[a][i] for a in subset) + tuple(rows[a][j] for a in subset)
                cells.setdefault(key, []).append((mu, g))
            total = sum(len(c) for c in cells.values())
            information = conditional = 0.0
            for cell in cells.values():
                mus, gs = [m for m, _ in cell], [g for _, g in cell]
                information += len(cell) / total * (entropy(mus) + entropy(gs) - entropy([f"{m}{g}" for m, g in cell]))
                conditional += len(cell) / total * entropy(gs)
            scores["+".join(subset)] = information / conditional if conditional > 0 else math.nan
    return scores


@pytest.mark.parametrize("seed", [0, 1])
def test_the_conditional_mutual_information_equals_the_brute_force(seed):
    table = _random_study(seed)
    for measure in ("noisy", "tied"):
        brute = _cmi_by_pairs(table, measure, ["a", "b", "c"])
        found = conditional_mutual_information(table, measure, ["a", "b", "c"])
        defined = {k: v for k, v in brute.items() if not math.isnan(v)}
        assert found["score"] == pytest.approx(min(defined.values()), abs=1e-12)
        assert brute[found["attained_by"]] == pytest.approx(found["score"], abs=1e-12)
        assert found["unconditioned"] == pytest.approx(brute[""], abs=1e-12)


@pytest.mark.parametrize("margin", [0.0, 0.4])
def test_the_sign_errors_equal_the_pairs_counted_one_by_one(margin):
    table = _random_study(2, seeds=3)
    axes = ["a", "b", "c"]
    errors = []
    for axis in axes:  # every environment: two configurations that differ on `axis` alone; its pairs, one model of each
        others = [x for x in axes if x != axis]
        for _, group in table.groupby(others):
            for low, high in itertools.combinations(sorted(group[axis].unique()), 2):
                wrong = [0.5 if x.tied == y.tied else float(np.sign(x.tied - y.tied) != np.sign(x.gap - y.gap))
                         for _, x in group[group[axis] == low].iterrows() for _, y in group[group[axis] == high].iterrows()
                         if abs(x.gap - y.gap) > margin]
                if wrong:
                    errors.append(np.mean(wrong))
    found = sign_errors(table, "tied", axes, margin=margin)
    assert found["environments"] == len(errors) and found["average"] == pytest.approx(np.mean(errors)) and found["worst"] == max(errors)


def test_psi_with_seeds_averaged_counts_each_configuration_once():
    """Two seeds of TABLE's four configurations. Per model the lr groups hold 4 models each, and the pairs of
    seeds (same lr) count; averaged over seeds each configuration is one point and ψ is TABLE's own."""
    table = pd.concat([TABLE.assign(seed=0), TABLE.assign(seed=1, gap=TABLE.gap + 0.5, measure=TABLE.measure - 1.0)], ignore_index=True)
    scores = study_scores(table, ["measure"], {}, ["lr", "batch"], margin=0.0, resamples=20, confidence=0.9, seed=0).iloc[0]
    assert scores.psi_seeds_averaged_lr == 0.0 and scores.psi_seeds_averaged_batch == 1.0 and scores.Psi_seeds_averaged == 0.5
    # per model, the seed pairs are discordant (gap up 0.5, measure down 1): within batch 32 the gaps are 1, 1.5, 3, 3.5
    # against 10, 9, 20, 19: 4 concordant, 2 discordant pairs → τ ⅓; within batch 64, 2, 2.5, 5, 5.5 against 40, 39, 30, 29: −1
    assert scores.psi_lr == pytest.approx((1 / 3 - 1) / 2)
    assert scores.groups_lr == 2 and scores.groups_batch == 2 and scores.sign_environments_lr == 2 and scores.configurations == 4


def test_a_baseline_is_scored_in_its_fixed_direction_and_every_score_has_an_interval():
    table = pd.concat([TABLE.assign(seed=s, gap=TABLE.gap + 0.1 * s) for s in range(2)], ignore_index=True)
    table["perfect"] = table.gap * 10
    table["inverse"] = -table.gap  # a baseline that orders every environment backwards
    options = dict(margin=0.0, resamples=50, confidence=0.9, seed=0)
    scores = study_scores(table, ["perfect"], {"inverse": -1}, ["lr", "batch"], **options).set_index("name")
    inverse = scores.loc["inverse"]
    assert inverse.orientation == -1 and inverse.Psi == pytest.approx(1.0) and inverse.sign_error_worst == 0.0
    assert inverse.tau == pytest.approx(1.0)  # reported in the orientation it is scored in
    perfect = scores.loc["perfect"]
    assert perfect.orientation == 1 and not perfect.predicts and "not above the best baseline" in perfect.why
    for key in ("tau", "Psi", "Psi_seeds_averaged", "cmi", "sign_error_average", "sign_error_worst", "psi_lr", "psi_batch"):
        assert perfect[f"{key}_low"] <= perfect[key] + 1e-12 and perfect[key] <= perfect[f"{key}_high"] + 1e-12, key
    assert perfect.sign_error_worst_lr == 0.0 and perfect.above_baselines_on == ""  # tied with the baseline on both axes
    # the direction is the one given, not the one the data favour: the other way round, Ψ is −Ψ and every sign wrong
    upright = study_scores(table, ["perfect"], {"inverse": 1}, ["lr", "batch"], **options).set_index("name")
    assert upright.loc["inverse", "Psi_seeds_averaged"] == pytest.approx(-1.0) and upright.loc["inverse", "sign_error_worst"] == 1.0
    assert upright.loc["perfect"].predicts  # against a baseline that fails, the measure passes


def test_each_measure_is_set_against_the_best_baseline_on_the_same_resamples():
    """A measure equal to the best baseline differs from it by 0 in every resample (paired: two unpaired
    intervals of the same Ψ would overlap but not collapse), and the difference is the two seeds-averaged Ψ's."""
    table = _random_study(3)
    table["copy"] = table["noisy"]
    table["weak"] = -table["tied"]
    scores = study_scores(table, ["copy", "tied"], {"noisy": 1, "weak": 1}, ["a", "b", "c"], margin=0.0, resamples=200,
                          confidence=0.9, seed=0).set_index("name")
    assert (scores.best_baseline == "noisy").all()
    copy = scores.loc["copy"]
    assert copy.Psi_minus_best_baseline == 0.0 and copy.Psi_minus_best_baseline_low == 0.0 and copy.Psi_minus_best_baseline_high == 0.0
    assert copy.Psi_seeds_averaged_high > copy.Psi_seeds_averaged_low  # its own Ψ does vary across the resamples
    tied = scores.loc["tied"]
    assert tied.Psi_minus_best_baseline == pytest.approx(tied.Psi_seeds_averaged - scores.loc["noisy", "Psi_seeds_averaged"])
    assert tied.Psi_minus_best_baseline_low <= tied.Psi_minus_best_baseline <= tied.Psi_minus_best_baseline_high
    assert math.isnan(scores.loc["noisy", "Psi_minus_best_baseline"])  # baselines are not set against themselves


def test_the_second_sign_error_reading_is_the_sign_error_at_its_own_margin():
    table = _random_study(2, seeds=3)
    axes = ["a", "b", "c"]
    row = study_scores(table, ["tied"], {}, axes, margin=0.8, dziugaite_margin=0.3, resamples=20, confidence=0.9, seed=0).iloc[0]
    strict, loose = (sign_errors(table, "tied", axes, margin=m) for m in (0.8, 0.3))
    assert (row.sign_error_average, row.sign_error_worst, row.sign_environments) == pytest.approx(
        (strict["average"], strict["worst"], strict["environments"]))
    assert (row.dziugaite_sign_error_average, row.dziugaite_sign_error_worst, row.dziugaite_sign_environments) == pytest.approx(
        (loose["average"], loose["worst"], loose["environments"]))
    assert row.dziugaite_sign_environments >= row.sign_environments
    # the worst case's support: the most pairs kept by an environment with that error, counted one by one
    axes_of = {"a": ["b", "c"], "b": ["a", "c"], "c": ["a", "b"]}
    worst = []
    for axis, others in axes_of.items():
        for _, group in table.groupby(others):
            for low, high in itertools.combinations(sorted(group[axis].unique()), 2):
                pairs = [(x, y) for _, x in group[group[axis] == low].iterrows() for _, y in group[group[axis] == high].iterrows()
                         if abs(x.gap - y.gap) > 0.3]
                if pairs:
                    error = np.mean([0.5 if x.tied == y.tied else float(np.sign(x.tied - y.tied) != np.sign(x.gap - y.gap)) for x, y in pairs])
                    worst.append((error, len(pairs)))
    top = max(error for error, _ in worst)
    assert row.dziugaite_sign_error_worst == pytest.approx(top)
    assert row.dziugaite_sign_error_worst_pairs == max(n for error, n in worst if error == pytest.approx(top))
    assert row.dziugaite_sign_error_worst_low <= row.dziugaite_sign_error_worst <= row.dziugaite_sign_error_worst_high + 1e-12


def test_how_far_each_axis_moves_the_gap():
    """TABLE with a second seed 0.5 higher: the seeds average to gap + 0.25. Along lr (batch fixed): 3 − 1 at batch
    32 and 5 − 2 at 64; along batch: 2 − 1 at lr 0.1 and 5 − 3 at 1.0."""
    table = pd.concat([TABLE.assign(seed=0), TABLE.assign(seed=1, gap=TABLE.gap + 0.5)], ignore_index=True)
    effects = gap_effects(table, ["lr", "batch"])
    assert effects["lr"] == {"groups": 2, "mean": 2.5, "low": 2.0, "high": 3.0, "largest": 3.0, "rises": 2, "falls": 0}
    assert effects["batch"] == {"groups": 2, "mean": 1.5, "low": 1.0, "high": 2.0, "largest": 2.0, "rises": 2, "falls": 0}
    reversed_lr = gap_effects(table.assign(lr=-table.lr), ["lr", "batch"])["lr"]  # from the smallest value to the largest
    assert (reversed_lr["mean"], reversed_lr["largest"]) == (-2.5, 3.0)
