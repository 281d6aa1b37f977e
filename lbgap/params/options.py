"""A remedy's section of params.yaml (`mitigation.<name>`) as an instance of its registered options
dataclass, checked by the same validators as every other key."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Mapping

from lbgap.params.read import ParamsError, flag, get, integer, number, unknown_key


def read_options(raw: Mapping[str, Any], section: str, options: type) -> Any:
    """`section` (a dotted key, e.g. 'mitigation.sam') as an instance of the dataclass `options`: every field
    present and no other key; ints and floats >= 0, booleans, nested dataclasses from nested sections."""
    values = get(raw, section)
    if not isinstance(values, Mapping):
        raise ParamsError(f"params: '{section}' must be a mapping of options (got {values!r})")
    hints = typing.get_type_hints(options)
    for key in values:
        if key not in hints:
            raise unknown_key(str(key), f"{section}.", list(hints))
    read = {}
    for field, kind in hints.items():
        key = f"{section}.{field}"
        if dataclasses.is_dataclass(kind):
            read[field] = read_options(raw, key, kind)
        elif kind is bool:
            read[field] = flag(raw, key)
        elif kind is int:
            read[field] = integer(raw, key, 0)
        else:
            read[field] = number(raw, key, minimum=0)
    return options(**read)
