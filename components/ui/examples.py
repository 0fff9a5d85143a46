"""One-click example setups from assets/ (made by assets/make_examples.py): clip, prompt, image, element.

gr.Examples fills the visible inputs (clip, prompt) and a hidden JSON with the attachments; its
``fn`` then expands that JSON into the image and element lists the studio keeps in gr.State.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import gradio as gr

from assets import make_examples as ex
from components.ui.session import scratch_dir


def setups() -> list[list]:
    attachments = {"images": [str(ex.LANDSCAPE)],
                   "elements": [{"frontal": str(ex.FRONTAL), "references": [str(ex.SIDE)]}]}
    return [[str(ex.CLIP), ex.PROMPT, attachments]]


def build(video: gr.Video, prompt: gr.Textbox, images: gr.State, elements: gr.State) -> gr.Examples:
    attachments = gr.JSON(visible=False)

    def expand(clip: str, text: str, attached: dict):
        # Copies in the temp dir: gradio serves those wherever the app was started from.
        folder = scratch_dir()

        def copy(path: str) -> str:
            return shutil.copy(path, folder / Path(path).name)

        return ([copy(p) for p in attached.get("images", [])],
                [{"frontal": copy(e["frontal"]), "references": [copy(r) for r in e.get("references", [])]}
                 for e in attached.get("elements", [])])

    return gr.Examples(setups(), [video, prompt, attachments], [images, elements], fn=expand,
                       run_on_click=True, cache_examples=False, label="Example: walker → robot in the snow",
                       example_labels=["Walker → robot in a snowy evening (clip + @Image1 + @Element1)"])
