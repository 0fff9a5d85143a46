"""What a Space installs: requirements.txt must hold everything app.py imports there, sign-in
included (the README's front matter turns on ``hf_oauth``; without gradio's ``oauth`` extra the
Space exited with an ImportError as soon as gr.LoginButton was built)."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _requirements() -> dict[str, tuple[set[str], str]]:
    """name -> (extras, pinned version) of every line of requirements.txt."""
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            match = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[([a-z,]+)\])?==([\w.]+)", line)
            assert match, f"not pinned: {line!r}"
            pins[match[1].lower()] = (set((match[2] or "").split(",")) - {""}, match[3])
    return pins


def test_a_space_with_sign_in_gets_gradios_oauth_extra_pinned():
    front = (ROOT / "README.md").read_text().split("---")[1]
    assert re.search(r"^hf_oauth: true$", front, re.M)
    pins = _requirements()
    extras, gradio = pins["gradio"]
    assert "oauth" in extras and gradio == version("gradio") == re.search(r"sdk_version: (\S+)", front)[1]
    for name in ("authlib", "itsdangerous"):  # the extra's own requirements, pinned as installed
        assert pins[name][1] == version(name)
