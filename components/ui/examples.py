"""One-click example setups from assets/ (made by assets/make_examples.py): clip, prompt, image, element.

Each example is a button whose handler takes no input at all: the files are the ones the server
lists here, so no client value can name a path (an earlier version round-tripped the attachment
paths through a hidden JSON component, which let a script copy any server file into the page).
The attachments are copied into a scratch folder, like uploads, so removing them later touches
only the copies.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from assets import make_examples as ex
from components.scratch import Scratch


@dataclass(frozen=True)
class Example:
    label: str
    clip: Path
    prompt: str
    images: tuple[Path, ...] = ()
    elements: tuple[tuple[Path, tuple[Path, ...]], ...] = ()  # (frontal, references)


EXAMPLES: tuple[Example, ...] = (
    Example("Walker → robot in a snowy evening (clip + @Image1 + @Element1)", ex.CLIP, ex.PROMPT,
            images=(ex.LANDSCAPE,), elements=((ex.FRONTAL, (ex.SIDE,)),)),
)


def build(video: gr.Video, prompt: gr.Textbox, images: gr.State, elements: gr.State,
          scratch: Scratch) -> list[gr.Button]:
    buttons = []
    with gr.Row(elem_id="examples"):
        gr.Markdown("**Try an example:**", elem_classes="examples-title")
        for example in EXAMPLES:
            button = gr.Button(example.label, size="sm", elem_classes="example-button")
            button.click(_loader(example, scratch), None, [video, prompt, images, elements])
            buttons.append(button)
    return buttons


def _loader(example: Example, scratch: Scratch):
    def load():
        folder = scratch.new_folder()

        def copy(path: Path) -> str:
            return str(shutil.copy(path, folder / path.name))

        return (str(example.clip), example.prompt, [copy(p) for p in example.images],
                [{"frontal": copy(front), "references": [copy(r) for r in refs]}
                 for front, refs in example.elements])
    return load
