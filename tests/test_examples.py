"""The examples: server-side setups, picked by position, each with a small real before/after card.

The picker must never take a path from the browser (gr.Examples posts its sample values, paths
included, back to the server): the built page is inspected for that, not just the helper.
"""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr
import pytest
from PIL import Image

from assets.make_examples import EXAMPLES, HERE, THUMB_SIZE
from components.config import Settings
from components.engines.local.plan import plan_edit
from components.guard.trusted_files import TrustedFiles
from components.ui.examples import build, example_files, example_inputs
from tests.inprocess import call, running_studio


def test_there_are_a_look_a_palette_and_an_element_swap():
    assert len(EXAMPLES) >= 3
    plans = [plan_edit(e.prompt) for e in EXAMPLES]
    assert plans[0].looks and not plans[0].references  # a look
    assert plans[1].references and EXAMPLES[1].images  # a palette from @Image1
    assert EXAMPLES[2].elements and plans[2].needs_kling  # an element swap, listed for Kling
    for example, plan in zip(EXAMPLES, plans, strict=True):
        assert plan.does_something, example.id  # the local preview edits every one of them
        assert example.beyond.startswith("Kling O1 would")


def test_the_element_swap_button_promises_no_robot_from_the_local_preview():
    """The card's button is what a presenter without a key reads before clicking: it says the
    preview recolours, so the robot is promised only of Kling O1."""
    with gr.Blocks():
        buttons = build(gr.Video(), gr.Textbox(), gr.State([]), gr.State([]))
    swap = next(b for b, e in zip(buttons, EXAMPLES, strict=True) if e.id == "robot-swap")
    assert swap.value == "Walker → robot: Kling O1 swaps; the preview recolours"


def test_each_card_is_a_small_before_after_pair():
    for example in EXAMPLES:
        with Image.open(example.thumbnail) as card:
            assert card.size == (2 * THUMB_SIZE[0] + 2, THUMB_SIZE[1])
        assert example.thumbnail.stat().st_size < 30_000


def test_inputs_are_the_servers_own_files_and_trusted_as_such(tmp_path):
    clip, prompt, images, elements = example_inputs(2)
    example = EXAMPLES[2]
    assert prompt == example.prompt
    named = [clip, *images, elements[0]["frontal"], *elements[0]["references"]]
    assert {Path(p) for p in named} <= set(example_files())
    assert all(Path(p).resolve().is_relative_to(HERE) for p in example_files())
    files = TrustedFiles.of([tmp_path / "uploads"], example_files())
    assert all(files.find(p) == Path(p).resolve() for p in named)
    assert files.find(HERE / "make_examples.py") is None  # the asset folder itself is not trusted
    with pytest.raises(IndexError):
        example_inputs(len(EXAMPLES))


def test_repeated_picks_write_nothing_after_the_first(tmp_path):
    """The issue's finding: 400 picks in 5.3 s added 29 MB (a copy of the example per pick), so
    twenty picks would have left twenty copies."""
    with running_studio(tmp_path) as studio:
        pick = next(i for i, fn in studio.studio.demo.fns.items()
                    if fn.fn is not None and fn.fn.__module__ == "components.ui.examples")
        first = call(studio.url, pick, [])
        written = _files(tmp_path)
        urls = {json.dumps(call(studio.url, pick, [])["output"]["data"][0]) for _ in range(20)}
        assert _files(tmp_path) == written
    assert first["success"] and urls == {json.dumps(first["output"]["data"][0])}


def _files(root: Path) -> dict[str, int]:
    """Every file under ``root`` but the job store's own (SQLite writes its journal as it likes)."""
    return {str(p): p.stat().st_size for p in root.rglob("*") if p.is_file() and ".sqlite3" not in p.name}


def test_the_page_sends_no_input_to_the_example_handlers(tmp_path):
    import app

    demo, runner, *_ = app.create_app(Settings(data_dir=tmp_path / "data"))
    try:
        handlers = [fn for fn in demo.fns.values() if fn.fn is not None
                    and fn.fn.__module__ == "components.ui.examples"]
        assert len(handlers) == len(EXAMPLES)
        assert all(fn.inputs == [] for fn in handlers)  # an example is its button, nothing else
    finally:
        runner.close()
