"""lbgap.experiments.survey: the survey is Metric 2.1 at every solution, one shared subspace, mean ± std."""

from __future__ import annotations

import statistics

import pytest

from lbgap.measures.maximizer import Maximizer
from lbgap.experiments.survey import sharpness_survey, survey_of_runs, survey_size
from lbgap.measures.sharpness import sharpness_of_model
from lbgap.measures.subspace import random_subspace
from lbgap.tensors import parameters_of
from lbgap.train.checkpoint import Checkpoint


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


def test_runs_are_surveyed_at_their_final_weights_and_at_the_target_loss(trained_mlp, tiny_data):
    final, at = trained_mlp(seed=0).state_dict(), trained_mlp(seed=1).state_dict()
    runs = [Checkpoint(final, final, 16, 0, at, 5), Checkpoint(final, final, 16, 1)]  # seed 1 never reached it
    options = dict(subspace_dim=3, maximizer=Maximizer(iterations=3), seed=7, chunk=40)
    model = trained_mlp()
    document = survey_of_runs(model, runs, tiny_data.train, [1e-3], **options)
    assert document["per_seed"] == sharpness_survey(model, [(0, final), (1, final)], tiny_data.train, [1e-3], **options)["per_seed"]
    at_target = document["at_target_loss"]
    assert at_target["target_epoch"] == {"0": 5, "1": None} and at_target["not_reached"] == [1]
    assert at_target["per_seed"] == sharpness_survey(model, [(0, at)], tiny_data.train, [1e-3], **options)["per_seed"]
    assert survey_size(runs, [1e-3]) == 2 * 3  # two spaces × (two final + one target)
    nobody = survey_of_runs(model, [runs[1]], tiny_data.train, [1e-3], **options)["at_target_loss"]
    assert nobody == {"target_epoch": {"1": None}, "not_reached": [1]}
