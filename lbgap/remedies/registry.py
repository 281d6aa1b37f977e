"""The registry of remedies for the large-batch gap ("strategies"), in the style of the model registry.

A remedy is one module `lbgap/remedies/<name>.py` that calls `register_strategy(name, Options)` on a
factory `(options, seed, data_name) -> Step`, plus one section `mitigation.<name>` in params.yaml whose
keys are the fields of `Options` (a frozen dataclass whose fields are int, float, bool or a nested such
dataclass; lbgap.params.options reads and checks them: numbers, integers included, must be >= 0). dvc.yaml's `mitigate` stage iterates over the
`mitigation` section and the report reads every remedy's results, so nothing else needs to change.
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

from lbgap.train.loop import Step

FOLDER = Path(__file__).resolve().parent
NOT_REMEDIES = {"registry"}  # modules of this folder that are not remedies
OPTION_TYPES = (int, float, bool)  # besides nested dataclasses of these

# (options, run seed, data set name) -> the training step of one run
StepFactory = Callable[[Any, int, str], Step]


@dataclass(frozen=True)
class Strategy:
    name: str
    options: type  # frozen dataclass: the typed view of `mitigation.<name>`
    make_step: StepFactory


_STRATEGIES: dict[str, Strategy] = {}


def _check_option_types(options: type, where: str) -> None:
    if not dataclasses.is_dataclass(options):
        raise TypeError(f"the options of {where} must be a dataclass (got {options!r})")
    for field, kind in typing.get_type_hints(options).items():
        if dataclasses.is_dataclass(kind):
            _check_option_types(kind, f"{where}.{field}")
        elif kind not in OPTION_TYPES:
            raise TypeError(f"option {where}.{field} has type {kind!r}; options are int, float, bool or nested dataclasses")


def register_strategy(name: str, options: type) -> Callable[[StepFactory], StepFactory]:
    """Decorator: register the step factory of remedy `name`, configured by the dataclass `options`."""
    _check_option_types(options, f"strategy {name!r}")

    def register(make_step: StepFactory) -> StepFactory:
        known = _STRATEGIES.get(name)
        if known is not None and known.make_step.__qualname__ != make_step.__qualname__:
            raise ValueError(f"strategy {name!r} is registered twice")
        _STRATEGIES[name] = Strategy(name, options, make_step)
        return make_step

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
