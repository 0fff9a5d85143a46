"""One-click examples (assets/make_examples.py's EXAMPLES): a card each with a before/after
thumbnail, a button, and one line on what Kling O1 would do beyond the local preview.

The browser only says *which* example: each button's handler is bound on the server to its
position in the server-side list and takes no input at all, so no path the client sends is ever
copied or served (gr.Examples posts the sample's values, paths included, back to its ``fn``).
"""

from __future__ import annotations

import html
import shutil
from pathlib import Path

import gradio as gr

from assets.make_examples import EXAMPLES, Example
from components.scratch import Scratch


def example_inputs(index: int, scratch: Scratch) -> tuple[str, str, list[str], list[dict]]:
    """Clip, prompt, image list and element list for example ``index``, as the studio's inputs
    hold them. Copies go to a fresh scratch folder (like uploads, the only files a handler may
    open for a client), so the assets themselves are never linked into job folders or touched by
    retention."""
    if not 0 <= index < len(EXAMPLES):
        raise IndexError(f"there is no example {index}")
    example = EXAMPLES[index]
    folder = scratch.new_folder()

    def copy(path: Path) -> str:
        return shutil.copy(path, folder / path.name)

    return (copy(example.clip), example.prompt, [copy(p) for p in example.images],
            [{"frontal": copy(frontal), "references": [copy(r) for r in others]}
             for frontal, others in example.elements])


def build(video: gr.Video, prompt: gr.Textbox, images: gr.State, elements: gr.State, scratch: Scratch,
          fix_note: gr.Markdown | None = None) -> list[gr.Button]:
    """The example cards in a row; returns their buttons (``#example-<id>``)."""
    buttons = []
    with gr.Row(elem_id="examples", equal_height=True):
        for index, example in enumerate(EXAMPLES):
            buttons.append(_card(index, example, video, prompt, images, elements, scratch, fix_note))
    return buttons


def _card(index: int, example: Example, video: gr.Video, prompt: gr.Textbox, images: gr.State,
          elements: gr.State, scratch: Scratch, fix_note: gr.Markdown | None) -> gr.Button:
    # One low row per card (the before/after beside its button and note), so the examples take a
    # strip above the studio and the clip, instruction and Generate still fit the first screen.
    with gr.Row(equal_height=False, elem_classes="example-card"):
        gr.Image(str(example.thumbnail), show_label=False, interactive=False, buttons=[], height=56,
                 width=200, container=False, scale=0, min_width=200, elem_classes="example-thumb")
        with gr.Column(min_width=150, elem_classes="example-words"):
            button = gr.Button(example.title, size="sm", elem_id=f"example-{example.id}")
            gr.HTML(f'<p class="example-beyond">{html.escape(example.beyond)}</p>', padding=False)

    outputs = [video, prompt, images, elements, *([fix_note] if fix_note is not None else [])]

    def load():
        clip, text, paths, items = example_inputs(index, scratch)
        return [clip, text, paths, items, *([""] if fix_note is not None else [])]

    button.click(load, None, outputs, show_progress="minimal")
    return button
