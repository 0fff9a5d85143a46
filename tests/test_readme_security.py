"""README's Security section is what an operator of a public Space reads to know what is bounded and
by which setting, and where to look in the code: every file and setting it names must exist, each
bound must carry its setting's name, and the module it names for reading a client's address must be
the one that does. Read from the code, so a module that moves or a setting that is renamed shows here.
"""

from __future__ import annotations

import ast
import re
from dataclasses import fields
from pathlib import Path

from components.config import Settings

ROOT = Path(__file__).resolve().parents[1]
# The bounds a stranger's requests run into, as the section describes them (Settings field names).
BOUNDS = ("min_free_disk_mb", "max_request_kb", "upload_mb_per_hour", "upload_files_per_hour",
          "upload_ttl_hours", "url_fetch_timeout_s", "file_link_hours", "server_budget_usd_per_day",
          "server_edits_per_ip_per_hour", "api_concurrency", "max_source_megapixels_per_s",
          "local_jobs_queued", "local_seconds_per_hour")


def _security() -> str:
    readme = (ROOT / "README.md").read_text()
    return readme.split("\n## Security\n", 1)[1].split("\n## ", 1)[0]


def _env_names() -> dict[str, str]:
    return {f.name: f.metadata["env"] for f in fields(Settings) if "env" in f.metadata}


def test_the_section_names_real_settings_and_each_bound_with_its_setting():
    text, names = _security(), _env_names()
    assert sorted(set(re.findall(r"\bSTUDIO_[A-Z0-9_]+", text)) - set(names.values())) == []
    assert [names[b] for b in BOUNDS if names[b] not in text] == []


def test_the_section_names_real_files_and_the_module_that_reads_the_client_address():
    """Every per-address limit reads the client from one function; the section points at its module."""
    text = _security()
    files = re.findall(r"`((?:components|tests)/[\w/]+\.py)`", text)
    assert files and [f for f in files if not (ROOT / f).is_file()] == []
    readers = [path.relative_to(ROOT).as_posix() for path in sorted((ROOT / "components").rglob("*.py"))
               if any(isinstance(node, ast.FunctionDef) and node.name == "client_address"
                      for node in ast.parse(path.read_text()).body)]
    [named] = re.findall(r"reads the address from one place \(`([^`]+)`\)", text)
    assert readers == [named]
