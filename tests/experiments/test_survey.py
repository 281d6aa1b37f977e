"""lbgap.experiments.survey: the survey is Metric 2.1 at every solution, one shared subspace, mean ± std."""

from __future__ import annotations

import statistics

import pytest

from lbgap.measures.maximizer import Maximizer
from lbgap.experiments.survey import sharpness_survey
from lbgap.measures.sharpness import sharpness_of_model
from lbgap.measures.subspace import random_subspace
from lbgap.tensors import parameters_of


def test_every_solution_is_measured_as_alone_with_one_shared_subspace(trained_mlp, tiny_data):
    model = trained_mlp()
    solutions = [(0, {k: v.clone() for k, v in model.state_dict().items()}), (1, trained_mlp(seed=1).state_dict())]
    runs = []
    survey = sharpness_survey(model, solutions, tiny_data.train, [1e-3, 5e-4], subspace_dim=3, maximizer=Maximizer(iterations=4), seed=7, chunk=40,
                              on_run=runs.append)
    n = sum(p.numel() for p in parameters_of(model).values())
    assert (survey["parameters"], survey["subspace_dim"], len(runs)) == (n, 3, 2 * 2 * 2)
    A = random_subspace(n, 3, 7)  # drawn once from the survey's seed, for every solution
    for seed, state in solutions:
        model.load_state_dict(state)
        for space, subspace in (("full", None), ("subspace", A)):
            expected = sharpness_of_model(model, tiny_data.train, 5e-4, subspace, chunk=40, maximizer=Maximizer(iterations=4), seed=7 + seed)
            (row,) = [r for r in survey["per_seed"][space]["eps_5e-04"] if r["seed"] == seed]
            assert row["phi"] == expected.phi and row["evaluations"] == expected.evaluations
    phis = [r["phi"] for r in survey["per_seed"]["subspace"]["eps_1e-03"]]
    stats = survey["summary"]["subspace"]["eps_1e-03"]["phi"]
    assert stats["mean"] == pytest.approx(statistics.fmean(phis)) and stats["std"] == pytest.approx(statistics.stdev(phis))
