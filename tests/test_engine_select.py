"""Whose money an edit spends: the user's key, the server's (when allowed), or none (local)."""

from __future__ import annotations

import pytest

from components.config import Settings
from components.engines.select import FAL_LABEL, LOCAL_LABEL, choose_engine
from components.secret import Secret

SERVER = Secret("server-key-123")
USER = Secret("user-key-456")


@pytest.mark.parametrize(
    ("settings", "user_key", "name", "key", "source"),
    [
        (Settings(), None, "local", None, None),
        (Settings(), USER, "fal", USER, "user"),
        (Settings(fal_key=SERVER), None, "fal", SERVER, "server"),
        (Settings(fal_key=SERVER), USER, "fal", USER, "user"),
        (Settings(fal_key=SERVER, require_user_key=True), None, "local", None, None),
        (Settings(fal_key=SERVER, require_user_key=True), USER, "fal", USER, "user"),
        (Settings(), Secret("   "), "local", None, None),
    ],
)
def test_choice(settings, user_key, name, key, source):
    choice = choose_engine(settings, user_key)
    assert (choice.name, choice.key, choice.key_source) == (name, key, source)
    assert choice.label == (FAL_LABEL if name == "fal" else LOCAL_LABEL)
    assert choice.charges == (name == "fal")


def test_required_user_key_is_explained_and_no_key_is_shown():
    choice = choose_engine(Settings(fal_key=SERVER, require_user_key=True))
    assert "your own fal key" in choice.detail
    assert SERVER.reveal() not in repr(choice) + choice.detail + choice.label
    assert USER.reveal() not in repr(choose_engine(Settings(), USER))
