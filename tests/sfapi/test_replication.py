"""getUpdated and getDeleted: ids from the change events, under sharing and Salesforce's
window rules."""

import datetime as dt
from urllib.parse import quote

import pytest
from django.utils import timezone

from cadence_site.registry import format_datetime
from tests.factories import make_cadence
from tests.sfapi.conftest import BASE
from trackers import lifecycle
from trackers.models import ActionCadence, ActionCadenceTrackerChangeEvent

pytestmark = pytest.mark.django_db

UPDATED = f"{BASE}/sobjects/ActionCadenceTracker/updated/"
DELETED = f"{BASE}/sobjects/ActionCadenceTracker/deleted/"


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def minute(moment: dt.datetime) -> dt.datetime:
    return moment.replace(second=0, microsecond=0)


def age_events(minutes: int = 10) -> dt.datetime:
    """Move every change event back in time (the API covers whole minutes before now)."""
    moment = timezone.now() - dt.timedelta(minutes=minutes)
    ActionCadenceTrackerChangeEvent.objects.update(created_at=moment)
    return moment


def window(client, resource, start, end):
    return client.get(f"{resource}?start={quote(start)}&end={quote(end)}")


def test_get_updated_lists_changed_trackers_once(api, rep, org):
    lifecycle.pause(org["trackers"][0], actor=rep)
    age_events()
    now = timezone.now()
    response = window(api(rep), UPDATED, iso(now - dt.timedelta(hours=1)), iso(now))
    assert response.status_code == 200
    body = response.json()
    assert sorted(body["ids"]) == sorted(tracker.sf_id for tracker in org["trackers"])
    assert body["latestDateCovered"] == format_datetime(minute(now))


def test_get_updated_and_deleted_follow_sharing(api, rep, teammate, outsider, org):
    gone = org["trackers"][1]
    lifecycle.delete_tracker(gone, actor=rep)
    deleted_at = age_events()
    now = timezone.now()
    start, end = iso(now - dt.timedelta(hours=1)), iso(now)
    for user, expected in ((rep, 1), (teammate, 1), (outsider, 0)):
        updated = window(api(user), UPDATED, start, end).json()
        assert updated["ids"] == [org["trackers"][0].sf_id][:expected], user
        deleted = window(api(user), DELETED, start, end).json()
        assert (
            deleted["deletedRecords"]
            == [{"id": gone.sf_id, "deletedDate": format_datetime(deleted_at)}][:expected]
        ), user
        assert deleted["latestDateCovered"] == format_datetime(minute(now))
        assert deleted["earliestDateAvailable"] in {
            format_datetime(minute(when - dt.timedelta(days=15))) for when in (now, timezone.now())
        }


def test_undeleted_tracker_leaves_get_deleted(api, rep, org):
    tracker = org["trackers"][0]
    lifecycle.delete_tracker(tracker, actor=rep)
    lifecycle.undelete_tracker(tracker, actor=rep)
    age_events()
    now = timezone.now()
    body = window(api(rep), DELETED, iso(now - dt.timedelta(hours=1)), iso(now)).json()
    assert body["deletedRecords"] == []


def test_window_covers_whole_minutes_and_clamps_the_future(api, rep, org):
    moment = age_events(minutes=5)
    client = api(rep)
    # The event's own minute is in; the seconds of start and end are ignored.
    start = moment.replace(second=59)
    in_window = window(client, UPDATED, iso(start), iso(start + dt.timedelta(minutes=1)))
    assert len(in_window.json()["ids"]) == 2
    before = window(client, UPDATED, iso(moment - dt.timedelta(minutes=3)), iso(minute(moment)))
    assert before.json()["ids"] == []
    before_call = timezone.now()
    future = window(client, UPDATED, iso(moment), iso(timezone.now() + dt.timedelta(days=2)))
    assert future.status_code == 200
    assert future.json()["latestDateCovered"] in {
        format_datetime(minute(when)) for when in (before_call, timezone.now())
    }


@pytest.mark.parametrize(
    "form",
    [
        "%Y-%m-%dT%H:%M:%SZ",
        "%Y-%m-%dT%H:%M:%S.000Z",
        "%Y-%m-%dT%H:%M:%S+0000",
        "%Y-%m-%dT%H:%M:%S.123+00:00",
        "%Y-%m-%dT%H:%M:%S+00:00",
    ],
)
def test_start_and_end_formats(api, rep, form):
    now = timezone.now()
    start = (now - dt.timedelta(hours=1)).strftime(form)
    response = window(api(rep), UPDATED, start, now.strftime(form))
    assert response.status_code == 200, response.json()


def test_unencoded_plus_in_the_query_string_is_understood(api, rep):
    now = timezone.now()
    start = (now - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    response = api(rep).get(
        f"{UPDATED}?start={start}&end={now.strftime('%Y-%m-%dT%H:%M:%S+00:00')}"
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("resource", "start_ago", "end_ago"),
    [
        (UPDATED, dt.timedelta(hours=1), dt.timedelta(hours=2)),  # start after end
        (UPDATED, dt.timedelta(hours=1), dt.timedelta(hours=1)),  # start equals end
        (UPDATED, dt.timedelta(seconds=50), dt.timedelta(seconds=10)),  # the same minute
        (UPDATED, dt.timedelta(days=32), dt.timedelta(days=1)),  # older than 30 days
        (DELETED, dt.timedelta(days=17), dt.timedelta(days=1)),  # older than 15 days
    ],
)
def test_invalid_windows(api, rep, resource, start_ago, end_ago):
    now = timezone.now().replace(second=55)
    response = window(api(rep), resource, iso(now - start_ago), iso(now - end_ago))
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_REPLICATION_DATE"


def test_missing_or_malformed_dates(api, rep):
    client = api(rep)
    assert client.get(UPDATED).json()[0]["errorCode"] == "MISSING_ARGUMENT"
    response = client.get(UPDATED, {"start": "yesterday", "end": "2026-11-27T12:00:00Z"})
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_REPLICATION_DATE"


def test_other_objects_replicate_by_system_modstamp(api, rep):
    cadence = make_cadence()
    earlier = timezone.now() - dt.timedelta(minutes=10)
    ActionCadence.objects.filter(pk=cadence.pk).update(system_modstamp=earlier)
    now = timezone.now()
    body = window(
        api(rep),
        f"{BASE}/sobjects/ActionCadence/updated",
        iso(now - dt.timedelta(hours=1)),
        iso(now),
    ).json()
    assert body["ids"] == [cadence.sf_id]
    deleted = window(
        api(rep),
        f"{BASE}/sobjects/ActionCadence/deleted",
        iso(now - dt.timedelta(hours=1)),
        iso(now),
    ).json()
    assert deleted["deletedRecords"] == []


def test_objects_without_replication_say_so(api, rep):
    now = timezone.now()
    response = window(
        api(rep), f"{BASE}/sobjects/User/updated", iso(now - dt.timedelta(hours=1)), iso(now)
    )
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_TYPE_FOR_OPERATION"
