"""Share links: only an owner's finished result can be shared, only its owner revokes it, and every
token that shows nothing (malformed, unknown, revoked, its files gone) answers the same None."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import pytest

from components.config import Settings
from components.edit.request import EditRequest
from components.errors import InputError
from components.jobs.retention import apply_retention, folder_bytes
from components.jobs.store import JobStore
from components.media.probe import probe
from components.share.store import SHARED_FOLDER, ShareStore, is_token
from tests.mediagen import make_phone_clip, private_markers

OWNER, OTHER = "a" * 32, "b" * 32
PHONE = {"seconds": 1, "width": 320, "height": 240, "fps": 25, "rotate": 90}


@pytest.fixture
def shares(tmp_path) -> ShareStore:
    return ShareStore(JobStore(tmp_path / "jobs.sqlite3"))


def _job(shares: ShareStore, *, owner: str = OWNER, status: str = "succeeded", prompt: str = "Make it snow",
         original: bool = True, edited: bool = True) -> str:
    """A job as the runner leaves it: its input copy and its output inside the job's folder. The
    input is what a phone makes (a portrait clip with its title, place and device in its metadata),
    and so is the output, as an engine that keeps tags would make it."""
    store = shares.jobs
    folder = store.job_dir(secrets.token_hex(16))
    clip = folder / "inputs" / "clip.mov"
    clip.parent.mkdir(parents=True)
    if original:
        make_phone_clip(clip, **PHONE)
    job = store.create(owner, EditRequest(prompt=prompt, video=clip), "local", None, job_id=folder.name)
    output = folder / "edited.mp4"
    if edited:
        make_phone_clip(output, **PHONE)
    store.update(job.id, status=status, output_video=output)
    return job.id


def test_a_finished_result_is_shared_once_and_resolves_to_its_prompt_and_two_clips(shares):
    job_id = _job(shares, prompt="Make it <b>snow</b>")
    token = shares.create(job_id, OWNER)
    assert is_token(token) and len(token) == 43
    assert shares.create(job_id, OWNER) == token  # re-sharing gives the same link
    shared = shares.resolve(token)
    folder = shares.jobs.job_dir(job_id) / SHARED_FOLDER
    assert shared.prompt == "Make it <b>snow</b>"
    assert shared.original == folder / "original" / "clip.mov"
    assert shared.edited == folder / "edited" / "edited.mp4"
    [listed] = shares.active_for_owner(OWNER)
    assert (listed.token, listed.job_id, listed.prompt) == (token, job_id, "Make it <b>snow</b>")
    assert shares.token_for(job_id, OWNER) == token


def test_a_link_serves_its_clips_without_the_uploaders_metadata_until_it_is_revoked(shares):
    """The issue's finding: original.mp4 was served byte for byte, with its GPS position, device
    model and title (and the local edit kept the title)."""
    job_id = _job(shares)
    folder = shares.jobs.job_dir(job_id)
    assert private_markers(folder / "inputs" / "clip.mov") and private_markers(folder / "edited.mp4")
    token = shares.create(job_id, OWNER)
    shared = shares.resolve(token)
    for clip in (shared.original, shared.edited):
        info = probe(clip)
        assert private_markers(clip) == [] and (info.rotation, info.width, info.height) == (90, 240, 320)
        assert info.has_audio and info.frame_count == 25
    assert shares.revoke(token, OWNER)
    assert shares.resolve(token) is None and not (folder / SHARED_FOLDER).exists()


def test_a_link_made_before_clips_were_cleaned_serves_clean_ones(shares):
    job_id = _job(shares)
    token = shares.create(job_id, OWNER)
    shutil.rmtree(shares.jobs.job_dir(job_id) / SHARED_FOLDER)  # as a link of an earlier version left it
    assert private_markers(shares.resolve(token).original) == []


def test_each_result_gets_its_own_token_and_the_list_is_newest_first(shares):
    tokens = [shares.create(_job(shares), OWNER) for _ in range(5)]
    assert len(set(tokens)) == 5
    assert [s.token for s in shares.active_for_owner(OWNER)] == tokens[::-1]


@pytest.mark.parametrize("job, message", [
    (dict(owner=OTHER), "not in your history"),
    (dict(status="running"), "this one is running"),
    (dict(status="failed"), "this one is failed"),
    (dict(status="waiting_for_key"), "this one is waiting for key"),
    (dict(edited=False), "removed by retention"),
    (dict(original=False), "no original clip"),
])
def test_what_cannot_be_shared_is_refused_with_a_sentence(shares, job, message):
    job_id = _job(shares, **job)
    with pytest.raises(InputError, match=message):
        shares.create(job_id, OWNER)
    assert shares.active_for_owner(OWNER) == []


@pytest.mark.parametrize("job_id", [None, 7, "", "x" * 65, ["id"], "' OR 1=1 --"])
def test_a_job_id_that_names_no_job_of_the_owner_is_refused(shares, job_id):
    with pytest.raises(InputError, match="not in your history"):
        shares.create(job_id, OWNER)


def test_only_the_owner_revokes_and_a_revoked_link_resolves_to_nothing(shares):
    job_id = _job(shares)
    token = shares.create(job_id, OWNER)
    assert not shares.revoke(token, OTHER)
    assert shares.resolve(token) is not None
    assert shares.revoke(token, OWNER)
    assert not shares.revoke(token, OWNER)  # already gone
    assert shares.resolve(token) is None
    assert shares.active_for_owner(OWNER) == [] and shares.token_for(job_id, OWNER) is None
    assert shares.create(job_id, OWNER) != token  # sharing again makes a new link, never the old one


def test_another_owner_cannot_see_or_reuse_a_link(shares):
    job_id = _job(shares)
    shares.create(job_id, OWNER)
    assert shares.active_for_owner(OTHER) == [] and shares.token_for(job_id, OTHER) is None
    with pytest.raises(InputError):
        shares.create(job_id, OTHER)


def test_a_link_dies_with_its_files(shares, tmp_path):
    gone = shares.create(_job(shares), OWNER)
    kept_job = _job(shares)
    kept = shares.create(kept_job, OWNER)
    # Both job folders weigh the same: a cap of one and a half makes retention remove the older one.
    cap = 1.5 * folder_bytes(shares.jobs.job_dir(kept_job)) / 1024**3
    [expired] = apply_retention(shares.jobs, Settings(data_dir=tmp_path, retention_max_gb=cap))
    assert shares.resolve(gone) is None and shares.resolve(kept) is not None
    with pytest.raises(InputError, match="removed by retention"):
        shares.create(expired.id, OWNER)


def test_a_link_to_a_file_outside_the_job_folders_resolves_to_nothing(shares, tmp_path):
    job_id = _job(shares)
    token = shares.create(job_id, OWNER)
    outside = tmp_path / "elsewhere.mp4"
    shutil.copyfile(shares.jobs.job_dir(job_id) / "edited.mp4", outside)
    shares.jobs.update(job_id, output_video=outside)
    assert shares.resolve(token) is None


@pytest.mark.parametrize("token", [None, 3, "", "short", "A" * 42, "A" * 44, "A" * 42 + "/", "A" * 42 + ".",
                                   "../" * 14 + "x", "A" * 42 + "\n", "é" * 43])
def test_a_malformed_token_resolves_to_nothing_and_revokes_nothing(shares, token):
    shares.create(_job(shares), OWNER)
    assert shares.resolve(token) is None
    assert not shares.revoke(token, OWNER)
    assert len(shares.active_for_owner(OWNER)) == 1


def test_an_unknown_well_formed_token_and_a_job_id_resolve_to_nothing(shares):
    job_id = _job(shares)
    shares.create(job_id, OWNER)
    assert shares.resolve(secrets.token_urlsafe(32)) is None
    assert shares.resolve(job_id) is None  # 32 hex characters: not a token's shape


def test_links_survive_a_new_store_on_the_same_file(shares, tmp_path):
    token = shares.create(_job(shares), OWNER)
    again = ShareStore(JobStore(Path(tmp_path / "jobs.sqlite3")))
    assert again.resolve(token) is not None
