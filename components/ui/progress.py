"""The live view of one job: every phase, a real bar, elapsed time and the newest log lines.

Rendered from the job snapshots the runner publishes, so a refreshed tab that reattaches to a
running job sees exactly what the first tab saw. Plain HTML updated by the page's follow tick: it
keeps the phase list, the bar and the logs in one place instead of a modal gr.Progress. The tick
answers only when the job changes, so the elapsed time of a running job counts on in the browser.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import get_args

import gradio as gr

from components.engines.base import Phase
from components.jobs.models import Job

PHASES: tuple[str, ...] = get_args(Phase)  # the engines' own list, in order
# The phases each kind of job goes through, so the pills show only those it can reach: a local
# preview never uploads, queues at fal or downloads; a parent (segments, takes) prepares, runs its
# parts (each with its own phases), joins or renders, and is done.
LOCAL_PHASES = ("preparing", "rendering", "done")
PARENT_PHASES = ("preparing", "running", "rendering", "done")
PHASE_WORDS = {"preparing": "prepare", "uploading": "upload", "submitted": "submit", "queued": "queue at fal",
               "running": "edit", "downloading": "download", "rendering": "render", "done": "done"}
STATUS_WORDS = {"queued": "In line", "running": "Running", "succeeded": "Done",
                "failed": "Failed", "cancelled": "Cancelled", "waiting_for_key": "Waiting for your fal key"}
LOG_LINES_SHOWN = 12


# Installed once by this panel's js_on_load: a click on Generate disables it in the capture phase,
# before gradio's own handler runs and before the browser can deliver a double-click's second
# click (which then lands on a disabled button), and keeps it disabled until the job is known:
# this panel shows a job, or a toast says why none started. The server refuses a duplicate too
# (components/edit/intent.py); this keeps the page from even sending one.
HOLD_UNTIL_KNOWN_JS = """
if (!window.__klingElapsed) {
  window.__klingElapsed = setInterval(() => {
    document.querySelectorAll('#job-progress .job-elapsed[data-live="1"]').forEach((el) => {
      if (!el.dataset.seen) el.dataset.seen = String(Date.now());
      const secs = Math.floor(Number(el.dataset.elapsed) + (Date.now() - Number(el.dataset.seen)) / 1000);
      el.textContent = `${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, '0')}`;
    });
  }, 1000);
}
if (!window.__klingHoldGenerate) {
  window.__klingHoldGenerate = true;
  document.addEventListener('click', (event) => {
    const button = event.target.closest && event.target.closest('#generate');
    if (!button || button.disabled || button.dataset.holding) return;
    const panel = document.querySelector('#job-progress');
    // Which snapshot the panel shows (the elapsed time counting on does not change it).
    const stamp = () => {
      const shown = panel && panel.querySelector('[data-status]');
      return shown ? `${shown.dataset.job}@${shown.dataset.at}` : '';
    };
    const before = stamp();
    const toasts = document.querySelectorAll('.toast-body').length;
    const began = Date.now();
    queueMicrotask(() => { button.disabled = true; });  // after this click reaches gradio
    button.dataset.holding = '1';
    const timer = setInterval(() => {
      const shown = stamp() !== '' && stamp() !== before;
      const refused = document.querySelectorAll('.toast-body').length > toasts;
      const waited = Date.now() - began;
      // At least a double-click's span (systems allow up to ~500 ms between its two clicks).
      if (waited > 700 && (shown || refused || waited > 30000)) {
        clearInterval(timer);
        delete button.dataset.holding;
        button.disabled = false;
      }
    }, 40);
  }, true);
}
"""


# The follow tick updates this panel alone (every other output it named would cost gradio a
# component update per tick, skipped or not); when the panel's refresh mark changes (a result, a
# part's state, the end), the panel fires its "submit" event once, which sends the whole view.
REFRESH_JS = """
let refreshed = null;
watch('value', () => {
  const panel = element.querySelector('[data-refresh]');
  const mark = panel ? panel.dataset.refresh : '';
  if (mark && mark !== refreshed) {
    refreshed = mark;
    if (panel.dataset.whole !== '1') trigger('submit');  // a whole view came with this panel already
  }
});
"""


def build() -> gr.HTML:
    return gr.HTML(idle(), elem_id="job-progress", padding=False, js_on_load=HOLD_UNTIL_KNOWN_JS + REFRESH_JS)


def idle(text: str = "No edit running.", refresh: str = "") -> str:
    return f'<div class="job-progress idle" data-refresh="{html.escape(refresh)}">{html.escape(text)}</div>'


@dataclass(frozen=True)
class Shown:
    """Which snapshot of which job a page's panel shows, read back from the panel's HTML."""

    job_id: str
    at: float  # the snapshot's updated_at


_SHOWN = re.compile(r'data-job="([0-9a-f]{32})" data-at="([0-9]+(?:\.[0-9]+)?)"')


def shown(value: object) -> Shown | None:
    """The panel's marks, from its HTML as the page sends it back; None for anything else (a
    client may send any value: it only decides what that client is sent)."""
    found = _SHOWN.search(value[:4096]) if isinstance(value, str) else None
    return Shown(found[1], float(found[2])) if found else None


def render(job: Job, refresh: str = "", whole: bool = False) -> str:
    """The panel for ``job``. A new ``refresh`` mark makes the page ask once for everything else
    the job shows (its result, its parts, history), unless the panel came ``whole`` with all of
    it: see ``REFRESH_JS``."""
    current = "done" if job.status == "succeeded" else (job.phase or "preparing")
    phases = phases_of(job)
    reached = phases.index(current) if current in phases else 0
    steps = "".join(f'<li class="{_step_class(i, reached, job)}" data-phase="{phase}">'
                    f"{PHASE_WORDS[phase]}</li>" for i, phase in enumerate(phases))
    fraction = 1.0 if job.status == "succeeded" else (job.fraction or 0.0)
    pct = round(max(0.0, min(1.0, fraction)) * 100)
    status = STATUS_WORDS.get(job.status, job.status)
    rid = f' · request id <code>{html.escape(job.request_id)}</code>' if job.request_id else ""
    message = job.error if job.status == "failed" and job.error else job.message
    logs = "\n".join(job.logs[-LOG_LINES_SHOWN:])
    elapsed = job.elapsed()
    live = int(job.status in ("queued", "running"))
    took = "in all" if job.is_finished else "elapsed"
    log_block = f'<pre class="job-logs">{html.escape(logs)}</pre>' if logs else ""
    return (
        f'<div class="job-progress status-{job.status}" data-status="{job.status}" data-phase="{current}" '
        f'data-job="{job.id}" data-at="{job.updated_at!r}" data-refresh="{html.escape(refresh)}" '
        f'data-whole="{int(whole)}">'
        f'<ol class="job-phases">{steps}</ol>'
        f'<div class="job-bar" role="progressbar" aria-valuenow="{pct}" aria-valuemin="0" '
        'aria-valuemax="100">'
        f'<div class="job-bar-fill" style="width:{pct}%"></div></div>'
        f'<div class="job-line"><b>{html.escape(status)}</b> · {html.escape(message or "")}</div>'
        f'<div class="job-meta"><span class="job-elapsed" data-elapsed="{elapsed:.1f}" data-live="{live}">'
        f"{_elapsed(elapsed)}</span> {took} · engine: {_ENGINE_WORDS.get(job.engine, job.engine)}"
        f"{rid}</div>"
        f"{log_block}</div>"
    )


_ENGINE_WORDS = {"local": "local preview", "fal": "Kling O1 via fal"}


def phases_of(job: Job) -> tuple[str, ...]:
    """The phases ``job``'s engine goes through, in order."""
    if job.is_parent:
        return PARENT_PHASES
    return PHASES if job.engine == "fal" else LOCAL_PHASES


def _step_class(i: int, reached: int, job: Job) -> str:
    if i < reached or job.status == "succeeded":
        return "done"
    if i == reached:
        return "failed" if job.status in ("failed", "cancelled") else "current"
    return "todo"


def _elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"
