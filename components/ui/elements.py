"""The element builder (@Element1..): a frontal image plus up to 3 reference images each.

Elements are dicts in a gr.State (``{"frontal": path | None, "references": [paths]}``) drawn with
gr.render; remove and reorder renumber the prompt's labels like the image gallery does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from components.checks import check_references
from components.config import Settings
from components.labels import label
from components.request import Element
from components.ui.errors import notify
from components.ui.reorder import mover, remover

KIND = "Element"


@dataclass(frozen=True)
class ElementHandles:
    elements: gr.State  # list[dict]
    add: gr.Button


def as_elements(items: list[dict]) -> list[Element]:
    return [Element(frontal=Path(e["frontal"]) if e.get("frontal") else None,
                    references=tuple(Path(r) for r in e.get("references", [])))
            for e in items]


def build(settings: Settings, images: gr.State, prompt: gr.Textbox, elements: gr.State) -> ElementHandles:
    """``elements`` is made by the caller: the image gallery needs it before this panel exists."""
    add = gr.Button("+ Add element", size="sm", elem_id="add-element")
    handles = ElementHandles(elements, add)

    def on_add(items: list[dict], paths: list[str]):
        candidate = [*items, {"frontal": None, "references": []}]
        if len(paths) + len(candidate) > settings.max_references:
            notify(count_message(paths, candidate, settings), "Not added")
            return items
        return candidate

    add.click(on_add, [elements, images], elements)

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
                    frontal = gr.Image(item.get("frontal"), type="filepath", label="Frontal image",
                                       height=140, sources=["upload", "clipboard"], key=f"front-{i}",
                                       elem_classes="element-frontal")
                    refs = gr.Gallery(item.get("references") or None, label=(
                        f"Reference images ({len(item.get('references', []))}/"
                        f"{settings.max_element_references})"),
                        type="filepath", interactive=True, file_types=["image"], columns=3, height=140,
                        key=f"refs-{i}", elem_classes="element-references")
            frontal.upload(_set_frontal(i), [elements, frontal], elements)
            frontal.clear(_set_frontal(i), [elements, frontal], elements)
            refs.change(_set_references(i, settings), [elements, refs], elements, show_progress="hidden")
            up.click(mover(KIND, i, i - 1), [elements, prompt], [elements, prompt])
            down.click(mover(KIND, i, i + 1), [elements, prompt], [elements, prompt])
            remove.click(remover(KIND, i), [elements, prompt], [elements, prompt])

    return handles


def count_message(images: list[str], items: list[dict], settings: Settings) -> str:
    """The checks' own sentence for too many references (one place words the limit)."""
    over = [f for f in check_references([Path(p) for p in images], as_elements(items), settings)
            if f.level == "error" and not f.field.startswith(("images[", "elements["))]
    return str(over[0]) if over else f"At most {settings.max_references} references (elements + images)."


def _set_frontal(index: int):
    def set_frontal(items: list[dict], path: str | None):
        items = [dict(e) for e in items]
        items[index - 1]["frontal"] = path
        return items
    return set_frontal


def _set_references(index: int, settings: Settings):
    def set_references(items: list[dict], gallery: list | None):
        paths = [g[0] if isinstance(g, (list, tuple)) else g for g in gallery or []]
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
