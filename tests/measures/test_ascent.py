"""lbgap.measures.ascent: each registered ascent in a box, and Auto-PGD's step schedule."""

from __future__ import annotations

import numpy as np
import pytest

from lbgap.measures.ascent import ASCENTS, Ascent, apgd_checkpoints, continued
from lbgap.measures.maximizer import ASCENT_NAMES, Maximizer


def test_the_registry_holds_exactly_the_names_a_maximizer_accepts():
    assert list(ASCENTS) == list(ASCENT_NAMES)


def test_a_maximizer_refuses_an_unknown_ascent_and_an_empty_budget():
    with pytest.raises(ValueError, match="unknown ascent 'lbfgs'; known: lbfgsb, lbfgsb_log, apgd"):
        Maximizer(("lbfgs",))
    with pytest.raises(ValueError, match="iterations >= 1"):
        Maximizer(iterations=0)


def _convex(h: np.ndarray, scale: float):
    """f(y) = scale · (1 + ½ Σ h_i y_i²): maximum over the box at its vertices, scale · (1 + ½ Σ h_i b_i²)."""
    return lambda y: (scale * (1 + 0.5 * float(h @ (y * y))), scale * h * y)


@pytest.mark.parametrize("name", ASCENT_NAMES)
def test_every_ascent_stays_in_the_box_and_keeps_a_monotone_record(name):
    rng = np.random.default_rng(0)
    half = rng.uniform(0.5, 2.0, 30)
    calls = []
    f = _convex(rng.uniform(0.1, 3.0, 30), 1.0)

    def objective(y):
        assert np.all(np.abs(y) <= half + 1e-12), "evaluated outside the box"
        calls.append(1)
        return f(y)

    run = ASCENTS[name](objective, half, rng.uniform(-half, half), 7)
    assert run.evaluations == len(calls) >= 2
    assert run.best_f == pytest.approx(f(run.best_y)[0], rel=1e-12)  # the point it reports is where it found the value
    assert np.all(np.diff(run.history) >= 0) and run.history[-1] == run.best_f
    assert 1 <= run.iterations <= 7


@pytest.mark.parametrize("name", ASCENT_NAMES)
def test_every_ascent_reaches_the_vertex_of_a_well_scaled_convex_bowl(name):
    rng = np.random.default_rng(1)
    half, h = rng.uniform(0.5, 2.0, 30), rng.uniform(0.1, 3.0, 30)
    run = ASCENTS[name](_convex(h, 1.0), half, rng.uniform(-half, half), 10)
    assert run.best_f == pytest.approx(1 + 0.5 * float(h @ (half * half)), rel=1e-9)


def test_only_the_paper_ascent_falls_short_on_a_bowl_with_small_gradients():
    """Scaled by 1e-4 the bowl has the same maximizer; L-BFGS-B's unit-length first step then barely moves
    (its reach scales with the gradient), while log f and sign steps do not care about the scale."""
    rng = np.random.default_rng(2)
    half, h = rng.uniform(0.5e-3, 2e-3, 500), rng.uniform(0.1, 10.0, 500)
    y0 = rng.uniform(-half, half)
    f = _convex(h, 1e-4)
    gain = 1e-4 * 0.5 * float(h @ (half * half))
    reached = {name: (ASCENTS[name](f, half, y0, 10).best_f - 1e-4) / gain for name in ASCENT_NAMES}
    assert reached["lbfgsb"] < 0.5, reached
    assert reached["lbfgsb_log"] > 0.999 and reached["apgd"] > 0.999, reached


def test_apgd_checkpoints_are_croce_and_heins():
    # ⌈p_j N⌉ with p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06): p = 0.22, 0.41,
    # 0.57, 0.70, 0.80, 0.87, 0.93, 0.99 (Croce & Hein 2020, section 3.2)
    assert apgd_checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]
    assert apgd_checkpoints(10) == [3, 5, 6, 7, 8, 9, 10]  # 0.93 and 0.99 of 10 both round up to 10
    assert apgd_checkpoints(1) == [1]


def test_apgd_halves_its_step_when_it_stops_improving():
    """On a concave bump with its maximum inside the box, full-width sign steps overshoot; the step must
    shrink for the search to close in on the maximum (f = −0.30 at the start, ≤ −0.09 at any vertex)."""
    half = np.full(5, 1.0)
    center = np.array([0.3, -0.2, 0.1, 0.05, -0.4])
    f = lambda y: (-float(((y - center) ** 2).sum()), -2 * (y - center))  # noqa: E731
    run = ASCENTS["apgd"](f, half, np.zeros(5), 60)
    assert run.best_f > -1e-3, run.best_f
    assert "final step" in run.message and float(run.message.rsplit(" ", 1)[1]) <= 0.125


def test_lbfgsb_says_when_it_stopped_at_a_local_maximum():
    """A stop on a zero projected gradient (gtol = 0) at its best point is a KKT point of the box problem:
    the vertex of a bowl. Running out of iterations on a bowl with tiny gradients is not."""
    rng = np.random.default_rng(3)
    half, h = rng.uniform(0.5, 2.0, 30), rng.uniform(0.1, 3.0, 30)
    at_vertex = ASCENTS["lbfgsb"](_convex(h, 1.0), half, rng.uniform(-half, half), 10)
    assert at_vertex.stationary and at_vertex.best_f == pytest.approx(1 + 0.5 * float(h @ (half * half)), rel=1e-12)
    half = rng.uniform(0.5e-3, 2e-3, 500)
    creeping = ASCENTS["lbfgsb"](_convex(rng.uniform(0.1, 10.0, 500), 1e-6), half, rng.uniform(-half, half), 10)
    assert not creeping.stationary and not ASCENTS["apgd"](_convex(h[:5], 1.0), half[:5], half[:5] / 2, 5).stationary


def test_a_round_that_stopped_early_holds_its_best_so_rounds_line_up():
    """Rounds of 4 iterations: an ascent whose line search failed after 1 iteration of round 1 holds its
    best f for the 3 it did not run, so entry 5 of its record, like every ascent's, is after round 1."""
    y = np.zeros(3)
    early = Ascent(2.0, y, [1.0, 2.0], 3, "ABNORMAL_TERMINATION_IN_LNSRCH")
    full = Ascent(1.5, y, [1.0, 1.1, 1.2, 1.4, 1.5], 4, "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT")
    more = Ascent(3.0, y + 1, [2.0, 2.5, 2.5, 3.0, 3.0], 4, "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT")
    both = continued(early, more, 4 + 1)
    assert both.history == [1.0, 2.0, 2.0, 2.0, 2.0, 2.5, 2.5, 3.0, 3.0]  # the best so far: never falls
    assert continued(full, more, 4 + 1).iterations == both.iterations == 8
    assert both.best_f == 3.0 and np.array_equal(both.best_y, y + 1) and both.evaluations == 7 and both.message == more.message


def test_a_continued_record_is_stationary_only_where_its_best_point_is():
    """A round from a point where the projected gradient is zero stops there at once, stationary, without
    raising f: the record's best point is that stationary point. A round that found more takes its flag."""
    y = np.zeros(3)
    at_vertex = Ascent(2.0, y, [1.0, 2.0], 2, "CONVERGENCE: NORM OF PROJECTED GRADIENT <= PGTOL")
    stays = Ascent(2.0, y, [2.0], 1, "CONVERGENCE: NORM OF PROJECTED GRADIENT <= PGTOL", stationary=True)
    assert continued(at_vertex, stays, 2).stationary
    moved_on = Ascent(2.5, y + 1, [2.0, 2.5], 2, "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT")
    assert not continued(Ascent(2.0, y, [1.0, 2.0], 2, "", stationary=True), moved_on, 2).stationary
    # f that is not a function of y alone (it cannot happen with a loss; the record stays honest anyway)
    fell = Ascent(1.0, y + 2, [1.0], 1, "", stationary=True)
    kept = continued(Ascent(2.0, y, [1.0, 2.0], 2, ""), fell, 2)
    assert kept.best_f == 2.0 and np.array_equal(kept.best_y, y) and not kept.stationary
