"""One generic reader: a parsed YAML mapping into a frozen dataclass whose annotations say what each key
holds — `int`, `float`, `bool`, `str`, `Literal[...]`, `X | None`, `tuple[X, ...]` (a non-empty list),
`tuple[X, Y]` (a list of that length), a nested dataclass (a nested section), `dict[str, Any]` (a
mapping read elsewhere: the remedies' options, by their registry), and ranges as
`Annotated[int, Range(ge=1)]`. Every problem is one ParamsError line naming the key's YAML path; an
unknown key suggests the closest known one. Relations between keys are each dataclass's `__post_init__`."""

from __future__ import annotations

import dataclasses
import difflib
import math
import operator
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Mapping, Union


class ParamsError(ValueError):
    """A value in params.yaml is missing, unknown, of the wrong type or out of range."""


@dataclass(frozen=True)
class Range:
    """Bounds of a number: >= ge, > gt, <= le, < lt (None: unbounded)."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def problem(self, value: float) -> str | None:
        for word, bound, holds in ((">=", self.ge, operator.ge), (">", self.gt, operator.gt),
                                   ("<=", self.le, operator.le), ("<", self.lt, operator.lt)):
            if bound is not None and not holds(value, bound):
                return f"must be {word} {bound:g}"
        return None


def unknown_key(key: str, prefix: str, known: list[str]) -> ParamsError:
    """The error for a key params.yaml does not know, suggesting the closest known one."""
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean '{prefix}{close[0]}'?)" if close else f"; known here: {', '.join(known)}"
    return ParamsError(f"params: unknown key '{prefix}{key}'{hint}")


def read(cls: type, raw: Any, path: str = "") -> Any:
    """`raw` (the mapping at YAML path `path`, '' for the whole file) as an instance of dataclass `cls`:
    every field present, no other key, each value of its annotated type and range."""
    where = path or "the file"
    if not isinstance(raw, Mapping):
        raise ParamsError(f"params: '{where}' must be a mapping of keys (got {raw!r})")
    hints = typing.get_type_hints(cls, include_extras=True)
    keys = [field.name for field in dataclasses.fields(cls)]
    prefix = f"{path}." if path else ""
    for key in raw:
        if key not in keys:
            raise unknown_key(str(key), prefix, keys)
    for key in keys:
        if key not in raw:
            raise ParamsError(f"params: missing key '{prefix}{key}'")
    return cls(**{key: _value(hints[key], raw[key], f"{prefix}{key}") for key in keys})


def _value(kind: Any, value: Any, key: str) -> Any:
    bounds = None
    if typing.get_origin(kind) is Annotated:
        kind, bounds = typing.get_args(kind)[0], typing.get_args(kind)[1]
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if dataclasses.is_dataclass(kind):
        return read(kind, value, key)
    if origin in (Union, types.UnionType):  # X | None, the one union a key may have
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1 or len(args) != 2:
            raise TypeError(f"params: {key}'s type {kind!r} is not X | None")  # a programming error, not the user's
        return None if value is None else _value(inner[0], value, key)
    if origin is Literal:
        if value not in args:
            raise ParamsError(f"params: '{key}' must be one of {', '.join(map(str, args))} (got {value!r})")
        return value
    if origin is dict:  # a mapping another module reads (a remedy's options: lbgap.remedies.registry)
        if args != (str, Any):
            raise TypeError(f"params: {key}'s type {kind!r} is not dict[str, Any]")
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise ParamsError(f"params: '{key}' must be a mapping of names (got {value!r})")
        return _plain(value)
    if origin is tuple:
        return _entries(args, value, key)
    if kind is bool:
        if not isinstance(value, bool):
            raise ParamsError(f"params: '{key}' must be true or false (got {value!r})")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise ParamsError(f"params: '{key}' must be a string (got {value!r})")
        return value
    if kind in (int, float):
        numeric = isinstance(value, int) or (kind is float and isinstance(value, float) and math.isfinite(value))
        if isinstance(value, bool) or not numeric:
            raise ParamsError(f"params: '{key}' must be {'an integer' if kind is int else 'a finite number'} (got {value!r})")
        if bounds is not None and (problem := bounds.problem(value)):
            raise ParamsError(f"params: '{key}' {problem} (got {value})")
        return kind(value)
    raise TypeError(f"params: no reader for {key}'s type {kind!r}")  # a programming error, not the user's


def _plain(value: Any) -> Any:
    return {k: _plain(v) for k, v in value.items()} if isinstance(value, Mapping) else value


def _entries(args: tuple, value: Any, key: str) -> tuple:
    """tuple[X, ...]: a non-empty list of X; tuple[X, Y]: a list of exactly those."""
    kinds = [args[0]] * len(value) if isinstance(value, list) and args[-1] is Ellipsis else list(args)
    if not isinstance(value, list) or not value or len(value) != len(kinds):
        wanted = "a non-empty list" if args[-1] is Ellipsis else f"a list of {len(args)} entries"
        raise ParamsError(f"params: '{key}' must be {wanted} (got {value!r})")
    return tuple(_value(kind, entry, f"{key}[{i}]") for i, (kind, entry) in enumerate(zip(kinds, value)))
