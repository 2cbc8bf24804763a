"""A strict Content-Security-Policy that every main page passes, in a real browser.

Each page is loaded as a sync admin and as a manager; the browser reports every violation as a
`securitypolicyviolation` event and a console error, and the test collects both.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine

from tests.browser.conftest import htmx_settled, login, main_pages, sign_in, world_with_data

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LISTEN = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample || ""}`);
});
"""


class Violations:
    def __init__(self, page) -> None:
        self.page = page
        self.console: list[str] = []
        page.add_init_script(LISTEN)
        page.on("console", self._console)

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.console.append(message.text)

    def visit(self, url: str) -> None:
        response = self.page.goto(url)
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy and "style-src 'self'" in policy, (url, policy)
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        self.page.wait_for_load_state("load")
        self.check(url)

    def check(self, where: str) -> None:
        events = self.page.evaluate("window.__csp || []")
        assert not events and not self.console, (where, events, self.console)


@pytest.mark.parametrize("who", ["alex", "maria"])
def test_main_pages_raise_no_csp_violation(live_server, world, fresh_page, who):
    page = fresh_page  # it adds a handler, an init script or a route
    run = world_with_data(world)
    violations = Violations(page)
    with time_machine.travel(datetime(2026, 3, 18, 12, tzinfo=UTC), tick=True):
        violations.visit(f"{live_server.url}/login/")
        login(page, live_server.url, who, f"pw-{who}-2026")
        violations.check("after login")
        for url in main_pages(live_server.url, world, run, admin=who == "alex"):
            violations.visit(url)

        # Content swapped in by htmx passes too, and positions and colours are applied.
        violations.visit(f"{live_server.url}/calendar/?zoom=quarter")
        htmx_settled(page)
        page.get_by_role("link", name="Next ›").click()
        page.get_by_role("heading", name="Q2 2026").wait_for()
        htmx_settled(page)
        violations.check("calendar after an htmx swap")
        bar = page.locator(".tl-row.campaign a.bar", has_text="Summer 2026")
        start = bar.evaluate("(el) => getComputedStyle(el).gridColumnStart")
        assert start == str((date(2026, 6, 1) - date(2026, 4, 1)).days + 1)


def test_the_django_admin_raises_no_csp_violation(
    live_server, world, fresh_page, django_user_model
):
    page = fresh_page  # it adds a handler, an init script or a route
    django_user_model.objects.create_superuser("root", password="pw-root-2026")
    violations = Violations(page)
    login(page, live_server.url, "root", "pw-root-2026")
    for path in ("/admin/", "/admin/campaigns/initiativegrant/",
                 "/admin/campaigns/initiativegrant/add/", "/admin/auth/user/"):  # fmt: skip
        violations.visit(live_server.url + path)


def test_assigning_on_the_workbench_raises_no_csp_violation(live_server, world, fresh_page):
    page = fresh_page  # it adds a handler, an init script or a route
    spring = world.campaigns[0]
    violations = Violations(page)
    sign_in(page, live_server.url, "maria")
    violations.visit(f"{live_server.url}/workbench/?campaign={spring.pk}")
    htmx_settled(page)
    # Password managers and other extensions style the inputs they decorate (an icon, a
    # background), through the CSSOM, which the policy allows. Those inputs have ids, and htmx
    # used to copy an old element's style attribute onto its new twin while settling a swap:
    # one violation per such input on every swap.
    page.evaluate(
        "['id_note', 'id_p-q', 'id_c-q'].forEach((id) => {"
        "  document.getElementById(id).style.backgroundColor = 'rgb(255, 250, 205)'; })"
    )

    page.locator("#plan-list").get_by_role("button", name="Assign Spring Sale social").click()
    page.locator("main").get_by_text(
        "Assigned “Spring Sale social” to “Spring Sale 2026”."
    ).wait_for()
    htmx_settled(page)
    violations.check("workbench after an assignment")
    # The swapped-in swatches still get their Plan's colour.
    swatch = page.locator("#assigned-plans .swatch").first
    assert swatch.evaluate("(el) => el.style.getPropertyValue('--swatch')").strip() == "#1a7293"
