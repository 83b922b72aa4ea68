"""The Content-Security-Policy in a real browser: with the policy enforced, no page
raises a violation and everything the pages draw with JavaScript still draws.

Here, beside the other browser tests, so it shares their one Playwright session
(a second sync Playwright in the same process refuses to start)."""

from __future__ import annotations

import pytest

from tests.dashboards.team import Team
from tests.factories import UserFactory
from trackers import lifecycle

PASSWORD = "pw-for-tests-123"
LOGIN = "/accounts/login/"

VIOLATIONS_SCRIPT = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", e =>
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline")));
"""


@pytest.fixture
def browser_org(transactional_db):
    """Made before Chromium starts: once Playwright's event loop runs in this thread,
    ORM calls would get a connection of their own that nothing closes."""
    team = Team()
    trackers = team.running(4)
    lifecycle.remove_target(trackers[0], actor=team.owner, disposition="Success")
    lifecycle.remove_target(trackers[1], actor=team.owner, disposition="Not Interested")
    admin_user = UserFactory(username="csp_admin", is_staff=True, is_superuser=True)
    return team, trackers, admin_user


def test_the_dashboards_and_api_docs_work_under_the_policy(live_server, browser_org, browser):
    """In Chromium, with the policy enforced: no violation on any page, the charts
    draw, the bars get their widths and Swagger UI renders the schema."""
    team, trackers, admin_user = browser_org
    context = browser.new_context()
    context.add_init_script(VIOLATIONS_SCRIPT)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}{LOGIN}")
    page.get_by_label("Username").fill(admin_user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")

    page.wait_for_function("document.querySelector('#chart-reasons')?.width > 0")
    meter = page.locator(".meter-fill").first
    assert meter.evaluate("node => node.style.width") != ""
    assert page.evaluate("window.__cspViolations") == []

    page.goto(f"{live_server.url}/cadences/{team.cadence.sf_id}/")
    bar = page.locator(".bar-cell .bar span").first
    assert bar.evaluate("node => node.style.width").endswith("%")
    assert page.evaluate("window.__cspViolations") == []

    for path in ["/trackers/", f"/trackers/{trackers[2].sf_id}/", "/admin/"]:
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("load")
        assert page.evaluate("window.__cspViolations") == [], path

    page.goto(f"{live_server.url}/api/docs/")
    page.locator(".swagger-ui .info .title").wait_for()
    assert "Cadence Ops API" in page.locator(".swagger-ui .info .title").inner_text()
    assert page.evaluate("window.__cspViolations") == []
    context.close()
