"""Copy-as-code must reproduce the exact request and never carry a key."""

from __future__ import annotations

import ast
import json
import shlex
from pathlib import Path

from components.config import MODEL_ID
from components.edit.codegen import as_curl, as_python, placeholder_arguments
from components.edit.request import EditRequest, Element

ARGS = {
    "prompt": "Replace the character with @Element1, it's \"night\" in @Image1",
    "video_url": "https://v3.fal.media/files/clip.mp4",
    "keep_audio": True,
    "image_urls": ["https://v3.fal.media/files/sky.png"],
    "elements": [{"frontal_image_url": "https://v3.fal.media/files/front.png",
                  "reference_image_urls": ["https://v3.fal.media/files/side.png"]}],
}


def _arguments(code: str) -> object:
    """The literal assigned to ``arguments`` and passed on to subscribe()."""
    tree = ast.parse(code)
    assign = next(n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "arguments")
    passed = next(k.value for k in _subscribe_call(code).keywords if k.arg == "arguments")
    assert isinstance(passed, ast.Name) and passed.id == "arguments"
    return ast.literal_eval(assign.value)


def _subscribe_call(code: str) -> ast.Call:
    tree = ast.parse(code)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Attribute) and n.func.attr == "subscribe"]
    assert len(calls) == 1
    return calls[0]


def test_python_code_is_valid_and_carries_the_exact_arguments():
    code = as_python(ARGS, MODEL_ID)
    call = _subscribe_call(code)
    assert ast.literal_eval(call.args[0]) == MODEL_ID
    assert _arguments(code) == ARGS


def test_curl_posts_the_same_json_to_the_queue_with_the_key_from_the_environment():
    cmd = as_curl(ARGS, MODEL_ID)
    words = shlex.split(cmd.replace("\\\n", " "))
    assert words[:3] == ["curl", "--request", "POST"]
    assert words[3] == f"https://queue.fal.run/{MODEL_ID}"
    assert json.loads(words[words.index("--data") + 1]) == ARGS
    assert "Authorization: Key $FAL_KEY" in words


def test_the_key_is_never_inlined():
    """fal_client reads FAL_KEY itself; curl expands it in the shell: neither holds a key value."""
    assert "key=" not in as_python(ARGS, MODEL_ID).lower()
    auth = [line for line in as_curl(ARGS, MODEL_ID).splitlines() if "Authorization" in line]
    assert auth == ['  --header "Authorization: Key $FAL_KEY" \\']


def test_local_runs_get_placeholders_naming_each_file():
    request = EditRequest(prompt="p @Image1 @Element1", video=Path("/x/clip.mp4"),
                          images=(Path("/x/sky.png"),),
                          elements=(Element(Path("/x/front.png"), (Path("/x/side.png"),)),))
    args = placeholder_arguments(request)
    assert args["video_url"] == "https://<upload of clip.mp4>"
    assert args["image_urls"] == ["https://<upload of sky.png>"]
    assert args["elements"][0]["reference_image_urls"] == ["https://<upload of side.png>"]
    assert _arguments(as_python(args, MODEL_ID)) == args
