"""The ``/edit`` API endpoint and the file upload beside it (gr.api): the same edit as the page, for
gradio_client and for MCP agents.

It runs the page's pre-flight (so a bad input fails with the very sentence the page shows) and
goes through the edit service and its runner (so an API edit is recorded, survives a dropped
connection and shows in history for its session).

A file argument is a ``handle_file`` upload (gradio_client) or a string (what an MCP agent can
send): an http(s) URL, fetched as the page's Fetch button does (public hosts only, size-capped, one
deadline); a URL of this app's own files (``/gradio_api/file=...``, as edit and
upload_file_to_gradio return them), used in place; or a ``data:`` URL, decoded. gradio's own URL
download is never used for those: it refuses this app's own address (a loopback or private one
behind a Space's proxy) with a generic error. Whatever a string names ends as a file in the upload
or scratch folder, which the trusted-files check then admits like any upload.

Every description an agent reads (the tools' and each parameter's) is a whole sentence: gradio
takes one line per parameter from the docstring, so the docstrings are built from ``PARAMETERS``.
"""

# No ``from __future__ import annotations`` here: gr.api reads the return annotation through
# inspect.signature, which would see a string and publish one untyped output instead of three.
import asyncio
import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import gradio as gr
from gradio.data_classes import FileData

from components.admission.spend import Caller
from components.config import MB, MODEL_ID, MODEL_ID_STANDARD, MODEL_NAME
from components.edit.modes import parse_mode
from components.errors import EngineError, InputError, JobCancelled
from components.media.limits import trim_fix
from components.media.probe import probe
from components.secret import parse_user_key
from components.ui.deps import Deps
from components.ui.errors import shows_errors
from components.ui.links import job_file_url
from components.ui.session import address_of, api_owner
from components.units import human_size, seconds

API_NAME = "edit"
UPLOAD_NAME = "upload_file_to_gradio"  # the tool gradio's MCP description tells agents to use
OWN_FILE_ROUTE = "/gradio_api/file="
_DATA_URL = re.compile(r"data:([\w.+-]+/[\w.+-]+)?((?:;[\w=.+-]+)*?)(;base64)?,", re.IGNORECASE)
_EXTENSIONS = {"video/mp4": ".mp4", "video/quicktime": ".mov", "image/png": ".png", "image/jpeg": ".jpg",
               "image/webp": ".webp"}
_FILE = ("an https URL, a URL of this app's own files (as edit and upload_file_to_gradio return them), "
         "a data: URL, or a handle_file upload in gradio_client")

SUMMARY = (f"Edit a 3-10.05 s video clip with words and reference pictures, on {MODEL_NAME} when a fal key "
           "is available and on the studio's free local preview otherwise; a clip of up to 60 s can be "
           "edited in segments, and one clip can be run as several takes.")
PARAMETERS = {
    "video": f"The clip to edit (.mp4 or .mov, 3-10.05 s, 720-2160 px each side, 24-60 fps, at most 200 MB), "
             f"given as {_FILE}.",
    "prompt": "The instruction, which names attachments as @Image1, @Image2 and @Element1, @Element2 in "
              "the order they are given.",
    "images": f"Reference pictures for @Image1, @Image2 and so on, each given as {_FILE}.",
    "elements": "Elements for @Element1, @Element2 and so on, each a dictionary with a frontal picture "
                "under \"frontal\" and 1-4 pictures from other angles under \"references\", every picture "
                "given like the images.",
    "keep_audio": "Whether the edited clip keeps the original clip's sound track.",
    "fal_key": "Your own fal key, which runs the real model and is never stored (leave it empty for the "
               "server's key or the free local preview).",
    "model": f"The fal endpoint to run: \"{MODEL_ID}\" (Kling O1, the default) or \"{MODEL_ID_STANDARD}\" "
             "(Kling O1 Standard, cheaper).",
    "takes": "How many times to run the same edit at once (1-4); the first take that succeeded is "
             "returned and every take is listed in details[\"parts\"].",
    "segments": "Whether to edit a clip longer than 10.05 s (up to 60 s) in segments of 3-10 s cut at its "
                "shot changes and joined back to the source's full length.",
    "overlap": "How many seconds of crossfade to add between segments (0-1), which are billed too.",
}
RETURNS = ("The edited clip, a side-by-side mp4 of the original and the edit, and a details dictionary "
           "with the engine, fal request id, notes, timings, job id, model, kind, parts and motion_fidelity "
           "(0-1: how much of the original's motion the result kept; null when it cannot be measured).")
UPLOAD_SUMMARY = ("Store a clip or picture in this app so that edit can use it, and return this app's URL "
                  "of the stored file, which edit accepts for video, images and element pictures.")
UPLOAD_PARAMETERS = {"file": "The file to store, given as an https URL or as a data: URL that holds its "
                             "bytes in base64."}
UPLOAD_RETURNS = "The stored file, whose URL is what to pass to edit."


def build(deps: Deps) -> None:
    settings = deps.settings

    async def edit(video: FileData | str, prompt: str, images: list[FileData | str] | None = None,
                   elements: list[dict] | None = None, keep_audio: bool = False, fal_key: str = "",
                   model: str = MODEL_ID, takes: int = 1, segments: bool = False, overlap: float = 0.0,
                   request: gr.Request = None) -> tuple[FileData, FileData, dict]:  # type: ignore[assignment]
        caller = Caller(api_owner(request), address_of(request, settings))
        key = parse_user_key(fal_key if isinstance(fal_key, str) else None)
        mode = parse_mode(takes, segments, overlap, settings)
        video, images, elements = await asyncio.to_thread(_fetched_arguments, deps, caller, video, images,
                                                          elements)
        # Every file must now be one gradio received from this caller or one fetched for it; a
        # bare server path is refused inside make_request, before anything is read.
        edit_request = deps.service.make_request(video, prompt, images, elements, keep_audio, model)
        try:
            job = await asyncio.to_thread(deps.service.start, caller, key, edit_request, mode)
        except InputError as refused:
            raise _in_api_words(refused, edit_request.video, deps) from None
        async for snapshot in deps.service.watch(caller.owner, job.id):
            job = snapshot
        if job.status == "cancelled":
            raise JobCancelled("The edit was cancelled.")
        if job.status != "succeeded" or job.output_video is None:
            raise EngineError(job.error or job.message or f"The edit ended as {job.status}.",
                              request_id=job.request_id)
        parts = [{"part": p.part, "status": p.status, "request_id": p.request_id, "job_id": p.id,
                  "error": p.error, "motion_fidelity": p.motion_fidelity}
                 for p in deps.service.parts(caller.owner, job)]
        details = {"engine": job.engine, "request_id": job.request_id, "notes": list(job.notes),
                   "timings": dict(job.timings), "job_id": job.id, "model": job.edit_request().model,
                   "kind": job.kind, "parts": parts, "motion_fidelity": job.motion_fidelity}
        # Each file as an absolute signed link of the studio's own route, made for this caller: gradio
        # leaves a FileData with an http URL alone (no copy into its cache, served to anyone by path).
        # gradio_client fetches a FileData from its URL only when it is marked a stream (else it asks
        # gradio's file route for its path), so it is marked one: the URL is a plain, whole file.
        url = job_file_url(deps.settings, caller.owner)
        edited, side = url(job.output_video), url(job.side_by_side or job.output_video)
        return (FileData(path=edited, url=edited, orig_name="edited.mp4", is_stream=True),
                FileData(path=side, url=side, orig_name="side_by_side.mp4", is_stream=True), details)

    async def upload_file_to_gradio(file: str, request: gr.Request = None) -> FileData:  # type: ignore[assignment]
        if not isinstance(file, str) or not file.strip().lower().startswith(("http://", "https://", "data:")):
            raise InputError("Give the file as an https URL or a data: URL.",
                             fix="For a file on your machine, send data:<type>;base64,<its bytes in base64>.",
                             field="file")
        caller = Caller(api_owner(request), address_of(request, settings))
        path = await asyncio.to_thread(_fetched, deps, caller, file, settings.max_upload_mb * MB)
        found = deps.files.require(path, "The file", "file")
        return FileData(path=str(found), orig_name=found.name)

    edit.__doc__ = _docstring(SUMMARY, PARAMETERS, RETURNS)
    upload_file_to_gradio.__doc__ = _docstring(UPLOAD_SUMMARY, UPLOAD_PARAMETERS, UPLOAD_RETURNS)
    # /edit waits for its job (gradio_client expects the result), so it holds a queue worker: its
    # own concurrency id caps how many, and app.py gives gradio that many workers more than its
    # default 40, so API callers never take the workers page events need. An upload is short and
    # shares that id: a fetch waits on the network at most the fetch deadline.
    gr.api(shows_errors(edit), api_name=API_NAME, concurrency_limit=settings.api_concurrency,
           concurrency_id=API_NAME)
    gr.api(shows_errors(upload_file_to_gradio), api_name=UPLOAD_NAME, concurrency_id=API_NAME)


def publish_only_edit(demo: gr.Blocks) -> None:
    """Keep the page's own events (label insertion, previews, history) out of the API page and the
    MCP tool list: they are wiring, not a contract, and an agent offered forty of them would not
    find ``edit``. gradio has no Blocks-wide default for this, so it is set on each event once the
    page is built; the browser still calls them as before."""
    for fn in demo.fns.values():
        if fn.api_name not in (API_NAME, UPLOAD_NAME):
            fn.api_visibility = "private"


def _docstring(summary: str, parameters: dict[str, str], returns: str) -> str:
    """A docstring gradio reads into whole sentences: one line per parameter, one for the result."""
    lines = [summary, "", "Args:", *(f"    {name}: {text}" for name, text in parameters.items()),
             "Returns:", f"    {returns}"]
    return "\n".join(lines)


def _fetched_arguments(deps: Deps, caller: Caller, video: Any, images: Any, elements: Any):
    """The file arguments with every URL replaced by the file it names (see the module docstring)."""
    settings = deps.settings
    clip = _fetched(deps, caller, video, settings.video.max_bytes)
    picture = settings.image.max_bytes
    if isinstance(images, list):
        images = [_fetched(deps, caller, image, picture) for image in images]
    if isinstance(elements, list):
        elements = [{**element,
                     "frontal": _fetched(deps, caller, element.get("frontal"), picture),
                     "references": [_fetched(deps, caller, r, picture) for r in element["references"]]
                     if isinstance(element.get("references"), list) else element.get("references")}
                    if isinstance(element, dict) else element for element in elements]
    return clip, images, elements


def _fetched(deps: Deps, caller: Caller, value: Any, max_bytes: int) -> Any:
    """A string naming a file, as a path: this app's own file URL as its file, another http(s) URL
    fetched, a data: URL decoded, each into a scratch folder of its own and counted against the
    caller's write allowance. Anything else as it came."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text[:5].lower() == "data:":
        return str(_decoded(text, deps.scratch.new_folder, max_bytes,
                            lambda n: deps.service.charge_write(caller, n, 1, "This data: URL's file")))
    if not text.lower().startswith(("http://", "https://")):
        return value
    own = _own_file(text, deps) or deps.service.linked_file(caller, text, deps.scratch.new_folder)
    if own is not None:
        return str(own)
    return str(deps.service.fetch_clip(caller, text, deps.scratch.new_folder, max_bytes))


def _own_file(url: str, deps: Deps) -> Path | None:
    """The file a URL of this app's file route names, if it is one this app may hand to an edit
    (gradio's upload and cache folder, the scratch folder). Which host the URL names does not
    matter: behind a proxy this app cannot tell its public name from another's, and a path outside
    those folders is refused whatever host it came with."""
    path = urlsplit(url).path
    at = path.find(OWN_FILE_ROUTE)
    return deps.files.find(unquote(path[at + len(OWN_FILE_ROUTE):])) if at >= 0 else None


def _decoded(url: str, folder: Callable[[], Path], max_bytes: int, charge: Callable[[int], None]) -> Path:
    """A data: URL's bytes as a file in ``folder()``; its size is checked (and ``charge``d) before
    anything is decoded or written."""
    head = _DATA_URL.match(url)
    if head is None or not head.group(3):
        raise InputError("That data: URL is not base64 (data:<type>;base64,<bytes>).",
                         fix="Encode the file's bytes in base64 after “;base64,”.", field="file")
    body = url[head.end():]
    if len(body) * 3 // 4 > max_bytes:
        raise InputError(f"That data: URL holds about {human_size(len(body) * 3 // 4, max_bytes)}; the limit "
                         f"is {human_size(max_bytes)}.", fix="Send a smaller file.", field="file")
    try:
        data = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise InputError("That data: URL's base64 cannot be decoded.",
                         fix="Encode the file's bytes in standard base64.", field="file") from None
    charge(len(data))
    kind = (head.group(1) or "").lower()
    path = folder() / f"upload{_EXTENSIONS.get(kind, '.bin')}"
    path.write_bytes(data)
    return path


def _in_api_words(refused: InputError, clip: Path, deps: Deps) -> InputError:
    """A refusal of a clip too long for one edit, with the fix a script can use: the page offers a
    checkbox and Fix it, a script has the ``segments`` argument (up to the longest clip segments
    cover; past that it must trim the clip itself)."""
    limits, longest = deps.settings.video, deps.settings.max_source_seconds
    page_fix = trim_fix(limits)
    if not any(f.fix == page_fix for f in refused.findings) or probe(clip).duration > longest:
        return refused
    api_fix = (f"Pass segments=True to edit all of it in segments (clips of up to {seconds(longest)} s), "
               f"or trim it to {seconds(limits.max_seconds)} s or less first.")
    return InputError.from_findings([replace(f, fix=api_fix) if f.fix == page_fix else f
                                     for f in refused.findings])
