"""Test-only entry point: run app.py, first pointing fal_client at a fake fal server when asked.

The only reader of STUDIO_TEST_FAL_URL. Production never imports this module, so the app itself
never patches fal_client.
"""

from __future__ import annotations

import os
import runpy
from pathlib import Path

if __name__ == "__main__":
    fake_url = os.environ.get("STUDIO_TEST_FAL_URL", "")
    if fake_url:
        from tests.fakes.fal_fixtures import point_fal_client_at

        point_fal_client_at(fake_url)
    runpy.run_path(str(Path(__file__).resolve().parents[2] / "app.py"), run_name="__main__")
