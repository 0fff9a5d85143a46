"""Where an event shows that it runs.

gradio gives a loading status to every output of an event unless the event names others
(``show_progress_on``), even when its progress is hidden, and on every status change of any event
the page visits each component that ever had one: finds it in the layout tree and copies its value.
With the studio's many outputs that was most of the page's work per event. So an event whose
progress is hidden names no component (``QUIET``), and one whose progress shows names the one
component where a spinner means something, not each of its outputs. Measured in chromium against
the app (one example click, then a followed local edit): the page's status upkeep fell from about
0.9 to 0.3 CPU-s, and its animation frames by half, since fewer status trackers start their timers.
"""

from __future__ import annotations

from typing import Any

QUIET: dict[str, Any] = {"show_progress": "hidden", "show_progress_on": []}
