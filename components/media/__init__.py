"""Video files through FFmpeg (its libraries in process via PyAV, its binary for filter-graph encodes):
probe, check against Kling O1's limits, conform, compare.

No gradio here: every failure is a ``MediaError``/``InputError`` carrying the user's sentence.
"""

from components.media.compare import side_by_side
from components.media.conform import ConformPlan, ConformResult, conform, fit_size, plan_for
from components.media.ffmpeg import ffmpeg_exe
from components.media.limits import check_video, human_size
from components.media.probe import MediaInfo, probe

__all__ = [
    "ConformPlan",
    "ConformResult",
    "MediaInfo",
    "check_video",
    "conform",
    "ffmpeg_exe",
    "fit_size",
    "human_size",
    "plan_for",
    "probe",
    "side_by_side",
]
