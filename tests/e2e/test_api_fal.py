"""/edit on Kling O1 through the suite's shared fake fal (both tiers, and a refusal of any other
endpoint before an upload). The local preview's side of the API is tests/e2e/test_api.py, and MCP is
tests/e2e/test_mcp.py, both in the other group (tests/e2e/conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from components.config import MODEL_ID, MODEL_ID_STANDARD
from components.media.probe import probe
from tests.e2e.app_server import api_client, close_soon

pytestmark = pytest.mark.timeout(180)


def test_fal_edit_runs_through_the_fake_fal_server(fal_app, api_media):
    fake, app = fal_app
    submits, by_endpoint = fake.submits, dict(fake.submits_by_endpoint)  # what other modules sent

    def sent_since() -> dict[str, int]:
        return {endpoint: n - by_endpoint.get(endpoint, 0) for endpoint, n in fake.submits_by_endpoint.items()
                if n != by_endpoint.get(endpoint, 0)}

    client = api_client(app.url)
    try:
        edited, side_by_side, details = client.predict(
            handle_file(str(api_media["clip"])), "Paint the scene in the colours of @Image1",
            [handle_file(str(api_media["palette"]))], [], False, "", api_name="/edit")
        assert details["engine"] == "fal" and details["request_id"] in fake.jobs
        assert fake.submits == submits + 1
        assert probe(Path(edited)).duration > 2.5 and Path(side_by_side).stat().st_size > 0
        assert app.env["FAL_KEY"] not in app.log()
        assert details["model"] == MODEL_ID and sent_since() == {MODEL_ID: 1}

        # The Standard tier: same inputs, the other endpoint, and the job remembers it.
        _, _, standard = client.predict(
            handle_file(str(api_media["clip"])), "Paint the scene in the colours of @Image1",
            [handle_file(str(api_media["palette"]))], [], False, "", MODEL_ID_STANDARD, api_name="/edit")
        assert standard["model"] == MODEL_ID_STANDARD
        assert sent_since() == {MODEL_ID: 1, MODEL_ID_STANDARD: 1}
        assert fake.jobs[standard["request_id"]].endpoint == MODEL_ID_STANDARD

        # Any other endpoint id is refused before a byte is uploaded.
        uploaded = fake.uploaded_bytes
        with pytest.raises(AppError) as refused:
            client.predict(handle_file(str(api_media["clip"])), "Make it snow", [], [], False, "",
                           "fal-ai/flux-pro/v1.1-ultra", api_name="/edit")
        assert "“fal-ai/flux-pro/v1.1-ultra” is not a model this studio runs" in str(refused.value)
        assert fake.submits == submits + 2 and fake.uploaded_bytes == uploaded
    finally:
        close_soon(client)
