"""Composition root: read settings, choose engines, build the studio, launch."""

from __future__ import annotations

import gradio as gr

from components.config import Settings


def build(settings: Settings) -> gr.Blocks:
    with gr.Blocks(title="Kling O1 Edit Studio") as demo:
        gr.Markdown("# Kling O1 Edit Studio")
    return demo


if __name__ == "__main__":
    build(Settings.from_env()).launch()
