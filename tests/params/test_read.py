"""lbgap.params.read: the validators every view uses — one line naming the key, no silent default."""

from __future__ import annotations

import pytest

from lbgap.params.read import ParamsError, choice, flag, get, integer, integers, number, numbers, size_or_all

RAW = {"a": {"b": 3, "f": 0.5, "t": True, "n": None, "s": "x"}, "list": [1, 2], "floats": [0.5, 0.0], "bad": float("inf")}


def test_values_are_read_by_dotted_key():
    assert get(RAW, "a.b") == 3 and integer(RAW, "a.b", 1) == 3 and number(RAW, "a.f", positive=True) == 0.5
    assert flag(RAW, "a.t") is True and size_or_all(RAW, "a.n") is None and choice(RAW, "a.s", ["x", "y"], "thing") == "x"
    assert integers(RAW, "list", 1) == (1, 2) and numbers(RAW, "floats", positive=False) == (0.5, 0.0)
    assert numbers(RAW, "floats", positive=True, first_only=True) == (0.5,)  # the first entry alone is read


@pytest.mark.parametrize(
    ("read", "message"),
    [
        (lambda: get(RAW, "a.c"), "missing key 'a.c'"),
        (lambda: get(RAW, "a.b.c"), "missing key 'a.b.c'"),
        (lambda: integer(RAW, "a.b", 4), "'a.b' must be an integer >= 4 (got 3)"),
        (lambda: integer(RAW, "a.t", 0), "'a.t' must be an integer >= 0 (got True)"),
        (lambda: number(RAW, "bad"), "'bad' must be a finite number (got inf)"),
        (lambda: number(RAW, "a.f", minimum=1), "'a.f' must be >= 1 (got 0.5)"),
        (lambda: flag(RAW, "a.b"), "'a.b' must be true or false (got 3)"),
        (lambda: choice(RAW, "a.s", ["y"], "thing"), "unknown thing 'a.s: x'; known: y"),
        (lambda: integers(RAW, "floats", 0), "every 'floats' entry must be an integer >= 0 (got 0.5)"),
        (lambda: numbers(RAW, "floats", positive=True), "every 'floats' entry must be a finite number > 0 (got 0.0)"),
        (lambda: numbers(RAW, "a", positive=True), "'a' must be a non-empty list"),
    ],
)
def test_bad_values_name_the_key_on_one_line(read, message):
    with pytest.raises(ParamsError) as error:
        read()
    assert message in str(error.value) and str(error.value).startswith("params: ") and "\n" not in str(error.value)
