"""Which engine runs the edit, the optional user key, and what a fal run will cost.

Shown in plain words because it decides whose money is spent, and beside Generate, where the click
that spends it happens: "Local preview, free" without a key (a tier's price then only says what
Kling O1 would cost with one), the estimated cost with one. A key typed here goes straight into
the server-side key vault for this tab and the field is emptied at once: the key is never echoed,
kept in a component's value, stored on disk or put in HTML.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import gradio as gr

from components.config import MODEL_NAME, PRICE_NOTE, Settings
from components.engines.select import EngineChoice
from components.errors import InputError
from components.guard.key_vault import KeyVault
from components.secret import Secret, parse_user_key
from components.service import EditService
from components.ui.session import hf_user, session_id, user_key
from components.ui.shown import QUIET
from components.units import human_duration


@dataclass(frozen=True)
class EngineHandles:
    status: gr.HTML
    key: gr.Textbox | None
    forget: gr.Button | None
    key_set: gr.State  # bool: whether this tab has a key in the vault (never the key itself)
    tier: gr.Radio  # value: the fal endpoint id of the chosen tier


def build(settings: Settings, service: EditService) -> EngineHandles:
    """The model and key fields where they are built; the status is built unrendered, for the page to
    place beside Generate (``status.render()``)."""
    # What a visitor who has not signed in gets; the page's load says what this visitor gets.
    first = service.engine(None, None)
    status = gr.HTML(status_html(settings, first, None), elem_id="engine-status", padding=False,
                     render=False)
    tier = gr.Radio([(f"{t.name} (${t.price_per_second:.3f}/s)", t.id) for t in settings.tiers],
                    value=settings.model_id, elem_id="model-tier", **tier_words(first))
    key = forget = None
    if settings.allow_user_key:
        with gr.Row(equal_height=True):
            key = gr.Textbox(label=f"Your fal key (optional): runs the real {MODEL_NAME}", type="password",
                             elem_id="fal-key", scale=4, placeholder="Paste a key from fal.ai/dashboard/keys",
                             info="Kept in this server's memory for this tab only; "
                                  "never stored or shown again.")
            forget = gr.Button("Forget my key", size="sm", scale=1, visible=False, elem_id="forget-key")
    return EngineHandles(status, key, forget, gr.State(False), tier)


def tier_words(choice: EngineChoice) -> dict[str, str]:
    """The tier picker's label and hint: without a fal engine its prices are what a key would cost."""
    if choice.charges:
        return {"label": "Model", "info": f"Same inputs and limits; Standard is cheaper ({PRICE_NOTE})."}
    return {"label": f"Model, once a fal key runs {MODEL_NAME}",
            "info": "The local preview is free; these are the prices per second of video with a key."}


def wire(h: EngineHandles, duration: gr.State, load: gr.events.EventListenerMethod, service: EditService,
         vault: KeyVault, settings: Settings) -> None:
    """``load`` is the page's load event: a signed-in visitor on the allow-list sees the server's key
    from the first paint on, everyone else the engine they will really get."""
    def status(key: Secret | None, seconds: float | None, model: str | None,
               profile: gr.OAuthProfile | None) -> tuple[str, gr.Radio]:
        choice = service.engine(key, hf_user(profile))
        return status_html(settings, choice, seconds, model), gr.Radio(**tier_words(choice))

    def refresh(seconds: float | None, model: str | None, request: gr.Request,
                profile: gr.OAuthProfile | None):
        return status(user_key(vault, request), seconds, model, profile)

    shown = [h.status, h.tier]
    gr.on([load, duration.change, h.tier.change], refresh, [duration, h.tier], shown,
          **QUIET, queue=False)
    if h.key is None or h.forget is None:
        return

    def take_key(text: str | None, seconds: float | None, model: str | None, request: gr.Request,
                 profile: gr.OAuthProfile | None):
        """Move the typed key into the vault and empty the field in the same event."""
        try:
            key = parse_user_key(text)
        except InputError as error:
            gr.Warning(str(error), title="fal key")
            key = None
        if key is None and not (text or "").strip():
            return [gr.skip()] * 5
        vault.put(session_id(request), key)
        held = key is not None
        return ("", *status(key, seconds, model, profile), gr.Button(visible=held), held)

    def forget(seconds: float | None, model: str | None, request: gr.Request,
               profile: gr.OAuthProfile | None):
        vault.drop(session_id(request))
        return *status(None, seconds, model, profile), gr.Button(visible=False), False

    # On Enter or leaving the field, not per keystroke: a half-typed key is not a key.
    gr.on([h.key.submit, h.key.blur], take_key, [h.key, duration, h.tier],
          [h.key, *shown, h.forget, h.key_set], **QUIET, trigger_mode="always_last")
    h.forget.click(forget, [duration, h.tier], [*shown, h.forget, h.key_set], **QUIET)


def status_html(settings: Settings, choice: EngineChoice, seconds: float | None,
                model_id: str | None = None) -> str:
    """The engine and what one Generate costs on it; ``seconds`` is what it bills (the clip per take,
    or the segments)."""
    tier = settings.tier(model_id) or settings.tiers[0]
    name = html.escape(tier.name)
    if not choice.charges:
        would = (f"this {human_duration(seconds)} edit would cost about "
                 f"${settings.cost(seconds, tier.id):.2f} on {name}" if seconds else
                 f"{name} would cost about ${tier.price_per_second:.3f} per second of video")
        cost = f"With a fal key, {would} ({PRICE_NOTE})."
    elif seconds:
        cost = (f"Estimated cost on {name}: <b>${settings.cost(seconds, tier.id):.2f}</b> "
                f"({human_duration(seconds)} × ${tier.price_per_second:.3f}/s; {PRICE_NOTE})")
    else:
        cost = f"{name} costs about ${tier.price_per_second:.3f} per second of video ({PRICE_NOTE})."
    key_line = ('<div class="engine-key">Your fal key is set for this tab.</div>'
                if choice.key_source == "user" else "")
    return (f'<div class="engine-status engine-{choice.name}" data-charges="{int(choice.charges)}">'
            f'<div class="engine-label">Engine: <b>{html.escape(choice.label)}</b></div>'
            f'<div class="engine-detail">{html.escape(choice.detail)}</div>'
            f'<div class="engine-cost">{cost}</div>{key_line}</div>')
