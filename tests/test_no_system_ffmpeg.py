"""A Space has no apt step: every media operation must work with nothing named ffmpeg on PATH.

The child runs this very interpreter (``sys.executable``), not a copy or a symlink of it: a
virtualenv's interpreter finds its site-packages through the ``pyvenv.cfg`` beside it, so a symlink
in another folder would silently fall back to the base Python without the project's packages.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.mediagen import make_clip

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import json, shutil, sys
from pathlib import Path
assert shutil.which("ffmpeg") is None and shutil.which("ffprobe") is None, "PATH still has an ffmpeg"
from components.config import VideoLimits
from components.media.probe import probe
from components.media.conform import conform, plan_for
from components.media.compare import side_by_side
src, out = Path(sys.argv[1]), Path(sys.argv[2])
info = probe(src)
fixed = conform(src, plan_for(info, VideoLimits()), out)
sbs = side_by_side(src, fixed.path, out / "sbs.mp4")
print(json.dumps({"src": [info.width, info.height], "fixed": [fixed.info.width, fixed.info.height],
                  "sbs": probe(sbs).width, "prefix": sys.prefix}))
"""


def test_media_works_with_no_ffmpeg_on_path(tmp_path):
    src = make_clip(tmp_path / "small.mp4", seconds=3, width=640, height=360)
    empty_bin = tmp_path / "bin"  # PATH = one empty folder, so any `ffmpeg` lookup fails
    empty_bin.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMAGEIO_FFMPEG", "FFMPEG"))}
    env.update(PATH=str(empty_bin), PYTHONPATH=str(ROOT))
    assert shutil.which("ffmpeg", path=env["PATH"]) is None
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(src), str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["prefix"] == sys.prefix, "the child ran in the same (virtual) environment"
    assert figures["src"] == [640, 360]
    assert min(figures["fixed"]) >= 720, "the 360p clip was scaled into Kling's range"
    assert figures["sbs"] >= 2 * figures["src"][0], "both clips side by side"
