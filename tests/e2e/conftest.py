"""Apps shared by every module that needs one of these set-ups, and the two groups the end-to-end
tests run in. Each launched app costs seconds of one core, mostly importing gradio, so the ones a
group's tests use are launched side by side when the group's first test starts and stopped when
the session ends; the apps of a module with a ``prelaunch`` (see tests/e2e/app_server.py) are
launched while the module before it in its group runs. The tests tell their own work apart
without a fresh app: each API call is its own session, each browser context its own owner, and
what fal received is counted as a difference from before the test.

The groups are pytest-xdist's work units (``--dist loadgroup``): each is run by one worker in file
order, like a user's session, beside the other group and the unit tests on the other worker. The
modules that talk to a fal (the shared fake or one of their own) are one group, the rest (the
local preview and the player pages) the other: about the same length, and each shared app is
wanted by one group only, so each is launched once.
"""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.e2e.app_server import AppServer, launch_later, run_prelaunch
from tests.e2e.browser import SHARED
from tests.fakes.fal_fixtures import running_fake_fal
from tests.mediagen import make_clip, make_gradient_image, make_image, make_text_as

FAL_KEY = "test-key"  # the server key of ``fal_app``
SHARED_APPS = ("local_app", "fal_app")

_apps: dict[str, tuple] = {}  # fixture name -> (fake fal,) app, once launched
_stack = ExitStack()  # the shared apps and the folder of every launched app
_root: Path | None = None


class _Group:
    """One group's progress: its tests still to run, and its modules with a ``prelaunch``, in the
    order their tests run. Each module's
    apps are launched while the tests of the module before it run (the first one's with the
    group's first test), so they are ready when wanted without idling long (an idle app still
    costs about 2% of a core), and stopped after the module's last test."""

    def __init__(self, items: list[pytest.Item], root: Path) -> None:
        self.root = root
        self.modules: dict[str, object] = {}
        self.first: dict[str, int] = {}  # where the module's tests start in the run
        self.left: dict[str, int] = {}  # tests of the module still to run
        self.position = {item.nodeid: i for i, item in enumerate(items)}
        self.tests_left = len(items)
        for i, item in enumerate(items):
            module = getattr(item, "module", None)
            if module is not None and hasattr(module, "prelaunch"):
                self.modules.setdefault(module.__name__, module)
                self.first.setdefault(module.__name__, i)
                self.left[module.__name__] = self.left.get(module.__name__, 0) + 1
        self.order = list(self.modules)
        self.stacks: dict[str, ExitStack] = {}

    def launch(self, name: str) -> None:
        if name in self.stacks or name not in self.modules:
            return
        stack = self.stacks[name] = ExitStack()
        folder = self.root / name.rsplit(".", 1)[-1]
        folder.mkdir()
        run_prelaunch(name, self.modules[name].prelaunch, folder, stack)

    def starting(self, item: pytest.Item) -> None:
        """``item`` is about to run: its module's apps must be on their way, and those of the next
        module with a prelaunch."""
        self.launch(item.module.__name__)
        at = self.position.get(item.nodeid, -1)
        later = [name for name in self.order if self.first[name] > at]
        if later:
            self.launch(later[0])

    def finished(self, name: str) -> None:
        self.tests_left -= 1
        if name in self.left:
            self.left[name] -= 1
            if self.left[name] == 0 and name in self.stacks:
                self.stacks.pop(name).close()

    def close(self) -> None:
        for stack in self.stacks.values():
            stack.close()
        self.stacks.clear()


FAL_GROUP, LOCAL_GROUP = "e2e-fal", "e2e-local"
# The shared local app serves every module of the group from one loopback address, as if one visitor:
# a module's jobs still finishing (takes render on after their players are ready) would count
# against the next module's Generate, which the address's share then refuses. The share is raised
# out of the way there, as the server key's limits are for the fal app; tests/test_local_quota.py
# tests it. MCP is on (tests/e2e/test_mcp.py): its routes sit beside the page's and change none.
LOCAL_APP_ENV = {"STUDIO_LOCAL_JOBS_QUEUED": "1000", "STUDIO_LOCAL_SECONDS_PER_HOUR": "1000000",
                 "STUDIO_MCP": "1"}
_items: list[pytest.Item] = []
_groups: dict[str, _Group] = {}  # group name -> its progress and set-ups, from its first test on


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mine = [item for item in items if item.path.parent.name == "e2e"]
    fal_modules = {item.path for item in mine
                   if "fal_app" in item.fixturenames or hasattr(item.module, "prelaunch")}
    for item in mine:
        item.add_marker(pytest.mark.xdist_group(FAL_GROUP if item.path in fal_modules else LOCAL_GROUP))


def pytest_collection_finish(session: pytest.Session) -> None:
    _items[:] = session.items


def _group(item: pytest.Item) -> str:
    return item.get_closest_marker("xdist_group").args[0]


def _launch_group(group: str) -> _Group:
    """The shared apps the group's tests use that this process has not launched yet, and the
    first of its modules' set-ups."""
    global _root
    items = [item for item in _items if _group(item) == group]
    used = {name for item in items for name in item.fixturenames}
    wanted = [name for name in SHARED_APPS if name in used and name not in _apps]
    if _root is None:
        _root = Path(_stack.enter_context(tempfile.TemporaryDirectory(prefix="e2e-apps-")))
    root = _root / group
    root.mkdir()
    if "local_app" in wanted:
        _apps["local_app"] = (AppServer(root / "local-app", env=LOCAL_APP_ENV),)
    if "fal_app" in wanted:
        # The budget and the per-address rate of the server key are raised out of the way:
        # modules sharing the app must not spend each other's allowance
        # (tests/test_server_budget.py tests those limits).
        fake = _stack.enter_context(running_fake_fal(keys=(FAL_KEY,), point_client=False))
        env = {"STUDIO_SERVER_BUDGET_USD_PER_DAY": "1000", "STUDIO_SERVER_EDITS_PER_IP_PER_HOUR": "1000"}
        _apps["fal_app"] = (fake, AppServer(root / "fal-app", fal_key=FAL_KEY, fake_fal_url=fake.url,
                                            env=env))
    launch_later(_stack, *(_apps[name][-1] for name in wanted))
    started = _Group(items, root)
    if started.order:
        started.launch(started.order[0])
    return started


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    name = _group(item)
    if name not in _groups:
        _groups[name] = _launch_group(name)
    _groups[name].starting(item)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    group = _groups.get(_group(item))
    if group is not None:
        group.finished(item.module.__name__)
        if not group.tests_left:
            # The worker goes on with unit tests, which need asyncio.run(): Playwright's sync API
            # keeps an event loop running in this thread until it stops.
            SHARED.close()


def pytest_sessionfinish(session: pytest.Session) -> None:
    for group in _groups.values():
        group.close()
    _stack.close()  # the apps stop before their data folders go
    SHARED.close()


def _ready(name: str) -> tuple:
    parts = _apps[name]
    parts[-1].wait_ready()  # returns at once after the first test that asked
    return parts


@pytest.fixture(scope="session")
def local_app() -> AppServer:
    """The default settings (the local preview, no key), and the edit endpoint also an MCP tool."""
    return _ready("local_app")[0]


@pytest.fixture(scope="session")
def fal_app() -> tuple:
    """(fake fal, app) with the server key ``FAL_KEY``, which the fake accepts."""
    return _ready("fal_app")


@pytest.fixture(scope="module")
def api_media(tmp_path_factory) -> dict[str, Path]:
    """The API modules' inputs: the cheapest clip fal accepts (720x720, 24 fps, one flat colour;
    nothing here looks at its pictures), a clip too long, a file that is not a video, a palette,
    and an element's two pictures."""
    d = tmp_path_factory.mktemp("api-media")
    return {
        "clip": make_clip(d / "clip.mp4", seconds=3.2, width=720, height=720, fps=24, crf=45, source="color"),
        "long": make_clip(d / "long.mp4", seconds=12, width=1280, height=720, fps=4, audio=False),
        "broken": make_text_as(d / "broken.mp4"),
        "palette": make_gradient_image(d / "palette.png", [(20, 40, 160), (240, 240, 250), (90, 20, 120)],
                                       size=400),
        "front": make_image(d / "front.png", width=400, height=500),
        "side": make_image(d / "side.png", width=400, height=500, color=(40, 160, 60)),
    }
