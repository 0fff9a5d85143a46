"""The owner-id secret outlives a restart (same data folder) and never leaves its folder's owner."""

import stat

from components.guard.owner_secret import FILE_NAME, owner_secret


def test_same_folder_same_secret_across_launches(tmp_path):
    first = owner_secret(tmp_path / "data")
    assert len(first) >= 32
    assert owner_secret(tmp_path / "data") == first
    assert owner_secret(tmp_path / "other") != first


def test_file_is_private_to_the_user(tmp_path):
    owner_secret(tmp_path)
    assert stat.S_IMODE((tmp_path / FILE_NAME).stat().st_mode) == 0o600


def test_an_empty_file_left_by_a_crash_is_made_again(tmp_path):
    (tmp_path / FILE_NAME).write_text("")
    value = owner_secret(tmp_path)
    assert value and (tmp_path / FILE_NAME).read_text() == value
