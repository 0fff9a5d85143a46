"""The element builder (@Element1..): a frontal image plus 1-4 reference images (other angles) each,
as fal's schema requires: an element with no other angle is flagged by the live checks and blocks
Generate, a fifth angle is not kept.

Elements are dicts in a gr.State (``{"frontal": path | None, "references": [paths]}``) drawn with
gr.render; remove and reorder renumber the prompt's labels like the image gallery does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from components.config import Settings
from components.edit.checks import check_references
from components.edit.labels import label
from components.edit.request import Element
from components.guard.trusted_files import TrustedFiles
from components.ui.deps import Deps
from components.ui.errors import notify, shows_errors
from components.ui.reorder import mover, remover
from components.ui.shown import QUIET

KIND = "Element"


@dataclass(frozen=True)
class ElementHandles:
    elements: gr.State  # list[dict]
    add: gr.Button


def as_elements(items: list[dict]) -> list[Element]:
    return [Element.from_dict(e) for e in items]


def build(deps: Deps, images: gr.State, prompt: gr.Textbox, elements: gr.State) -> ElementHandles:
    """``elements`` is made by the caller: the image gallery needs it before this panel exists."""
    settings = deps.settings
    add = gr.Button("+ Add element", size="sm", elem_id="add-element")
    handles = ElementHandles(elements, add)

    def on_add(items: list[dict], paths: list[str]):
        candidate = [*items, {"frontal": None, "references": []}]
        if len(paths) + len(candidate) > settings.max_references:
            notify(count_message(paths, candidate, settings), "Not added")
            return items
        return candidate

    add.click(on_add, [elements, images], elements, **QUIET)

    @gr.render(inputs=[elements])
    def draw(items: list[dict]):
        for i, item in enumerate(items, start=1):
            with gr.Group(elem_classes="element-card"):
                with gr.Row(equal_height=False):
                    gr.Markdown(f"**{label(KIND, i)}**", elem_classes="element-label")
                    up = gr.Button("▲", size="sm", min_width=30, scale=0, interactive=i > 1)
                    down = gr.Button("▼", size="sm", min_width=30, scale=0, interactive=i < len(items))
                    remove = gr.Button("✕", size="sm", min_width=30, scale=0, variant="stop",
                                       elem_classes="element-remove")
                with gr.Row():
                    # image_mode=None: gradio hands over the uploaded file as it is instead of
                    # decoding it to convert its colour mode, so the header checks run first.
                    # No download/share/fullscreen toolbars: in half a column they sat on the labels,
                    # and the pictures are the user's own.
                    frontal = gr.Image(item.get("frontal"), type="filepath", image_mode=None,
                                       label="Frontal", buttons=[],
                                       height=140, sources=["upload", "clipboard"], key=f"front-{i}",
                                       elem_classes="element-frontal")
                    refs = gr.Gallery(item.get("references") or None, label=(
                        f"Other angles ({len(item.get('references', []))}/"
                        f"{settings.max_element_references}, ≥{settings.min_element_references})"),
                        type="filepath", interactive=True, file_types=["image"], columns=3, height=140,
                        buttons=[], key=f"refs-{i}", elem_classes="element-references")
            frontal.upload(_set_frontal(i, deps.files), [elements, frontal], elements, **QUIET)
            frontal.clear(_set_frontal(i, deps.files), [elements, frontal], elements, **QUIET)
            refs.change(_set_references(i, settings, deps.files), [elements, refs], elements, **QUIET)
            up.click(mover(KIND, i, i - 1), [elements, prompt], [elements, prompt], **QUIET)
            down.click(mover(KIND, i, i + 1), [elements, prompt], [elements, prompt], **QUIET)
            remove.click(remover(KIND, i), [elements, prompt], [elements, prompt], **QUIET)

    return handles


def count_message(images: list[str], items: list[dict], settings: Settings) -> str:
    """The checks' own sentence for too many references (one place words the limit)."""
    over = [f for f in check_references([Path(p) for p in images], as_elements(items), settings)
            if f.level == "error" and not f.field.startswith(("images[", "elements["))]
    return str(over[0]) if over else f"At most {settings.max_references} references (elements + images)."


def _set_frontal(index: int, files: TrustedFiles):
    @shows_errors
    def set_frontal(items: list[dict], path: str | None):
        frontal = files.optional(path, f"{label(KIND, index)}'s frontal image",
                                 f"elements[{index - 1}].frontal")
        if index > len(items):
            return gr.skip()
        items = [dict(e) for e in items]
        items[index - 1]["frontal"] = str(frontal) if frontal else None
        return items
    return set_frontal


def _set_references(index: int, settings: Settings, files: TrustedFiles):
    @shows_errors
    def set_references(items: list[dict], gallery: list | None):
        paths = [str(p) for p in files.require_all(gallery, f"{label(KIND, index)}'s reference image",
                                                    f"elements[{index - 1}].references")]
        if index > len(items):
            return gr.skip()
        cap = settings.max_element_references
        if len(paths) > cap:
            notify(f"{label(KIND, index)} takes at most {cap} reference images besides the frontal one; "
                   f"kept the first {cap} of {len(paths)}.", "Too many references")
            paths = paths[:cap]
        items = [dict(e) for e in items]
        if items[index - 1].get("references", []) == paths:
            return gr.skip()
        items[index - 1]["references"] = paths
        return items
    return set_references
