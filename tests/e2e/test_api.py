"""The /edit API through gradio_client against the launched app without a key (the local
preview): real files back, clear refusals, nothing of the app's own served. Its fal side and the
MCP flag are tests/e2e/test_api_fal.py.

The app is the one shared with the other modules of the group (see conftest.py): startup dominates
the cost. The inputs are conftest.py's ``api_media``.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from components.config import Settings, VideoLimits
from components.edit.checks import preflight_files
from components.edit.request import EditRequest, Element
from components.errors import InputError
from components.media.limits import trim_fix
from components.media.probe import probe
from tests.e2e.app_server import api_client, close_soon

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def client(local_app) -> Client:
    """A session of its own for each test (see ``api_client``)."""
    client = api_client(local_app.url)
    yield client
    close_soon(client)


@pytest.fixture(scope="module")
def local_edit(local_app, api_media) -> tuple[str, str, dict]:
    """One local edit through /edit: its answer, and its job folder (inputs and outputs) in the app."""
    client = api_client(local_app.url)
    try:
        return client.predict(
            handle_file(str(api_media["clip"])), "Make it black and white, in the colours of @Image1",
            [handle_file(str(api_media["palette"]))], [], False, "", api_name="/edit")
    finally:
        close_soon(client)


def test_local_edit_returns_the_edited_clip_the_side_by_side_and_details(local_edit, api_media):
    edited, side_by_side, details = local_edit
    assert details["engine"] == "local"
    assert details["request_id"] is None and details["job_id"]
    assert isinstance(details["notes"], list) and isinstance(details["timings"], dict)
    source, out, sbs = probe(api_media["clip"]), probe(Path(edited)), probe(Path(side_by_side))
    assert abs(out.duration - source.duration) < 0.5  # motion-preserving: same length
    assert sbs.width > out.width  # two pictures next to each other
    assert not out.has_audio  # keep_audio=False
    # One flat colour has nothing to track: no made-up motion score, and a note that says why.
    assert details["motion_fidelity"] is None
    assert any("Motion kept: not measurable" in note for note in details["notes"]), details["notes"]


def test_an_element_travels_as_nested_files(client, api_media):
    element = {"frontal": handle_file(str(api_media["front"])),
               "references": [handle_file(str(api_media["side"]))]}
    edited, _, details = client.predict(
        handle_file(str(api_media["clip"])), "Make it look like @Element1, warm golden hour", [], [element],
        True, "", api_name="/edit")
    assert details["engine"] == "local" and Path(edited).stat().st_size > 0


def _expected_message(media, prompt, images=(), elements=(), video="clip") -> str:
    """What the page shows for the same input: the core's own sentence."""
    request = EditRequest(prompt=prompt, video=media[video], images=tuple(images), elements=tuple(elements))
    return str(InputError.from_findings(preflight_files(request, Settings())))


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("empty prompt", "prompt is empty"),
        ("dangling label", "@Image2 is mentioned but only 1 reference image is attached"),
        ("five references", "5 references are attached"),
        ("twelve seconds", "12.0 s"),
        ("corrupt video", "broken.mp4"),
    ],
)
def test_invalid_input_is_refused_with_the_pages_sentence(client, api_media, case, needle):
    clip, prompt, images, elements = "clip", "Make it black and white", [], []
    if case == "empty prompt":
        prompt = "   "
    elif case == "dangling label":
        prompt, images = "Paint it like @Image2", [api_media["palette"]]
    elif case == "five references":
        prompt = "Use @Image1 @Image2 @Image3 @Image4 @Element1"
        images = [api_media["palette"]] * 4
        elements = [Element(api_media["front"])]
    elif case == "twelve seconds":
        clip = "long"
    elif case == "corrupt video":
        clip = "broken"
    with pytest.raises(AppError) as refused:
        client.predict(handle_file(str(api_media[clip])), prompt, [handle_file(str(p)) for p in images],
                       [{"frontal": handle_file(str(e.frontal)), "references": []} for e in elements],
                       False, "", api_name="/edit")
    message = str(refused.value)
    assert needle in message
    expected = _expected_message(api_media, prompt, images, elements, clip)
    if case == "twelve seconds":  # the page's fix names its buttons; a script's names its argument
        expected = expected.replace(trim_fix(VideoLimits()), "Pass segments=True to edit all of it in "
                                    "segments (clips of up to 60 s), or trim it to 10.05 s or less first.")
        assert "segments=True" in message and trim_fix(VideoLimits()) not in message
    assert message == expected
    assert "Traceback" not in message


def test_edit_and_its_upload_are_the_only_public_endpoints(local_app):
    info = httpx.get(f"{local_app.url}gradio_api/info", timeout=10, trust_env=False).json()
    assert list(info["named_endpoints"]) == ["/edit", "/upload_file_to_gradio"]
    assert [p["parameter_name"] for p in info["named_endpoints"]["/edit"]["parameters"]] == [
        "video", "prompt", "images", "elements", "keep_audio", "fal_key", "model", "takes", "segments",
        "overlap"]


def test_file_routes_serve_none_of_the_apps_own_files(local_app, local_edit):
    """Only gradio's cache is served: not the job store, the owner secret, inputs or system files."""
    data = local_app.data_dir.resolve()
    job_folder = data / "jobs" / local_edit[2]["job_id"]
    inputs = sorted((job_folder / "inputs").glob("*/*"))
    assert inputs, "the edit's inputs are copied into its job folder"
    secrets = [data / "jobs.sqlite3", data / "owner.secret", Path("/etc/passwd"), inputs[0]]
    assert all(p.is_file() for p in secrets)
    for path in secrets:
        for route in (f"gradio_api/file={path}", f"gradio_api/file={data}/jobs/../{path.name}",
                      f"file={path}"):
            answer = httpx.get(local_app.url + route, timeout=10, trust_env=False)
            assert answer.status_code in (403, 404), f"{route} answered {answer.status_code}"


def test_takes_return_the_lowest_numbered_take_that_succeeded(client, local_app, api_media):
    """What README says /edit returns for takes: each take in details["parts"], and as the result
    the lowest-numbered one that succeeded (here take 1 of 2), the file the page's result shows."""
    edited, _, details = client.predict(handle_file(str(api_media["clip"])), "Make it black and white",
                                        [], [], False, "", "", 2, False, 0.0, api_name="/edit")
    assert details["kind"] == "takes"
    assert [(p["part"], p["status"]) for p in details["parts"]] == [(0, "succeeded"), (1, "succeeded")]
    assert all("motion_fidelity" in p for p in details["parts"])
    chosen = local_app.data_dir / "jobs" / details["job_id"] / "chosen" / "take-1.mp4"
    assert Path(edited).read_bytes() == chosen.read_bytes()
    assert any("take 1 is chosen" in note for note in details["notes"]), details["notes"]
