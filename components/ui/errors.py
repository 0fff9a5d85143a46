"""Where the studio's own errors become Gradio's: one sentence, no traceback.

Handlers are wrapped once with ``shows_errors`` instead of each catching ``StudioError`` itself, so
the browser and gradio_client see the same ``str(error)`` the core wrote.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import gradio as gr

from components.edit.intent import DuplicateSubmission
from components.errors import AuthError, EngineError, InputError, RateLimitError, StudioError

F = TypeVar("F", bound=Callable[..., Any])


def as_gr_error(error: StudioError) -> gr.Error:
    return gr.Error(str(error), title=_title(error), print_exception=False)


def notify(message: str, title: str, level: Literal["info", "warning", "success"] = "warning") -> None:
    """Show a toast whose heading fits it. gradio 6.31 heads every toast with its level
    ("Warning", "Info") and drops ``title``, so the level is chosen to fit (a notice is info, a
    refusal a warning, good news success) and the title leads the message as well."""
    text = message if message.startswith(title) else f"{title}: {message}"
    {"info": gr.Info, "warning": gr.Warning, "success": gr.Success}[level](text, title=title)


def shows_errors(fn: F) -> F:
    """Wrap a handler (plain, async, generator or async generator) so StudioError becomes gr.Error."""
    if inspect.isasyncgenfunction(fn):
        @functools.wraps(fn)
        async def agen(*args, **kwargs):
            try:
                async for item in fn(*args, **kwargs):
                    yield item
            except StudioError as error:
                raise as_gr_error(error) from None
        return agen  # type: ignore[return-value]
    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def coro(*args, **kwargs):
            try:
                return await fn(*args, **kwargs)
            except StudioError as error:
                raise as_gr_error(error) from None
        return coro  # type: ignore[return-value]
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except StudioError as error:
                raise as_gr_error(error) from None
        return gen  # type: ignore[return-value]

    @functools.wraps(fn)
    def plain(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except StudioError as error:
            raise as_gr_error(error) from None
    return plain  # type: ignore[return-value]


def _title(error: StudioError) -> str:
    if isinstance(error, DuplicateSubmission):
        return "Already started"
    if isinstance(error, InputError):
        return "Check the input"
    if isinstance(error, AuthError):
        return "fal key"
    if isinstance(error, RateLimitError):
        return "Slow down"
    if isinstance(error, EngineError):
        return "The edit failed"
    return "Error"
