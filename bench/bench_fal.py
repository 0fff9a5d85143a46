"""What the fal engine itself costs around a fixed 5 s of fal time, on loopback against the fake.

    python -m bench.bench_fal

Three figures, each next to its target: the app's overhead per edit (wall time minus the 5 s the
fake spends queueing and running), the bytes a second edit with unchanged inputs uploads, and the
wall time of 32 edits started together (fal runs them in parallel, so ideally still ~5 s). The
clip is 50 MB: a lossless test pattern padded with an MP4 ``free`` box, which players skip. The
fake runs in its own process, as fal would, so its work is not charged to the app.
"""

from __future__ import annotations

import argparse
import asyncio
import struct
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from components.config import Settings
from components.edit.request import EditRequest
from components.engines.base import CancelToken, EditResult
from components.engines.fal import FalEngine
from components.secret import Secret
from tests.fakes.fal_fixtures import fake_fal_process
from tests.mediagen import make_clip, make_image

KEY = "bench-key"
QUEUE_S, RUN_S = 2.5, 2.5


def padded_clip(path: Path, total_bytes: int) -> Path:
    """A valid mp4 of exactly ``total_bytes``: a real clip followed by one ``free`` box."""
    make_clip(path, seconds=6, width=1280, height=720, fps=25, crf=0, audio=False)
    pad = total_bytes - path.stat().st_size
    if pad > 8:
        with path.open("ab") as fh:
            fh.write(struct.pack(">I", pad) + b"free")
            left = pad - 8
            block = b"\0" * (1 << 20)
            while left > 0:
                fh.write(block[: min(left, len(block))])
                left -= len(block)
    return path


async def one(engine: FalEngine, request: EditRequest, workdir: Path) -> tuple[float, EditResult]:
    start = time.perf_counter()
    result = await engine.edit(request, workdir, lambda event: None, CancelToken())
    return time.perf_counter() - start, result


async def many(engine: FalEngine, request: EditRequest, root: Path, count: int) -> float:
    start = time.perf_counter()
    await asyncio.gather(*(one(engine, request, root / f"c{i}") for i in range(count)))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--concurrent", type=int, default=32)
    args = parser.parse_args()
    latency = QUEUE_S + RUN_S
    with tempfile.TemporaryDirectory(prefix="bench-fal-") as tmp:
        root = Path(tmp)
        request = EditRequest(
            prompt="Turn the scene into @Image1, with the palette of @Image2",
            video=padded_clip(root / "clip.mp4", args.mb * 1_000_000),
            images=(make_image(root / "a.png", width=1024, height=1024),
                    make_image(root / "b.png", width=1024, height=1024, color=(20, 160, 90))))
        input_bytes = sum(p.stat().st_size for p in request.files())
        settings = replace(Settings(), data_dir=root / "data")
        with fake_fal_process(keys=(KEY,), queue_s=QUEUE_S, run_s=RUN_S) as (_, fake_stats):
            engine = FalEngine(Secret(KEY), settings)  # production poll interval

            async def run_all() -> tuple[float, float, int, float]:
                cold, _ = await one(engine, request, root / "cold")
                before = fake_stats()["uploaded_bytes"]
                warm, _ = await one(engine, request, root / "warm")
                second_upload = fake_stats()["uploaded_bytes"] - before
                burst = await many(engine, request, root / "burst", args.concurrent)
                return cold, warm, second_upload, burst

            cold, warm, second_upload, burst = asyncio.run(run_all())
            submits = fake_stats()["submits"]

    rows = [
        ("inputs", f"{input_bytes / 1e6:.1f} MB (clip + 2 images)", "", ""),
        ("fal latency (fake)", f"{latency:.1f} s", "", ""),
        ("1st edit: overhead (incl. upload)", f"{cold - latency:.2f} s",
         f"{(cold - latency) / latency:.1%} of 5 s", "<= 10%"),
        ("2nd edit: overhead", f"{warm - latency:.2f} s", f"{(warm - latency) / latency:.1%} of 5 s",
         "<= 10%"),
        ("2nd edit: bytes uploaded", f"{second_upload}", "", "0"),
        (f"{args.concurrent} concurrent edits: wall", f"{burst:.2f} s", f"{burst / latency:.2f}x of 5 s",
         "<= 1.3x"),
        ("submits seen by the fake", str(submits), "", str(args.concurrent + 2)),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>28}  {'ratio':>16}  target")
    for name, value, ratio, target in rows:
        print(f"{name:<{width}}  {value:>28}  {ratio:>16}  {target}")


if __name__ == "__main__":
    main()
