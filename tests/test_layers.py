"""The package's folders show the pipeline: each layer imports only from the layers before it, so there is
no cycle and no back edge (a measure never imports the report, a model never imports training)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]  # the repository root
# bottom to top. params sits above the registries it validates names against (data sets, models, devices,
# BN modes, remedies) and builds the training loop's config; evaluation and batchnorm live with training.
LAYERS = ["results", "tensors", "devices", "data", "models", "train", "measures", "remedies", "params", "experiments", "report"]


def layer_of(module: str) -> str:
    return module.split(".")[1]


def imports_of(path: Path) -> set[str]:
    """The lbgap modules `path` imports (at any depth of the file, so imports inside functions count)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "lbgap":  # from lbgap import data
            found |= {f"lbgap.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.startswith("lbgap."):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("lbgap.")}
    return found


def test_every_module_belongs_to_a_layer():
    modules = {p.relative_to(REPO / "lbgap").parts[0].removesuffix(".py") for p in (REPO / "lbgap").rglob("*.py")}
    assert modules - {"__init__"} == set(LAYERS)


def test_no_layer_imports_from_a_later_one():
    back_edges = []
    for path in sorted((REPO / "lbgap").rglob("*.py")):
        own = path.relative_to(REPO / "lbgap").parts[0].removesuffix(".py")
        if own == "__init__":
            continue
        for module in imports_of(path):
            if LAYERS.index(layer_of(module)) > LAYERS.index(own):
                back_edges.append(f"{path.relative_to(REPO)} → {module}")
    assert not back_edges, "imports against the pipeline's direction:\n" + "\n".join(back_edges)


def test_the_check_sees_imports_inside_functions():
    """lbgap/report/figures.py imports PathPoint only for type checking, inside an `if`: the scan must see
    it (else a back edge hidden in a function would pass)."""
    assert "lbgap.measures.landscape" in imports_of(REPO / "lbgap/report/figures.py")
