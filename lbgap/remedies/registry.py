"""The registry of remedies for the large-batch gap ("strategies"), in the style of the model registry.

A remedy is one module `lbgap/remedies/<name>.py` that calls `register_strategy(name, Options)` on a
factory `(options, run: Run) -> Recipe` (lbgap.train.recipe: the step, optimizer and schedules of one
training run), plus one section `mitigation.<name>` in params.yaml whose
keys are the fields of `Options` (a frozen dataclass annotated as every params section is, read by
lbgap.params.reader: types, ranges, relations in `__post_init__`). dvc.yaml's `mitigate` stage iterates over the
`remedies` list and the report reads every remedy's results, so nothing else needs to change.
`with_small_batch=True` registers a change of training that is compared at both batch sizes (an
optimizer, an initialization): the stage then trains it at `small_batch` as well as at `batch`.
Modules are imported when their remedy is asked for, so a stage depends on its own remedy's code only.

A factory must not draw from the global random state: the mitigate stage builds every run's recipe once
before any trains (lbgap.experiments.remedy.Remedy.check), and a draw there would shift every run after it.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from lbgap.params.reader import read, unknown_key

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


def check_mitigation(mitigation: Mapping[str, Any]) -> None:
    """Every section of `mitigation` names a remedy and reads into its options, so a bad remedy option
    is refused by whichever stage runs first. Each remedy module is imported by name: the check adds no
    remedy's code to a stage's dependencies (a remedy's options cannot change what another stage computes)."""
    for name, section in mitigation.items():
        if name not in list_strategies():
            raise unknown_key(str(name), "mitigation.", list_strategies())
        read_options(name, section)
