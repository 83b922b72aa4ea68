"""Query budgets: every list endpoint costs a fixed number of queries, whatever its size.

A non-superuser signed in with a bearer token pays, per request:
  1  token + user (one join)
  2  their permissions (user and group), asked by the sharing chokepoint for view/modify-all
  1  the org row (org-wide default and sharing version; the role/group graph is cached per
     sharing version, so it costs nothing on a warm process)
then the list itself: one query with every join the serializer reads, plus one prefetch
where a row nests children (a cadence's steps). Cursor-paged lists pick the page's keys
first (one narrow query), then load those rows with their joins.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sharing import services
from tests.api.conftest import bearer_client, public_group, share_by_rule, varied_trackers
from tests.factories import UserFactory, make_cadence
from trackers.models import BulkJob

pytestmark = pytest.mark.django_db

AUTH = 1
SHARING = 3  # permissions (2) and the org row (1)
PAGE = 2  # the page's keys, then its rows
BUDGETS = {
    "/api/trackers/": AUTH + SHARING + PAGE,
    "/api/step-trackers/": AUTH + SHARING + PAGE,
    "/api/shares/": AUTH + SHARING + PAGE,
    "/api/change-events/": AUTH + SHARING + 1,  # replay ids are the page: one query
    # Org-wide metadata: no sharing check.
    "/api/cadences/": AUTH + 1 + 1,  # cadences with their counts, then their steps
    "/api/steps/": AUTH + 1,
    "/api/sharing-rules/": AUTH + 1,
    "/api/bulk-jobs/": AUTH + PAGE,
}


def grow(rep, teammate, count):
    """``count`` more rows for every list: trackers (with steps and events), a Manual
    share of each, cadences, sharing rules and bulk jobs."""
    for tracker in varied_trackers(rep, count):
        services.share_tracker(tracker, teammate, "Read", actor=rep)
    batch = BulkJob.objects.count()
    source = public_group(f"Source {batch}", UserFactory())
    for index in range(count):
        make_cadence()
        share_by_rule(None, teammate, name=f"Rule_{batch}_{index}", source=source)
        BulkJob.objects.create(action="remove", requested_by=teammate)


def queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(captured.captured_queries), response


@pytest.fixture
def teammate_client(teammate):
    client = bearer_client(teammate)
    client.get("/api/steps/")  # first use stamps the token's last_used_at
    return client


@pytest.mark.parametrize("url", BUDGETS)
def test_each_list_stays_within_its_budget(
    url, rep, teammate, teammate_client, django_assert_max_num_queries
):
    grow(rep, teammate, 2)
    teammate_client.get(url)  # warm the org graph cache, as a running process has it
    with django_assert_max_num_queries(BUDGETS[url]):
        response = teammate_client.get(url)
    assert rows(response)


def test_queries_do_not_grow_with_rows(rep, teammate, teammate_client):
    """GIVEN every list with 2 rows WHEN each grows to 30 THEN each costs the same queries."""
    grow(rep, teammate, 2)
    before = {}
    for url in BUDGETS:
        teammate_client.get(url)
        count, response = queries(teammate_client, url)
        before[url] = (count, len(rows(response)))
    grow(rep, teammate, 28)
    after = {}
    for url in BUDGETS:
        teammate_client.get(url)
        count, response = queries(teammate_client, url)
        after[url] = (count, len(rows(response)))
    assert all(size < 30 for _count, size in before.values()), before
    assert all(size >= 30 for _count, size in after.values()), after
    assert {url: count for url, (count, _size) in after.items()} == {
        url: count for url, (count, _size) in before.items()
    }


def rows(response):
    body = response.json()
    return body["results"] if isinstance(body, dict) else body


def test_a_200_row_page_is_still_one_list_query(rep, teammate_client, teammate):
    """The largest page a client can ask for costs what a small one does."""
    for tracker in varied_trackers(rep, 8):
        services.share_tracker(tracker, teammate, "Read", actor=rep)
    teammate_client.get("/api/trackers/")
    count, response = queries(teammate_client, "/api/trackers/?page_size=200")
    assert count == BUDGETS["/api/trackers/"]
    assert len(response.json()["results"]) == 8


def test_superusers_skip_the_sharing_queries(admin_user, rep):
    varied_trackers(rep, 2)
    client = bearer_client(admin_user)
    client.get("/api/trackers/")
    count, response = queries(client, "/api/trackers/")
    assert count <= AUTH + 1 + PAGE  # the org row, then the page
    assert len(response.json()["results"]) == 2
