"""The exact fal request of an edit, as code a user can paste and run.

Built from the arguments the engine really sent (``EditResult.arguments``), so "copy as code"
reproduces the job rather than re-deriving it. The key is always the ``$FAL_KEY`` environment
variable: the real key never reaches this module.
"""

from __future__ import annotations

import json
import pprint
import shlex
from collections.abc import Mapping
from typing import Any

from components.edit.request import EditRequest

QUEUE_URL = "https://queue.fal.run"


def as_python(arguments: Mapping[str, Any], model_id: str, tier_name: str | None = None) -> str:
    """fal_client code that submits the same request (to the same tier) and waits for the result."""
    args = pprint.pformat(dict(arguments), width=88, sort_dicts=False)
    return (
        (f"# {tier_name}\n" if tier_name else "")
        + "# pip install fal-client; fal_client reads your key from the FAL_KEY environment variable\n"
        "import fal_client\n\n"
        f"arguments = {_indent(args, len('arguments = '))}\n\n"
        "result = fal_client.subscribe(\n"
        f"    {model_id!r},\n"
        "    arguments=arguments,\n"
        "    with_logs=True,\n"
        "    on_queue_update=print,\n"
        ")\n"
        'print(result["video"]["url"])\n'
    )


def as_curl(arguments: Mapping[str, Any], model_id: str, tier_name: str | None = None) -> str:
    """The queue submit as curl; the answer's status_url/response_url give progress and result."""
    body = json.dumps(dict(arguments), indent=2, ensure_ascii=False)
    return (
        (f"# {tier_name}\n" if tier_name else "")
        + f"curl --request POST {shlex.quote(f'{QUEUE_URL}/{model_id}')} \\\n"
        '  --header "Authorization: Key $FAL_KEY" \\\n'
        "  --header 'Content-Type: application/json' \\\n"
        f"  --data {shlex.quote(body)}\n"
    )


def placeholder_arguments(request: EditRequest) -> dict[str, Any]:
    """Arguments for an edit that never went to fal (local preview): each file shows where its URL goes."""
    urls = {path: f"https://<upload of {path.name}>" for path in request.files()}
    return request.to_fal_arguments(urls)


def _indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    return text.replace("\n", "\n" + pad)
