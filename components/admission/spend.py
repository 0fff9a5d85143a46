"""Who may spend the server's fal key, and how much: the owner's money on a public page.

Per-session limits stop a polite visitor, not a script: a session is whatever id the client sends.
So the server key is guarded by what a client cannot mint at will:

- a **daily budget** for the whole process, counted from the job store (queued, running and
  finished server-key jobs of the last 24 hours that reached fal), so a restart does not reset it
  and edits in flight count before they cost anything;
- an hourly number of server-key edits per **client address** (the forwarded address only when the
  peer is a trusted proxy, such as a Space's; an IPv6 client by its /64, see ``address_group``);
- optionally an **allow-list of Hugging Face accounts**: then only those signed-in users spend the
  server key at all.

A refused visitor is told to bring their own key; nothing here touches the user's own key.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from components.config import MODEL_NAME, Settings
from components.errors import RateLimitError
from components.guard.windows import SlidingWindow
from components.jobs.store import JobStore

DAY_S = 86400.0
HOUR_S = 3600.0
BRING_YOUR_KEY = (f"Paste your own fal key (fal.ai/dashboard/keys) to run {MODEL_NAME} now, "
                  "or clear the key to use the free local preview.")


@dataclass(frozen=True)
class Caller:
    """Who asks for an edit, as far as the server can tell without trusting the client."""

    owner: str  # the job store's owner id (random per browser, or derived from the HF account)
    address: str  # the client's IP address
    hf_user: str | None = None  # the signed-in Hugging Face user name (gradio's OAuth), if any


class BudgetSpent(RateLimitError):
    """The server key may not be spent on this edit; the user can still bring their own key."""


class ServerKeyGuard:
    """Admits server-key edits within the budget, the per-address rate and the allow-list."""

    def __init__(self, settings: Settings, store: JobStore, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.store = store
        self._clock = clock
        self._starts: SlidingWindow[None] = SlidingWindow(HOUR_S, clock)
        self.lock = threading.Lock()  # held from admit() until the job row exists (see EditService)

    def may_use(self, hf_user: str | None) -> bool:
        """Whether a caller signed in as ``hf_user`` (None: not signed in) may spend the server key
        at all (the allow-list, if one is set)."""
        allowed = self.settings.allowed_hf_users
        return not allowed or (hf_user or "").lower() in allowed

    def spent_today(self) -> float:
        """US dollars of server-key edits in the last 24 hours that fal charged or will charge."""
        return self.store.server_key_spent_since(self._clock() - DAY_S)

    def admit(self, caller: Caller, cost: float, edits: int = 1) -> None:
        """Raise ``BudgetSpent`` unless ``edits`` more edits (the segments or takes of one Generate)
        costing ``cost`` US dollars in all fit; call with ``lock`` held."""
        budget = self.settings.server_budget_usd_per_day
        spent = self.spent_today()
        if spent + cost > budget + 1e-9:
            raise BudgetSpent(
                f"This server's daily budget for {MODEL_NAME} runs on its own key is spent: "
                f"${spent:.2f} of ${budget:.2f} went in the last 24 hours and this edit would cost "
                f"${cost:.2f}.",
                fix=BRING_YOUR_KEY)
        started = len(self._starts.entries(caller.address))
        per_hour = self.settings.server_edits_per_ip_per_hour
        if edits > per_hour:
            raise BudgetSpent(f"This edit is {edits} runs (segments or takes); this server's key runs at "
                              f"most {per_hour} edits per address per hour.", fix=BRING_YOUR_KEY)
        if started + edits > per_hour:
            wait_min = math.ceil(self._starts.wait_s(caller.address) / 60)
            raise BudgetSpent(
                f"Your address has started {started} edits on this server's key in the last hour "
                f"(limit {per_hour}).", fix=f"Try again in {wait_min} min. {BRING_YOUR_KEY}")
        self._starts.add(caller.address, None, edits)
