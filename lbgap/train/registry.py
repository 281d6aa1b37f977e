"""The registry of remedies for the large-batch gap ("strategies"), in the style of the model registry.

A remedy is one module `lbgap/remedies/<name>.py` that calls `register_strategy(name, Options)` on a
factory `(options, seed, data_name) -> Step`, plus one section `mitigation.<name>` in params.yaml whose
keys are the fields of `Options` (a frozen dataclass; fields int, float, bool or a nested dataclass).
dvc.yaml's `mitigate` stage iterates over the `mitigation` section, and the report reads every remedy's
results, so nothing else needs to change. Modules are imported when their remedy is asked for, so a
stage depends on its own remedy's code only.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from lbgap.train.loop import Step

REMEDIES_PACKAGE = "lbgap.remedies"
REMEDIES_FOLDER = Path(__file__).resolve().parents[1] / "remedies"

# (options, run seed, data set name) -> the training step of one run
StepFactory = Callable[[Any, int, str], Step]


@dataclass(frozen=True)
class Strategy:
    name: str
    options: type  # frozen dataclass: the typed view of `mitigation.<name>`
    make_step: StepFactory


_STRATEGIES: dict[str, Strategy] = {}


def register_strategy(name: str, options: type) -> Callable[[StepFactory], StepFactory]:
    """Decorator: register the step factory of remedy `name`, configured by the dataclass `options`."""
    if not dataclasses.is_dataclass(options):
        raise TypeError(f"the options of strategy {name!r} must be a dataclass (got {options!r})")

    def register(make_step: StepFactory) -> StepFactory:
        known = _STRATEGIES.get(name)
        if known is not None and known.make_step.__qualname__ != make_step.__qualname__:
            raise ValueError(f"strategy {name!r} is registered twice")
        _STRATEGIES[name] = Strategy(name, options, make_step)
        return make_step

    return register


def list_strategies() -> list[str]:
    """Every remedy module's name (without importing them), sorted, plus any registered elsewhere."""
    modules = {m.name for m in pkgutil.iter_modules([str(REMEDIES_FOLDER)]) if not m.name.startswith("_")}
    return sorted(modules | set(_STRATEGIES))


def get_strategy(name: str) -> Strategy:
    """The registered strategy `name`, importing `lbgap.remedies.<name>` on first use; KeyError if unknown."""
    if name not in _STRATEGIES and name in list_strategies():
        importlib.import_module(f"{REMEDIES_PACKAGE}.{name}")
    if name not in _STRATEGIES:
        raise KeyError(f"unknown strategy {name!r}; known: {', '.join(list_strategies())}")
    return _STRATEGIES[name]


def build_options(options: type, raw: Mapping[str, Any], where: str) -> Any:
    """`raw` (a params section) as an instance of the dataclass `options`: every field present, no other key,
    numbers >= 0 of the field's type, nested dataclasses from nested sections. ValueError names the key."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"'{where}' must be a mapping of options (got {raw!r})")
    hints = typing.get_type_hints(options)
    fields = [f.name for f in dataclasses.fields(options)]
    if unknown := sorted(set(raw) - set(fields)):
        raise ValueError(f"unknown option '{where}.{unknown[0]}'; known: {', '.join(fields)}")
    values = {}
    for field in fields:
        if field not in raw:
            raise ValueError(f"missing option '{where}.{field}'")
        kind, value = hints[field], raw[field]
        if dataclasses.is_dataclass(kind):
            values[field] = build_options(kind, value, f"{where}.{field}")
        elif kind is bool:
            if not isinstance(value, bool):
                raise ValueError(f"'{where}.{field}' must be true or false (got {value!r})")
            values[field] = value
        else:
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not number or (kind is int and not isinstance(value, int)) or not 0 <= value < float("inf"):
                raise ValueError(f"'{where}.{field}' must be {'an integer' if kind is int else 'a finite number'} >= 0 (got {value!r})")
            values[field] = kind(value)
    return options(**values)
