"""Every dashboard page, seen by the owner, a teammate, a manager and an outsider.

Sharing decides what each one sees; Processing trackers are left out until the
user asks for them.
"""

from __future__ import annotations

import csv
import io
import re
from html import unescape

import pytest
from django.urls import reverse

from tests.dashboards.team import client_for
from tests.factories import LeadFactory, UserFactory, running_tracker
from trackers.choices import TrackerState

pytestmark = pytest.mark.django_db

PAGES = ("/", "/trackers/", "/cadences/")


def row_ids(response) -> list[str]:
    return re.findall(r'<tr data-tracker-id="(\w{18})"', response.content.decode())


def row_states(response) -> dict[str, str]:
    html = response.content.decode()
    return dict(re.findall(r'<tr data-tracker-id="(\w{18})" data-state="(\w+)"', html))


def export_rows(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.mark.parametrize("url", [*PAGES, "/trackers/export.csv"])
def test_pages_need_a_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_login_page_logs_in_and_logout_needs_post(client, team):
    page = client.get(reverse("login"))
    assert b'name="username"' in page.content and b"<label" in page.content
    response = client.post(
        reverse("login"), {"username": "owner", "password": "pw-for-tests-123"}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/"
    assert b"Overview" in response.content
    response = client.post(reverse("logout"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("login")


def test_wrong_password_shows_an_error(client, team):
    response = client.post(reverse("login"), {"username": "owner", "password": "nope"})
    assert response.status_code == 200
    assert b'role="alert"' in response.content


def test_navigation_shows_admin_only_to_staff(team):
    assert b'href="/admin/"' not in client_for(team.owner).get("/").content
    staff = UserFactory(username="ops", is_staff=True)
    assert b'href="/admin/"' in client_for(staff).get("/").content


def test_list_rows_follow_sharing(team):
    trackers = team.running(3)
    theirs = running_tracker(owner=team.outsider, cadence=team.cadence, target=LeadFactory())
    mine = {tracker.sf_id for tracker in trackers}
    assert set(row_ids(client_for(team.owner).get("/trackers/"))) == mine
    assert set(row_ids(client_for(team.teammate).get("/trackers/"))) == mine
    assert set(row_ids(client_for(team.manager).get("/trackers/"))) == mine
    assert set(row_ids(client_for(team.outsider).get("/trackers/"))) == {theirs.sf_id}


def test_outsider_sees_empty_pages_and_404_on_detail(team):
    tracker = team.running(1)[0]
    client = client_for(team.outsider)
    listing = client.get("/trackers/")
    assert row_ids(listing) == []
    assert b"No trackers yet" in listing.content
    overview = client.get("/")
    assert b"No trackers to show yet" in overview.content
    assert client.get(f"/trackers/{tracker.sf_id}/").status_code == 404
    assert client.get(f"/trackers/{tracker.sf_id[:15]}/").status_code == 404
    cadence = client.get(f"/cadences/{team.cadence.sf_id}/")
    assert cadence.status_code == 200
    assert tracker.sf_id.encode() not in cadence.content
    assert export_rows(client.get("/trackers/export.csv")) == []


def test_rows_carry_id_and_state_attributes(team):
    trackers = team.mixed(6)
    states = row_states(client_for(team.owner).get("/trackers/"))
    assert states[trackers[0].sf_id] == "Paused"
    assert states[trackers[1].sf_id] == "Complete"
    assert states[trackers[3].sf_id] == "Error"
    assert states[trackers[5].sf_id] == "Running"


def test_processing_is_hidden_by_default_everywhere_and_shown_with_the_toggle(team):
    trackers = team.mixed(6)
    processing = trackers[4]
    client = client_for(team.manager)

    listing = client.get("/trackers/")
    assert processing.sf_id not in row_ids(listing)
    assert b"Processing trackers are left out" in listing.content
    assert b"(1 hidden)" in listing.content
    assert b"include_processing=1" in listing.content
    shown = client.get("/trackers/?include_processing=1")
    assert row_states(shown)[processing.sf_id] == TrackerState.PROCESSING
    assert b"Processing trackers are included" in shown.content

    overview = client.get("/")
    assert b'data-state="Processing"' not in overview.content
    assert overview.context["figures"].active == 2  # Running + Paused
    with_processing = client.get("/?include_processing=1")
    assert b'data-state="Processing"' in with_processing.content
    assert with_processing.context["figures"].active == 3

    ids = {row["Id"] for row in export_rows(client.get("/trackers/export.csv"))}
    assert processing.sf_id not in ids and len(ids) == 5
    everything = client.get("/trackers/export.csv?include_processing=1")
    ids = {row["Id"] for row in export_rows(everything)}
    assert processing.sf_id in ids

    for url in ("/cadences/", f"/cadences/{team.cadence.sf_id}/"):
        assert b"Processing trackers are left out" in client.get(url).content


def test_overview_figures(team):
    team.mixed(6)
    overview = client_for(team.manager).get("/?period=7")
    figures = overview.context["figures"]
    assert figures.period_days == 7
    assert dict(figures.by_state) == {
        "Complete": 2,
        "Error": 1,
        "Initializing": 0,
        "Paused": 1,
        "Running": 1,
    }
    assert dict(figures.by_reason) == {"ManuallyRemoved": 2}
    assert dict(figures.by_disposition) == {"Not Interested": 1, "Success": 1}
    (row,) = figures.cadences
    assert (row.name, row.active, row.completed, row.successes) == ("Inbound follow-up", 2, 2, 1)
    assert row.success_rate == 0.5
    html = overview.content.decode()
    assert "50%" in html and "of 150,000" in html
    assert 'id="chart-data"' in html and "vendor/chart.js/chart.umd.min.js" in html


def test_overview_figures_show_their_age_and_refresh(team, settings):
    """For someone who sees every tracker, figures are reused (CADENCE_OVERVIEW_MAX_AGE)
    and say when they were counted; a change shows after a refresh."""
    from trackers import lifecycle

    settings.CADENCE_OVERVIEW_MAX_AGE = 60
    first, second = team.running(2)
    admin = client_for(UserFactory(username="ops_admin", is_superuser=True, is_staff=True))
    page = admin.get("/")
    counted_at = page.context["figures"].computed_at
    assert page.context["figures"].active == 2
    html = unescape(page.content.decode())
    text = re.sub(r"<[^>]+>", "", html)
    assert f"Figures as of {counted_at:%H:%M:%S} UTC" in text
    assert "counted again once they are 60 s old" in text and "?refresh=1" in html

    lifecycle.remove_target(first, actor=team.owner, disposition="Not Interested")
    cached = admin.get("/")
    assert cached.context["figures"].computed_at == counted_at
    assert cached.context["figures"].active == 2  # as of counted_at, and it says so
    fresh = admin.get("/?refresh=1").context["figures"]
    assert fresh.computed_at > counted_at and fresh.active == 1
    assert admin.get("/").context["figures"].computed_at == fresh.computed_at

    settings.CADENCE_OVERVIEW_MAX_AGE = 0
    lifecycle.remove_target(second, actor=team.owner, disposition="Not Interested")
    page = admin.get("/")
    assert page.context["figures"].active == 0
    assert "counted again once" not in page.content.decode()


def test_overview_figures_of_a_user_with_grants_are_always_counted_now(team, settings):
    """A rep's figures depend on grants that can be taken back: they are never reused, so
    a tracker unshared a moment ago is no longer counted."""
    from sharing import services

    settings.CADENCE_OVERVIEW_MAX_AGE = 60
    (tracker,) = team.running(1)
    share = services.share_tracker(tracker, team.outsider, "Read", actor=team.owner)
    outsider = client_for(team.outsider)
    page = outsider.get("/")
    assert page.context["figures"].active == 1
    assert "counted again once" not in page.content.decode()
    assert "Refresh now" not in page.content.decode()  # nothing to refresh: counted now

    services.remove_share(share, actor=team.owner)
    assert outsider.get(f"/trackers/{tracker.sf_id}/").status_code == 404
    figures = outsider.get("/").context["figures"]
    assert figures.active == 0 and figures.total == 0 and figures.cadences == []


def test_overview_period_counts_completions_by_completion_time(team):
    from django.utils import timezone

    from trackers.models import ActionCadenceTracker

    trackers = team.mixed(6)
    long_ago = timezone.now() - timezone.timedelta(days=40)
    ActionCadenceTracker.objects.filter(pk=trackers[1].pk).update(last_modified_date=long_ago)
    client = client_for(team.owner)
    assert client.get("/?period=30").context["figures"].completed_in_period == 1
    assert client.get("/?period=90").context["figures"].completed_in_period == 2
    assert client.get("/?period=banana").context["figures"].period_days == 30


def test_list_filters_with_the_shared_filterset(team):
    trackers = team.mixed(6)
    client = client_for(team.manager)
    paused = row_ids(client.get("/trackers/?state=Paused"))
    assert paused == [trackers[0].sf_id]
    removed = row_ids(client.get("/trackers/?completion_disposition=Success"))
    assert removed == [trackers[1].sf_id]
    mine = row_ids(client.get(f"/trackers/?owner={team.owner.sf_id}"))
    assert len(mine) == 5
    assert row_ids(client.get(f"/trackers/?owner={team.manager.sf_id}")) == []
    assert len(row_ids(client.get("/trackers/?target_type=Lead"))) == 5
    assert row_ids(client.get("/trackers/?target_type=Contact")) == []
    assert len(row_ids(client.get(f"/trackers/?cadence={team.cadence.sf_id}"))) == 5
    assert row_ids(client.get("/trackers/?created_after=2999-01-01T00:00")) == []


def test_owner_filter_is_a_text_field_with_a_mine_shortcut(team):
    UserFactory.create_batch(3)
    html = client_for(team.owner).get("/trackers/").content.decode()
    assert 'name="owner"' in html and '<select name="owner"' not in html
    assert f"owner={team.owner.sf_id}" in html


def test_invalid_filter_lists_nothing_and_export_refuses(team):
    team.running(2)
    client = client_for(team.owner)
    response = client.get("/trackers/?owner=not-an-id")
    assert row_ids(response) == []
    assert b"Some filter values are not valid" in response.content
    assert client.get("/trackers/export.csv?owner=not-an-id").status_code == 400


def test_sorting_is_whitelisted(team):
    trackers = team.mixed(6)
    client = client_for(team.owner)
    by_state = row_ids(client.get("/trackers/?sort=state"))
    states = [row_states(client.get("/trackers/"))[sf_id] for sf_id in by_state]
    assert states == sorted(states)
    assert len(row_ids(client.get("/trackers/?sort=-password"))) == len(trackers) - 1
    assert client.get("/trackers/?sort=-password").context["sort"] == "-modified"


def test_pagination_walks_every_row_once_with_next_and_previous(team, monkeypatch):
    from trackers.views import tracker_list

    monkeypatch.setattr(tracker_list, "PER_PAGE", 4)
    trackers = team.running(10)
    client = client_for(team.owner)
    seen, pages, url = [], [], "/trackers/?sort=cadence"
    while url:
        response = client.get(url)
        pages.append(row_ids(response))
        seen += pages[-1]
        page = response.context["page"]
        url = f"/trackers/?sort=cadence&cursor={page.next_cursor}" if page.has_next else None
    assert sorted(seen) == sorted(tracker.sf_id for tracker in trackers)
    assert [len(page) for page in pages] == [4, 4, 2]
    back = client.get(f"/trackers/?sort=cadence&cursor={page.previous_cursor}")
    assert row_ids(back) == pages[1]
    assert b"Next" in back.content and b"First page" in back.content


def test_list_count_is_capped(team, monkeypatch):
    from trackers import dashboards

    monkeypatch.setattr(dashboards, "COUNT_CAP", 3)
    from trackers.views import tracker_list

    monkeypatch.setattr(tracker_list, "COUNT_CAP", 3)
    team.running(5)
    response = client_for(team.owner).get("/trackers/")
    assert b"<span data-count>3+</span>" in response.content


def test_export_uses_api_names_and_the_filter(team):
    from cadence_site import registry

    trackers = team.mixed(6)
    response = client_for(team.manager).get("/trackers/export.csv?state=Complete")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = export_rows(response)
    assert {row["Id"] for row in rows} == {trackers[1].sf_id, trackers[2].sf_id}
    names = [spec.name for spec in registry.get("ActionCadenceTracker").fields]
    assert list(rows[0]) == names
    success = next(row for row in rows if row["Id"] == trackers[1].sf_id)
    assert success["CompletionDisposition"] == "Success"
    assert success["IsTrackerActive"] == "false"
    assert success["ActionCadenceId"] == team.cadence.sf_id
    assert success["OwnerId"] == team.owner.sf_id


def test_cadence_pages(team):
    trackers = team.mixed(6)
    client = client_for(team.manager)
    index = client.get("/cadences/")
    assert team.cadence.sf_id.encode() in index.content
    (summary,) = [row for row in index.context["cadences"] if row.cadence == team.cadence]
    assert (summary.steps, summary.active, summary.total) == (2, 2, 5)

    page = client.get(f"/cadences/{team.cadence.sf_id}/")
    assert row_ids(page) == [trackers[5].sf_id]  # the only Running one
    assert f"WHERE ActionCadenceId = '{team.cadence.sf_id}' AND State = 'Running'" in (
        unescape(page.content.decode())
    )
    funnel = {item.step.step_name: item for item in page.context["funnel"]}
    assert funnel["1_MakeACall"].reached == 5
    assert funnel["1_MakeACall"].share_of_first == 1.0
    assert client.get("/cadences/77C000000000000/").status_code == 404


def test_cadence_running_targets_are_paginated(team, monkeypatch):
    from trackers.views import cadences

    monkeypatch.setattr(cadences, "RUNNING_PER_PAGE", 2)
    trackers = team.running(3)
    client = client_for(team.owner)
    first = client.get(f"/cadences/{team.cadence.sf_id}/")
    second = client.get(
        f"/cadences/{team.cadence.sf_id}/?cursor={first.context['page'].next_cursor}"
    )
    assert row_ids(first) + row_ids(second) == [tracker.sf_id for tracker in trackers]


def test_error_pages_are_designed(team, settings):
    settings.DEBUG = False
    response = client_for(team.owner).get("/trackers/7CT000000000000/")
    assert response.status_code == 404
    assert b"We can't find that page" in response.content


def test_pages_load_only_vendored_assets(team):
    """No CDN: every script and stylesheet is under /static/ and exists in the tree."""
    from pathlib import Path

    from django.conf import settings

    team.mixed(6)
    client = client_for(team.manager)
    for url in ("/", "/trackers/", "/cadences/", f"/cadences/{team.cadence.sf_id}/"):
        html = client.get(url).content.decode()
        assets = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
        assert assets, url
        for asset in assets:
            assert asset.startswith("/static/"), (url, asset)
            assert (Path(settings.BASE_DIR) / asset.removeprefix("/")).exists(), asset
