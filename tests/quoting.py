"""The docs-number tests' shared reading: a phrase with {path:format} placeholders rendered as a page prints it
(the minus sign U+2212, as typeset), and text compared with its whitespace runs as one space."""

from __future__ import annotations

import re
from typing import Callable


def spaced(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def render(phrase: str, value: Callable[[str], float]) -> str:
    """`phrase` with each {path:format} replaced by format(value(path), format), whitespace runs as one space."""
    return spaced(re.sub(r"\{([^{}:]+):([^{}]+)\}", lambda m: format(value(m.group(1)), m.group(2)).replace("-", "−"), phrase))
