"""A 40 s clip with 3 shot changes, edited in segments against the fake fal with 5 s of latency.

    python -m bench.bench_segments

Prints the plan, the joined clip's duration and frame count beside the source's, the wall time of
the whole edit beside the slowest single segment's (the segments run at once, so the whole should
be close to one segment's time plus the studio's own cut and join, not the sum), and the join's
cost beside a bare ffmpeg concat of the same edited segments (stream copy: the floor). The fake
runs in its own process, as fal would, so its work is not charged to the studio.
"""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
import time
from pathlib import Path

from components.admission.spend import Caller
from components.config import Settings
from components.edit.modes import EditMode
from components.edit.request import EditRequest
from components.jobs.runner import JobRunner
from components.jobs.store import JobStore
from components.media.ffmpeg import ffmpeg_exe
from components.media.probe import probe
from components.secret import Secret
from components.segments.plan import SegmentPlan
from tests.fakes.fal_fixtures import fake_fal_process
from tests.mediagen import make_shots_clip
from tests.services import make_service

KEY = "bench-key"
QUEUE_S, RUN_S = 2.5, 2.5  # 5 s of fal time per request
SHOTS = (12.0, 9.0, 11.0, 8.0)


async def _until_done(runner: JobRunner, job_id: str, owner: str):
    async for job in runner.watch(job_id, owner):
        last = job
    return last


def bare_concat(parts: list[Path], out: Path) -> float:
    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{p}'\n" for p in parts))
    began = time.perf_counter()
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing),
                    "-c", "copy", str(out)], check=True)
    return time.perf_counter() - began


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-segments-"))
    clip = make_shots_clip(root / "forty.mp4", shots=SHOTS, audio=True)
    settings = Settings(data_dir=root / "data", fal_key=Secret(KEY), scratch_dir=root / "scratch",
                        server_budget_usd_per_day=1000, server_edits_per_ip_per_hour=100)
    store = JobStore(settings.data_dir / "jobs.sqlite3")
    runner = JobRunner(store, settings, watch_tick_s=0.1)
    service = make_service(settings, runner, store, [root])
    caller = Caller("bench", "198.51.100.9")
    with fake_fal_process(keys=(KEY,), queue_s=QUEUE_S, run_s=RUN_S):
        try:
            began = time.perf_counter()
            plan = service.plan(str(clip))
            planned = time.perf_counter() - began
            request = EditRequest(prompt="Make it look like winter", video=clip, keep_audio=True)
            parent = service.start(caller, None, request, EditMode(segments=True))
            submitted = time.perf_counter() - began
            final = asyncio.run(_until_done(runner, parent.id, caller.owner))
            wall = time.perf_counter() - began
            parts = runner.children(parent.id, caller.owner)
        finally:
            runner.close()
    assert final.status == "succeeded", final.error
    plan = SegmentPlan.from_dict(final.request["extra"]["plan"])
    source, joined = probe(clip), probe(final.output_video)
    slowest = max((p.finished_at or 0) - p.created_at for p in parts)
    concat_s = bare_concat([Path(p.output_video) for p in parts], root / "concat.mp4")
    join_s = final.timings["join"]
    print(f"plan: {plan.describe()}")
    print(f"shot changes found at: {', '.join(f'{c:.2f} s' for c in plan.cuts)} (made at 12, 21, 32 s)")
    print(f"source: {source.duration:.3f} s, {source.frame_count} frames; "
          f"joined: {joined.duration:.3f} s, {joined.frame_count} frames")
    print(f"plan (scene detection) {planned:.2f} s; cut + submit {submitted - planned:.2f} s")
    sbs = final.timings.get("side_by_side", 0.0)
    fal_part = wall - submitted - join_s - sbs
    print(f"segments on fal, all at once: {fal_part:.2f} s vs the slowest single segment {slowest:.2f} s "
          f"({fal_part / slowest:.2f}x); one after another they would take >= "
          f"{plan.count * (QUEUE_S + RUN_S):.0f} s")
    print(f"whole edit {wall:.2f} s = plan + cut/submit + segments + join {join_s:.2f} s + "
          f"side-by-side render {sbs:.2f} s")
    print(f"join {join_s:.2f} s vs bare ffmpeg concat (stream copy) {concat_s:.2f} s "
          f"({join_s / concat_s:.1f}x: the join re-encodes to the exact frame count, with the source audio)")


if __name__ == "__main__":
    main()
