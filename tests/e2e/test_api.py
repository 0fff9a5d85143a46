"""The /edit API through gradio_client against the launched app: real files back, clear refusals.

One app process per engine, shared with the other modules (see conftest.py): startup dominates
the cost. Every media file is generated small by tests/mediagen.py; the clip that is
edited is the cheapest fal accepts (720x720, 24 fps, one flat colour), as nothing here looks at
its pictures.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from components.checks import preflight_files
from components.config import MODEL_ID, MODEL_ID_STANDARD, Settings
from components.errors import InputError
from components.media.probe import probe
from components.request import EditRequest, Element
from tests.e2e.app_server import api_client, close_soon
from tests.mediagen import make_clip, make_gradient_image, make_image, make_text_as

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("api-media")
    return {
        "clip": make_clip(d / "clip.mp4", seconds=3.2, width=720, height=720, fps=24, crf=45, source="color"),
        "long": make_clip(d / "long.mp4", seconds=12, width=1280, height=720, fps=4, audio=False),
        "broken": make_text_as(d / "broken.mp4"),
        "palette": make_gradient_image(d / "palette.png", [(20, 40, 160), (240, 240, 250), (90, 20, 120)],
                                       size=400),
        "front": make_image(d / "front.png", width=400, height=500),
        "side": make_image(d / "side.png", width=400, height=500, color=(40, 160, 60)),
    }


@pytest.fixture
def client(local_app) -> Client:
    """A session of its own for each test (see ``api_client``)."""
    client = api_client(local_app.url)
    yield client
    close_soon(client)


@pytest.fixture(scope="module")
def local_edit(local_app, media) -> tuple[str, str, dict]:
    """One local edit through /edit: its answer, and its job folder (inputs and outputs) in the app."""
    client = api_client(local_app.url)
    try:
        return client.predict(
            handle_file(str(media["clip"])), "Make it black and white, in the colours of @Image1",
            [handle_file(str(media["palette"]))], [], False, "", api_name="/edit")
    finally:
        close_soon(client)


def test_local_edit_returns_the_edited_clip_the_side_by_side_and_details(local_edit, media):
    edited, side_by_side, details = local_edit
    assert details["engine"] == "local"
    assert details["request_id"] is None and details["job_id"]
    assert isinstance(details["notes"], list) and isinstance(details["timings"], dict)
    source, out, sbs = probe(media["clip"]), probe(Path(edited)), probe(Path(side_by_side))
    assert abs(out.duration - source.duration) < 0.5  # motion-preserving: same length
    assert sbs.width > out.width  # two pictures next to each other
    assert not out.has_audio  # keep_audio=False


def test_an_element_travels_as_nested_files(client, media):
    element = {"frontal": handle_file(str(media["front"])), "references": [handle_file(str(media["side"]))]}
    edited, _, details = client.predict(
        handle_file(str(media["clip"])), "Make it look like @Element1, warm golden hour", [], [element],
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
def test_invalid_input_is_refused_with_the_pages_sentence(client, media, case, needle):
    clip, prompt, images, elements = "clip", "Make it black and white", [], []
    if case == "empty prompt":
        prompt = "   "
    elif case == "dangling label":
        prompt, images = "Paint it like @Image2", [media["palette"]]
    elif case == "five references":
        prompt = "Use @Image1 @Image2 @Image3 @Image4 @Element1"
        images = [media["palette"]] * 4
        elements = [Element(media["front"])]
    elif case == "twelve seconds":
        clip = "long"
    elif case == "corrupt video":
        clip = "broken"
    with pytest.raises(AppError) as refused:
        client.predict(handle_file(str(media[clip])), prompt, [handle_file(str(p)) for p in images],
                       [{"frontal": handle_file(str(e.frontal)), "references": []} for e in elements],
                       False, "", api_name="/edit")
    message = str(refused.value)
    assert needle in message
    assert message == _expected_message(media, prompt, images, elements, clip)
    assert "Traceback" not in message


def test_fal_edit_runs_through_the_fake_fal_server(fal_app, media):
    fake, app = fal_app
    submits, by_endpoint = fake.submits, dict(fake.submits_by_endpoint)  # what other modules sent

    def sent_since() -> dict[str, int]:
        return {endpoint: n - by_endpoint.get(endpoint, 0) for endpoint, n in fake.submits_by_endpoint.items()
                if n != by_endpoint.get(endpoint, 0)}

    client = api_client(app.url)
    try:
        edited, side_by_side, details = client.predict(
            handle_file(str(media["clip"])), "Paint the scene in the colours of @Image1",
            [handle_file(str(media["palette"]))], [], False, "", api_name="/edit")
        assert details["engine"] == "fal" and details["request_id"] in fake.jobs
        assert fake.submits == submits + 1
        assert probe(Path(edited)).duration > 2.5 and Path(side_by_side).stat().st_size > 0
        assert app.env["FAL_KEY"] not in app.log()
        assert details["model"] == MODEL_ID and sent_since() == {MODEL_ID: 1}

        # The Standard tier: same inputs, the other endpoint, and the job remembers it.
        _, _, standard = client.predict(
            handle_file(str(media["clip"])), "Paint the scene in the colours of @Image1",
            [handle_file(str(media["palette"]))], [], False, "", MODEL_ID_STANDARD, api_name="/edit")
        assert standard["model"] == MODEL_ID_STANDARD
        assert sent_since() == {MODEL_ID: 1, MODEL_ID_STANDARD: 1}
        assert fake.jobs[standard["request_id"]].endpoint == MODEL_ID_STANDARD

        # Any other endpoint id is refused before a byte is uploaded.
        uploaded = fake.uploaded_bytes
        with pytest.raises(AppError) as refused:
            client.predict(handle_file(str(media["clip"])), "Make it snow", [], [], False, "",
                           "fal-ai/flux-pro/v1.1-ultra", api_name="/edit")
        assert "“fal-ai/flux-pro/v1.1-ultra” is not a model this studio runs" in str(refused.value)
        assert fake.submits == submits + 2 and fake.uploaded_bytes == uploaded
    finally:
        close_soon(client)


def test_edit_is_the_only_public_endpoint(local_app):
    info = httpx.get(f"{local_app.url}gradio_api/info", timeout=10, trust_env=False).json()
    assert list(info["named_endpoints"]) == ["/edit"]
    assert [p["parameter_name"] for p in info["named_endpoints"]["/edit"]["parameters"]] == [
        "video", "prompt", "images", "elements", "keep_audio", "fal_key", "model", "takes", "segments",
        "overlap"]


def test_mcp_flag_serves_edit_as_the_one_tool(mcp_app):
    tools = httpx.get(f"{mcp_app.url}gradio_api/mcp/schema", timeout=10, trust_env=False).json()
    assert [tool["name"] for tool in tools] == ["edit"]
    assert "3-10.05 s" in tools[0]["inputSchema"]["properties"]["video"]["description"]
    assert "o1/standard/video-to-video/edit" in tools[0]["inputSchema"]["properties"]["model"]["description"]


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
