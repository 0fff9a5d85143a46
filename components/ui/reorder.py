"""Moving or removing an attachment, shared by the image list and the element list.

The list and the prompt change in one event, so the @labels never point at the wrong attachment,
not even for a moment: a move renumbers the labels to follow their attachment, a removal marks the
removed one's mentions and warns (labels.renumber_after_remove).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from components.edit.labels import Kind, renumber_after_move, renumber_after_remove
from components.ui.errors import notify

Handler = Callable[[list[Any], str], tuple[list[Any], str]]


def mover(kind: Kind, index: int, to: int) -> Handler:
    """Handler moving attachment ``index`` (1-based) to position ``to``."""
    def move(items: list[Any], prompt: str) -> tuple[list[Any], str]:
        items = list(items)
        items.insert(to - 1, items.pop(index - 1))
        return items, renumber_after_move(prompt, kind, index, to)
    return move


def remover(kind: Kind, index: int) -> Handler:
    """Handler removing attachment ``index`` (1-based)."""
    def remove(items: list[Any], prompt: str) -> tuple[list[Any], str]:
        items = [item for i, item in enumerate(items, start=1) if i != index]
        text, warnings = renumber_after_remove(prompt, kind, index)
        for warning in warnings:
            notify(warning, "Reword the instruction", "info")
        return items, text
    return remove
