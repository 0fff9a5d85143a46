"""A fake fal.ai that speaks the traffic fal_client 1.0.3 makes (see tests/fakes/fal_protocol.md).

The real client drives it unmodified: queue (submit / status with logs and positions / result /
cancel), CDN token, single and multipart uploads, the GCS fallback, and public file URLs. It checks
``Authorization: Key <k>`` against the keys it was given and records which key submitted each
request, serves both tiers' endpoint ids, validates every argument against fal's published schema
(``SCHEMA``, its own copy, so a studio that loosened a limit would be caught) by fetching the files
it was given from its own storage and measuring them (the project's probe for the video, Pillow for
images), answers COMPLETED + a 422 result for bad input, and returns a real mp4: the uploaded clip
re-encoded with inverted colours.

Faults are switched per test with ``set_fault(name, count=None, **params)``; ``count`` is how many
times it fires (``None``: every time). Names:
``submit_status`` (status=401/429/500..), ``drop_submit`` (answer cut off mid-body),
``slow`` (seconds=; delays every queue call), ``stuck_in_queue``, ``drop_download`` (result file cut
off mid-body), ``cdn_upload_status`` (status=; forces the client's GCS fallback),
``result_status`` (status=), ``status_status`` (status=; the status poll answers an error),
``hold_after`` (first=N; every request after the first N submitted stays queued while it is set:
some parts of a long clip finish and the others wait, as a crash test needs), ``tagged_output``
(the result carries a title, a place and a device in its metadata, as a pipeline that copies tags
would: what the studio must not pass on).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import imageio_ffmpeg
import uvicorn
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from components.config import Settings
from components.errors import MediaError
from components.media.probe import probe
from components.secret import Secret
from tests.mediagen import PHONE_METADATA

QUEUE_OWNER_APP = "fal-ai/kling-video"  # what fal keeps of the endpoint id in request URLs
# Both tiers serve the same OmniV2VEditInput schema (see /work/shared/notes/fal-schema.md).
ENDPOINTS = ("fal-ai/kling-video/o1/video-to-video/edit",
             "fal-ai/kling-video/o1/standard/video-to-video/edit")
MB = 1024 * 1024
SCHEMA: dict[str, Any] = {  # fal's figures, written out here rather than read from the studio's config
    "video_formats": (".mp4", ".mov"), "video_max_bytes": 200 * MB, "video_min_side": 720,
    "video_max_side": 2160, "video_min_seconds": 3.0, "video_max_seconds": 10.05,
    "video_min_fps": 24.0, "video_max_fps": 60.0,
    "frontal_max_bytes": 10 * MB, "frontal_min_side": 300, "frontal_min_aspect": 0.4,
    "frontal_max_aspect": 2.5, "min_references": 1, "max_references": 4, "max_attachments": 4,
}
LOG_MESSAGES = ("Validating inputs", "Loading Kling O1", "Encoding reference images",
                "Generating frames", "Encoding video")


class _DropConnection(Exception):
    """Raised after part of a body was sent: uvicorn then closes the socket, like a dropped link."""


def _not_an_injected_drop(record: logging.LogRecord) -> bool:
    """Keep uvicorn's error log for real faults of the fake; injected drops are expected."""
    return not (record.exc_info and isinstance(record.exc_info[1], _DropConnection))


logging.getLogger("uvicorn.error").addFilter(_not_an_injected_drop)


@dataclass
class Fault:
    remaining: int | None  # None: fires forever
    params: dict[str, Any]


@dataclass
class StoredFile:
    path: Path
    content_type: str
    name: str
    owner: str  # key fingerprint of the uploader ("" for model outputs)
    expires_in: int | None = None  # seconds, from X-Fal-Object-Lifecycle
    sha256: str | None = None


@dataclass
class FakeJob:
    request_id: str
    key_fingerprint: str
    arguments: dict[str, Any]
    created: float
    cancelled: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    output_url: str | None = None
    output_size: int = 0
    detail: list[dict[str, Any]] | None = None  # 422 detail when the input was rejected
    endpoint: str = ENDPOINTS[0]
    serial: int = 0  # 0 for the first request submitted to this fake, 1 for the next...


class FakeFal:
    """The server. Use ``tests.fakes.fal_fixtures.running_fake_fal`` rather than this directly."""

    def __init__(self, *, keys: tuple[str, ...] = ("test-key",), queue_s: float = 0.0, run_s: float = 0.0,
                 queue_positions: int = 3, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.accepted = {Secret(k).fingerprint for k in keys}
        self.queue_s = queue_s
        self.run_s = run_s
        self.queue_positions = queue_positions
        self.url = ""
        self.jobs: dict[str, FakeJob] = {}
        self.files: dict[str, StoredFile] = {}
        self.submits = 0
        self.submits_by_endpoint: dict[str, int] = {}
        self.uploaded_bytes = 0
        self.uploads = 0
        self.multipart_parts = 0
        self.gcs_uploads = 0
        self.status_calls = 0
        self.status_open = self.status_peak = 0  # status polls being answered now, and at most
        self.cancels: list[str] = []
        self.downloads = 0
        self._faults: dict[str, Fault] = {}
        self._tokens: dict[str, str] = {}  # CDN bearer token -> key fingerprint
        self._multipart: dict[str, list[Path]] = {}
        self._outputs: dict[tuple[str, bool, bool], StoredFile] = {}  # (source sha, keep_audio, tagged)
        self._lock = threading.Lock()
        self._dir = Path(tempfile.mkdtemp(prefix="fakefal-"))
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="fakefal-encode")
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> FakeFal:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted sockets inherit it: without it a kept-alive answer (headers and body written
        # apart) waits ~40 ms for a delayed ACK, a stall fal's own servers do not have.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(self._app(), log_config=None, access_log=False, log_level="warning",
                                timeout_keep_alive=30, backlog=512)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name="fake-fal", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake fal server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving, without waiting for uvicorn to wind down: it notices the flag within 0.1 s
        and then gives open connections another 0.1 s, a fifth of a second a fake (six seconds over
        the suite's fakes) in which no test talks to this one. No encode outlives the call; the
        server thread removes the stored files once it is done."""
        if self._server is not None:
            self._server.should_exit = True
        self._pool.shutdown(wait=True, cancel_futures=True)
        threading.Thread(target=self._wind_down, name="fake-fal-stop", daemon=True).start()

    def _wind_down(self) -> None:
        if self._thread is not None:
            self._thread.join(timeout=10)
        shutil.rmtree(self._dir, ignore_errors=True)

    # ---------------------------------------------------------------- faults
    def set_fault(self, name: str, count: int | None = None, **params: Any) -> None:
        with self._lock:
            self._faults[name] = Fault(count, params)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _fault(self, name: str) -> dict[str, Any] | None:
        """The params of an active fault, consuming one shot of it."""
        with self._lock:
            fault = self._faults.get(name)
            if fault is None:
                return None
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    del self._faults[name]
            return fault.params

    def _active(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            fault = self._faults.get(name)
            return fault.params if fault else None

    # ---------------------------------------------------------------- routing
    def _app(self) -> Starlette:
        q = f"/{QUEUE_OWNER_APP}/requests/{{rid}}"
        return Starlette(routes=[
            Route("/storage/auth/token", self._cdn_token, methods=["POST"]),
            Route("/storage/upload/initiate", self._gcs_initiate, methods=["POST"]),
            Route("/gcs-upload/{fid}", self._gcs_put, methods=["PUT"]),
            Route("/files/upload", self._upload, methods=["POST"]),
            Route("/files/upload/multipart", self._multipart_create, methods=["POST"]),
            Route("/files/{bucket}/{fname}/multipart/{upload_id}/complete", self._multipart_complete,
                  methods=["POST"]),
            Route("/files/{bucket}/{fname}/multipart/{upload_id}/{part:int}", self._multipart_part,
                  methods=["PUT"]),
            Route("/files/{bucket}/{fname}", self._serve_file, methods=["GET"]),
            Route(q + "/status", self._status, methods=["GET"]),
            Route(q + "/cancel", self._cancel, methods=["PUT"]),
            Route(q, self._result, methods=["GET"]),
            Route("/_fake/stats", self._stats, methods=["GET"]),
            Route("/{app_path:path}", self._submit, methods=["POST"]),
        ])

    def stats(self) -> dict[str, Any]:
        """The counters tests assert on, as JSON-safe values (also served at /_fake/stats)."""
        return {"submits": self.submits, "submits_by_endpoint": dict(self.submits_by_endpoint),
                "uploaded_bytes": self.uploaded_bytes, "uploads": self.uploads,
                "multipart_parts": self.multipart_parts, "gcs_uploads": self.gcs_uploads,
                "status_calls": self.status_calls, "status_peak": self.status_peak,
                "cancels": list(self.cancels), "downloads": self.downloads}

    async def _stats(self, request: Request) -> Response:
        return JSONResponse(self.stats())

    def _key(self, request: Request, scheme: str = "Key") -> str | None:
        """The caller's key fingerprint, or None when the header is missing or the key unknown."""
        header = request.headers.get("authorization", "")
        prefix = f"{scheme} "
        if not header.startswith(prefix):
            return None
        value = header[len(prefix):]
        if scheme == "Bearer":
            return self._tokens.get(value)
        fingerprint = Secret(value).fingerprint
        return fingerprint if fingerprint in self.accepted else None

    @staticmethod
    def _unauthorized() -> JSONResponse:
        return JSONResponse({"detail": "No user found for Key ID and Secret"}, status_code=401,
                            headers={"x-fal-error-type": "authorization_error"})

    # ---------------------------------------------------------------- storage
    async def _cdn_token(self, request: Request) -> Response:
        owner = self._key(request)
        if owner is None:
            return self._unauthorized()
        token = uuid.uuid4().hex
        self._tokens[token] = owner
        expires = datetime.now(timezone.utc) + timedelta(hours=1)
        return JSONResponse({"token": token, "token_type": "Bearer", "base_url": self.url,
                             "expires_at": expires.isoformat()})

    async def _store(self, request: Request, owner: str, name: str, content_type: str) -> StoredFile:
        fid = uuid.uuid4().hex[:12]
        path = self._dir / f"{fid}_{_safe(name)}"
        size = 0
        with path.open("wb") as fh:
            async for chunk in request.stream():
                fh.write(chunk)
                size += len(chunk)
        stored = StoredFile(path, content_type, path.name, owner, _lifecycle(request))
        self.files[fid] = stored
        self.uploaded_bytes += size
        self.uploads += 1
        return stored

    def _public_url(self, stored: StoredFile, bucket: str = "u") -> str:
        return f"{self.url}/files/{bucket}/{stored.name}"

    async def _upload(self, request: Request) -> Response:
        owner = self._key(request, "Bearer")
        if owner is None:
            return self._unauthorized()
        fault = self._fault("cdn_upload_status")
        if fault is not None:
            return JSONResponse({"detail": "CDN unavailable"}, status_code=fault.get("status", 500))
        stored = await self._store(request, owner, request.headers.get("x-fal-file-name", "upload.bin"),
                                   request.headers.get("content-type", "application/octet-stream"))
        return JSONResponse({"access_url": self._public_url(stored)})

    async def _multipart_create(self, request: Request) -> Response:
        owner = self._key(request, "Bearer")
        if owner is None:
            return self._unauthorized()
        fid = uuid.uuid4().hex[:12]
        name = f"{fid}_{_safe(request.headers.get('x-fal-file-name', 'upload.bin'))}"
        stored = StoredFile(self._dir / name, request.headers.get("content-type", "application/octet-stream"),
                            name, owner, _lifecycle(request))
        upload_id = uuid.uuid4().hex
        self._multipart[upload_id] = []
        self.files[fid] = stored
        return JSONResponse({"access_url": self._public_url(stored), "uploadId": upload_id})

    async def _multipart_part(self, request: Request) -> Response:
        if self._key(request, "Bearer") is None:
            return self._unauthorized()
        upload_id = request.path_params["upload_id"]
        if upload_id not in self._multipart:
            return JSONResponse({"detail": "unknown upload"}, status_code=404)
        part = self._dir / f"part-{upload_id}-{request.path_params['part']:05d}"
        digest = hashlib.md5(usedforsecurity=False)
        size = 0
        with part.open("wb") as fh:
            async for chunk in request.stream():
                fh.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        self._multipart[upload_id].append(part)
        self.uploaded_bytes += size
        self.multipart_parts += 1
        return Response(status_code=200, headers={"ETag": f'"{digest.hexdigest()}"'})

    async def _multipart_complete(self, request: Request) -> Response:
        if self._key(request, "Bearer") is None:
            return self._unauthorized()
        upload_id = request.path_params["upload_id"]
        parts = self._multipart.pop(upload_id, None)
        body = await request.json()
        if parts is None or len(body.get("parts", [])) != len(parts):
            return JSONResponse({"detail": "parts do not match the upload"}, status_code=400)
        stored = self.files[request.path_params["fname"].split("_", 1)[0]]
        with stored.path.open("wb") as out:
            for part in sorted(parts):
                out.write(part.read_bytes())
                part.unlink()
        self.uploads += 1
        return JSONResponse({"access_url": self._public_url(stored)})

    async def _gcs_initiate(self, request: Request) -> Response:
        owner = self._key(request)
        if owner is None:
            return self._unauthorized()
        body = await request.json()
        fid = uuid.uuid4().hex[:12]
        name = f"{fid}_{_safe(body.get('file_name', 'upload.bin'))}"
        self.files[fid] = StoredFile(self._dir / name, body.get("content_type", "application/octet-stream"),
                                     name, owner)
        return JSONResponse({"upload_url": f"{self.url}/gcs-upload/{fid}",
                             "file_url": self._public_url(self.files[fid])})

    async def _gcs_put(self, request: Request) -> Response:
        stored = self.files.get(request.path_params["fid"])
        if stored is None:
            return JSONResponse({"detail": "unknown upload"}, status_code=404)
        size = 0
        with stored.path.open("wb") as fh:
            async for chunk in request.stream():
                fh.write(chunk)
                size += len(chunk)
        self.uploaded_bytes += size
        self.uploads += 1
        self.gcs_uploads += 1
        return Response(status_code=200)

    async def _serve_file(self, request: Request) -> Response:
        stored = self._lookup(request.url.path)
        if stored is None or not stored.path.exists():
            return JSONResponse({"detail": "Not found"}, status_code=404)
        self.downloads += 1
        if request.path_params["bucket"] == "out" and self._fault("drop_download") is not None:
            return _CutOffResponse(stored.path, stored.content_type)
        return FileResponse(stored.path, media_type=stored.content_type)

    def _lookup(self, url: str) -> StoredFile | None:
        path = urlsplit(url).path
        if not path.startswith("/files/"):
            return None
        bucket, _, fname = path[len("/files/"):].partition("/")
        fid = fname.split("_", 1)[0]
        if bucket == "out":
            return next((o for o in self._outputs.values() if o.name == fname), None)
        return self.files.get(fid)

    # ---------------------------------------------------------------- queue
    async def _slow(self) -> None:
        fault = self._active("slow")
        if fault is not None:
            await asyncio.sleep(fault.get("seconds", 1.0))

    async def _submit(self, request: Request) -> Response:
        await self._slow()
        endpoint = request.path_params["app_path"]
        if endpoint not in ENDPOINTS:
            return JSONResponse({"detail": "Application not found"}, status_code=404)
        owner = self._key(request)
        if owner is None:
            return self._unauthorized()
        fault = self._fault("submit_status")
        if fault is not None:
            return JSONResponse({"detail": fault.get("detail", "Service error")},
                                status_code=fault.get("status", 500))
        if self._fault("drop_submit") is not None:
            return _CutOffResponse(None, "application/json")
        try:
            arguments = await request.json()
        except json.JSONDecodeError:
            return JSONResponse({"detail": "Body is not JSON"}, status_code=400)
        rid = str(uuid.uuid4())
        job = FakeJob(rid, owner, arguments, time.monotonic(), endpoint=endpoint, serial=self.submits)
        self.jobs[rid] = job
        self.submits += 1
        self.submits_by_endpoint[endpoint] = self.submits_by_endpoint.get(endpoint, 0) + 1
        asyncio.get_running_loop().run_in_executor(self._pool, self._process, job)
        base = f"{self.url}/{QUEUE_OWNER_APP}/requests/{rid}"
        return JSONResponse({"status": "IN_QUEUE", "request_id": rid, "response_url": base,
                             "status_url": base + "/status", "cancel_url": base + "/cancel",
                             "queue_position": self.queue_positions},
                            headers={"x-fal-request-id": rid})

    async def _job(self, request: Request, not_found: dict[str, Any]) -> FakeJob | Response:
        """The caller's job, or the answer fal gives instead (401 without a key, 404 with
        ``not_found`` when there is no such job); another key's job is as invisible as a missing one."""
        await self._slow()
        key = self._key(request)
        if key is None:
            return self._unauthorized()
        job = self.jobs.get(request.path_params["rid"])
        if job is None or job.key_fingerprint != key:
            return JSONResponse(not_found, status_code=404)
        return job

    async def _status(self, request: Request) -> Response:
        self.status_open += 1  # one event loop: no lock needed
        self.status_peak = max(self.status_peak, self.status_open)
        try:
            return await self._answer_status(request)
        finally:
            self.status_open -= 1

    async def _answer_status(self, request: Request) -> Response:
        job = await self._job(request, {"detail": "Request not found"})
        if not isinstance(job, FakeJob):
            return job
        self.status_calls += 1
        fault = self._fault("status_status")
        if fault is not None:
            return JSONResponse({"detail": "Internal server error"}, status_code=fault.get("status", 500))
        with_logs = request.query_params.get("logs", "false").lower() == "true"
        return JSONResponse(self._status_body(job, with_logs))

    def _status_body(self, job: FakeJob, with_logs: bool) -> dict[str, Any]:
        elapsed = time.monotonic() - job.created
        if job.cancelled:
            return {"status": "COMPLETED", "logs": [] if with_logs else None, "metrics": {},
                    "error": "Request cancelled", "error_type": "client_cancelled"}
        hold = self._active("hold_after")
        held = hold is not None and job.serial >= int(hold.get("first", 0))
        if held or self._active("stuck_in_queue") is not None or elapsed < self.queue_s:
            left = 1.0 if self.queue_s <= 0 else max(0.0, (self.queue_s - elapsed) / self.queue_s)
            position = max(0, math.ceil(self.queue_positions * left) - 1)
            return {"status": "IN_QUEUE", "queue_position": position}
        ran = (elapsed - self.queue_s) / self.run_s if self.run_s > 0 else 1.0
        done = ran >= 1.0 and job.done.is_set()
        shown = len(LOG_MESSAGES) if done else min(len(LOG_MESSAGES) - 1, int(ran * len(LOG_MESSAGES)))
        logs = [{"message": m, "level": "INFO", "source": "user",
                 "timestamp": datetime.now(timezone.utc).isoformat()} for m in LOG_MESSAGES[:shown]]
        body: dict[str, Any] = {"logs": logs if with_logs else None}
        if not done:
            return {"status": "IN_PROGRESS", **body}
        body.update(status="COMPLETED", metrics={"inference_time": round(self.run_s, 3)})
        if job.detail:
            body.update(error="Unprocessable Entity", error_type="validation_error")
        return body

    async def _result(self, request: Request) -> Response:
        job = await self._job(request, {"detail": "Request not found"})
        if not isinstance(job, FakeJob):
            return job
        if self._status_body(job, False)["status"] != "COMPLETED":
            return JSONResponse({"detail": "Request is still in progress"}, status_code=400)
        fault = self._fault("result_status")
        if fault is not None:
            return JSONResponse({"detail": "Internal server error"}, status_code=fault.get("status", 500))
        if job.cancelled:
            return JSONResponse({"detail": "Request was cancelled", "error_type": "client_cancelled"},
                                status_code=400)
        if job.detail:
            return JSONResponse({"detail": job.detail}, status_code=422,
                                headers={"x-fal-error-type": "validation_error"})
        return JSONResponse({"video": {"url": job.output_url, "content_type": "video/mp4",
                                       "file_name": "output.mp4", "file_size": job.output_size}})

    async def _cancel(self, request: Request) -> Response:
        job = await self._job(request, {"status": "NOT_FOUND"})
        if not isinstance(job, FakeJob):
            return job
        if job.cancelled or self._status_body(job, False)["status"] == "COMPLETED":
            return JSONResponse({"status": "ALREADY_COMPLETED"}, status_code=400)
        job.cancelled = True
        self.cancels.append(job.request_id)
        return JSONResponse({"status": "CANCELLATION_REQUESTED"}, status_code=202)

    # ---------------------------------------------------------------- the "model"
    def _process(self, job: FakeJob) -> None:
        """Validate like Kling O1's schema, then make the output (cached per source clip)."""
        try:
            job.detail = self._validate(job.arguments)
            if not job.detail:
                output = self._render(self._lookup(job.arguments["video_url"]),
                                      bool(job.arguments.get("keep_audio", False)),
                                      tagged=self._fault("tagged_output") is not None)
                job.output_url = self._public_url(output, "out")
                job.output_size = output.path.stat().st_size
        except Exception as exc:  # a fake must answer, never hang: report it as fal would
            job.detail = [{"loc": ["body"], "msg": f"fake fal failed: {exc}", "type": "internal"}]
        finally:
            job.done.set()

    def _validate(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        """Every way ``args`` breaks OmniV2VEditInput, in pydantic's 422 shape, one item per problem."""
        detail: list[dict[str, Any]] = []

        def bad(loc: list[Any], msg: str, kind: str) -> None:
            detail.append({"loc": ["body", *loc], "msg": msg, "type": kind})

        prompt = args.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            bad(["prompt"], "Field required", "missing")
        elif len(prompt) > self.settings.prompt_max_chars:
            bad(["prompt"], f"String should have at most {self.settings.prompt_max_chars} characters",
                "string_too_long")
        if "keep_audio" in args and not isinstance(args["keep_audio"], bool):
            bad(["keep_audio"], "Input should be a valid boolean", "bool_type")
        images, elements = args.get("image_urls") or [], args.get("elements") or []
        if not isinstance(images, list) or not isinstance(elements, list):
            bad(["image_urls" if not isinstance(images, list) else "elements"],
                "Input should be a valid list", "list_type")
            return detail
        if len(images) + len(elements) > SCHEMA["max_attachments"]:
            bad(["elements"], f"At most {SCHEMA['max_attachments']} elements and images in total, "
                f"got {len(images) + len(elements)}", "value_error")
        for i, url in enumerate(images):
            if self._image(url) is None:
                bad(["image_urls", i], "Could not download the image", "file_download_error")
        for i, element in enumerate(elements):
            self._validate_element(element if isinstance(element, dict) else {}, i, bad)
        if "video_url" not in args:
            bad(["video_url"], "Field required", "missing")
            return detail
        video = self._lookup(args["video_url"]) if isinstance(args["video_url"], str) else None
        if video is None or not video.path.exists():
            bad(["video_url"], "Could not download the video", "file_download_error")
            return detail
        for msg in self._check_video(video):
            bad(["video_url"], msg, "video_validation_error")
        return detail

    def _validate_element(self, element: dict[str, Any], i: int, bad: Any) -> None:
        """OmniVideoElementInput: a frontal image within its limits and 1-4 reference images."""
        frontal = element.get("frontal_image_url")
        if frontal is None:
            bad(["elements", i, "frontal_image_url"], "Field required", "missing")
        else:
            measured = self._image(frontal)
            if measured is None:
                bad(["elements", i, "frontal_image_url"], "Could not download the image",
                    "file_download_error")
            else:
                for msg in _frontal_problems(*measured):
                    bad(["elements", i, "frontal_image_url"], msg, "image_validation_error")
        refs = element.get("reference_image_urls")
        low, high = SCHEMA["min_references"], SCHEMA["max_references"]
        if refs is None:
            bad(["elements", i, "reference_image_urls"], "Field required", "missing")
        elif not isinstance(refs, list):
            bad(["elements", i, "reference_image_urls"], "Input should be a valid list", "list_type")
        elif len(refs) < low:
            bad(["elements", i, "reference_image_urls"],
                f"List should have at least {low} item after validation, not {len(refs)}", "too_short")
        elif len(refs) > high:
            bad(["elements", i, "reference_image_urls"],
                f"List should have at most {high} items after validation, not {len(refs)}", "too_long")
        else:
            for j, url in enumerate(refs):
                if self._image(url) is None:
                    bad(["elements", i, "reference_image_urls", j], "Could not download the image",
                        "file_download_error")

    def _image(self, url: Any) -> tuple[int, int, int] | None:
        """(bytes, width, height) of an image in this fake's storage; None when it cannot be fetched
        or is not an image (fal downloads it and opens it the same way)."""
        stored = self._lookup(url) if isinstance(url, str) else None
        if stored is None or not stored.path.exists():
            return None
        try:
            with Image.open(stored.path) as im:
                width, height = im.size
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            return None
        return stored.path.stat().st_size, width, height

    def _check_video(self, video: StoredFile) -> list[str]:
        """Measure the clip (the studio's probe: container, sides, duration, average rate) and name
        every limit it breaks, in fal's wording."""
        if video.path.suffix.lower() not in SCHEMA["video_formats"]:
            return [f"Unsupported video format {video.path.suffix or '(none)'}; use mp4 or mov"]
        size = video.path.stat().st_size
        if size > SCHEMA["video_max_bytes"]:
            return [f"Video file size {size} bytes exceeds the maximum of 200.0MB"]
        try:
            info = probe(video.path)
        except MediaError:
            return ["Could not decode the video"]
        problems = []
        low, high = SCHEMA["video_min_side"], SCHEMA["video_max_side"]
        for side, px in (("width", info.width), ("height", info.height)):
            if not low <= px <= high:
                problems.append(f"Video {side} must be between {low} and {high} pixels, got {px}")
        lo_s, hi_s = SCHEMA["video_min_seconds"], SCHEMA["video_max_seconds"]
        if not lo_s <= info.duration <= hi_s:
            problems.append(f"Video duration must be between {lo_s} and {hi_s} seconds, "
                            f"got {info.duration:.2f}")
        lo_f, hi_f = SCHEMA["video_min_fps"], SCHEMA["video_max_fps"]
        if not lo_f - 0.005 <= info.fps <= hi_f + 0.005:
            problems.append(f"Video FPS must be between {lo_f} and {hi_f}, got {info.fps:.3f}")
        return problems

    def _render(self, source: StoredFile | None, keep_audio: bool, tagged: bool = False) -> StoredFile:
        assert source is not None
        if source.sha256 is None:  # stored files never change: hash each once
            with source.path.open("rb") as fh:
                source.sha256 = hashlib.file_digest(fh, "sha256").hexdigest()
        with self._lock:
            cached = self._outputs.get((source.sha256, keep_audio, tagged))
        if cached:
            return cached
        out = _rendered(source.path, source.sha256, keep_audio, tagged)
        stored = StoredFile(out, "video/mp4", f"{uuid.uuid4().hex[:12]}_output.mp4", "")
        with self._lock:
            return self._outputs.setdefault((source.sha256, keep_audio, tagged), stored)


# Made by the first render, not on import: every launched app imports this module, and a killed
# app would leave its folder behind.
_render_dir: tempfile.TemporaryDirectory | None = None
_render_lock = threading.Lock()


def _rendered(source: Path, sha256: str, keep_audio: bool, tagged: bool = False) -> Path:
    """The "model output" for a clip: inverted colours (``tagged``: with PHONE_METADATA's title,
    place and device). Kept for the whole process, so the many short-lived fakes of a test run
    encode each test clip once."""
    global _render_dir
    with _render_lock:
        if _render_dir is None:
            _render_dir = tempfile.TemporaryDirectory(prefix="fakefal-renders-")
        out = Path(_render_dir.name) / f"{sha256[:24]}-{int(keep_audio)}{'-tagged' * tagged}.mp4"
        if out.exists():
            return out
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
               "-i", str(source), "-vf", "negate", "-c:v", "libx264", "-preset", "ultrafast",
               "-crf", "32", "-pix_fmt", "yuv420p"]
        if tagged:
            cmd += [arg for key, value in PHONE_METADATA.items() for arg in ("-metadata", f"{key}={value}")]
        cmd += ["-c:a", "aac"] if keep_audio else ["-an"]
        tmp = out.with_suffix(".tmp.mp4")
        flags = "+faststart+use_metadata_tags" if tagged else "+faststart"
        subprocess.run([*cmd, "-movflags", flags, str(tmp)], check=True, timeout=120)
        tmp.replace(out)
        return out


class _CutOffResponse(Response):
    """Announces the whole body, sends part of it, then drops the connection."""

    def __init__(self, path: Path | None, media_type: str) -> None:
        super().__init__(media_type=media_type)
        self._body = path.read_bytes() if path else b'{"request_id": "' + b"x" * 200 + b'"}'

    async def __call__(self, scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", self.media_type.encode()),
                                (b"content-length", str(len(self._body)).encode())]})
        await send({"type": "http.response.body", "body": self._body[: len(self._body) // 3],
                    "more_body": True})
        raise _DropConnection("fault injected: connection dropped mid-body")


def _frontal_problems(size: int, width: int, height: int) -> list[str]:
    """What fal's schema says about one frontal image: size, each side, aspect ratio."""
    problems = []
    if size > SCHEMA["frontal_max_bytes"]:
        problems.append(f"Image file size {size} bytes exceeds the maximum of 10.0MB")
    low = SCHEMA["frontal_min_side"]
    if width < low or height < low:
        problems.append(f"Image must be at least {low}x{low} pixels, got {width}x{height}")
    aspect = width / height
    if not SCHEMA["frontal_min_aspect"] <= aspect <= SCHEMA["frontal_max_aspect"]:
        problems.append(f"Image aspect ratio must be between {SCHEMA['frontal_min_aspect']:.2f} and "
                        f"{SCHEMA['frontal_max_aspect']:.2f}, got {aspect:.2f}")
    return problems


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[-80:] or "upload.bin"


def _lifecycle(request: Request) -> int | None:
    raw = request.headers.get("x-fal-object-lifecycle")
    if not raw:
        return None
    return json.loads(raw).get("expiration_duration_seconds")


def main() -> None:
    """Serve from its own process (benchmarks: the fake's work must not share the app's GIL).
    Prints the URL on the first line of stdout, then serves until stdin closes."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="fake fal server")
    parser.add_argument("--key", action="append", default=[])
    parser.add_argument("--queue-s", type=float, default=0.0)
    parser.add_argument("--run-s", type=float, default=0.0)
    args = parser.parse_args()
    fake = FakeFal(keys=tuple(args.key) or ("test-key",), queue_s=args.queue_s, run_s=args.run_s).start()
    print(fake.url, flush=True)
    try:
        sys.stdin.read()
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
