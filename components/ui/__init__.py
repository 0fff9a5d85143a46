"""The Gradio layer: one module per panel; the core below ``components/`` never imports gradio."""
