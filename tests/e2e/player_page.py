"""A tiny Blocks page around the comparison player, for the browser tests and for a look by hand:
``python -m tests.e2e.player_page`` serves it with two generated clip pairs."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import gradio as gr

from components.ui.comparison import ComparisonPlayer, build, player_value
from components.ui.queue_polling import poll_gently
from tests.mediagen import make_clip, make_text_as

# Two pairs that differ from each other and within themselves in size, frame rate and length.
PAIRS = {
    "a": {"original": dict(seconds=3.0, width=320, height=240, fps=30),
          "edited": dict(seconds=4.0, width=384, height=216, fps=25)},
    "b": {"original": dict(seconds=3.0, width=256, height=144, fps=25),
          "edited": dict(seconds=3.0, width=240, height=240, fps=24)},
}


def make_pairs(folder: Path) -> dict[str, dict[str, Path]]:
    """Clip files for every pair, a stand-in side-by-side file for pair a's download link, and a
    "broken" pair whose edit is not a video at all."""
    made = {name: {side: make_clip(folder / f"{name}_{side}.mp4", **spec) for side, spec in sides.items()}
            for name, sides in PAIRS.items()}
    made["a"]["side_by_side"] = make_clip(folder / "a_side_by_side.mp4", seconds=1.0, width=320, height=90,
                                          fps=25, audio=False)
    made["broken"] = {"original": made["a"]["original"], "edited": make_text_as(folder / "broken_edited.mp4")}
    return made


def build_page(pairs: dict[str, dict[str, Path]]) -> tuple[gr.Blocks, ComparisonPlayer]:
    """The player starts empty; the buttons load a pair through a real event, as the studio does."""
    with gr.Blocks(title="Comparison player") as page:
        player = build()
        with gr.Row():
            load_a = gr.Button("Load pair A", elem_id="load-a")
            load_b = gr.Button("Load pair B", elem_id="load-b")
            load_broken = gr.Button("Load a broken edit", elem_id="load-broken")
        load_a.click(lambda: player_value(pairs["a"]["original"], pairs["a"]["edited"],
                                          pairs["a"]["side_by_side"], url=by_path), outputs=player)
        load_b.click(lambda: player_value(pairs["b"]["original"], pairs["b"]["edited"],
                                          labels=("Before", "After"), url=by_path), outputs=player)
        load_broken.click(lambda: player_value(pairs["broken"]["original"], pairs["broken"]["edited"],
                                               url=by_path), outputs=player)
    return page, player


def by_path(path: Path | str) -> str:
    """A test clip's URL: gradio serves the page's folder by path (``serving``'s allowed_paths)."""
    return f"/gradio_api/file={Path(path).resolve()}"


@contextmanager
def serving(page: gr.Blocks, folder: Path | None = None) -> Iterator[str]:
    """``page`` served in this process (its clips, if any, in ``folder``) until the block ends;
    yields its URL."""
    poll_gently(page).launch(prevent_thread_lock=True, allowed_paths=[str(folder)] if folder else None,
                             quiet=True, ssr_mode=False)
    try:
        yield page.local_url
    finally:
        page.close()


if __name__ == "__main__":
    folder = Path(tempfile.mkdtemp(prefix="player_page_"))
    page, _ = build_page(make_pairs(folder))
    page.launch(allowed_paths=[str(folder)])
