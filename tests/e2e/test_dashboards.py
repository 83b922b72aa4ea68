"""A sales rep and a manager use the dashboards in a real browser.

Each test saves screenshots under test-artifacts/screenshots/ for a person to look at.
"""

from __future__ import annotations

import re

import pytest

from tests.dashboards.team import Team
from tests.e2e.conftest import log_in
from tests.factories import UserFactory, make_cadence, running_tracker
from trackers import lifecycle
from trackers.models import ActionCadenceTracker, BulkJob

pytestmark = pytest.mark.django_db(transaction=True)


def expect():
    from playwright.sync_api import expect

    return expect


def state_of(tracker) -> str:
    return ActionCadenceTracker.objects.get(pk=tracker.pk).state


def test_rep_logs_in_filters_and_removes_a_target(live_server, page, shoot):
    """GIVEN a rep with running, paused and completed trackers
    WHEN she logs in, filters the list to Running and removes one target as Not Interested
    THEN the row shows Complete and the tracker is ManuallyRemoved with her disposition."""
    team = Team()
    running = team.running(3)
    lifecycle.pause(running[2], actor=team.owner)

    page.goto(f"{live_server.url}/trackers/")
    page.wait_for_url(re.compile(r"/accounts/login/\?next=/trackers/"))
    shoot(page, "01-login")
    log_in(page, live_server, "owner")
    expect()(page.get_by_role("heading", name="Overview")).to_be_visible()
    shoot(page, "02-overview", full_page=True)

    page.get_by_role("link", name="Trackers", exact=True).click()
    page.locator("details.filters > summary").click()
    page.locator("fieldset:has(> legend:text-is('State')) summary").click()
    page.get_by_label("Running", exact=True).check()
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(re.compile(r"state=Running"))
    rows = page.locator("tr[data-tracker-id]")
    expect()(rows).to_have_count(2)
    for state in rows.evaluate_all("rows => rows.map(row => row.dataset.state)"):
        assert state == "Running"
    shoot(page, "03-trackers-filtered")

    target = running[0]
    row = page.locator(f'tr[data-tracker-id="{target.sf_id}"]')
    row.locator("details.row-actions > summary").click()
    row.get_by_label(f"Disposition for tracker {target.sf_id}").select_option("Not Interested")
    shoot(page, "04-row-actions", full_page=True)
    row.get_by_role("button", name="Remove from cadence").click()
    expect()(page.locator(".messages .success")).to_contain_text("was removed from its cadence")
    # Still filtered to Running, so the removed target has left the list.
    expect()(page.locator(f'tr[data-tracker-id="{target.sf_id}"]')).to_have_count(0)
    target.refresh_from_db()
    assert (target.state, target.completion_reason, target.completion_disposition) == (
        "Complete",
        "ManuallyRemoved",
        "Not Interested",
    )

    page.goto(f"{live_server.url}/trackers/{target.sf_id}/")
    expect()(page.locator(".page-head")).to_have_attribute("data-state", "Complete")
    expect()(page.locator('[data-field="CompletionDisposition"]')).to_have_text("Not Interested")
    shoot(page, "05-tracker-detail", full_page=True)

    # A bulk pause of two selected trackers: the Error one is refused, named on the job page.
    running_one, errored = running[1], team.running(1)[0]
    lifecycle.mark_error(errored, "Mailbox unavailable")
    page.goto(f"{live_server.url}/trackers/")
    page.get_by_label("Bulk action").select_option("pause")
    page.get_by_label(f"Select tracker {running_one.sf_id}").check()
    page.get_by_label(f"Select tracker {errored.sf_id}").check()
    expect()(page.locator("[data-selected-count]")).to_have_text("2")
    page.get_by_role("button", name="Review…").click()
    page.get_by_role("button", name=re.compile(r"^Pause: 1 tracker")).click()
    page.wait_for_url(re.compile(r"/trackers/jobs/\d+/"))
    lifecycle.run_bulk_job(BulkJob.objects.get().pk)
    expect()(page.locator("[data-job-status]")).to_have_attribute("data-job-status", "done")
    refusal = page.locator(f'[data-error-for="{errored.sf_id}"]')
    expect()(refusal).to_contain_text("Cannot pause a tracker in State Error")
    shoot(page, "09-bulk-job-refusal")
    assert state_of(running_one) == "Paused"
    assert state_of(errored) == "Error"


def test_manager_bulk_removes_a_filtered_set_and_watches_it_finish(live_server, page, shoot):
    """GIVEN a manager whose rep has trackers on two cadences
    WHEN he removes every tracker matching one cadence, after a confirmation step
    THEN a job takes them through Processing and the page shows it finish without reloading."""
    team = Team()
    on_cadence = team.running(4)
    # A completed tracker matches the filter but cannot be removed again.
    lifecycle.remove_target(on_cadence[3], actor=team.owner, disposition="Success")
    elsewhere = running_tracker(owner=team.owner, cadence=make_cadence(name="Renewals"))

    log_in(page, live_server, "manager")
    page.goto(f"{live_server.url}/trackers/?cadence={team.cadence.sf_id}")
    expect()(page.locator("tr[data-tracker-id]")).to_have_count(4)
    page.get_by_label("Disposition", exact=True).select_option("No Response")
    page.get_by_label(re.compile(r"All 4 matching this filter")).check()
    page.get_by_role("button", name="Review…").click()

    expect()(page.get_by_role("heading", level=1)).to_have_text("Remove from cadence: 3 trackers?")
    shoot(page, "06-bulk-confirm")
    assert {state_of(tracker) for tracker in on_cadence[:3]} == {"Running"}
    page.get_by_role("button", name="Remove from cadence: 3 trackers").click()

    page.wait_for_url(re.compile(r"/trackers/jobs/\d+/"))
    job = BulkJob.objects.get(requested_by=team.manager)
    assert {state_of(tracker) for tracker in on_cadence[:3]} == {"Processing"}
    expect()(page.locator("[data-job-status]")).to_have_attribute("data-job-status", "queued")
    shoot(page, "07-bulk-job-queued")

    # The background worker's part: run the job now; the open page polls and catches up.
    lifecycle.run_bulk_job(job.pk)
    expect()(page.locator("[data-job]")).to_have_attribute("data-job-done", "true")
    expect()(page.locator("[data-job-status]")).to_have_attribute("data-job-status", "done")
    expect()(page.locator("[data-job-succeeded]")).to_have_text("3")
    shoot(page, "08-bulk-job-done")
    for tracker in on_cadence[:3]:
        tracker.refresh_from_db()
        assert (tracker.state, tracker.completion_disposition) == ("Complete", "No Response")
    assert state_of(elsewhere) == "Running"


def test_manager_sees_processing_only_on_request_and_browses_cadences(live_server, page, shoot):
    """Processing trackers are hidden from every figure and list until the toggle is used;
    the cadence page lists the targets Running on it; the pages fit a phone."""
    team = Team()
    trackers = team.running(3)
    lifecycle.remove_target(trackers[1], actor=team.owner, disposition="Success")
    lifecycle.start_bulk("pause", [trackers[0]], actor=team.owner)
    processing = trackers[0].sf_id

    log_in(page, live_server, "manager")
    note = page.locator("[data-processing-note]")
    expect()(note).to_contain_text("Processing trackers are left out (1 hidden)")
    expect()(page.locator('[data-table="states"] tr[data-state="Processing"]')).to_have_count(0)

    page.get_by_role("link", name="Trackers", exact=True).click()
    expect()(page.locator("tr[data-tracker-id]")).to_have_count(2)
    expect()(page.locator(f'tr[data-tracker-id="{processing}"]')).to_have_count(0)
    expect()(page.locator('tr[data-state="Processing"]')).to_have_count(0)
    page.get_by_role("link", name="Include Processing").click()
    page.wait_for_url(re.compile(r"include_processing=1"))
    expect()(page.locator(f'tr[data-tracker-id="{processing}"]')).to_have_attribute(
        "data-state", "Processing"
    )
    expect()(page.locator("[data-processing-note]")).to_contain_text("included")
    shoot(page, "10-trackers-with-processing")

    page.goto(f"{live_server.url}/?include_processing=1")
    expect()(page.locator('[data-table="states"] tr[data-state="Processing"]')).to_have_count(1)
    page.get_by_role("link", name="Hide Processing").click()
    expect()(page.locator('[data-table="states"] tr[data-state="Processing"]')).to_have_count(0)

    page.get_by_role("link", name="Cadences", exact=True).click()
    shoot(page, "11-cadences")
    page.get_by_role("link", name=team.cadence.name).click()
    expect()(page.locator("[data-soql]")).to_contain_text(
        f"WHERE ActionCadenceId = '{team.cadence.sf_id}' AND State = 'Running'"
    )
    expect()(page.locator('[data-table="running"] tr[data-tracker-id]')).to_have_count(1)
    shoot(page, "12-cadence-detail", full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/trackers/")
    shoot(page, "13-trackers-phone")
    page.goto(f"{live_server.url}/")
    shoot(page, "14-overview-phone", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_overview_says_when_it_was_counted_and_refresh_counts_again(live_server, page, shoot):
    """An administrator's Overview figures are reused for a minute and say so; after a
    removal they are as of the earlier count until Refresh now is clicked."""
    team = Team()
    first, _second = team.running(2)
    UserFactory(username="ops_admin", is_superuser=True, is_staff=True)
    log_in(page, live_server, "ops_admin")
    active = page.locator('[data-figure="active"]')
    expect()(active).to_have_text("2")
    as_of = page.locator(".as-of time").get_attribute("datetime")
    expect()(page.locator(".as-of")).to_contain_text("counted again once they are 60 s old")

    lifecycle.remove_target(first, actor=team.owner, disposition="Not Interested")
    page.reload()
    expect()(active).to_have_text("2")
    assert page.locator(".as-of time").get_attribute("datetime") == as_of
    shoot(page, "12-overview-as-of")

    page.get_by_role("link", name="Refresh now").click()
    page.wait_for_url(re.compile(r"refresh=1"))
    expect()(active).to_have_text("1")
    assert page.locator(".as-of time").get_attribute("datetime") > as_of
