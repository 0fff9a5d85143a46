"""Video files through FFmpeg (its libraries in process via PyAV, its binary for filter-graph encodes):
probe, check against Kling O1's limits, conform, compare.

No gradio here: every failure is a ``MediaError``/``InputError`` carrying the user's sentence.
"""
