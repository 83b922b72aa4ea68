"""GET query?q=SOQL and GET query/{locator}, through the HTTP stack."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sharing.models import GroupMember
from tests.factories import (
    ContactFactory,
    QueueFactory,
    make_cadence,
    running_tracker,
)
from tests.sfapi.conftest import BASE, bulk_trackers, query
from trackers import lifecycle
from trackers.models import ActionCadence, ActionCadenceTracker

pytestmark = pytest.mark.django_db


def ids(response) -> set[str]:
    assert response.status_code == 200, response.json()
    return {record["Id"] for record in response.json()["records"]}


# --------------------------------------------------------------------------- the seed's query


def test_seed_usage_query_runs_exactly_as_printed(api, rep, org):
    """GIVEN two Running trackers and one Paused on a cadence, and one on another cadence
    WHEN the seed's usage query is sent as printed (lower case, a line break, "Running")
    THEN it returns the targets of the Running trackers on that cadence only."""
    running = org["trackers"]
    paused = running_tracker(owner=rep, cadence=org["cadence"])
    lifecycle.pause(paused, actor=rep)
    running_tracker(owner=rep)  # another cadence
    cadence_id = org["cadence"].sf_id
    for written in (cadence_id, f"'{cadence_id}'", cadence_id[:15]):
        soql = (
            f"select TargetId from ActionCadenceTracker where ActionCadenceId={written}\n"
            ' and State= "Running"'
        )
        response = query(api(rep), soql)
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["totalSize"] == 2 and body["done"] is True
        assert {record["TargetId"] for record in body["records"]} == {
            tracker.target.sf_id for tracker in running
        }
        assert set(body["records"][0]) == {"attributes", "TargetId"}
        tracker_url = body["records"][0]["attributes"]["url"]
        assert tracker_url.startswith(f"{BASE}/sobjects/ActionCadenceTracker/7CT")


# --------------------------------------------------------------------------- shapes


def test_relationship_fields_resolve_polymorphic_owner_and_target(api, admin_user, rep):
    queue = QueueFactory(name="Inbound queue")
    cadence = make_cadence(name="Spring outreach")
    by_rep = running_tracker(owner=rep, cadence=cadence)
    by_queue = running_tracker(owner=queue, cadence=cadence, target=ContactFactory(), actor=rep)
    response = query(
        api(admin_user),
        "SELECT Id, ActionCadence.Name, Owner.Name, Target.LastName, State "
        "FROM ActionCadenceTracker ORDER BY Owner.Name",
    )
    records = {record["Id"]: record for record in response.json()["records"]}
    owned = records[by_rep.sf_id]
    assert owned["ActionCadence"]["Name"] == "Spring outreach"
    assert owned["ActionCadence"]["attributes"]["type"] == "ActionCadence"
    assert owned["Owner"] == {
        "attributes": {"type": "User", "url": f"{BASE}/sobjects/User/{rep.sf_id}"},
        "Name": rep.name,
    }
    assert owned["Target"]["attributes"]["type"] == "Lead"
    queued = records[by_queue.sf_id]
    assert queued["Owner"]["attributes"]["type"] == "Group"
    assert queued["Owner"]["Name"] == "Inbound queue"
    assert queued["Target"]["attributes"]["type"] == "Contact"
    assert queued["Target"]["LastName"] == by_queue.target.last_name


def test_null_relationship_is_null(api, admin_user, rep):
    tracker = running_tracker(owner=rep)
    response = query(
        api(admin_user), "SELECT RelatedTo.Name, ExitGlobalRuleId FROM ActionCadenceTracker"
    )
    (record,) = response.json()["records"]
    assert record["RelatedTo"] is None and record["ExitGlobalRuleId"] is None
    assert record["attributes"]["url"].endswith(tracker.sf_id)


def test_where_on_relationship_and_user_name(api, admin_user, rep):
    rep.first_name, rep.last_name = "Ada", "Lovelace"
    rep.save()
    mine = running_tracker(owner=rep, cadence=make_cadence(name="Alpha"))
    running_tracker(cadence=make_cadence(name="Beta"))
    found = ids(
        query(
            api(admin_user),
            "SELECT Id FROM ActionCadenceTracker "
            "WHERE ActionCadence.Name = 'alpha' AND Owner.Name LIKE 'ada%'",
        )
    )
    assert found == {mine.sf_id}


def test_count_and_group_by(api, admin_user, rep):
    cadence = make_cadence()
    trackers = [running_tracker(owner=rep, cadence=cadence) for _ in range(3)]
    lifecycle.remove_target(trackers[0], actor=rep, disposition="Success")
    client = api(admin_user)
    assert query(client, "SELECT COUNT() FROM ActionCadenceTracker").json() == {
        "totalSize": 3,
        "done": True,
        "records": [],
    }
    assert (
        query(client, "select count() from ActionCadenceTracker where State = 'Running'").json()[
            "totalSize"
        ]
        == 2
    )
    body = query(
        client,
        "SELECT State, COUNT(Id), COUNT(CompletionDisposition) withDisposition "
        "FROM ActionCadenceTracker GROUP BY State ORDER BY COUNT(Id) DESC",
    ).json()
    assert body["totalSize"] == 2
    assert body["records"] == [
        {
            "attributes": {"type": "AggregateResult"},
            "State": "Running",
            "expr0": 2,
            "withDisposition": 0,
        },
        {
            "attributes": {"type": "AggregateResult"},
            "State": "Complete",
            "expr0": 1,
            "withDisposition": 1,
        },
    ]
    body = query(client, "SELECT COUNT(Id), MAX(DaisyChainIteration) FROM ActionCadenceTracker")
    assert body.json()["records"] == [
        {"attributes": {"type": "AggregateResult"}, "expr0": 3, "expr1": 1}
    ]
    grouped = query(
        client,
        "SELECT ActionCadence.Name, COUNT_DISTINCT(OwnerId) FROM ActionCadenceTracker "
        "GROUP BY ActionCadence.Name",
    ).json()["records"]
    assert grouped == [
        {"attributes": {"type": "AggregateResult"}, "Name": cadence.name, "expr0": 1}
    ]


def test_order_by_nulls_limit_offset(api, admin_user, rep):
    cadence = make_cadence()
    trackers = bulk_trackers(rep, cadence, 4)
    for number, tracker in enumerate(trackers, start=1):
        ActionCadenceTracker.objects.filter(pk=tracker.pk).update(
            daisy_chain_iteration=None if number == 1 else number
        )
    client = api(admin_user)

    def order(soql):
        return [record["DaisyChainIteration"] for record in query(client, soql).json()["records"]]

    base = "SELECT DaisyChainIteration FROM ActionCadenceTracker ORDER BY DaisyChainIteration"
    assert order(base) == [None, 2, 3, 4]  # nulls first by default
    assert order(f"{base} DESC") == [None, 4, 3, 2]
    assert order(f"{base} DESC NULLS LAST") == [4, 3, 2, None]
    assert order(f"{base} ASC NULLS LAST LIMIT 2") == [2, 3]
    assert order(f"{base} NULLS LAST LIMIT 2 OFFSET 1") == [3, 4]
    body = query(client, f"{base} LIMIT 2 OFFSET 1").json()
    assert body["totalSize"] == 2 and body["done"] is True


def test_datetime_and_date_literals(api, admin_user, rep):
    tracker = running_tracker(owner=rep)
    ActionCadenceTracker.objects.filter(pk=tracker.pk).update(
        scheduled_resume_date_time=dt.datetime(2030, 1, 15, 9, 30, tzinfo=dt.UTC)
    )
    client = api(admin_user)
    yes = {tracker.sf_id}
    cases = {
        "CreatedDate = TODAY": yes,
        "CreatedDate = YESTERDAY": set(),
        "CreatedDate = LAST_N_DAYS:1": yes,
        "CreatedDate = THIS_MONTH": yes,
        "CreatedDate < TODAY": set(),
        "CreatedDate > TODAY": set(),
        "CreatedDate <= TODAY": yes,
        "CreatedDate = NEXT_N_DAYS:3": set(),
        "ScheduledResumeDateTime > 2030-01-15T09:00:00Z": yes,
        "ScheduledResumeDateTime > 2030-01-15T09:30:00.000+0000": set(),
        "ScheduledResumeDateTime = 2030-01-15T10:30:00+01:00": yes,
        "ScheduledResumeDateTime >= 2030-01-15T09:30:00+00:00": yes,
        "ScheduledResumeDateTime = null": set(),
        "ScheduledResumeDateTime != null": yes,
    }
    for condition, expected in cases.items():
        found = ids(query(client, f"SELECT Id FROM ActionCadenceTracker WHERE {condition}"))
        assert found == expected, condition


def test_reference_filters_accept_15_and_18_character_ids_and_in(api, admin_user, rep):
    first, second = running_tracker(owner=rep), running_tracker(owner=rep)
    client = api(admin_user)
    cadence_15 = first.action_cadence.sf_id[:15]
    assert ids(
        query(client, f"SELECT Id FROM ActionCadenceTracker WHERE ActionCadenceId = '{cadence_15}'")
    ) == {first.sf_id}
    targets = ", ".join(f"'{tracker.target.sf_id}'" for tracker in (first, second))
    assert ids(
        query(client, f"SELECT Id FROM ActionCadenceTracker WHERE TargetId IN ({targets})")
    ) == {first.sf_id, second.sf_id}
    assert ids(
        query(
            client,
            f"SELECT Id FROM ActionCadenceTracker WHERE TargetId NOT IN ('{first.target.sf_id}')",
        )
    ) == {second.sf_id}
    assert ids(
        query(client, f"SELECT Id FROM ActionCadenceTracker WHERE OwnerId = '{rep.sf_id}'")
    ) == {first.sf_id, second.sf_id}
    assert ids(
        query(client, f"SELECT Id FROM ActionCadenceTracker WHERE Id = '{first.sf_id}'")
    ) == {first.sf_id}


def test_other_objects_are_queryable_and_step_trackers_follow_their_tracker(
    api, rep, outsider, org
):
    soql = "SELECT Id, State, ActionCadenceTracker.State FROM ActionCadenceStepTracker"
    mine = query(api(rep), soql).json()
    assert mine["totalSize"] == 2
    assert mine["records"][0]["ActionCadenceTracker"]["State"] == "Running"
    assert query(api(outsider), soql).json()["totalSize"] == 0
    cadences = query(api(outsider), "SELECT Name FROM ActionCadence").json()
    assert [record["Name"] for record in cadences["records"]] == [org["cadence"].name]


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("soql", "code", "fragment"),
    [
        ("SELECT Foo FROM ActionCadenceTracker", "INVALID_FIELD", "No such column 'Foo'"),
        ("SELECT Id FROM Nothing", "INVALID_TYPE", "sObject type 'Nothing' is not supported"),
        (
            "SELECT Id FROM ActionCadenceTracker WHERE Nope.Name = 'x'",
            "INVALID_FIELD",
            "Didn't understand relationship 'Nope'",
        ),
        (
            "SELECT Id FROM ActionCadence WHERE Description = 'x'",
            "INVALID_FIELD",
            "field 'Description' can not be filtered",
        ),
        (
            "SELECT Id FROM ActionCadence ORDER BY Description",
            "INVALID_FIELD",
            "field 'Description' can not be sorted",
        ),
        (
            "SELECT ScheduledResumeDateTime, COUNT(Id) FROM ActionCadenceTracker "
            "GROUP BY ScheduledResumeDateTime",
            "INVALID_FIELD",
            "field 'ScheduledResumeDateTime' can not be grouped",
        ),
        (
            "SELECT Id FROM ActionCadenceTracker WHERE State = 5",
            "INVALID_FIELD",
            "must be of type picklist and should be enclosed in quotes",
        ),
        (
            "SELECT Id FROM ActionCadenceTracker WHERE DaisyChainIteration = '5'",
            "INVALID_FIELD",
            "must be of type int and should not be enclosed in quotes",
        ),
        (
            "SELECT Id FROM ActionCadenceTracker WHERE IsTrackerActive = 'true'",
            "INVALID_FIELD",
            "must be of type boolean",
        ),
        (
            "SELECT Id FROM ActionCadenceTracker WHERE ActionCadenceId = 'not-an-id'",
            "INVALID_QUERY_FILTER_OPERATOR",
            "invalid ID field: not-an-id",
        ),
        (
            "SELECT Id FROM ActionCadenceTracker WHERE CreatedDate = 2026-01-01",
            "INVALID_FIELD",
            "must be of type dateTime",
        ),
        (
            "SELECT State, COUNT(Id) FROM ActionCadenceTracker",
            "MALFORMED_QUERY",
            "Field must be grouped or aggregated: State",
        ),
        ("SELECT Id, id FROM ActionCadenceTracker", "MALFORMED_QUERY", "duplicate field"),
        (
            "SELECT Id FROM ActionCadenceTracker OFFSET 2001",
            "NUMBER_OUTSIDE_VALID_RANGE",
            "2000",
        ),
        (
            "SELECT Id FROM ActionCadenceTracker WHERE DaisyChainIteration > null",
            "MALFORMED_QUERY",
            "null can only be compared",
        ),
    ],
)
def test_query_errors_are_salesforce_shaped(api, rep, soql, code, fragment):
    response = query(api(rep), soql)
    assert response.status_code == 400
    (error,) = response.json()
    assert error["errorCode"] == code
    assert fragment in error["message"]


def test_malformed_query_reports_row_and_column(api, rep):
    response = query(api(rep), "SELECT Id\nFROM ActionCadenceTracker\nWHERE State = 'Running' OR")
    assert response.status_code == 400
    (error,) = response.json()
    assert error["errorCode"] == "MALFORMED_QUERY"
    assert "ERROR at Row:3:Column:" in error["message"]
    assert "<EOF>" in error["message"]


def test_missing_q_is_malformed(api, rep):
    response = api(rep).get(f"{BASE}/query")
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "MALFORMED_QUERY"


# --------------------------------------------------------------------------- sharing


def test_three_users_see_what_sharing_allows(api, rep, teammate, outsider, org):
    expected = {tracker.sf_id for tracker in org["trackers"]}
    soql = "SELECT Id FROM ActionCadenceTracker"
    assert ids(query(api(rep), soql)) == expected
    assert ids(query(api(teammate), soql)) == expected
    assert ids(query(api(outsider), soql)) == set()
    count = "SELECT COUNT() FROM ActionCadenceTracker"
    assert query(api(outsider), count).json()["totalSize"] == 0
    assert query(api(teammate), count).json()["totalSize"] == 2
    grouped = "SELECT State, COUNT(Id) FROM ActionCadenceTracker GROUP BY State"
    assert query(api(outsider), grouped).json()["records"] == []


def test_deleted_trackers_are_not_queried(api, rep, org):
    lifecycle.delete_tracker(org["trackers"][0], actor=rep)
    assert ids(query(api(rep), "SELECT Id FROM ActionCadenceTracker")) == {org["trackers"][1].sf_id}


# --------------------------------------------------------------------------- batches


def read_all(client, soql):
    response = query(client, soql)
    body = response.json()
    batches = [body]
    while not body["done"]:
        assert body["nextRecordsUrl"].startswith(f"{BASE}/query/")
        body = client.get(body["nextRecordsUrl"]).json()
        batches.append(body)
    return batches


def test_default_batch_is_2000(api, admin_user, rep, settings):
    from cadence_site.sfapi import query as query_module

    del settings.SFAPI_QUERY_BATCH_SIZE  # whatever a deployment sets, the default is 2,000
    assert query_module.batch_size(None) == 2000
    assert query_module.batch_size("batchSize=500") == 500
    assert query_module.batch_size("batchSize=5") == 200  # Salesforce's minimum
    assert query_module.batch_size("batchSize=5000") == 2000


@pytest.mark.parametrize(
    "order", ["", " ORDER BY CreatedDate DESC, Id", " ORDER BY Target.LastName NULLS LAST"]
)
def test_batches_cover_every_row_once(api, admin_user, rep, settings, order):
    settings.SFAPI_QUERY_BATCH_SIZE = 3
    created = bulk_trackers(rep, make_cadence(), 8)
    batches = read_all(api(admin_user), f"SELECT Id FROM ActionCadenceTracker{order}")
    assert [len(batch["records"]) for batch in batches] == [3, 3, 2]
    assert all(batch["totalSize"] == 8 for batch in batches)
    seen = [record["Id"] for batch in batches for record in batch["records"]]
    assert sorted(seen) == sorted(tracker.sf_id for tracker in created)


def test_batches_respect_limit_and_offset(api, admin_user, rep, settings):
    settings.SFAPI_QUERY_BATCH_SIZE = 3
    bulk_trackers(rep, make_cadence(), 10)
    batches = read_all(api(admin_user), "SELECT Id FROM ActionCadenceTracker LIMIT 7 OFFSET 2")
    assert [len(batch["records"]) for batch in batches] == [3, 3, 1]
    assert batches[0]["totalSize"] == 7


def test_locator_belongs_to_its_user_and_cannot_be_forged(api, admin_user, rep, settings):
    settings.SFAPI_QUERY_BATCH_SIZE = 2
    bulk_trackers(rep, make_cadence(), 3)
    first = query(api(admin_user), "SELECT Id FROM ActionCadenceTracker").json()
    next_url = first["nextRecordsUrl"]
    stolen = api(rep).get(next_url)
    assert stolen.status_code == 400
    assert stolen.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
    forged = api(admin_user).get(next_url[:-3] + "abc")
    assert forged.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_batches_keep_sharing(api, teammate, settings, org):
    """A locator re-applies the user's sharing on every batch: access lost between two
    batches means no more rows."""
    settings.SFAPI_QUERY_BATCH_SIZE = 1
    client = api(teammate)
    first = query(client, "SELECT Id FROM ActionCadenceTracker").json()
    assert len(first["records"]) == 1 and first["totalSize"] == 2
    GroupMember.objects.filter(member_user=teammate).delete()  # leaves the rule's readers
    rest = client.get(first["nextRecordsUrl"]).json()
    assert rest["records"] == [] and rest["done"] is True


def _queries_for_batch(client, soql) -> int:
    query(client, soql)  # warm: the token's last-use stamp, the sharing graph's cache
    with CaptureQueriesContext(connection) as captured:
        response = query(client, soql)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize(
    "soql",
    [
        "SELECT Id, State, ActionCadenceId, TargetId, OwnerId, CurrentStepId, CreatedById "
        "FROM ActionCadenceTracker",
        "SELECT Id, ActionCadence.Name, Owner.Name, Target.LastName, CurrentStep.StepTitle "
        "FROM ActionCadenceTracker ORDER BY ActionCadence.Name",
        "SELECT State, COUNT(Id) FROM ActionCadenceTracker GROUP BY State",
    ],
)
def test_query_budget_does_not_grow_with_rows(
    api, rep, teammate, org, settings, soql, django_assert_max_num_queries
):
    """A batch costs the same number of queries for 2 rows as for 50 (no N+1), for the
    owner and for a teammate reading through a sharing rule."""
    settings.SFAPI_QUERY_BATCH_SIZE = 40
    for user in (rep, teammate):
        client = api(user)
        small = _queries_for_batch(client, soql)
        bulk_trackers(rep, org["cadence"], 25 if user == rep else 0)
        large = _queries_for_batch(client, soql)
        assert large == small
        # token, OWD, role/group graph, the rows, the count: a handful, whatever the size.
        with django_assert_max_num_queries(12):
            query(client, soql)


def test_ordered_batches_are_stable_under_writes(api, admin_user, rep, settings):
    """Rows deleted between batches end the result early instead of breaking it."""
    settings.SFAPI_QUERY_BATCH_SIZE = 2
    trackers = bulk_trackers(rep, make_cadence(), 4)
    client = api(admin_user)
    first = query(client, "SELECT Id FROM ActionCadenceTracker ORDER BY Id").json()
    ActionCadenceTracker.objects.filter(pk__in=[t.pk for t in trackers]).update(
        is_deleted=True, system_modstamp=timezone.now()
    )
    last = client.get(first["nextRecordsUrl"]).json()
    assert last["done"] is True and last["records"] == []


def test_cadence_name_not_leaked_through_trackers(api, outsider, org):
    """Relationship filters run inside the user's rows: an outsider learns nothing."""
    name = ActionCadence.objects.get(pk=org["cadence"].pk).name
    soql = f"SELECT Id FROM ActionCadenceTracker WHERE ActionCadence.Name = '{name}'"
    assert ids(query(api(outsider), soql)) == set()


def test_computed_user_name_filters_sorts_and_groups(api, admin_user, rep, teammate):
    rep.first_name, rep.last_name = "Ada", "Lovelace"
    rep.save()
    teammate.first_name = teammate.last_name = ""
    teammate.save()
    client = api(admin_user)
    body = query(client, "SELECT Name FROM User WHERE Name LIKE 'ada l%' OR Name = 'REP_TEAMMATE'")
    assert sorted(record["Name"] for record in body.json()["records"]) == [
        "Ada Lovelace",
        "rep_teammate",
    ]
    cadence = make_cadence()
    bulk_trackers(rep, cadence, 2)
    bulk_trackers(teammate, cadence, 1)
    grouped = query(
        client,
        "SELECT Owner.Name, COUNT(Id) FROM ActionCadenceTracker GROUP BY Owner.Name "
        "ORDER BY Owner.Name DESC",
    ).json()["records"]
    assert [(row["Name"], row["expr0"]) for row in grouped] == [
        ("rep_teammate", 1),
        ("Ada Lovelace", 2),
    ]
