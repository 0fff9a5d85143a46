"""Video files with the bundled ffmpeg: probe, check against Kling O1's limits, conform, compare.

No gradio here: every failure is a ``MediaError``/``InputError`` carrying the user's sentence.
"""
