"""The one set of validators every typed view of params.yaml uses: read a dotted key and check its
range, or raise ParamsError with one line naming the key ("params: …"). Defaults live in params.yaml
only: a missing key is an error, not a silent fallback. (Errors about a command's own arguments — a
regime, a strategy, a sweep batch size — name the argument instead and carry no "params:" prefix.)"""

from __future__ import annotations

import difflib
import math
from typing import Any, Mapping, Sequence


class ParamsError(ValueError):
    """A value in params.yaml is missing, unknown, of the wrong type or out of range."""


def get(raw: Mapping[str, Any], dotted: str) -> Any:
    node: Any = raw
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise ParamsError(f"params: missing key '{dotted}'")
        node = node[part]
    return node


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def unknown_key(key: str, prefix: str, known: list[str]) -> ParamsError:
    """The error for a key params.yaml does not know, suggesting the closest known one."""
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean '{prefix}{close[0]}'?)" if close else f"; known here: {', '.join(known)}"
    return ParamsError(f"params: unknown key '{prefix}{key}'{hint}")


def integer(raw: Mapping[str, Any], key: str, minimum: int) -> int:
    value = get(raw, key)
    if not is_int(value) or value < minimum:
        raise ParamsError(f"params: '{key}' must be an integer >= {minimum} (got {value!r})")
    return value


def number(raw: Mapping[str, Any], key: str, *, minimum: float | None = None, positive: bool = False) -> float:
    """A finite number; `positive`: > 0; `minimum`: >= minimum."""
    value = get(raw, key)
    if not is_number(value):
        raise ParamsError(f"params: '{key}' must be a finite number (got {value!r})")
    if positive and not value > 0:
        raise ParamsError(f"params: '{key}' must be > 0 (got {value})")
    if minimum is not None and value < minimum:
        raise ParamsError(f"params: '{key}' must be >= {minimum:g} (got {value})")
    return float(value)


def flag(raw: Mapping[str, Any], key: str) -> bool:
    value = get(raw, key)
    if not isinstance(value, bool):
        raise ParamsError(f"params: '{key}' must be true or false (got {value!r})")
    return value


def size_or_all(raw: Mapping[str, Any], key: str) -> int | None:
    """A sample count >= 1, or null for 'all of them'."""
    return None if get(raw, key) is None else integer(raw, key, 1)


def choice(raw: Mapping[str, Any], key: str, known: Sequence[str], what: str) -> str:
    value = get(raw, key)
    if value not in known:
        raise ParamsError(f"params: unknown {what} '{key}: {value}'; known: {', '.join(known)}")
    return str(value)


def integers(raw: Mapping[str, Any], key: str, minimum: int) -> tuple[int, ...]:
    values = get(raw, key)
    if not isinstance(values, list) or not values:
        raise ParamsError(f"params: '{key}' must be a non-empty list (got {values!r})")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ParamsError(f"params: every '{key}' entry must be an integer >= {minimum} (got {value!r})")
    return tuple(values)


def numbers(raw: Mapping[str, Any], key: str, *, positive: bool, first_only: bool = False) -> tuple[float, ...]:
    """A non-empty list of finite numbers > 0 (`positive`) or >= 0. `first_only` checks and returns the
    first entry alone (for readers of only that one)."""
    values = get(raw, key)
    if not isinstance(values, list) or not values:
        raise ParamsError(f"params: '{key}' must be a non-empty list (got {values!r})")
    for value in values[:1] if first_only else values:
        if not is_number(value) or value < 0 or (positive and value == 0):
            raise ParamsError(f"params: every '{key}' entry must be a finite number {'> 0' if positive else '>= 0'} (got {value!r})")
    return tuple(float(v) for v in (values[:1] if first_only else values))
