"""The instruction box: label buttons that insert at the cursor, and live checks under it.

The browser knows where the cursor is, Python knows the label rules (labels.insert_label): a
button's js= step reads the textarea's selection and hands it to Python with the text, and a
follow-up js= step puts the cursor back right after the inserted label.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from components.config import Settings
from components.edit.checks import check_prompt, check_references
from components.edit.labels import insert_label, label
from components.errors import Finding
from components.ui.elements import as_elements
from components.ui.shown import QUIET
from components.ui.video_panel import findings_html

PROMPT_ID = "prompt-box"
READ_SELECTION_JS = f"""(text, start, end) => {{
  const box = document.querySelector('#{PROMPT_ID} textarea');
  if (!box) return [text, text.length, text.length];
  return [box.value, box.selectionStart, box.selectionEnd];
}}"""
PLACE_CURSOR_JS = f"""(cursor) => {{
  setTimeout(() => {{
    const box = document.querySelector('#{PROMPT_ID} textarea');
    if (box) {{ box.focus(); box.setSelectionRange(cursor, cursor); }}
  }}, 50);
}}"""


@dataclass(frozen=True)
class PromptHandles:
    prompt: gr.Textbox
    labels_row: gr.Row  # filled by wire() once the attachment lists exist
    checks: gr.HTML


def build(settings: Settings) -> PromptHandles:
    prompt = gr.Textbox(label="Instruction", lines=3, max_lines=12, elem_id=PROMPT_ID,
                        placeholder="Replace the character with @Element1 … "
                                    "transform the landscape into @Image1")
    labels_row = gr.Row(elem_id="label-buttons")
    checks = gr.HTML("", elem_id="prompt-checks", padding=False)
    return PromptHandles(prompt, labels_row, checks)


def wire(h: PromptHandles, images: gr.State, elements: gr.State, settings: Settings) -> None:
    """Label buttons need the attachment lists, which are built after the box."""
    start = gr.Number(0, visible=False, precision=0)
    end = gr.Number(0, visible=False, precision=0)

    # Static buttons (at most max_references of each kind) shown or hidden as attachments come and
    # go: a gr.render would rebuild them on every change, and a click landing mid-rebuild is lost.
    n = settings.max_references
    labels = [label("Image", i) for i in range(1, n + 1)] + [label("Element", i) for i in range(1, n + 1)]
    with h.labels_row:
        hint = gr.Markdown("Attach images or elements to get their @labels here.", elem_classes="hint")
        buttons = [gr.Button(text, size="sm", min_width=80, scale=0, visible=False,
                             elem_classes="label-button") for text in labels]
    for text, button in zip(labels, buttons, strict=True):
        button.click(_inserter(text), [h.prompt, start, end], [h.prompt, start],
                     js=READ_SELECTION_JS, **QUIET, queue=False
                     ).then(None, start, None, js=PLACE_CURSOR_JS)

    def show(paths: list[str], items: list[dict]):
        shown = [i < len(paths) for i in range(n)] + [i < len(items) for i in range(n)]
        return [gr.Markdown(visible=not any(shown))] + [gr.Button(visible=v) for v in shown]

    gr.on([images.change, elements.change], show, [images, elements], [hint, *buttons],
          **QUIET, queue=False)


def prompt_findings(text: str, paths: list[str], items: list[dict], settings: Settings) -> list[Finding]:
    return [*check_prompt(text or "", len(paths), len(items), settings),
            *check_references([Path(p) for p in paths], as_elements(items), settings)]


def checks_html(findings: list[Finding], used: int, settings: Settings) -> str:
    over = used > settings.prompt_max_chars
    counter = (f'<span class="prompt-length{" over" if over else ""}">'
               f"{used:,} / {settings.prompt_max_chars:,} characters</span>")
    return f'<div class="prompt-checks">{counter}{findings_html(findings)}</div>'


def _inserter(text: str):
    def insert(prompt: str, start: float | None, end: float | None):
        new, cursor = insert_label(prompt or "", text, _int(start), _int(end))
        return new, cursor
    return insert


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)

