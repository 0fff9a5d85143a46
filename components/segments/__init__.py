"""Editing a clip longer than one Kling O1 request: plan the segments (plan), find the shot changes
to cut at (scenes), cut the submitted files (cut) and join the edited ones back (join)."""
