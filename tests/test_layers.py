"""The package reads from its folders: each layer imports only from the layers below it, and no
module is over 400 lines. Lowest first; a module imports its own layer's siblings freely."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "components"
LAYERS = [
    {"config", "errors", "secret", "units", "atomic", "digest"},  # ground: no studio imports but each other
    {"media"},  # ffmpeg and the clips' facts
    {"edit"},  # the request model, its labels, checks and modes
    {"guard"},  # what stands between a client and the server: files, folders, keys, HTTP
    {"engines"},  # fal and the local preview
    {"segments"},  # a long clip's plan, cut and join
    {"jobs"},  # durable jobs and their runner
    {"admission"},  # who may start what: budget, session and local shares
    {"share"},  # share links
    {"service"},  # the one door
    {"ui"},  # gradio
]
MAX_LINES = 400


def _layer(module: str) -> int:
    top = module.split(".")[1] if module.count(".") >= 1 else module
    for index, names in enumerate(LAYERS):
        if top in names:
            return index
    raise AssertionError(f"{module} is in no layer: add its folder to LAYERS")


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if module != "components":
            found.append((module, path))
    return found


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("components"):
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names
                         if (ROOT.parent / node.module.replace(".", "/") / f"{a.name}.py").is_file())
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("components"))
    return {n for n in names if n != "components"}


@pytest.mark.parametrize(("module", "path"), _modules(), ids=[m for m, _ in _modules()])
def test_imports_only_from_layers_below(module, path):
    mine = _layer(module)
    upward = sorted(n for n in _imports(path) if _layer(n) > mine)
    assert not upward, f"{module} (layer {mine}) imports from above: {upward}"


@pytest.mark.parametrize(("module", "path"), _modules(), ids=[m for m, _ in _modules()])
def test_no_module_is_over_400_lines(module, path):
    assert len(path.read_text().splitlines()) <= MAX_LINES, module
