"""The tracker list's filters (the dashboard's TrackerFilterSet) and its cursor pages."""

import datetime as dt

import pytest
from django.utils import timezone

from tests.api.conftest import client_for
from tests.factories import (
    ContactFactory,
    GroupMemberFactory,
    OpportunityFactory,
    QueueFactory,
    make_cadence,
    running_tracker,
)
from trackers import lifecycle
from trackers.models import ActionCadenceTracker

pytestmark = pytest.mark.django_db


def listed(user, **params):
    response = client_for(user).get("/api/trackers/", params)
    assert response.status_code == 200, response.content
    return [row["Id"] for row in response.json()["results"]]


@pytest.fixture
def mix(rep):
    """rep's trackers, one of each kind a filter tells apart."""
    queue = QueueFactory()
    GroupMemberFactory(group=queue, member_user=rep)
    other_cadence = make_cadence()
    mix = {
        "running": running_tracker(owner=rep),
        "contact": running_tracker(
            owner=rep,
            cadence=other_cadence,
            target=ContactFactory(),
            related_to=OpportunityFactory(),
            attribution_type="Maturation",
        ),
        "removed": running_tracker(owner=rep),
        "queued": running_tracker(owner=queue, cadence=other_cadence),
    }
    lifecycle.remove_target(mix["removed"], actor=rep, disposition="Not Interested")
    long_ago = timezone.now() - dt.timedelta(days=40)
    ActionCadenceTracker.objects.filter(pk=mix["running"].pk).update(
        created_date=long_ago, last_modified_date=long_ago
    )
    return {**mix, "queue": queue, "other_cadence": other_cadence}


def ids(mix, *names):
    return {mix[name].sf_id for name in names}


def test_no_filter_lists_all_four(rep, mix):
    assert set(listed(rep)) == ids(mix, "running", "contact", "removed", "queued")


def test_filter_by_cadence(rep, mix):
    assert set(listed(rep, cadence=mix["other_cadence"].sf_id)) == ids(mix, "contact", "queued")


def test_filter_by_owner_user_or_queue(rep, mix):
    assert set(listed(rep, owner=mix["queue"].sf_id)) == ids(mix, "queued")
    assert set(listed(rep, owner=rep.sf_id)) == ids(mix, "running", "contact", "removed")
    both = f"{rep.sf_id[:15]},{mix['queue'].sf_id}"
    assert set(listed(rep, owner=both)) == ids(mix, "running", "contact", "removed", "queued")


def test_filter_by_state_completion_reason_and_disposition(rep, mix):
    assert set(listed(rep, state="Complete")) == ids(mix, "removed")
    assert set(listed(rep, state=["Complete", "Running"])) == ids(
        mix, "running", "contact", "removed", "queued"
    )
    assert set(listed(rep, completion_reason="ManuallyRemoved")) == ids(mix, "removed")
    assert set(listed(rep, completion_reason="NoMoreSteps")) == set()
    assert set(listed(rep, completion_disposition="Not Interested")) == ids(mix, "removed")


def test_filter_by_target_type_and_attribution(rep, mix):
    assert set(listed(rep, target_type="Contact")) == ids(mix, "contact")
    assert set(listed(rep, target_type="Lead")) == ids(mix, "running", "removed", "queued")
    assert set(listed(rep, related_to_attribution_type="Maturation")) == ids(mix, "contact")


def test_filter_by_is_tracker_active(rep, mix):
    assert set(listed(rep, is_tracker_active="false")) == ids(mix, "removed")
    assert set(listed(rep, is_tracker_active="true")) == ids(mix, "running", "contact", "queued")


def test_filter_by_created_and_modified_dates(rep, mix):
    cutoff = (timezone.now() - dt.timedelta(days=1)).isoformat()
    assert set(listed(rep, created_before=cutoff)) == ids(mix, "running")
    assert set(listed(rep, created_after=cutoff)) == ids(mix, "contact", "removed", "queued")
    assert set(listed(rep, modified_before=cutoff)) == ids(mix, "running")
    assert set(listed(rep, modified_after=cutoff)) == ids(mix, "contact", "removed", "queued")


def test_far_utc_offsets_in_date_filters(rep, mix):
    """+17:00 is a valid ISO 8601 offset; the filter must compare the instant it names."""
    cutoff = (timezone.now() - dt.timedelta(days=1)).astimezone(dt.timezone(dt.timedelta(hours=17)))
    assert set(listed(rep, created_before=cutoff.isoformat())) == ids(mix, "running")


def test_filters_never_widen_visibility(mix, outsider):
    assert listed(outsider, owner=mix["queue"].sf_id) == []
    assert listed(outsider, state="Running") == []


@pytest.mark.parametrize(
    "params, field",
    [
        ({"state": "Sleeping"}, "state"),
        ({"owner": "not-an-id"}, "owner"),
        ({"created_after": "yesterday"}, "created"),
    ],
)
def test_invalid_filter_values_are_400(rep, params, field):
    response = client_for(rep).get("/api/trackers/", params)
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_FIELD"
    assert field in response.json()["fields"]


# --------------------------------------------------------------------------- cursor pages


@pytest.fixture
def seven(rep):
    """Seven trackers, four of them sharing one LastModifiedDate (as a bulk job leaves them)."""
    trackers = [running_tracker(owner=rep) for _ in range(7)]
    base = timezone.now() - dt.timedelta(hours=1)
    stamps = [
        base,
        base,
        base,
        base,
        base - dt.timedelta(minutes=5),
        base + dt.timedelta(minutes=5),
        base - dt.timedelta(minutes=9),
    ]
    for tracker, stamp in zip(trackers, stamps, strict=True):
        ActionCadenceTracker.objects.filter(pk=tracker.pk).update(last_modified_date=stamp)
    expected = sorted(
        zip(stamps, [tracker.pk for tracker in trackers], trackers, strict=True),
        key=lambda row: (row[0], row[1]),
        reverse=True,
    )
    return [row[2].sf_id for row in expected]


def test_pages_follow_last_modified_then_pk_without_gaps_or_repeats(rep, seven):
    client = client_for(rep)
    pages = []
    url = "/api/trackers/?page_size=3"
    while url:
        body = client.get(url).json()
        pages.append([row["Id"] for row in body["results"]])
        url = body["next"]
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [row for page in pages for row in page] == seven


def test_previous_goes_back_a_page(rep, seven):
    client = client_for(rep)
    first = client.get("/api/trackers/?page_size=3").json()
    assert first["previous"] is None
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()
    assert third["next"] is None
    back = client.get(third["previous"]).json()
    assert [row["Id"] for row in back["results"]] == seven[3:6]
    back_again = client.get(back["previous"]).json()
    assert [row["Id"] for row in back_again["results"]] == seven[:3]
    assert back_again["previous"] is None


def test_other_orderings(rep, seven):
    oldest_first = listed(rep, ordering="last_modified_date", page_size=7)
    assert oldest_first == list(reversed(seven))
    client = client_for(rep)
    body = client.get("/api/trackers/", {"ordering": "created_date", "page_size": 4}).json()
    rest = client.get(body["next"]).json()
    assert len({row["Id"] for row in body["results"] + rest["results"]}) == 7


def test_page_size_is_capped_at_200(rep, seven, monkeypatch):
    from trackers.api.pagination import TrackerPagination

    monkeypatch.setattr(TrackerPagination, "max_page_size", 5)
    body = client_for(rep).get("/api/trackers/", {"page_size": 1000}).json()
    assert len(body["results"]) == 5
    assert TrackerPagination.page_size <= 200


@pytest.mark.parametrize(
    "name, value",
    [("cursor", "garbage"), ("page_size", "0"), ("page_size", "many"), ("ordering", "state")],
)
def test_bad_page_parameters_are_400(rep, name, value):
    response = client_for(rep).get("/api/trackers/", {name: value})
    assert response.status_code == 400
    assert name in response.json()["fields"]


def test_a_cursor_from_another_ordering_is_refused(rep, seven):
    body = client_for(rep).get("/api/trackers/", {"page_size": 3}).json()
    cursor = body["next"].split("cursor=")[1]
    response = client_for(rep).get("/api/trackers/", {"cursor": cursor, "ordering": "created_date"})
    assert response.status_code == 400


def test_filters_add_no_distinct(rep, mix):
    """Every filter tests the tracker's own columns or a single-valued relation, so no
    row can repeat; django-filter's default DISTINCT on multiple-choice filters would
    only make the capped count a DISTINCT over every column."""
    from trackers.filtersets import TrackerFilterSet

    cadence = mix["running"].action_cadence.sf_id
    data = {
        "cadence": [cadence],
        "owner": rep.sf_id,
        "state": ["Running", "Complete"],
        "completion_reason": ["ManuallyRemoved"],
        "completion_disposition": ["Bad Data"],
        "related_to_attribution_type": ["Activation"],
        "target_type": "Lead",
        "is_tracker_active": "true",
    }
    filterset = TrackerFilterSet(data, queryset=ActionCadenceTracker.objects.all())
    assert filterset.is_valid(), filterset.errors
    assert not filterset.qs.query.distinct
    assert "DISTINCT" not in str(filterset.qs.query)
