"""The one model of an edit, shared by the UI, the API, both engines and the job store.

Paths are local files: URLs typed by a user are fetched first, so every engine, check and cache
sees the same thing. ``to_fal_arguments`` is the only place that knows fal's argument names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.config import MODEL_ID


@dataclass(frozen=True)
class Element:
    """@ElementN: a character or object, seen from the front and optionally from other angles."""

    frontal: Path | None
    references: tuple[Path, ...] = ()

    def files(self) -> list[Path]:
        return ([self.frontal] if self.frontal else []) + list(self.references)

    def to_dict(self) -> dict[str, Any]:
        return {"frontal": str(self.frontal) if self.frontal else None,
                "references": [str(r) for r in self.references]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Element:
        """The element from its dict form (the page's state and the job store keep it so):
        ``{"frontal": path | None, "references": [paths]}``."""
        return cls(frontal=Path(d["frontal"]) if d.get("frontal") else None,
                   references=tuple(Path(r) for r in d.get("references") or ()))


@dataclass(frozen=True)
class EditRequest:
    prompt: str
    video: Path
    images: tuple[Path, ...] = ()  # @Image1.. in order
    elements: tuple[Element, ...] = ()  # @Element1.. in order
    keep_audio: bool = False
    # fal endpoint id of the tier (Kling O1 or Kling O1 Standard). Travels with the request so the
    # engine submits where the user chose and the job store keeps it for history and resume; the
    # pre-flight refuses an id that is not one of Settings.tiers.
    model: str = MODEL_ID
    extra: Mapping[str, Any] = field(default_factory=dict)  # UI-only facts (e.g. source URL); never sent

    def files(self) -> list[Path]:
        """Every local file that needs a URL before submit: video first, then images, then elements."""
        out = [self.video, *self.images]
        for element in self.elements:
            out.extend(element.files())
        return out

    def to_fal_arguments(self, urls: Mapping[Path, str]) -> dict[str, Any]:
        """Exactly the JSON body Kling O1 takes, omitting empty optionals.

        ``urls`` maps each of ``files()`` to its uploaded URL; a missing one is a programming error.
        """
        args: dict[str, Any] = {"prompt": self.prompt, "video_url": urls[self.video],
                                "keep_audio": self.keep_audio}
        if self.images:
            args["image_urls"] = [urls[p] for p in self.images]
        if self.elements:
            args["elements"] = [
                {"frontal_image_url": urls[e.frontal],
                 "reference_image_urls": [urls[r] for r in e.references]}
                for e in self.elements if e.frontal is not None
            ]
        return args

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for the job store (paths as strings)."""
        return {
            "prompt": self.prompt,
            "video": str(self.video),
            "images": [str(p) for p in self.images],
            "elements": [e.to_dict() for e in self.elements],
            "keep_audio": self.keep_audio,
            "model": self.model,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EditRequest:
        return cls(
            prompt=d["prompt"],
            video=Path(d["video"]),
            images=tuple(Path(p) for p in d.get("images", ())),
            elements=tuple(Element.from_dict(e) for e in d.get("elements", ())),
            keep_audio=bool(d.get("keep_audio", False)),
            model=str(d.get("model") or MODEL_ID),  # jobs stored before tiers existed ran Kling O1
            extra=dict(d.get("extra", {})),
        )
