"""Every setting of the studio, read from the environment in one place.

One place per fact: the model's limits, its price and its id live here, so the checks, the cost
estimate, the README and the fake fal server all agree. Env names are prefixed ``STUDIO_`` except
``FAL_KEY``, which is the name fal_client and Hugging Face Space secrets already use.
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

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


@dataclass(frozen=True)
class Settings:
    model_id: str = MODEL_ID  # the default tier
    price_per_second: float = DEFAULT_PRICE_PER_SECOND  # Kling O1
    price_per_second_standard: float = DEFAULT_PRICE_PER_SECOND_STANDARD  # Kling O1 Standard
    prompt_max_chars: int = 2500
    max_references: int = 4  # elements + images together
    min_element_references: int = 1  # reference images per element besides the frontal one: fal
    max_element_references: int = 4  # requires at least one and takes at most four
    video: VideoLimits = field(default_factory=VideoLimits)
    # A longer clip is edited in segments of at most video.max_seconds each, joined afterwards;
    # takes run one edit several times at once to choose from.
    max_source_seconds: float = 60.0
    # Decoding a long clip costs its pixels: 3840x2160 at 60 fps is about 500 megapixels a second.
    # A source above this rate is refused before any frame is decoded (a 16384x8192 clip would make
    # each ffmpeg hold about 2 GB). Rates under the model's minimum count at that minimum, the rate
    # the segments are cut at.
    max_source_megapixels_per_s: float = 500.0
    max_takes: int = 4
    image: ImageLimits = field(default_factory=ImageLimits)

    data_dir: Path = Path("data")
    fal_key: Secret | None = None  # the server's own key (Space secret); users may bring theirs
    allow_user_key: bool = True  # show the key field so a user can bring their own key
    require_user_key: bool = False  # public Spaces: never spend the server's key on visitors
    max_upload_mb: int = 250
    retention_days: float = 7.0
    retention_max_gb: float = 5.0
    rate_limit_per_hour: int = 30  # edits one session may start per hour
    max_jobs_in_flight: int = 3  # per session
    fal_concurrency: int = 64  # fal jobs are remote waits: many at once
    local_concurrency: int = 1  # local preview is CPU-bound: few at once
    # The local preview is shared CPU, served round-robin across owners; each owner and each client
    # address may have this many local edits waiting or running, and use this many seconds of it
    # (time holding a local slot) per hour.
    local_jobs_queued: int = 3
    local_seconds_per_hour: float = 600.0
    # /edit calls waiting for their job at once (more wait in gradio's queue); page events keep
    # gradio's 40 workers of their own beside them.
    api_concurrency: int = 32
    render_concurrency: int = 2  # side-by-side renders (ffmpeg encodes) at once, whatever the engine
    queue_timeout_s: float = 15 * 60  # a fal job still queued after this is reported with its id
    max_result_bytes: int = 500 * MB
    url_fetch_timeout_s: float = 60.0
    # Disk a public page cannot fill: uploads and scratch files live this long; each client address
    # may make the server write this much and this many files per hour (uploads on every gradio
    # upload route, and the inputs its edits copy into job folders); uploads pause while the disk
    # has less than this free.
    upload_ttl_hours: float = 6.0
    upload_mb_per_hour: int = 2000
    upload_files_per_hour: int = 1000
    min_free_disk_mb: int = 1024
    # A page opens its job files through signed links of the studio's own route (components/share/
    # files.py); a link works for at most this long (and an hour more: links change once an hour).
    file_link_hours: float = 12.0
    # A request body (a queue/join JSON, any route but the upload routes) larger than this is refused
    # before it is read: gradio parses what it is sent in memory.
    max_request_kb: int = 1024
    scratch_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "kling-studio")
    # The server key is the owner's money: a daily budget for the whole process, edits per client
    # address per hour, and (when set) only these signed-in Hugging Face users may spend it.
    server_budget_usd_per_day: float = 10.0
    server_edits_per_ip_per_hour: int = 10
    allowed_hf_users: tuple[str, ...] = ()  # lower-case user names; empty: anyone, within the budget
    # Peers whose X-Forwarded-For names the real client (a Space's proxy); loopback always is.
    trusted_proxies: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    # "Sign in with Hugging Face": only on a Space with `hf_oauth: true` (it sets OAUTH_CLIENT_ID);
    # elsewhere gradio's stand-in would ask hf.co who the machine's user is.
    hf_oauth: bool = False

    @classmethod
    def from_env(cls, env: os._Environ[str] | dict[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        key = e.get("FAL_KEY", "").strip()
        return cls(
            price_per_second=_float(e, "STUDIO_PRICE_PER_SECOND", DEFAULT_PRICE_PER_SECOND),
            price_per_second_standard=_float(e, "STUDIO_PRICE_PER_SECOND_STANDARD",
                                             DEFAULT_PRICE_PER_SECOND_STANDARD),
            prompt_max_chars=_int(e, "STUDIO_PROMPT_MAX_CHARS", 2500),
            max_source_seconds=_float(e, "STUDIO_MAX_SOURCE_SECONDS", 60.0),
            max_source_megapixels_per_s=_float(e, "STUDIO_MAX_SOURCE_MEGAPIXELS_PER_S", 500.0),
            max_takes=max(1, _int(e, "STUDIO_MAX_TAKES", 4)),
            data_dir=Path(e.get("STUDIO_DATA_DIR", "data")),
            fal_key=Secret(key) if key else None,
            allow_user_key=_bool(e, "STUDIO_ALLOW_USER_KEY", True),
            require_user_key=_bool(e, "STUDIO_REQUIRE_USER_KEY", False),
            max_upload_mb=_int(e, "STUDIO_MAX_UPLOAD_MB", 250),
            retention_days=_float(e, "STUDIO_RETENTION_DAYS", 7.0),
            retention_max_gb=_float(e, "STUDIO_RETENTION_MAX_GB", 5.0),
            rate_limit_per_hour=_int(e, "STUDIO_RATE_LIMIT_PER_HOUR", 30),
            max_jobs_in_flight=_int(e, "STUDIO_MAX_JOBS_IN_FLIGHT", 3),
            fal_concurrency=_int(e, "STUDIO_FAL_CONCURRENCY", 64),
            local_concurrency=_int(e, "STUDIO_LOCAL_CONCURRENCY", 1),
            local_jobs_queued=max(1, _int(e, "STUDIO_LOCAL_JOBS_QUEUED", 3)),
            local_seconds_per_hour=_float(e, "STUDIO_LOCAL_SECONDS_PER_HOUR", 600.0),
            api_concurrency=max(1, _int(e, "STUDIO_API_CONCURRENCY", 32)),
            render_concurrency=max(1, _int(e, "STUDIO_RENDER_CONCURRENCY", 2)),
            queue_timeout_s=_float(e, "STUDIO_QUEUE_TIMEOUT_S", 15 * 60),
            max_result_bytes=_int(e, "STUDIO_MAX_RESULT_MB", 500) * MB,
            url_fetch_timeout_s=_float(e, "STUDIO_URL_FETCH_TIMEOUT_S", 60.0),
            upload_ttl_hours=_float(e, "STUDIO_UPLOAD_TTL_HOURS", 6.0),
            upload_mb_per_hour=_int(e, "STUDIO_UPLOAD_MB_PER_HOUR", 2000),
            upload_files_per_hour=_int(e, "STUDIO_UPLOAD_FILES_PER_HOUR", 1000),
            max_request_kb=max(1, _int(e, "STUDIO_MAX_REQUEST_KB", 1024)),
            file_link_hours=_float(e, "STUDIO_FILE_LINK_HOURS", 12.0),
            min_free_disk_mb=_int(e, "STUDIO_MIN_FREE_DISK_MB", 1024),
            scratch_dir=Path(e.get("STUDIO_SCRATCH_DIR") or Path(tempfile.gettempdir()) / "kling-studio"),
            server_budget_usd_per_day=_float(e, "STUDIO_SERVER_BUDGET_USD_PER_DAY", 10.0),
            server_edits_per_ip_per_hour=_int(e, "STUDIO_SERVER_EDITS_PER_IP_PER_HOUR", 10),
            allowed_hf_users=_names(e, "STUDIO_ALLOWED_HF_USERS"),
            trusted_proxies=_networks(e, "STUDIO_TRUSTED_PROXIES", default=_default_proxies(e)),
            hf_oauth=bool(e.get("SPACE_ID") and e.get("OAUTH_CLIENT_ID")),
        )

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


def _int(e, name: str, default: int) -> int:
    return int(_number(e, name, default, int))


def _float(e, name: str, default: float) -> float:
    return float(_number(e, name, default, float))


def _number(e, name: str, default: float, kind: type) -> float:
    """Parse a numeric setting; a typo in a Space's variables should say which one, not crash."""
    raw = e.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a {'whole ' if kind is int else ''}number; "
                         f"unset it to use the default ({default}).") from None
    if value < 0:
        raise ValueError(f"{name}={raw!r} must not be negative; unset it to use the default ({default}).")
    return value


def _names(e, name: str) -> tuple[str, ...]:
    """A comma- or space-separated list of Hugging Face user names (compared without case)."""
    return tuple(n.strip().lstrip("@").lower() for n in e.get(name, "").replace(",",
                                                                                " ").split() if n.strip())


def _networks(e, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = e.get(name, "").replace(",", " ").split()
    if not raw:
        return default
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


def _bool(e, name: str, default: bool) -> bool:
    raw = e.get(name, "").strip().lower()
    if not raw:
        return default
    return raw in {"1", "true", "yes", "on"}
