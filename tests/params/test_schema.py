"""lbgap.params.schema: the names and types of the whole file, checked before any stage reads it."""

from __future__ import annotations

import pytest

from lbgap.params import ParamsError, check_params


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.update(bach=100), "unknown key 'bach' (did you mean 'batch'?)"),
        (lambda p: p["train"].update(max_epoch=3), "unknown key 'train.max_epoch' (did you mean 'train.max_epochs'?)"),
        (lambda p: p["runtime"].update(models="abc"), "'runtime.models' must be a mapping"),
        (lambda p: p["runtime"]["models"].update(resnet={}), "unknown key 'runtime.models.resnet'"),
        (lambda p: p["runtime"]["models"]["mlp"].update(dept=2), "did you mean 'runtime.models.mlp.depth'"),
        (lambda p: p["runtime"]["models"].update(F1={"width": 3}), "network 'F1' takes no options"),
        (lambda p: p["train"].update(betas=["a", "b"]), "'train.betas' has an entry that must be a finite number"),
        (lambda p: p["train"].update(lr=float("nan")), "'train.lr' must be a finite number"),
        (lambda p: p.update(seeds=2.0), "'seeds' must be an integer"),
        (lambda p: p["mitigation"].update(sma={"rho": 0.1}), "unknown key 'mitigation.sma' (did you mean 'mitigation.sam'?)"),
        (lambda p: p["mitigation"].update(sam=[0.1]), "'mitigation.sam' must be a mapping of options"),
        (lambda p: p.update(mitigation=["sam"]), "'mitigation' must be a mapping of strategy name → options"),
    ],
)
def test_unknown_names_and_wrong_types_are_refused(tiny_params, change, message):
    change(tiny_params)
    with pytest.raises(ParamsError) as error:
        check_params(tiny_params)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_the_tiny_and_the_committed_params_pass(tiny_params):
    check_params(tiny_params)
    tiny_params["mitigation"] = {"sam": tiny_params["mitigation"]["sam"]}  # a subset of the remedies is fine
    check_params(tiny_params)
