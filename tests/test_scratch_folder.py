"""Where the scratch folder may live: gradio hands the page a file a handler returns only from its
upload folder, the system's temp folder or the folder the app runs in, so Fix it, a fetched link and
a restore fail for a scratch folder anywhere else. The studio refuses such a folder at start."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

import app
from components.config import Settings

OUTSIDE = Path("/srv/studio-scratch")  # neither temp nor the app's folder; never created here


def test_the_default_and_folders_inside_what_gradio_takes_are_accepted(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    for inside in (Settings().scratch_dir, Path(tempfile.gettempdir()) / "a" / "b",
                   tmp_path / "gradio" / "scratch", Path.cwd() / "scratch"):
        app.check_scratch_reachable(inside)  # no error


def test_a_folder_outside_them_is_refused_with_where_it_may_go(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    with pytest.raises(ValueError) as refused:
        app.check_scratch_reachable(OUTSIDE)
    message = str(refused.value)
    assert message.startswith(f"STUDIO_SCRATCH_DIR='{OUTSIDE}' is outside the folders gradio hands")
    for home in (tmp_path / "gradio", Path(tempfile.gettempdir()), Path.cwd()):
        assert str(home) in message
    assert "Fix it" in message and "unset it to use the default" in message


def test_a_symlink_into_temp_from_outside_is_judged_by_where_it_leads(tmp_path):
    inside_link = tmp_path / "link-to-outside"
    inside_link.symlink_to(OUTSIDE, target_is_directory=True)
    with pytest.raises(ValueError, match="STUDIO_SCRATCH_DIR"):
        app.check_scratch_reachable(inside_link / "scratch")


def test_the_studio_is_not_built_on_an_unreachable_scratch_folder(tmp_path):
    with pytest.raises(ValueError, match="STUDIO_SCRATCH_DIR"):
        app.create_app(replace(Settings(), data_dir=tmp_path / "data", scratch_dir=OUTSIDE))
    assert not (tmp_path / "data").exists()  # refused before the job database was made
