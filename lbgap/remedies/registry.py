"""The registry of remedies for the large-batch gap ("strategies"), in the style of the model registry.

A remedy is one module `lbgap/remedies/<name>.py` that calls `register_strategy(name, Options)` on a
factory `(options, run: Run) -> Recipe` (lbgap.train.recipe: the step, optimizer and schedules of one
training run), plus one section `mitigation.<name>` in params.yaml whose
keys are the fields of `Options` (a frozen dataclass whose fields are int, float, bool or a nested such
dataclass; lbgap.params.options reads and checks them: numbers, integers included, must be >= 0). dvc.yaml's `mitigate` stage iterates over the
`remedies` list and the report reads every remedy's results, so nothing else needs to change.
`with_small_batch=True` registers a change of training that is compared at both batch sizes (an
optimizer, an initialization): the stage then trains it at `small_batch` as well as at `batch`.
Modules are imported when their remedy is asked for, so a stage depends on its own remedy's code only.

A factory must not draw from the global random state: the mitigate stage calls it once with seed 0 to
refuse bad options before training, and a draw there would shift every run after it.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from lbgap.train.recipe import Recipe

FOLDER = Path(__file__).resolve().parent
NOT_REMEDIES = {"registry"}  # modules of this folder that are not remedies
OPTION_TYPES = (int, float, bool)  # besides nested dataclasses of these



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
RecipeFactory = Callable[[Any, Run], Recipe]


@dataclass(frozen=True)
class Strategy:
    name: str
    options: type  # frozen dataclass: the typed view of `mitigation.<name>`
    make_recipe: RecipeFactory
    with_small_batch: bool = False  # also trained at `small_batch` (a change compared at both batch sizes)


_STRATEGIES: dict[str, Strategy] = {}


def _check_option_types(options: type, where: str) -> None:
    if not dataclasses.is_dataclass(options):
        raise TypeError(f"the options of {where} must be a dataclass (got {options!r})")
    for field, kind in typing.get_type_hints(options).items():
        if dataclasses.is_dataclass(kind):
            _check_option_types(kind, f"{where}.{field}")
        elif kind not in OPTION_TYPES:
            raise TypeError(f"option {where}.{field} has type {kind!r}; options are int, float, bool or nested dataclasses")


def register_strategy(name: str, options: type, *, with_small_batch: bool = False) -> Callable[[RecipeFactory], RecipeFactory]:
    """Decorator: register the recipe factory of remedy `name`, configured by the dataclass `options`."""
    _check_option_types(options, f"strategy {name!r}")

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
