"""lbgap.train.registry: a remedy is one registered step factory with typed options, found by name."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from lbgap.train.loop import plain_step
from lbgap.train.registry import build_options, get_strategy, list_strategies, register_strategy


@dataclass(frozen=True)
class Inner:
    count: int
    weight: float


@dataclass(frozen=True)
class Options:
    rate: float
    enabled: bool
    inner: Inner


def test_the_shipped_remedies_are_listed_without_importing_and_found_by_name():
    assert {"augmentation", "conservative", "adversarial", "sam"} <= set(list_strategies())
    sam = get_strategy("sam")
    assert sam.name == "sam" and sam.options.__name__ == "SamOptions"
    with pytest.raises(KeyError, match="unknown strategy 'sma'; known: adversarial, augmentation"):
        get_strategy("sma")


def test_a_registered_strategy_is_found_and_configured_by_its_dataclass():
    @register_strategy("registry_test_toy", Options)
    def toy(options: Options, seed: int, data_name: str):
        return plain_step

    assert "registry_test_toy" in list_strategies()
    strategy = get_strategy("registry_test_toy")
    options = build_options(strategy.options, {"rate": 1, "enabled": True, "inner": {"count": 2, "weight": 0.5}}, "mitigation.toy")
    assert options == Options(rate=1.0, enabled=True, inner=Inner(count=2, weight=0.5))
    assert isinstance(options.rate, float) and strategy.make_step(options, 0, "mnist1d") is plain_step


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"rate": 1.0, "enabled": True}, "missing option 'mitigation.toy.inner'"),
        ({"rate": 1.0, "enabled": True, "inner": {"count": 2, "weight": 0.5}, "extra": 1}, "unknown option 'mitigation.toy.extra'"),
        ({"rate": -1.0, "enabled": True, "inner": {"count": 2, "weight": 0.5}}, "'mitigation.toy.rate' must be a finite number >= 0"),
        ({"rate": float("inf"), "enabled": True, "inner": {"count": 2, "weight": 0.5}}, "'mitigation.toy.rate' must be a finite number"),
        ({"rate": 1.0, "enabled": 1, "inner": {"count": 2, "weight": 0.5}}, "'mitigation.toy.enabled' must be true or false"),
        ({"rate": 1.0, "enabled": True, "inner": {"count": 2.5, "weight": 0.5}}, "'mitigation.toy.inner.count' must be an integer"),
        ({"rate": 1.0, "enabled": True, "inner": 3}, "'mitigation.toy.inner' must be a mapping of options"),
    ],
)
def test_bad_options_name_the_key(raw, message):
    with pytest.raises(ValueError) as error:
        build_options(Options, raw, "mitigation.toy")
    assert message in str(error.value)


def test_options_must_be_a_dataclass_and_names_unique():
    with pytest.raises(TypeError, match="must be a dataclass"):
        register_strategy("registry_test_bad", dict)

    @register_strategy("registry_test_twice", Options)
    def first(options, seed, data_name):
        return plain_step

    with pytest.raises(ValueError, match="registered twice"):
        @register_strategy("registry_test_twice", Options)
        def second(options, seed, data_name):
            return plain_step
