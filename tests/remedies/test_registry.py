"""lbgap.remedies.registry: a remedy is one registered step factory with typed options, found by name."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from lbgap.remedies import registry
from lbgap.params import ParamsError
from lbgap.remedies.registry import (
    Run, check_mitigation, get_strategy, grid_points, list_strategies, read_options, register_strategy, with_choice,
)
from lbgap.train.recipe import PLAIN


@dataclass(frozen=True)
class Options:
    rate: float
    enabled: bool


@pytest.fixture(autouse=True)
def scratch_registry(monkeypatch):
    """What a test registers is gone after it: the registry the other tests see stays the shipped one."""
    for name in list_strategies():  # registered for good first: a module imported inside the copy stays imported
        get_strategy(name)
    monkeypatch.setattr(registry, "_STRATEGIES", dict(registry._STRATEGIES))


def test_the_shipped_remedies_are_listed_without_importing_and_found_by_name():
    assert {"augmentation", "conservative", "adversarial", "sam"} <= set(list_strategies())
    assert "registry" not in list_strategies()
    sam = get_strategy("sam")
    assert sam.name == "sam" and sam.options.__name__ == "SamOptions"
    with pytest.raises(KeyError, match="unknown strategy .sma.; known: adamw, adaptive_batch, adversarial, asam, augmentation"):
        get_strategy("sma")


def test_a_registered_strategy_is_found_with_its_options_and_factory():
    @register_strategy("registry_test_toy", Options)
    def toy(options: Options, run: Run):
        return PLAIN

    assert "registry_test_toy" in list_strategies()
    strategy = get_strategy("registry_test_toy")
    assert strategy.options is Options and strategy.make_recipe(Options(1.0, True), Run(0, "mnist1d", 4, 4, 4, 4, 1)) is PLAIN
    assert not strategy.with_small_batch


def test_options_must_be_dataclasses_and_names_unique():
    with pytest.raises(TypeError, match="must be a dataclass"):
        register_strategy("registry_test_bad", dict)

    @register_strategy("registry_test_twice", Options)
    def first(options, run):
        return PLAIN

    with pytest.raises(ValueError, match="registered twice"):
        @register_strategy("registry_test_twice", Options)
        def second(options, run):
            return PLAIN


COMMITTED = yaml.safe_load((Path(__file__).resolve().parents[2] / "params.yaml").read_text())


@pytest.mark.parametrize("name", list_strategies())
def test_every_remedy_reads_its_committed_section_and_refuses_a_typo_in_it(name):
    """Every registered remedy, listed in `remedies` or not: its section of params.yaml reads into its options,
    and a misspelt key in it is refused by the check every stage runs first."""
    section = COMMITTED["mitigation"][name]
    options = read_options(name, section)
    assert dataclasses.is_dataclass(options) and type(options) is get_strategy(name).options
    first = next(iter(section))
    misspelt = {**{k: v for k, v in section.items() if k != first}, first + "_": section[first]}
    with pytest.raises(ParamsError, match=f"unknown key 'mitigation.{name}.{first}_'"):
        check_mitigation({**COMMITTED["mitigation"], name: misspelt}, {})


@pytest.mark.parametrize("name", list_strategies())
def test_every_remedy_has_a_committed_grid_whose_every_point_reads_into_its_options(name):
    """Every registered remedy has a grid in `tuning.grids` (so any of them may be listed in `remedies`), each
    point a valid set of its options that differs from the others."""
    grid = COMMITTED["tuning"]["grids"][name]
    points = grid_points(grid)
    sections = [with_choice(COMMITTED["mitigation"][name], point) for point in points]
    assert len({repr(read_options(name, section)) for section in sections}) == len(points)
    check_mitigation(COMMITTED["mitigation"], {name: grid})


def test_grid_points_and_choices_follow_the_grid_and_name_nested_options():
    assert grid_points({"a": [1, 2], "b": ["x", "y"]}) == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}, {"a": 2, "b": "y"}]
    assert grid_points({}) == [{}]
    section = {"signal": {"max_shift": 4, "noise": 0.05}, "image": {"hflip": 0.5}}
    chosen = with_choice(section, {"signal.max_shift": 8})
    assert chosen == {"signal": {"max_shift": 8, "noise": 0.05}, "image": {"hflip": 0.5}} and section["signal"]["max_shift"] == 4
    with pytest.raises(ParamsError, match="'tuning.grids.augmentation.signal.shift' names no option"):
        with_choice(section, {"signal.shift": 2}, "tuning.grids.augmentation.")


def test_a_grid_point_that_is_no_valid_option_or_a_grid_for_no_remedy_is_refused():
    with pytest.raises(ParamsError, match=r"'tuning.grids.sam' point \{'rho': -1.0\}: 'mitigation.sam.rho' must be >= 0"):
        check_mitigation(COMMITTED["mitigation"], {"sam": {"rho": [0.05, -1.0]}})
    with pytest.raises(ParamsError, match="unknown key 'tuning.grids.sma'"):
        check_mitigation(COMMITTED["mitigation"], {"sma": {"rho": [0.05]}})


def test_a_section_for_no_remedy_is_refused():
    with pytest.raises(ParamsError, match="unknown key 'mitigation.sma' \\(did you mean 'mitigation.sam'\\?\\)"):
        check_mitigation({"sma": {"rho": 0.1}}, {})


def test_a_declared_option_that_its_grid_does_not_list_is_refused():
    with pytest.raises(ParamsError, match=r"'mitigation.sam.rho' = 0.05 is chosen by 'tuning.grids.sam' from \[0.1, 0.2\]"):
        check_mitigation(COMMITTED["mitigation"], {"sam": {"rho": [0.1, 0.2]}})
