"""The studio as an agent with nothing but the MCP connection sees it (``STUDIO_MCP=1``), through the
``mcp`` package's own client: the tools it lists and their words, a clip handed over by upload (a
data: URL), by this app's own file URL (a result fed back in) and by an https URL, whose fetch
follows the page's rules and answers in the page's sentences, not gradio's generic error.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client

from assets.make_examples import EXAMPLES

pytestmark = pytest.mark.timeout(300)

CLIP = EXAMPLES[0].clip
# The result comes back as a signed link of the studio's own file route (components/share/files.py).
RESULT_URL = re.compile(r"'url': '(https?://[^']+/studio/files/[^']+\.mp4)'")
GENERIC = "has not enabled verbose error reporting"


def _session(url: str, work: Callable[[ClientSession], Awaitable[Any]]) -> Any:
    """Run ``work`` in one MCP session with the app, as an agent's client would. In a thread of its
    own: this worker's Playwright keeps an event loop running in the main thread while its group's
    browser tests are not all done."""
    async def run() -> Any:
        async with streamablehttp_client(f"{url}gradio_api/mcp/", timeout=120, sse_read_timeout=300) as (
                read, write, _), ClientSession(read, write) as session:
            await session.initialize()
            return await work(session)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


def _texts(result) -> list[str]:
    return [c.text for c in result.content if c.type == "text"]


def _sentence(text: str) -> bool:
    return bool(text) and text[0].isupper() and text.rstrip().endswith(".")


def test_the_tools_are_edit_and_an_upload_that_exists_each_described_in_whole_sentences(local_app):
    tools = _session(local_app.url, lambda s: s.list_tools()).tools
    assert sorted(t.name for t in tools) == ["edit", "upload_file_to_gradio"]
    by_name = {t.name: t for t in tools}
    # gradio tells agents to use upload_file_to_gradio for files: now that tool is listed.
    assert "upload_file_to_gradio" in by_name["edit"].description
    for tool in tools:
        assert _sentence(tool.description), tool.description
        for name, schema in tool.inputSchema["properties"].items():
            assert _sentence(schema.get("description", "")), (tool.name, name, schema.get("description"))
    arguments = by_name["edit"].inputSchema["properties"]
    video = arguments["video"]["description"]
    assert "3-10.05 s" in video and "this app's own files" in video and "https URL" in video
    assert "o1/standard/video-to-video/edit" in arguments["model"]["description"]


def test_a_clip_reaches_edit_by_upload_and_by_the_apps_own_file_url(local_app):
    data = "data:video/mp4;base64," + base64.b64encode(CLIP.read_bytes()).decode()

    async def work(session: ClientSession):
        uploaded = await session.call_tool("upload_file_to_gradio", {"file": data})
        assert not uploaded.isError, _texts(uploaded)
        stored = _texts(uploaded)[0]
        assert "/gradio_api/file=" in stored
        first = await session.call_tool("edit", {"video": stored, "prompt": "Make it black and white"})
        assert not first.isError, _texts(first)
        edited = RESULT_URL.search(_texts(first)[0])
        assert edited, _texts(first)
        # The result's own URL, handed straight back: a second pass on the first one's output.
        second = await session.call_tool("edit", {"video": edited[1], "prompt": "Give it a warm sepia tone"})
        assert not second.isError, _texts(second)
        assert "'engine': 'local'" in _texts(second)[0]

    _session(local_app.url, work)


def test_an_https_url_is_fetched_by_the_pages_rules_and_refused_in_its_words(local_app):
    async def work(session: ClientSession):
        refused = await session.call_tool("edit", {"video": "https://127.0.0.1:9/clip.mp4",
                                                   "prompt": "Make it black and white"})
        assert refused.isError
        text = " ".join(_texts(refused))
        assert "points into a private network" in text and GENERIC not in text, text
        junk = await session.call_tool("upload_file_to_gradio", {"file": "/etc/passwd"})
        assert junk.isError and "https URL or a data: URL" in " ".join(_texts(junk))

    _session(local_app.url, work)
