"""One-click examples (assets/make_examples.py's EXAMPLES): a card each with a before/after
thumbnail, a button, and one line on what Kling O1 would do beyond the local preview.

The browser only says *which* example: each button's handler is bound on the server to its
position in the server-side list and takes no input at all, so no path the client sends is ever
copied or served (gr.Examples posts the sample's values, paths included, back to its ``fn``).

A pick writes nothing: it hands the page the server's own asset files (``TrustedFiles`` accepts
exactly these, see ``example_files``). gradio keeps one copy of the clip in its cache, named by
its content, however many times it is picked; a copy per click was 29 MB for 400 clicks.
"""

from __future__ import annotations

import html
from pathlib import Path

import gradio as gr

from assets.make_examples import EXAMPLES, Example


def example_inputs(index: int) -> tuple[str, str, list[str], list[dict]]:
    """Clip, prompt, image list and element list for example ``index``, as the studio's inputs
    hold them: the server's own files, which a job links or copies into its folder like any input
    (retention then removes the job's copy, never the asset)."""
    if not 0 <= index < len(EXAMPLES):
        raise IndexError(f"there is no example {index}")
    example = EXAMPLES[index]
    return (str(example.clip), example.prompt, [str(p) for p in example.images],
            [{"frontal": str(frontal), "references": [str(r) for r in others]}
             for frontal, others in example.elements])


def example_files() -> list[Path]:
    """Every media file an example hands the page: the files a client may name besides its uploads."""
    return sorted({path for example in EXAMPLES
                   for path in (example.clip, *example.images,
                                *(p for frontal, others in example.elements for p in (frontal, *others)))})


def build(video: gr.Video, prompt: gr.Textbox, images: gr.State, elements: gr.State,
          fix_note: gr.Markdown | None = None) -> list[gr.Button]:
    """The example cards in a row; returns their buttons (``#example-<id>``)."""
    buttons = []
    with gr.Row(elem_id="examples", equal_height=True):
        for index, example in enumerate(EXAMPLES):
            buttons.append(_card(index, example, video, prompt, images, elements, fix_note))
    return buttons


def _card(index: int, example: Example, video: gr.Video, prompt: gr.Textbox, images: gr.State,
          elements: gr.State, fix_note: gr.Markdown | None) -> gr.Button:
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
        clip, text, paths, items = example_inputs(index)
        return [clip, text, paths, items, *([""] if fix_note is not None else [])]

    button.click(load, None, outputs, show_progress="minimal", show_progress_on=video)
    return button
