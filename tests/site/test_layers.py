"""The layers of STYLE.md hold without tricks: no project import hides inside a function.

import-linter (`.importlinter`, run by CI) checks that every import points down; a lazy
import inside a function would slip past it, so this test forbids those outright.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ["core", "audit", "registry", "permissions", "ipp", "publishing", "portal", "ippsite"]


def _sources():
    for layer in LAYERS:
        for path in sorted((ROOT / layer).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def _lazy_project_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.ImportFrom) and inner.module:
                top = inner.module.split(".")[0]
            elif isinstance(inner, ast.Import):
                top = inner.names[0].name.split(".")[0]
            else:
                continue
            if top in LAYERS:
                found.append(f"{path.relative_to(ROOT)}:{inner.lineno}")
    return found


@pytest.mark.parametrize("path", list(_sources()), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_project_import_inside_a_function(path):
    assert _lazy_project_imports(path) == []


def test_the_layer_contract_lists_every_layer_in_order():
    text = (ROOT / ".importlinter").read_text()
    listed = [line.strip() for line in text.split("layers =")[1].strip().splitlines()]
    assert listed == list(reversed(LAYERS))
