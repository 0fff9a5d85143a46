"""A parent's parts under the result: the takes grid (each take against the original, one chosen)
and, when parts failed, "Retry failed parts".

A fixed number of cells (the most takes one Generate may ask for) rather than gr.render: a cell is
shown or hidden by an update, so a click never lands on a component a redraw has just replaced.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from components.config import MODEL_NAME, Settings
from components.jobs.family import PART_NOUN, part_count, retryable
from components.jobs.models import Job
from components.jobs.outcome import best_motion
from components.ui import comparison, progress
from components.ui.deps import Deps
from components.ui.errors import shows_errors
from components.ui.history import HistoryHandles
from components.ui.links import job_file_url
from components.ui.results import ResultHandles
from components.ui.session import Visitor
from components.ui.shown import QUIET

if TYPE_CHECKING:  # follow.py builds on the parts panel; the page hands its Follow in
    from components.ui.follow import Follow


@dataclass(frozen=True)
class PartsHandles:
    group: gr.Column
    summary: gr.HTML
    cells: list[gr.Column]
    players: list[comparison.ComparisonPlayer]
    choose: list[gr.Button]
    retry: gr.Button
    parent: gr.State  # the parent whose parts are shown, or None
    settings: Settings  # where the parts' files are linked from

    @property
    def outputs(self) -> list[gr.components.Component]:
        return [self.group, self.summary, *self.cells, *self.players, *self.choose, self.retry, self.parent]

    def show(self, job: Job, parts: list[Job]) -> dict:
        """Named updates for ``job``: its takes when it is a set of takes, the retry button when
        any part failed; everything hidden for a single edit."""
        if not job.is_parent:
            return self.clear()
        total = part_count(job)
        by_part = {p.part: p for p in parts if p.part is not None}
        updates: dict = {self.group: gr.Column(visible=True), self.parent: job.id,
                         self.summary: _summary(job, parts, total),
                         self.retry: gr.Button(visible=job.is_finished and bool(retryable(by_part, total)))}
        url = job_file_url(self.settings, job.owner)
        for i, (cell, player, choose) in enumerate(zip(self.cells, self.players, self.choose, strict=True)):
            take = by_part.get(i) if job.kind == "takes" else None
            output = take.output_video if take and take.output_video and Path(take.output_video).exists() \
                else None
            original = Path(take.request["video"]) if take else None
            if original is not None and not original.is_file():
                original = None
            updates[cell] = gr.Column(visible=take is not None)
            updates[player] = (comparison.player_value(original or output, output,
                                                       take.side_by_side if take else None,
                                                       labels=("Original", f"Take {i + 1}"), url=url)
                               if output else None)
            chosen = job.chosen == i
            updates[choose] = gr.Button(value="✓ Chosen" if chosen else f"Choose take {i + 1}",
                                        interactive=bool(output) and job.is_finished and not chosen,
                                        variant="primary" if chosen else "secondary")
        return updates

    def clear(self) -> dict:
        return {self.group: gr.Column(visible=False), self.summary: "", **{c: gr.Column(visible=False)
                for c in self.cells}, **dict.fromkeys(self.players), self.retry: gr.Button(visible=False),
                **{b: gr.Button() for b in self.choose}, self.parent: None}


def build(settings: Settings) -> PartsHandles:
    with gr.Column(visible=False, elem_id="parts") as group:
        summary = gr.HTML("", elem_id="parts-summary", padding=False)
        cells, players, choose = [], [], []
        with gr.Row(elem_id="takes-grid"):
            for i in range(settings.max_takes):
                with gr.Column(visible=False, min_width=240, elem_classes="take-cell") as cell:
                    players.append(comparison.build(f"Take {i + 1}", elem_classes="take-player"))
                    choose.append(gr.Button(f"Choose take {i + 1}", size="sm",
                                            elem_id=f"choose-take-{i + 1}"))
                cells.append(cell)
        retry = gr.Button("Retry failed parts", variant="secondary", visible=False, elem_id="retry-parts")
    return PartsHandles(group, summary, cells, players, choose, retry, gr.State(None), settings)


def _summary(job: Job, parts: list[Job], total: int) -> str:
    noun = PART_NOUN[job.kind]
    best = best_motion(parts) if job.kind == "takes" else None
    rows = "".join(f'<li data-status="{p.status}">{noun.capitalize()} {(p.part or 0) + 1}: {p.status}'
                   f'{f", motion kept {p.motion_fidelity:.2f}" if p.motion_fidelity is not None else ""}'
                   f'{" ★ kept the motion best" if best is not None and p.part == best else ""}'
                   f'{" — " + html.escape(p.error) if p.error else ""}</li>' for p in parts)
    chosen = (f" Take {job.chosen + 1} is the result: the player, the downloads and a share link follow it."
              if job.kind == "takes" and job.chosen is not None else "")
    copies = (f'<p class="takes-local">The local preview cannot invent a new take: take 1 is its edit and '
              f"each other take is a copy of it with the colours turned round the hue wheel. {MODEL_NAME} "
              f"(with a fal key) makes a different take each run.</p>"
              if job.kind == "takes" and job.engine == "local" else "")
    return (f'<div class="parts-summary" data-kind="{job.kind}"><p>{total} {noun}s.{chosen}</p>{copies}'
            f"<ul>{rows}</ul></div>")


def wire(h: PartsHandles, status: gr.HTML, result: ResultHandles, follow: Follow,
         owner_state: gr.BrowserState, history: Callable[..., Any], hist: HistoryHandles, visitor: Visitor,
         deps: Deps) -> None:
    """Choose a take as the result; retry the parts that failed (a new job the page follows)."""
    service = deps.service

    def choose_take(index: int):
        @shows_errors
        def choose(owner: object, parent: object, request: gr.Request, profile: gr.OAuthProfile | None):
            caller = visitor.caller(owner, request, profile)
            job = service.choose(caller, parent, index)
            return {status: progress.render(job), **follow.present(job, caller.owner)}
        return choose

    for index, button in enumerate(h.choose):
        button.click(choose_take(index), [owner_state, h.parent], [status, *result.outputs, *h.outputs],
                     show_progress_on=result.player
                     ).then(history, owner_state, hist.outputs, queue=False, **QUIET)

    follow.command(h.retry.click, service.retry, owner_state, h.parent, visitor)
