"""Nothing lost: a paid fal edit survives the app being killed, and owners stay apart.

The app runs as a subprocess with a server key that the fake fal server accepts. The fake keeps
the job queued for a while; the app is SIGKILLed meanwhile (no shutdown hook runs), started again
on the same data folder, and the same browser, whose owner id lives in local storage, reloads.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.e2e.app_server import AppServer, launch_later, prelaunched
from tests.e2e.browser import chromium_page, open_studio, reload_after_restart
from tests.fakes.fal_fixtures import running_fake_fal
from tests.mediagen import make_clip

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

KEY = "test-key"
PROMPT = "#prompt-box textarea"
UNKNOWN_REQUEST = "00000000-0000-4000-8000-000000000000"
FIRST_STATUS_CELL = "#history-table [role=gridcell][data-row='0'][data-col='1']"


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _start_edit(page, clip: Path, prompt: str) -> None:
    page.set_input_files("#input-video input[type=file]", str(clip))
    page.locator("#preflight .preflight").wait_for()
    page.locator(PROMPT).fill(prompt)
    page.wait_for_function("() => !document.querySelector('#generate').disabled")
    assert "via fal" in page.locator("#engine-status").inner_text()
    page.locator("#generate").click()


def _wait_for_success(page, app: AppServer) -> None:
    """Until the reloaded page shows the resumed job done; if it never does, the failure says
    what the page showed and what the app logged, the two places a user or an operator would look."""
    try:
        page.wait_for_selector('#job-progress [data-status="succeeded"]', timeout=120_000)
    except PlaywrightTimeout:
        progress = page.locator("#job-progress").inner_text()
        history = page.locator("#history-table").inner_text()
        raise AssertionError(f"The resumed job never showed as done. Progress: {progress!r}; "
                             f"history: {history!r}; app log:\n{app.log()}") from None


def prelaunch(root: Path, stack: ExitStack) -> tuple[tuple, tuple[AppServer, ...]]:
    """The app this module kills, on the server's key; its fake fal keeps a job queued long enough
    for the page to show it (a fraction of a second) and the app to be killed. Launched ahead
    of the module (tests/e2e/app_server.py)."""
    fake = stack.enter_context(running_fake_fal(keys=(KEY,), queue_s=4, run_s=0.5, point_client=False))
    app = AppServer(root / "data", fal_key=KEY, fake_fal_url=fake.url)
    return (fake, app), launch_later(stack, app)


def test_a_queued_fal_job_survives_sigkill_and_shows_up_after_restart(tmp_path):
    fake, app = prelaunched(__name__)
    data = app.data_dir
    # The cheapest clip fal accepts (720x720, 24 fps, flat): what survives is the job, not pictures.
    clip = make_clip(tmp_path / "walk.mp4", seconds=3.2, width=720, height=720, fps=24,
                     source="color", crf=45)
    with chromium_page() as page:
        page.set_default_timeout(60_000)
        open_studio(page, app.url)
        _start_edit(page, clip, "Make it look like a film noir")
        _wait(lambda: fake.submits == 1, 60, "the submit to reach fal")
        request_id = next(iter(fake.jobs))
        # The crash comes once the page shows the job at fal with its request id: the app has
        # stored the id by then (what a restart resumes by). Killed between fal's answer and that
        # write, the app would never have learnt which request was its own.
        page.wait_for_function(
            "() => [...document.querySelectorAll('#job-progress [data-status=queued], "
            f"#job-progress [data-status=running]')].some(p => p.innerText.includes({request_id!r}))")
        app.kill()  # a crash mid-job: the paid edit is still queued at fal

        app.start()
        reload_after_restart(page)
        _wait_for_success(page, app)
        page.wait_for_function(f"() => document.querySelector(\"{FIRST_STATUS_CELL}\")"
                               "?.innerText.toLowerCase().includes('done')")
        history = page.locator("#history-table").inner_text()
        assert request_id in history
        page.wait_for_function("() => [...document.querySelectorAll('.kcmp video')]"
                               ".filter(v => v.readyState >= 2).length === 2")
        outputs = list((data / "jobs").glob("*/edited.mp4"))
        assert len(outputs) == 1 and outputs[0].stat().st_size > 0
        assert fake.submits == 1, "the restart resumed by request id instead of paying again"

        # Another browser (another owner) sees none of it, and no file route hands it out.
        # It tries to resume an id that is not its own on the server's key, which is refused
        # at once (the owner's key fetches only the owner's requests): the page has answered,
        # so the absence of the first browser's job in its history means something.
        with chromium_page() as other:
            other.set_default_timeout(60_000)
            open_studio(other, app.url)
            other.get_by_label("Resume a fal job by request id").fill(UNKNOWN_REQUEST)
            other.get_by_role("button", name="Resume", exact=True).click()
            other.wait_for_function("() => [...document.querySelectorAll('.toast-body')]"
                                    ".some(t => t.innerText.includes('not one of your edits'))")
            history = other.locator("#history-table").inner_text()
            assert UNKNOWN_REQUEST not in history and request_id not in history
            assert other.locator("#history-gallery img").count() == 0
            leaked = httpx.get(f"{app.url}gradio_api/file={outputs[0].resolve()}", timeout=10,
                               trust_env=False)
            assert leaked.status_code in (403, 404), "job folders are not served by path"
    app.stop()
