"""Every setting of the studio, read from the environment in one place.

One place per fact: the model's limits, its price and its id live here, so the checks, the cost
estimate, the README and the fake fal server all agree. Env names are prefixed ``STUDIO_`` except
``FAL_KEY``, which is the name fal_client and Hugging Face Space secrets already use.
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from components.secret import Secret

MB = 1024 * 1024  # every size limit and every size in a message uses this unit (human_size)

MODEL_ID = "fal-ai/kling-video/o1/video-to-video/edit"
MODEL_ID_STANDARD = "fal-ai/kling-video/o1/standard/video-to-video/edit"
MODEL_NAME = "Kling O1"  # how every message names the model; the tiers add to it
# USD per second of input video. fal publishes no price in the schema: O1 edit is what third-party
# apps quote; Standard is O1 edit scaled by fal's Standard/O1 ratio for image-to-video
# ($0.084 vs $0.112 per second). Both are estimates, and the page says so.
DEFAULT_PRICE_PER_SECOND = 0.168
DEFAULT_PRICE_PER_SECOND_STANDARD = 0.126
PRICE_NOTE = "prices are estimates; fal bills the real amount"


@dataclass(frozen=True)
class ModelTier:
    """One of the two endpoints that serve the same edit schema, and what a second of it costs."""

    id: str  # fal's endpoint id: what is submitted, and what the job stores
    name: str  # what the page, history and messages call it
    price_per_second: float


@dataclass(frozen=True)
class VideoLimits:
    """What Kling O1 accepts as ``video_url``: fal's published input schema (OmniV2VEditInput),
    the same for both tiers."""

    containers: tuple[str, ...] = ("mp4", "mov")
    min_seconds: float = 3.0
    max_seconds: float = 10.05  # the schema's own figure: the prose says "3-10 s", the check 10.05
    # Width and height each, as displayed (after rotation): 1280x720, 1920x1080 and 1080x1920 pass;
    # 854x480 (height 480) and 3840x2160 (width 3840) do not.
    min_side: int = 720
    max_side: int = 2160
    min_fps: float = 24.0  # a 23.976 fps film clip is below it; a 120 fps phone clip above max_fps
    max_fps: float = 60.0
    max_bytes: int = 200 * MB


@dataclass(frozen=True)
class ImageLimits:
    """What the studio accepts as a reference or element image. fal's schema sets the size, side
    and aspect limits on ``frontal_image_url``; the studio applies size and sides to every image
    (a smaller reference helps nobody) but the aspect ratio only where fal checks it."""

    formats: tuple[str, ...] = ("PNG", "JPEG", "WEBP")
    min_side: int = 300  # width and height each
    max_side: int = 8000
    max_bytes: int = 10 * MB
    min_aspect: float = 0.4  # width / height of a frontal image
    max_aspect: float = 2.5


def var(default: Any, name: str, *, minimum: float = 0, unit: int = 1,
        factory: Callable[[], Any] | None = None) -> Any:
    """A setting read from the environment variable ``name`` (``Settings.from_env``), ``default``
    (or ``factory()``) when it is unset: values under ``minimum`` are refused, and a size given in
    ``unit``s (MB) is stored in bytes."""
    meta = {"env": name, "minimum": minimum, "unit": unit}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Settings:
    model_id: str = MODEL_ID  # the default tier
    price_per_second: float = var(DEFAULT_PRICE_PER_SECOND, "STUDIO_PRICE_PER_SECOND")  # Kling O1
    price_per_second_standard: float = var(DEFAULT_PRICE_PER_SECOND_STANDARD,  # Kling O1 Standard
                                           "STUDIO_PRICE_PER_SECOND_STANDARD")
    prompt_max_chars: int = var(2500, "STUDIO_PROMPT_MAX_CHARS")
    max_references: int = 4  # elements + images together
    min_element_references: int = 1  # reference images per element besides the frontal one: fal
    max_element_references: int = 4  # requires at least one and takes at most four
    video: VideoLimits = field(default_factory=VideoLimits)
    # A longer clip is edited in segments of at most video.max_seconds each, joined afterwards;
    # takes run one edit several times at once to choose from.
    max_source_seconds: float = var(60.0, "STUDIO_MAX_SOURCE_SECONDS")
    # Decoding a long clip costs its pixels: 3840x2160 at 60 fps is about 500 megapixels a second.
    # A source above this rate is refused before any frame is decoded (a 16384x8192 clip would make
    # each ffmpeg hold about 2 GB). Rates under the model's minimum count at that minimum, the rate
    # the segments are cut at.
    max_source_megapixels_per_s: float = var(500.0, "STUDIO_MAX_SOURCE_MEGAPIXELS_PER_S")
    max_takes: int = var(4, "STUDIO_MAX_TAKES", minimum=1)
    image: ImageLimits = field(default_factory=ImageLimits)

    data_dir: Path = var(Path("data"), "STUDIO_DATA_DIR")
    fal_key: Secret | None = None  # the server's own key (Space secret); users may bring theirs
    # Show the key field so a user can bring their own key.
    allow_user_key: bool = var(True, "STUDIO_ALLOW_USER_KEY")
    # Public Spaces: never spend the server's key on visitors.
    require_user_key: bool = var(False, "STUDIO_REQUIRE_USER_KEY")
    max_upload_mb: int = var(250, "STUDIO_MAX_UPLOAD_MB")
    retention_days: float = var(7.0, "STUDIO_RETENTION_DAYS")
    retention_max_gb: float = var(5.0, "STUDIO_RETENTION_MAX_GB")
    rate_limit_per_hour: int = var(30, "STUDIO_RATE_LIMIT_PER_HOUR")  # edits one session may start per hour
    max_jobs_in_flight: int = var(3, "STUDIO_MAX_JOBS_IN_FLIGHT")  # per session
    fal_concurrency: int = var(64, "STUDIO_FAL_CONCURRENCY")  # fal jobs are remote waits: many at once
    local_concurrency: int = var(1, "STUDIO_LOCAL_CONCURRENCY")  # local preview is CPU-bound: few at once
    # The local preview is shared CPU, served round-robin across owners; each owner and each client
    # address may have this many local edits waiting or running, and use this many seconds of it
    # (time holding a local slot) per hour.
    local_jobs_queued: int = var(3, "STUDIO_LOCAL_JOBS_QUEUED", minimum=1)
    local_seconds_per_hour: float = var(600.0, "STUDIO_LOCAL_SECONDS_PER_HOUR")
    # /edit calls waiting for their job at once (more wait in gradio's queue); page events keep
    # gradio's 40 workers of their own beside them.
    api_concurrency: int = var(32, "STUDIO_API_CONCURRENCY", minimum=1)
    # Side-by-side renders (ffmpeg encodes) at once, whatever the engine.
    render_concurrency: int = var(2, "STUDIO_RENDER_CONCURRENCY", minimum=1)
    # A fal job still queued after this is reported with its id.
    queue_timeout_s: float = var(15 * 60, "STUDIO_QUEUE_TIMEOUT_S")
    max_result_bytes: int = var(500 * MB, "STUDIO_MAX_RESULT_MB", unit=MB)
    url_fetch_timeout_s: float = var(60.0, "STUDIO_URL_FETCH_TIMEOUT_S")
    # Disk a public page cannot fill: uploads and scratch files live this long; each client address
    # may make the server write this much and this many files per hour (uploads on every gradio
    # upload route, and the inputs its edits copy into job folders); uploads pause while the disk
    # has less than this free.
    upload_ttl_hours: float = var(6.0, "STUDIO_UPLOAD_TTL_HOURS")
    upload_mb_per_hour: int = var(2000, "STUDIO_UPLOAD_MB_PER_HOUR")
    upload_files_per_hour: int = var(1000, "STUDIO_UPLOAD_FILES_PER_HOUR")
    min_free_disk_mb: int = var(1024, "STUDIO_MIN_FREE_DISK_MB")
    # A page opens its job files through signed links of the studio's own route (components/share/
    # files.py); a link works for at most this long (and an hour more: links change once an hour).
    file_link_hours: float = var(12.0, "STUDIO_FILE_LINK_HOURS")
    # A request body (a queue/join JSON, any route but the upload routes) larger than this is refused
    # before it is read: gradio parses what it is sent in memory.
    max_request_kb: int = var(1024, "STUDIO_MAX_REQUEST_KB", minimum=1)
    scratch_dir: Path = var(None, "STUDIO_SCRATCH_DIR",
                            factory=lambda: Path(tempfile.gettempdir()) / "kling-studio")
    # The server key is the owner's money: a daily budget for the whole process, edits per client
    # address per hour, and (when set) only these signed-in Hugging Face users may spend it.
    server_budget_usd_per_day: float = var(10.0, "STUDIO_SERVER_BUDGET_USD_PER_DAY")
    server_edits_per_ip_per_hour: int = var(10, "STUDIO_SERVER_EDITS_PER_IP_PER_HOUR")
    # Lower-case user names; empty: anyone, within the budget.
    allowed_hf_users: tuple[str, ...] = var((), "STUDIO_ALLOWED_HF_USERS")
    # Peers whose X-Forwarded-For names the real client (a Space's proxy); loopback always is.
    trusted_proxies: tuple[str, ...] = var(("127.0.0.0/8", "::1/128"), "STUDIO_TRUSTED_PROXIES")
    # "Sign in with Hugging Face": only on a Space with `hf_oauth: true` (it sets OAUTH_CLIENT_ID);
    # elsewhere gradio's stand-in would ask hf.co who the machine's user is.
    hf_oauth: bool = False

    @classmethod
    def from_env(cls, env_vars: os._Environ[str] | dict[str, str] | None = None) -> Settings:
        """Every field that names its variable (``env(...)`` in its metadata) read from it, the
        field's own default when the variable is unset or empty: each default is written once."""
        e = os.environ if env_vars is None else env_vars
        values: dict[str, object] = {}
        for f in fields(cls):
            name = f.metadata.get("env")
            if name is None or not e.get(name, "").strip():
                continue
            default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
            values[f.name] = _parse(e, name, f.type, default, f.metadata)
        if "trusted_proxies" not in values:
            values["trusted_proxies"] = _default_proxies(e)
        key = e.get("FAL_KEY", "").strip()
        return cls(**values, fal_key=Secret(key) if key else None,  # type: ignore[arg-type]
                   hf_oauth=bool(e.get("SPACE_ID") and e.get("OAUTH_CLIENT_ID")))

    @property
    def tiers(self) -> tuple[ModelTier, ...]:
        """The endpoints a user may choose, the default first."""
        return (ModelTier(MODEL_ID, MODEL_NAME, self.price_per_second),
                ModelTier(MODEL_ID_STANDARD, f"{MODEL_NAME} Standard", self.price_per_second_standard))

    def tier(self, model_id: str | None = None) -> ModelTier | None:
        """The tier of an endpoint id (``None``: the default one); ``None`` for any other id, which
        the pre-flight refuses: a client must not be able to submit to an endpoint we never priced."""
        wanted = self.model_id if model_id is None else model_id
        return next((t for t in self.tiers if t.id == wanted), None)

    def cost(self, seconds: float, model_id: str | None = None) -> float:
        """What a fal run of a clip this long costs on that tier, in US dollars (an estimate)."""
        tier = self.tier(model_id) or self.tier()
        assert tier is not None
        return round(seconds * tier.price_per_second, 3)


def _parse(e, name: str, kind: str, default: object, meta: dict) -> object:
    """Parse a setting by its field's type; a typo in a Space's variables should say which one,
    not crash."""
    if kind == "bool":
        return _bool(e, name)
    if kind == "Path":
        return Path(e[name].strip())
    if name == "STUDIO_ALLOWED_HF_USERS":
        return _names(e, name)
    if name == "STUDIO_TRUSTED_PROXIES":
        return _networks(e, name)
    unit = int(meta["unit"])
    number = int if kind == "int" else float
    shown = default // unit if isinstance(default, int) else default  # type: ignore[operator]
    raw = e[name].strip()
    try:
        value = number(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a {'whole ' if number is int else ''}number; "
                         f"unset it to use the default ({shown}).") from None
    if value < meta["minimum"]:
        least = "be negative" if meta["minimum"] == 0 else f"be under {meta['minimum']:g}"
        raise ValueError(f"{name}={raw!r} must not {least}; unset it to use the default ({shown}).")
    return value * unit


def _names(e, name: str) -> tuple[str, ...]:
    """A comma- or space-separated list of Hugging Face user names (compared without case)."""
    return tuple(n.strip().lstrip("@").lower() for n in e.get(name, "").replace(",",
                                                                                " ").split() if n.strip())


def _networks(e, name: str) -> tuple[str, ...]:
    raw = e.get(name, "").replace(",", " ").split()
    for item in raw:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"{name} has {item!r}, which is not an IP address or network "
                             "(e.g. 10.0.0.0/8); unset it to use the default.") from None
    return tuple(raw)


def _default_proxies(e) -> tuple[str, ...]:
    """Loopback everywhere; on a Hugging Face Space (SPACE_ID is set) also the private ranges its
    proxy connects from, so each visitor's own address is what the per-address limit counts."""
    local = ("127.0.0.0/8", "::1/128")
    return (*local, "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16") if e.get("SPACE_ID") else local


def _bool(e, name: str) -> bool:
    return e[name].strip().lower() in {"1", "true", "yes", "on"}
