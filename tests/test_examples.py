"""The examples: server-side setups, picked by position, each with a small real before/after card.

The picker must never take a path from the browser (gr.Examples posts its sample values, paths
included, back to the server): the built page is inspected for that, not just the helper.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from assets.make_examples import EXAMPLES, HERE, THUMB_SIZE
from components.config import Settings
from components.engines.local.plan import plan_edit
from components.scratch import Scratch
from components.ui.examples import example_inputs


def test_there_are_a_look_a_palette_and_an_element_swap():
    assert len(EXAMPLES) >= 3
    plans = [plan_edit(e.prompt) for e in EXAMPLES]
    assert plans[0].looks and not plans[0].references  # a look
    assert plans[1].references and EXAMPLES[1].images  # a palette from @Image1
    assert EXAMPLES[2].elements and plans[2].needs_kling  # an element swap, listed for Kling
    for example, plan in zip(EXAMPLES, plans, strict=True):
        assert plan.does_something, example.id  # the local preview edits every one of them
        assert example.beyond.startswith("Kling O1 would")


def test_each_card_is_a_small_before_after_pair():
    for example in EXAMPLES:
        with Image.open(example.thumbnail) as card:
            assert card.size == (2 * THUMB_SIZE[0] + 2, THUMB_SIZE[1])
        assert example.thumbnail.stat().st_size < 30_000


def test_inputs_are_copies_of_the_servers_own_files(tmp_path):
    scratch = Scratch(tmp_path / "scratch", 3600)
    clip, prompt, images, elements = example_inputs(2, scratch)
    example = EXAMPLES[2]
    temp = scratch.root.resolve()
    assert prompt == example.prompt
    for path in [clip, *images, elements[0]["frontal"], *elements[0]["references"]]:
        assert Path(path).resolve().is_relative_to(temp) and Path(path).is_file()
    assert Path(clip).read_bytes() == example.clip.read_bytes()
    assert all(Path(p).resolve().is_relative_to(HERE) for p in example.images)
    with pytest.raises(IndexError):
        example_inputs(len(EXAMPLES), scratch)


def test_the_page_sends_no_input_to_the_example_handlers(tmp_path):
    import app

    demo, runner, _ = app.create_app(Settings(data_dir=tmp_path / "data"))
    try:
        handlers = [fn for fn in demo.fns.values() if fn.fn is not None
                    and fn.fn.__module__ == "components.ui.examples"]
        assert len(handlers) == len(EXAMPLES)
        assert all(fn.inputs == [] for fn in handlers)  # an example is its button, nothing else
    finally:
        runner.close()
