"""Which engine a session uses, decided in one pure function.

The rule is a policy (whose money is spent), so it lives apart from the UI: a user's own key wins;
the server's key is used only when the deployment allows it; otherwise the local preview runs with
no key and no network. Engines are built lazily so choosing never touches the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from components.config import MODEL_NAME, Settings
from components.engines.base import Engine, KeySource
from components.secret import Secret

FAL_LABEL = f"{MODEL_NAME} via fal"
LOCAL_LABEL = "Local preview, free"


@dataclass(frozen=True)
class EngineChoice:
    """The decision, plus the plain words shown to the user about it."""

    name: Literal["fal", "local"]
    key: Secret | None
    key_source: KeySource | None
    label: str
    detail: str  # one sentence on why this engine, shown under the label

    @property
    def charges(self) -> bool:
        """Whether a run spends money (only fal runs do)."""
        return self.name == "fal"


def choose_engine(settings: Settings, user_key: Secret | None = None, *,
                  may_use_server_key: bool = True) -> EngineChoice:
    """``may_use_server_key`` is the caller's standing (components/admission/spend.py: the allow-list)."""
    if user_key:
        return EngineChoice("fal", user_key, "user", FAL_LABEL, "Runs on fal with your own key.")
    if settings.fal_key and not settings.require_user_key and may_use_server_key:
        return EngineChoice("fal", settings.fal_key, "server", FAL_LABEL,
                            "Runs on fal with this server's key.")
    if settings.fal_key and not settings.require_user_key:
        why = (f"This server's key runs {MODEL_NAME} only for the Hugging Face users its owner allowed: "
               "sign in, or bring your own fal key.")
    elif settings.fal_key:
        why = f"This server needs your own fal key for real {MODEL_NAME} runs."
    else:
        why = "No fal key is set."
    return EngineChoice("local", None, None, LOCAL_LABEL,
                        f"{why} The local preview edits on this machine; it cannot add new characters.")


def build_engine(choice: EngineChoice, settings: Settings) -> Engine:
    """The engine object for a choice; imported here so choosing stays free of engine imports."""
    if choice.name == "fal":
        from components.engines.fal import FalEngine

        assert choice.key is not None
        return FalEngine(choice.key, settings)
    from components.engines.local import LocalEngine

    return LocalEngine(settings)
