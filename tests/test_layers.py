"""The package's folders show the pipeline: each layer imports only from the layers before it, so there is
no cycle and no back edge (a measure never imports the report, a model never imports training), and the
core never imports the stages that orchestrate it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]  # the repository root
# bottom to top. params sits at the bottom: it declares every key and vocabulary and imports nothing of
# lbgap; evaluation and batchnorm live with training.
LAYERS = ["params", "results", "tensors", "devices", "data", "models", "train", "measures", "remedies", "experiments", "report"]


def layer_of(module: str) -> str:
    return module.split(".")[1]


def imports_of(path: Path) -> set[str]:
    """The lbgap and stages modules `path` imports, at any depth of the file (imports inside functions
    count) and relative imports resolved against the file's package."""
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # from . import x, from ..data import y
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(parent + ([base] if base else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]  # a module, or names in one
            found |= {n for n in names if n.split(".")[0] in ("lbgap", "stages") and "." in n}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] in ("lbgap", "stages")}
    return found


def test_every_module_belongs_to_a_layer():
    modules = {p.relative_to(REPO / "lbgap").parts[0].removesuffix(".py") for p in (REPO / "lbgap").rglob("*.py")}
    assert modules - {"__init__"} == set(LAYERS)


def test_no_layer_imports_from_a_later_one_and_the_core_never_imports_a_stage():
    back_edges = []
    for path in sorted((REPO / "lbgap").rglob("*.py")):
        own = path.relative_to(REPO / "lbgap").parts[0].removesuffix(".py")
        if own == "__init__":
            continue
        for module in imports_of(path):
            if module.startswith("stages") or LAYERS.index(layer_of(module)) > LAYERS.index(own):
                back_edges.append(f"{path.relative_to(REPO)} → {module}")
    assert not back_edges, "imports against the pipeline's direction:\n" + "\n".join(back_edges)


def test_reading_params_needs_no_training_code_and_no_network():
    """stages/params.py (which every stage runs first, prepare included) imports neither lbgap.train nor
    lbgap.models, so editing either re-runs no stage that does not train or build a network. (Checking the
    remedies' options imports each remedy's module by name: a check, which no output depends on.)"""
    seen, todo = set(), [REPO / "stages/params.py"]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in imports_of(path):
            for candidate in (REPO / (module.replace(".", "/") + ".py"), REPO / module.replace(".", "/") / "__init__.py"):
                if candidate.is_file():
                    todo.append(candidate)
    reached = {str(p.relative_to(REPO)) for p in seen}
    assert not [p for p in reached if p.startswith(("lbgap/train", "lbgap/models"))], sorted(reached)


@pytest.mark.parametrize(("source", "expected"), [
    ("from lbgap.report import figures", "lbgap.report.figures"),
    ("from lbgap.measures.landscape import PathPoint", "lbgap.measures.landscape"),
    ("from ..train import loop", "lbgap.train.loop"),
    ("from .maximizer import Maximizer", "lbgap.measures.maximizer"),
    ("def f():\n    from stages.inputs import load_inputs", "stages.inputs"),
])
def test_the_scan_sees_absolute_relative_and_nested_imports(source, expected, tmp_path, monkeypatch):
    """Written into a module of lbgap/measures/, each import is found (a back edge hidden in a function or
    a relative import would otherwise pass)."""
    path = REPO / "lbgap/measures/_scan_probe.py"
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: source if self == path else Path.read_bytes(self).decode())
    assert expected in imports_of(path)
