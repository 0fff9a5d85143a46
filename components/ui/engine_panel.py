"""Which engine runs the edit, the model tier, the optional user key, and what a fal run will cost.

Shown in plain words because it decides whose money is spent. The tier (Kling O1 or the cheaper
Kling O1 Standard) is a small radio; its price per second comes from settings and is labelled an
estimate, since fal bills the real amount. The key typed here becomes a
``Secret`` in this tab's server-side state; it is never echoed, stored on disk or put in HTML.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import gradio as gr

from components.config import PRICE_NOTE, Settings
from components.engines.select import choose_engine
from components.secret import Secret
from components.ui.session import key_from_text


@dataclass(frozen=True)
class EngineHandles:
    status: gr.HTML
    key: gr.Textbox | None
    tier: gr.Radio | None = None  # value: the fal endpoint id of the chosen tier


def build(settings: Settings) -> EngineHandles:
    status = gr.HTML(status_html(settings, None, None), elem_id="engine-status", padding=False)
    tier = gr.Radio([(f"{t.name} (${t.price_per_second:.3f}/s)", t.id) for t in settings.tiers],
                    value=settings.model_id, label="Model", elem_id="model-tier",
                    info=f"Same inputs and limits; Standard is cheaper ({PRICE_NOTE}).")
    key = None
    if settings.allow_user_key:
        key = gr.Textbox(label="Your fal key (optional)", type="password", elem_id="fal-key",
                         placeholder="Paste a key from fal.ai/dashboard/keys to run the real Kling O1",
                         info="Kept in this tab's server memory only; never stored or shown again.")
    return EngineHandles(status, key, tier)


def wire(h: EngineHandles, user_key: gr.State, duration: gr.State, settings: Settings) -> None:
    if h.key is not None:
        # Queued on purpose: only queued events report State changes that trigger user_key.change.
        h.key.change(key_from_text, h.key, user_key, show_progress="hidden", trigger_mode="always_last")
    triggers = [user_key.change, duration.change] + ([h.tier.change] if h.tier is not None else [])
    gr.on(triggers, lambda k, d, m=None: status_html(settings, k, d, m),
          [user_key, duration, *([h.tier] if h.tier is not None else [])], h.status, show_progress="hidden",
          queue=False)


def status_html(settings: Settings, user_key: Secret | None, seconds: float | None,
                model_id: str | None = None) -> str:
    choice = choose_engine(settings, user_key)
    tier = settings.tier(model_id) or settings.tiers[0]
    if not choice.charges:
        cost = "Free: runs on this machine."
    elif seconds:
        cost = (f"Estimated cost on {html.escape(tier.name)}: <b>${settings.cost(seconds, tier.id):.2f}</b> "
                f"({seconds:.1f} s × ${tier.price_per_second:.3f}/s; {PRICE_NOTE})")
    else:
        cost = (f"{html.escape(tier.name)} costs about ${tier.price_per_second:.3f} per second of video "
                f"({PRICE_NOTE}).")
    return (f'<div class="engine-status engine-{choice.name}"><div class="engine-label">'
            f"Engine: <b>{html.escape(choice.label)}</b></div>"
            f'<div class="engine-detail">{html.escape(choice.detail)}</div>'
            f'<div class="engine-cost">{cost}</div></div>')
