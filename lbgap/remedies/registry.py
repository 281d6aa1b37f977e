"""The registry of remedies for the large-batch gap ("strategies"), in the style of the model registry.

A remedy is one module `lbgap/remedies/<name>.py` that calls `register_strategy(name, Options)` on a
factory `(options, run: Run) -> Recipe` (lbgap.train.recipe: the step, optimizer and schedules of one
training run), plus one section `mitigation.<name>` in params.yaml whose
keys are the fields of `Options` (a frozen dataclass annotated as every params section is, read by
lbgap.params.reader: types, ranges, relations in `__post_init__`). dvc.yaml's `mitigate` stage iterates over the
`remedies` list and the report reads every remedy's results, so nothing else needs to change.
`with_small_batch=True` registers a change of the training method (a step, an optimizer, an
initialization, augmentation), which the stage also trains at `small_batch` as its own control; the
growing batch uses that run for its decaying-learning-rate baseline.
Modules are imported when their remedy is asked for, so a stage depends on its own remedy's code only.

A factory must not draw from the global random state: the mitigate stage builds every run's recipe once
before any trains (lbgap.experiments.remedy.Remedy.check), and a draw there would shift every run after it.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import itertools
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from lbgap.params.reader import ParamsError, read, unknown_key

FOLDER = Path(__file__).resolve().parent
NOT_REMEDIES = {"registry"}  # modules of this folder that are not remedies


@dataclass(frozen=True)
class Run:
    """What a remedy may know about the run it configures."""

    seed: int
    data_name: str
    batch_size: int  # this run's batch size (`batch`, or `small_batch` for the SB side of a comparison)
    small_batch: int  # `small_batch`
    large_batch: int  # `batch`
    train_size: int  # training samples (updates per epoch = train_size // batch)
    max_epochs: int  # `train.max_epochs`
    sb_epochs: int | None = None  # epochs the train@sb run of this seed trained (None when not known)
    regime: str = "lb"  # or "sb": a remedy's own SB run (with_small_batch)


# (options, run) -> how that run trains
RecipeFactory = Callable[[Any, Run], Any]  # returns a lbgap.train.recipe.Recipe (not imported: the registry
# reads names and options only, so checking params.yaml needs no training code)


@dataclass(frozen=True)
class Strategy:
    name: str
    options: type  # frozen dataclass: the typed view of `mitigation.<name>`
    make_recipe: RecipeFactory
    with_small_batch: bool = False  # also trained at `small_batch` (a change compared at both batch sizes)


_STRATEGIES: dict[str, Strategy] = {}


def register_strategy(name: str, options: type, *, with_small_batch: bool = False) -> Callable[[RecipeFactory], RecipeFactory]:
    """Decorator: register the recipe factory of remedy `name`, configured by the dataclass `options`."""
    if not dataclasses.is_dataclass(options):
        raise TypeError(f"the options of strategy {name!r} must be a dataclass (got {options!r})")

    def register(make_recipe: RecipeFactory) -> RecipeFactory:
        known = _STRATEGIES.get(name)
        if known is not None and known.make_recipe.__qualname__ != make_recipe.__qualname__:
            raise ValueError(f"strategy {name!r} is registered twice")
        _STRATEGIES[name] = Strategy(name, options, make_recipe, with_small_batch)
        return make_recipe

    return register


def list_strategies() -> list[str]:
    """Every remedy module's name (without importing them), sorted, plus any registered elsewhere."""
    modules = {m.name for m in pkgutil.iter_modules([str(FOLDER)]) if not m.name.startswith("_")} - NOT_REMEDIES
    return sorted(modules | set(_STRATEGIES))


def get_strategy(name: str) -> Strategy:
    """The registered strategy `name`, importing `lbgap.remedies.<name>` on first use; KeyError if unknown."""
    if name not in _STRATEGIES and name in list_strategies():
        importlib.import_module(f"{__package__}.{name}")
    if name not in _STRATEGIES:
        raise KeyError(f"unknown strategy {name!r}; known: {', '.join(list_strategies())}")
    return _STRATEGIES[name]


def read_options(name: str, section: Any) -> Any:
    """`mitigation.<name>` as an instance of the remedy's options dataclass (every key, type and range)."""
    return read(get_strategy(name).options, section, f"mitigation.{name}")


def grid_points(grid: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every combination of a grid {option → candidate values}, in the grid's order (the last option
    varies fastest); an empty grid has one point, the options as declared."""
    return [dict(zip(grid, values)) for values in itertools.product(*grid.values())]


def with_choice(section: Mapping[str, Any], choice: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """A copy of the mapping `section` with each option of `choice` replaced; a dotted option
    ('signal.noise') names a nested key. An option the section does not have is a ParamsError."""
    chosen = copy.deepcopy(dict(section))
    for option, value in choice.items():
        *parents, leaf = str(option).split(".")
        node = chosen
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
        if not isinstance(node, dict) or leaf not in node:
            raise ParamsError(f"params: '{where}{option}' names no option of 'mitigation' here")
        node[leaf] = value
    return chosen


def check_mitigation(mitigation: Mapping[str, Any], grids: Mapping[str, Any]) -> None:
    """Every section of `mitigation` names a remedy and reads into its options, and so does every point
    of its grid in `grids` (`tuning.grids`), so a bad remedy option is refused by whichever stage runs
    first. Each remedy module is imported by name: the check adds no remedy's code to a stage's
    dependencies (a remedy's options cannot change what another stage computes)."""
    for name, section in mitigation.items():
        if name not in list_strategies():
            raise unknown_key(str(name), "mitigation.", list_strategies())
        read_options(name, section)
    for name, grid in grids.items():
        if name not in mitigation:
            raise unknown_key(str(name), "tuning.grids.", list(mitigation))
        options = get_strategy(name).options
        for point in grid_points(grid):
            try:
                read(options, with_choice(mitigation[name], point, f"tuning.grids.{name}."), f"mitigation.{name}")
            except ParamsError as error:
                raise ParamsError(f"params: 'tuning.grids.{name}' point {point}: {str(error).removeprefix('params: ')}") from None
        for option, values in grid.items():  # the declared value is the one used without a grid: one of the candidates
            declared = mitigation[name]
            for key in str(option).split("."):
                declared = declared.get(key) if isinstance(declared, Mapping) else None
            if declared not in values:
                raise ParamsError(f"params: 'mitigation.{name}.{option}' = {declared!r} is chosen by 'tuning.grids.{name}' "
                                  f"from {values!r}: declare one of those (or empty the grid to use it as declared)")
