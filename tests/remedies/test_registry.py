"""lbgap.remedies.registry: a remedy is one registered step factory with typed options, found by name."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from lbgap.remedies import registry
from lbgap.remedies.registry import Run, get_strategy, list_strategies, register_strategy
from lbgap.train.recipe import PLAIN


@dataclass(frozen=True)
class Options:
    rate: float
    enabled: bool


@pytest.fixture(autouse=True)
def scratch_registry(monkeypatch):
    """What a test registers is gone after it: the registry the other tests see stays the shipped one."""
    monkeypatch.setattr(registry, "_STRATEGIES", dict(registry._STRATEGIES))


def test_the_shipped_remedies_are_listed_without_importing_and_found_by_name():
    assert {"augmentation", "conservative", "adversarial", "sam"} <= set(list_strategies())
    assert "registry" not in list_strategies()
    sam = get_strategy("sam")
    assert sam.name == "sam" and sam.options.__name__ == "SamOptions"
    with pytest.raises(KeyError, match="unknown strategy .sma.; known: adamw, adaptive_batch, adversarial, augmentation"):
        get_strategy("sma")


def test_a_registered_strategy_is_found_with_its_options_and_factory():
    @register_strategy("registry_test_toy", Options)
    def toy(options: Options, run: Run):
        return PLAIN

    assert "registry_test_toy" in list_strategies()
    strategy = get_strategy("registry_test_toy")
    assert strategy.options is Options and strategy.make_recipe(Options(1.0, True), Run(0, "mnist1d", 4, 4, 4, 4, 1)) is PLAIN
    assert not strategy.with_small_batch


def test_options_must_be_dataclasses_of_supported_types_and_names_unique():
    with pytest.raises(TypeError, match="must be a dataclass"):
        register_strategy("registry_test_bad", dict)

    @dataclass(frozen=True)
    class Named:
        label: str

    with pytest.raises(TypeError, match="option strategy 'registry_test_str'.label has type"):
        register_strategy("registry_test_str", Named)

    @register_strategy("registry_test_twice", Options)
    def first(options, run):
        return PLAIN

    with pytest.raises(ValueError, match="registered twice"):
        @register_strategy("registry_test_twice", Options)
        def second(options, run):
            return PLAIN
