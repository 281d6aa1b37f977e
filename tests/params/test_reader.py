"""lbgap.params.reader: one generic reader for every annotation a section uses, each problem one line naming
the key's YAML path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import pytest

from lbgap.params.reader import ParamsError, Range, read

Count = Annotated[int, Range(ge=1)]
Unit = Annotated[float, Range(gt=0, lt=1)]


@dataclass(frozen=True)
class Inner:
    steps: Count
    rate: Unit


@dataclass(frozen=True)
class Toy:
    count: Count
    rate: float
    flag: bool
    name: str
    mode: Literal["a", "b"]
    limit: Count | None
    pair: tuple[Unit, Unit]
    values: tuple[Count, ...]
    inner: Inner
    free: dict[str, Any]

    def __post_init__(self) -> None:
        if self.count > 100:
            raise ParamsError("params: 'count' must stay <= 100")


def toy(**changes) -> dict:
    raw = {"count": 3, "rate": -1.5, "flag": True, "name": "x", "mode": "a", "limit": None, "pair": [0.5, 0.25],
           "values": [1, 2], "inner": {"steps": 2, "rate": 0.5}, "free": {"k": {"deep": [1]}}}
    raw.update(changes)
    return raw


def test_every_annotation_reads_its_value():
    value = read(Toy, toy(limit=7), "section")
    assert value == Toy(3, -1.5, True, "x", "a", 7, (0.5, 0.25), (1, 2), Inner(2, 0.5), {"k": {"deep": [1]}})
    assert isinstance(read(Toy, toy(rate=2)).rate, float)  # an integer where a float is wanted is that float


@pytest.mark.parametrize(("changes", "message"), [
    ({"count": 0}, "'s.count' must be >= 1 (got 0)"),
    ({"count": 2.0}, "'s.count' must be an integer (got 2.0)"),
    ({"count": True}, "'s.count' must be an integer (got True)"),
    ({"rate": float("inf")}, "'s.rate' must be a finite number (got inf)"),
    ({"rate": "fast"}, "'s.rate' must be a finite number"),
    ({"flag": "yes"}, "'s.flag' must be true or false"),
    ({"name": 3}, "'s.name' must be a string"),
    ({"mode": "c"}, "'s.mode' must be one of a, b (got 'c')"),
    ({"limit": 0}, "'s.limit' must be >= 1"),
    ({"pair": [0.5]}, "'s.pair' must be a list of 2 entries"),
    ({"pair": [0.5, 1.0]}, "'s.pair[1]' must be < 1 (got 1.0)"),
    ({"values": []}, "'s.values' must be a non-empty list"),
    ({"values": [1, 0]}, "'s.values[1]' must be >= 1 (got 0)"),
    ({"inner": {"steps": 1, "rate": 0}}, "'s.inner.rate' must be > 0 (got 0)"),
    ({"inner": 5}, "'s.inner' must be a mapping of keys (got 5)"),
    ({"inner": {"steps": 1, "rate": 0.5, "warmup": 2}}, "unknown key 's.inner.warmup'; known here: steps, rate"),
    ({"inner": {"stpes": 1, "rate": 0.5}}, "unknown key 's.inner.stpes' (did you mean 's.inner.steps'?)"),
    ({"free": [1]}, "'s.free' must be a mapping of names"),
    ({"count": 101}, "'count' must stay <= 100"),
])
def test_each_problem_is_one_line_naming_the_key(changes, message):
    with pytest.raises(ParamsError) as error:
        read(Toy, toy(**changes), "s")
    assert message in str(error.value), str(error.value)
    assert str(error.value).startswith("params: ") and "\n" not in str(error.value)


def test_a_missing_key_is_an_error_not_a_default():
    raw = toy()
    del raw["inner"]["rate"]
    with pytest.raises(ParamsError, match=r"^params: missing key 'inner.rate'$"):
        read(Toy, raw)


def test_a_whole_file_that_is_not_a_mapping_is_refused():
    with pytest.raises(ParamsError, match="'the file' must be a mapping"):
        read(Toy, [1, 2])
