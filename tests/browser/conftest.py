"""A real headless Chromium (Debian's package) driven by Playwright."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from django.utils import timezone

from campaigns.models import Assignment
from khoros.models import PlanKpi
from syncs.models import SyncRun
from tests.world import World, world  # noqa: F401 - the same small world, in a browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# The machine's network is closed: without these flags Chromium keeps trying to reach Google.
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}. Run: sudo apt-get install -y chromium "
            "fonts-dejavu-core (make test does it when run as root)"
        )
    profile = tempfile.mkdtemp(prefix="smcbridge-chromium-")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()
    shutil.rmtree(profile, ignore_errors=True)


VIEWPORT = {"width": 1280, "height": 900}


def _new_page(chromium) -> object:
    context = chromium.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


@pytest.fixture
def fresh_page(chromium) -> Iterator[object]:
    """A page in a browser context of its own, for a test that leaves something on its page
    which emptying cannot take off (an event handler, an init script, a route)."""
    page = _new_page(chromium)
    yield page
    page.context.close()


@pytest.fixture(scope="session")
def _kept_pages(chromium) -> Iterator[dict[str, object]]:
    # On the browser's fixture: the kept page is closed before the browser is.
    kept: dict[str, object] = {}
    yield kept
    if (page := kept.get("page")) is not None:
        page.context.close()


@pytest.fixture
def page(chromium, _kept_pages, request) -> Iterator[object]:
    """A page kept from test to test in this worker, emptied between them as a new one is.

    A browser context and the renderer process of its first page cost Chromium about 0.3 s of
    CPU; made anew for each test they were a fifth of what the browser tests spent. Between tests
    the page leaves its site (that site's storage cleared: viewer-zone.js keeps a flag in
    sessionStorage), its routes and cookies go, the mouse returns to the corner and the window
    to its size.
    After a failed test, or if emptying fails, the next test gets a new context.
    """
    page = _kept_pages.get("page")
    if page is None or page.is_closed():
        page = _kept_pages["page"] = _new_page(chromium)
    failed = request.session.testsfailed
    yield page
    if request.session.testsfailed != failed or not _emptied(page):
        _kept_pages.pop("page")
        page.context.close()


def _emptied(page) -> bool:
    try:
        if page.url.startswith("http"):
            page.evaluate("() => { localStorage.clear(); sessionStorage.clear(); }")
        page.goto("about:blank")
        page.unroute_all(behavior="ignoreErrors")  # a test that routed and failed to unroute
        page.context.clear_cookies()
        page.mouse.move(0, 0)
        page.set_viewport_size(VIEWPORT)
    except Exception:  # noqa: BLE001 - any trouble: the next test gets a new page
        return False
    return True


def login(page, base_url: str, username: str, password: str) -> None:
    """Sign in through the login form, as a person does, and land on the dashboard."""
    page.goto(f"{base_url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()


def sign_in(page, base_url: str, username: str) -> None:
    """Give the page's browser context a signed-in session of `username`, without the form.

    The form is walked by `login` in the tests about it (the workbench walk, the CSP and phone
    checks of the login page); elsewhere two page loads per test were spent on it.
    """
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(
        get_user_model().objects.get(username=username),
        backend="django.contrib.auth.backends.ModelBackend",
    )
    name = settings.SESSION_COOKIE_NAME
    page.context.add_cookies([{"name": name, "value": client.cookies[name].value, "url": base_url}])


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/ for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# Table cells whose content is not all on the screen: past its edge, cut off inside the cell, or
# scrolled out of a box that scrolls sideways. On a phone a table whose dates and numbers sat at
# the end of a sideways scroll read as if it had none ("2026-03-01 – 2026-03" at the edge).
CELLS_OUT_OF_VIEW = r"""(root) => {
  const width = document.documentElement.clientWidth;
  const boxes = cell => {
    const found = [];
    for (let up = cell.parentElement; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== 'visible') found.push(up.getBoundingClientRect());
    }
    return found;
  };
  const out = cell => {
    const r = cell.getBoundingClientRect();
    return r.left < -0.5 || r.right > width + 0.5 || cell.scrollWidth > cell.clientWidth + 1
      || boxes(cell).some(b => r.left < b.left - 0.5 || r.right > b.right + 0.5);
  };
  return [...document.querySelectorAll(root + ' table')].flatMap(table =>
    [...table.querySelectorAll('th, td')]
      .filter(cell => cell.getClientRects().length && out(cell))
      .map(cell => (cell.getAttribute('data-label') || cell.tagName.toLowerCase()) + ': '
           + cell.textContent.trim().replace(/\s+/g, ' ').slice(0, 40)));
}"""


def cells_out_of_view(page, root: str = "main") -> list[str]:
    """The table cells under `root` not wholly on the screen, each as "label: its text"."""
    return page.evaluate(CELLS_OUT_OF_VIEW, root)


def htmx_settled(page) -> None:
    """Wait until htmx has swapped, settled and bound its triggers on the new content."""
    busy = ".htmx-request, .htmx-swapping, .htmx-settling"
    page.wait_for_function(f"() => window.htmx && !document.querySelector('{busy}')")
    # htmx binds triggers of swapped-in content right after settling: a person types later.
    page.wait_for_timeout(150)


def world_with_data(small: World) -> SyncRun:
    """The small world with assignments, a week of KPIs and a finished run: every main page has
    something to show."""
    now = timezone.now()
    Assignment.objects.create(plan=small.plans[0], campaign=small.campaigns[0], assigned_at=now)
    Assignment.objects.create(plan=small.plans[2], campaign=small.campaigns[0], assigned_at=now)
    PlanKpi.objects.bulk_create(
        PlanKpi(plan=small.plans[0], day=date(2026, 3, d), impressions=100 * d, clicks=d,
                updated_at=now)
        for d in range(1, 8)
    )  # fmt: skip
    return SyncRun.objects.create(
        kind=SyncRun.Kind.KHOROS_PLANS, trigger=SyncRun.Trigger.BUTTON, status="succeeded",
        requested_by=small.admin,
    )  # fmt: skip


def main_pages(base: str, small: World, run: SyncRun, *, admin: bool) -> list[str]:
    """The main pages of a sync admin or a manager (whose /audit/ is the 403 page)."""
    campaign = small.campaigns[0].pk
    pages = [
        "/", "/workbench/", f"/workbench/?campaign={campaign}", "/calendar/",
        "/calendar/?zoom=quarter", "/calendar/?zoom=year", f"/campaigns/{campaign}/",
        "/no-such-page/",
    ]  # fmt: skip
    if admin:
        pages += ["/syncs/", f"/syncs/{run.pk}/", "/schedules/", "/audit/", "/sapmc-calls/"]
    else:
        pages += ["/audit/"]  # the 403 page
    return [base + p for p in pages]
