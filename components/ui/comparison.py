"""The before/after comparison player: one gr.HTML whose JS keeps two <video>s on one clock.

Why a gr.HTML and not two gr.Video: two independent players drift apart and cannot share a seek
bar, frame steps or a wipe view. gr.HTML (Gradio 6) takes a static template, scoped CSS and a
js_on_load script, so the whole player fits in one without a custom component package: the
markup is TEMPLATE below, the behaviour comparison.js, the look comparison.css.

Why the files travel as plain ``{"url", "orig_name"}`` inside the value, not as FileData: gradio
would copy a FileData's file into its cache and serve it to anyone by path, and a job's files may
be opened only by their owner. The URLs are signed links of the studio's own route (made by the
caller, components/ui/links.py), which answers HTTP Range requests, so the browser seeks without
downloading the whole clip.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from components.errors import MediaError
from components.media.probe import probe

_HERE = Path(__file__).parent

TEMPLATE = """
<div class="kcmp" data-view="side" data-state="empty" tabindex="0" aria-label="Comparison player">
  <p class="kcmp-empty">The original and the edit play here side by side once an edit finishes.</p>
  <p class="kcmp-error" role="alert" hidden></p>
  <div class="kcmp-stage">
    <figure class="kcmp-pane kcmp-pane-orig">
      <video class="kcmp-v-orig" playsinline preload="auto" muted></video>
      <figcaption class="kcmp-label kcmp-label-orig">Original</figcaption>
    </figure>
    <figure class="kcmp-pane kcmp-pane-edit">
      <video class="kcmp-v-edit" playsinline preload="auto"></video>
      <figcaption class="kcmp-label kcmp-label-edit">Edited</figcaption>
    </figure>
    <div class="kcmp-divider" role="slider" tabindex="0" aria-label="Wipe position"
         aria-valuemin="0" aria-valuemax="100" aria-valuenow="50"><span class="kcmp-grip"></span></div>
  </div>
  <div class="kcmp-bar">
    <button type="button" class="kcmp-play" title="Play / pause (space)">▶ Play</button>
    <span class="kcmp-group">
      <button type="button" class="kcmp-back" title="One frame back (,)"
              aria-label="One frame back">◂ Frame</button>
      <button type="button" class="kcmp-forward" title="One frame forward (.)"
              aria-label="One frame forward">Frame ▸</button>
    </span>
    <input type="range" class="kcmp-seek" min="0" max="0" step="0.04" value="0" aria-label="Seek">
    <span class="kcmp-time">0:00.00 / 0:00.00</span>
    <button type="button" class="kcmp-loop kcmp-toggle" aria-pressed="false" title="Loop">Loop</button>
    <span class="kcmp-group">
      <button type="button" class="kcmp-mute kcmp-toggle" data-side="orig" data-name="Original"
              aria-pressed="true" title="Mute the original">Original</button>
      <button type="button" class="kcmp-mute kcmp-toggle" data-side="edit" data-name="Edited"
              aria-pressed="false" title="Mute the edit">Edited</button>
    </span>
    <span class="kcmp-group" role="group" aria-label="View">
      <button type="button" class="kcmp-view kcmp-toggle" data-view="side"
              aria-pressed="true">Side by side</button>
      <button type="button" class="kcmp-view kcmp-toggle" data-view="wipe" aria-pressed="false">Wipe</button>
    </span>
    <span class="kcmp-group">
      <a class="kcmp-dl-edit" hidden>⤓ Edited clip</a>
      <a class="kcmp-dl-sbs" hidden>⤓ Side-by-side mp4</a>
    </span>
  </div>
</div>
"""


# What build() returns. An alias rather than a gr.HTML subclass: gradio's component metaclass
# writes a .pyi stub beside the module of every subclass on import, and that copy goes stale.
ComparisonPlayer = gr.HTML


def build(label: str = "Comparison", **kwargs: Any) -> ComparisonPlayer:
    """The player, empty until an event returns :func:`player_value` (or None to empty it)."""
    return gr.HTML(
        value=None,
        label=label,
        html_template=TEMPLATE,
        css_template=(_HERE / "comparison.css").read_text(),
        js_on_load=(_HERE / "comparison.js").read_text(),
        apply_default_css=False,
        **kwargs,
    )


def player_value(original: Path | str, edited: Path | str, side_by_side: Path | str | None = None,
                 labels: tuple[str, str] = ("Original", "Edited"), names: tuple[str, str] | None = None, *,
                 url: Callable[[Path | str], str | None]) -> dict[str, Any]:
    """The component value for one pair, each file named by ``url`` (a path -> the URL the browser
    fetches it from). ``labels`` caption the two pictures; ``names`` (the labels by default) are the
    short words the sound buttons use ("A", "B" when the captions are whole prompts)."""
    facts = {side: _facts(path) for side, path in (("original", original), ("edited", edited))}
    return {
        "original": _file(original, url),
        "edited": _file(edited, url),
        "side_by_side": _file(side_by_side, url) if side_by_side else None,
        "labels": list(labels),
        "names": list(names or labels),
        # Browsers expose neither a video's frame rate (frame stepping needs it) nor whether it has
        # a sound track (a sound button on a silent clip would promise sound that never comes).
        "fps": {side: fps for side, (fps, _) in facts.items()},
        "audio": {side: audio for side, (_, audio) in facts.items()},
    }


def _file(path: Path | str, url: Callable[[Path | str], str | None]) -> dict[str, Any]:
    return {"url": url(path), "orig_name": Path(path).name}


def _facts(path: Path | str) -> tuple[float | None, bool | None]:
    """(frame rate, has a sound track); None for each when the file cannot be probed: the browser
    then reports what it cannot play."""
    try:
        info = probe(path)
    except MediaError:
        return None, None
    return info.constant_fps or None, info.has_audio
