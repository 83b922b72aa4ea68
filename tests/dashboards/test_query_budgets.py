"""Query budgets: every page costs the same number of queries for 2 trackers as for 30.

The fixed part is the session and user (2), the sharing chokepoint (the role and
group graph, 3, and the org-wide default, 1, each time a visibility filter is
built), the user's permissions (2), and then a few queries of the page's own: one
GROUP BY for the figures, two per list page (its keys, then its rows), a capped
count.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.dashboards.team import client_for
from trackers import lifecycle
from trackers.models import BulkJob

pytestmark = pytest.mark.django_db

# page → the most queries it may make, for a manager. Each number is what the page makes
# today: a change that adds a query per page has to raise it here, on purpose.
BUDGETS = {
    "overview": 9,  # GROUP BY (cadence, State), GROUP BY the period's completions, cadence names
    # capped count and hidden-Processing count, the page's keys, then its rows with joins
    # and the edit flag
    "list": 12,
    "list_with_processing": 11,  # no hidden-Processing count
    "list_filtered": 13,  # + the cadence choices the filter validates against
    "export": 6,  # one streamed query, select_related over every reference
    "detail": 25,  # access level (3 visibility filters) and explain_access dominate
    "cadences": 9,
    "cadence": 13,  # steps, funnel GROUP BY, Running page (keys, rows, capped count)
    "job": 4,
    "job_progress": 3,
}


def urls(team, tracker, job) -> dict[str, str]:
    cadence = team.cadence.sf_id
    return {
        "overview": "/?period=90",
        "list": "/trackers/",
        "list_with_processing": "/trackers/?include_processing=1&sort=cadence",
        "list_filtered": f"/trackers/?state=Running&state=Paused&cadence={cadence}&sort=-state",
        "export": "/trackers/export.csv",
        "detail": f"/trackers/{tracker.sf_id}/",
        "cadences": "/cadences/",
        "cadence": f"/cadences/{cadence}/",
        "job": f"/trackers/jobs/{job.pk}/",
        "job_progress": f"/trackers/jobs/{job.pk}/progress/",
    }


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        if response.streaming:
            b"".join(response.streaming_content)
    assert response.status_code == 200, url
    return len(captured)


@pytest.mark.parametrize("page", list(BUDGETS))
def test_page_query_count_does_not_grow_with_trackers(
    team, page, monkeypatch, django_assert_max_num_queries
):
    from trackers.views import cadences, tracker_list

    # One row a page, so lists always have a next page and count their rows, as they do
    # in real use; more rows on the page must not mean more queries.
    monkeypatch.setattr(tracker_list, "PER_PAGE", 1)
    monkeypatch.setattr(cadences, "RUNNING_PER_PAGE", 1)
    trackers = [*team.mixed(6), *team.running(1)]
    job = lifecycle.start_bulk("pause", [team.running(1)[0]], actor=team.manager)
    client = client_for(team.manager)
    url = urls(team, trackers[0], job)[page]
    client.get(url)  # warm up: the org settings row is created on first use
    few = count_queries(client, url)

    team.copies(trackers, 28)
    # Many rows on the page now, and still a next page.
    monkeypatch.setattr(tracker_list, "PER_PAGE", 10)
    monkeypatch.setattr(cadences, "RUNNING_PER_PAGE", 5)
    many = count_queries(client, url)
    assert many == few, f"{page}: {few} queries with a few trackers, {many} with 30 more"
    with django_assert_max_num_queries(BUDGETS[page]):
        response = client.get(url)
        if response.streaming:
            b"".join(response.streaming_content)


def test_bulk_review_query_count_does_not_grow(team):
    client = client_for(team.manager)

    templates = team.running(1)

    def review(count: int) -> int:
        ids = [tracker.sf_id for tracker in [*templates, *team.copies(templates, count - 1)]]
        with CaptureQueriesContext(connection) as captured:
            response = client.post(
                "/trackers/bulk/", {"action": "remove", "scope": "selected", "ids": ids}
            )
        assert response.status_code == 200
        return len(captured)

    review(2)
    assert review(2) == review(30)
    assert BulkJob.objects.count() == 0
