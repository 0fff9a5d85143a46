"""Modules as they were at an earlier commit, loaded from git, so a benchmark can time the code a
change replaced next to the code that replaced it, in the same run on the same machine."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load(rev: str, path: str, name: str) -> ModuleType | None:
    """``path`` (e.g. "components/engines/local/render.py") as it was at ``rev``, imported as module
    ``name``; its own imports resolve against this tree. None when git or the commit is missing."""
    try:
        source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{path}"], capture_output=True,
                                text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    folder = Path(tempfile.mkdtemp(prefix="bench-before-"))
    file = folder / f"{name}.py"
    file.write_text(source)
    spec = importlib.util.spec_from_file_location(name, file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module
