"""Reference images (@Image1..): add several at once, remove, reorder, each with its label.

The list lives in a gr.State and is drawn with gr.render, the idiomatic way to show a list whose
length changes. Removing or moving an image renumbers the labels already in the prompt, so the
words keep pointing at the pictures the user meant.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from components.config import Settings
from components.edit.checks import check_references
from components.edit.labels import label
from components.ui.deps import Deps
from components.ui.elements import as_elements
from components.ui.errors import notify, shows_errors
from components.ui.reorder import mover, remover
from components.ui.shown import QUIET

KIND = "Image"


@dataclass(frozen=True)
class ReferenceHandles:
    images: gr.State  # list[str]: file paths, @Image1 first
    add: gr.File


def build(deps: Deps, elements: gr.State, prompt: gr.Textbox) -> ReferenceHandles:
    settings = deps.settings
    images = gr.State([])
    add = gr.File(label="Add reference images (@Image1, @Image2, …)", file_count="multiple",
                  file_types=["image"], elem_id="add-images", height=120)
    handles = ReferenceHandles(images, add)

    @shows_errors
    def on_add(files: list[str] | None, current: list[str], elems: list[dict]):
        added = [str(p) for p in deps.files.require_all(files, "Reference image", "images")]
        updated = admit_images(list(current), added, elems, settings)
        return updated, None

    add.upload(on_add, [add, images, elements], [images, add], show_progress="minimal",
               show_progress_on=add)

    @gr.render(inputs=[images])
    def draw(paths: list[str]):
        if not paths:
            return
        with gr.Row(elem_classes="reference-row"):
            for i, path in enumerate(paths, start=1):
                with gr.Column(min_width=130, scale=0, elem_classes="reference-card"):
                    gr.Image(path, label=label(KIND, i), interactive=False, height=110,
                             buttons=[], key=f"img-{i}-{path}", elem_classes="reference-thumb")
                    with gr.Row(elem_classes="card-buttons"):
                        left = gr.Button("◀", size="sm", min_width=30, interactive=i > 1,
                                         elem_classes="ref-left")
                        right = gr.Button("▶", size="sm", min_width=30, interactive=i < len(paths),
                                          elem_classes="ref-right")
                        remove = gr.Button("✕", size="sm", min_width=30, variant="stop",
                                           elem_classes="ref-remove")
                left.click(mover(KIND, i, i - 1), [images, prompt], [images, prompt], **QUIET)
                right.click(mover(KIND, i, i + 1), [images, prompt], [images, prompt], **QUIET)
                remove.click(remover(KIND, i), [images, prompt], [images, prompt], **QUIET)

    return handles


def admit_images(current: list[str], files: list[str], elements: list[dict], settings: Settings) -> list[str]:
    """Add each new image unless it would break a rule (5th reference, unreadable file); warn why."""
    for path in files:
        before = {str(f) for f in check_references(_paths(current), as_elements(elements), settings)}
        candidate = [*current, path]
        new_errors = [f for f in check_references(_paths(candidate), as_elements(elements), settings)
                      if f.level == "error" and str(f) not in before]
        if new_errors:
            notify(" ".join(str(f) for f in new_errors), "Not added")
            continue
        current = candidate
    return current


def _paths(items: list[str]) -> list[Path]:
    return [Path(p) for p in items]
