"""lbgap.report.run: what the report derives from a run's params and documents."""

from __future__ import annotations



def test_the_run_is_labelled_and_keyed_by_its_params(committed_run):
    assert committed_run.label == "mlp on mnist1d"
    assert committed_run.batch_sizes == {"sb": committed_run.params["small_batch"], "lb": committed_run.params["batch"]}
    assert committed_run.first_eps_key == "eps_1e-03" and committed_run.bn_statistics == "recompute"


def test_only_the_chosen_networks_options_are_reported(committed_run):
    params = {**committed_run.params, "runtime": {**committed_run.params["runtime"], "models": {"mlp": {"width": 8}, "F1": None}}}
    used = type(committed_run)(params, *list(vars(committed_run).values())[1:]).used_params()
    assert used["runtime"]["models"] == {"mlp": {"width": 8}} and used["seeds"] == params["seeds"]


def test_the_sweep_is_in_batch_order_and_the_threshold_follows_the_rule(committed_run):
    points = committed_run.sweep_points
    assert list(points.batch_size) == sorted(committed_run.params["sweep"]["batches"])
    threshold, drop = committed_run.threshold, committed_run.params["sweep"]["drop"]
    # the rule, read off the committed points: the first size more than `drop` below the best of those before it
    firsts = [b for i, (b, a) in enumerate(zip(points.batch_size, points.test_accuracy_mean))
              if i and a < points.test_accuracy_mean.iloc[:i].max() - drop]
    assert threshold.batch_size == (firsts[0] if firsts else None)
    if firsts:
        i = list(points.batch_size).index(firsts[0])
        assert points.batch_size.iloc[i - 1] <= threshold.crossing <= firsts[0]  # between the last size that held and it
