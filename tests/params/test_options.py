"""lbgap.params.options: a remedy's params section read into its options dataclass by the shared validators."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from lbgap.params import ParamsError
from lbgap.params.options import read_options


@dataclass(frozen=True)
class Inner:
    count: int
    weight: float


@dataclass(frozen=True)
class Options:
    rate: float
    enabled: bool
    inner: Inner


def _raw(**section) -> dict:
    return {"mitigation": {"toy": {"rate": 1, "enabled": True, "inner": {"count": 2, "weight": 0.5}, **section}}}


def test_a_section_becomes_the_dataclass_with_its_types():
    options = read_options(_raw(), "mitigation.toy", Options)
    assert options == Options(rate=1.0, enabled=True, inner=Inner(count=2, weight=0.5)) and isinstance(options.rate, float)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"mitigation": {"toy": {"rate": 1.0, "enabled": True}}}, "missing key 'mitigation.toy.inner'"),
        (_raw(extra=1), "unknown key 'mitigation.toy.extra'"),
        (_raw(rat=1), "unknown key 'mitigation.toy.rat' (did you mean 'mitigation.toy.rate'?)"),
        (_raw(rate=-1.0), "'mitigation.toy.rate' must be >= 0 (got -1.0)"),
        (_raw(rate=float("inf")), "'mitigation.toy.rate' must be a finite number"),
        (_raw(enabled=1), "'mitigation.toy.enabled' must be true or false"),
        (_raw(inner={"count": 2.5, "weight": 0.5}), "'mitigation.toy.inner.count' must be an integer >= 0"),
        (_raw(inner=3), "'mitigation.toy.inner' must be a mapping of options"),
    ],
)
def test_bad_options_name_the_key_on_one_line(raw, message):
    with pytest.raises(ParamsError) as error:
        read_options(raw, "mitigation.toy", Options)
    assert message in str(error.value) and "\n" not in str(error.value)
