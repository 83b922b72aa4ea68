"""Two people (or processes) acting on the same data at the same moment, on PostgreSQL.

Each test starts its threads together on a barrier; every thread uses its own database
connection and closes it when done. The data is committed first (transactional tests),
so the threads see it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import requests
from django.db import connection, transaction
from django_tasks_db.models import DBTaskResult

from sharing.models import ApiToken
from tests.factories import (
    LeadFactory,
    UserFactory,
    UserRoleFactory,
    make_cadence,
    running_tracker,
)
from tests.workers import wait_until
from trackers import lifecycle, tasks
from trackers.choices import CompletionDisposition, StepType
from trackers.models import ActionCadenceTracker, ActionCadenceTrackerChangeEvent, BulkJob

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_together(calls: list[Callable[[], Any]], timeout: float = 30) -> list[tuple[str, Any]]:
    """Run ``calls`` at once, one thread each; return ("ok", result) or ("error", exception)."""
    barrier = threading.Barrier(len(calls))
    results: list[tuple[str, Any]] = [("missing", None)] * len(calls)

    def work(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout)
            results[index] = ("ok", call())
        except Exception as error:  # reported to the test, which decides
            results[index] = ("error", error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck (deadlock?)"
    return results


@pytest.fixture
def slow_checks(monkeypatch):
    """Hold each transition inside its transaction for a moment after reading the tracker,
    so the second one really arrives while the first still holds the row."""
    original = lifecycle._require_state

    def slow(*args, **kwargs):
        time.sleep(0.3)
        return original(*args, **kwargs)

    monkeypatch.setattr(lifecycle, "_require_state", slow)


def test_two_removals_of_the_same_tracker_one_wins_the_other_is_told_why(rep, slow_checks):
    tracker = running_tracker(owner=rep)
    results = run_together(
        [
            lambda: lifecycle.remove_target(tracker.pk, actor=rep, disposition="Success"),
            lambda: lifecycle.remove_target(tracker.pk, actor=rep, disposition="No Response"),
        ]
    )

    outcomes = sorted(kind for kind, _ in results)
    assert outcomes == ["error", "ok"], results
    (winner,) = [value for kind, value in results if kind == "ok"]
    (error,) = [value for kind, value in results if kind == "error"]
    assert isinstance(error, lifecycle.LifecycleError)
    assert "already Complete (ManuallyRemoved)" in error.message
    assert tracker.sf_id in error.message

    stored = ActionCadenceTracker.objects.get(pk=tracker.pk)
    assert stored.state == "Complete"
    assert stored.completion_disposition == winner.completion_disposition
    removals = ActionCadenceTrackerChangeEvent.objects.filter(
        tracker=tracker, values__State="Complete"
    )
    assert removals.count() == 1
    assert removals.get().values["CompletionDisposition"] == stored.completion_disposition


@pytest.fixture
def manager(rep):
    """rep's manager: a role above rep's, so Edit (indeed All) on rep's trackers."""
    manager_role = UserRoleFactory()
    rep.role = UserRoleFactory(parent_role=manager_role)
    rep.save()
    return UserFactory(username="rep_manager", role=manager_role)


def test_a_rep_and_their_manager_removing_the_same_tracker_at_once(rep, manager, slow_checks):
    tracker = running_tracker(owner=rep)
    results = run_together(
        [
            lambda: lifecycle.remove_target(tracker.pk, actor=rep, disposition="Success"),
            lambda: lifecycle.remove_target(tracker.pk, actor=manager, disposition="Duplicate"),
        ]
    )
    assert sorted(kind for kind, _ in results) == ["error", "ok"], results
    (winner,) = [value for kind, value in results if kind == "ok"]
    (error,) = [value for kind, value in results if kind == "error"]
    assert isinstance(error, lifecycle.InvalidTransition)
    assert error.message == (
        f"Cannot remove tracker {tracker.sf_id}: it is already Complete (ManuallyRemoved)."
    )
    stored = ActionCadenceTracker.objects.get(pk=tracker.pk)
    assert stored.completion_disposition == winner.completion_disposition
    assert stored.last_modified_by_id == winner.last_modified_by_id
    completions = ActionCadenceTrackerChangeEvent.objects.filter(
        tracker=tracker, values__State="Complete"
    )
    assert [e.values["CompletionDisposition"] for e in completions] == [
        stored.completion_disposition
    ]


def test_two_removals_of_the_same_tracker_through_the_http_api(
    rep, manager, slow_checks, live_server
):
    """Two clients over real HTTP: one 200 with the removed tracker, one 409 that says why,
    never a 500."""
    tracker = running_tracker(owner=rep)
    url = f"{live_server.url}/api/trackers/{tracker.sf_id}/remove/"
    headers = {
        user.pk: {"Authorization": f"Bearer {ApiToken.issue(user)[1]}"} for user in (rep, manager)
    }

    def remove(user, disposition):
        return lambda: requests.post(
            url, json={"completion_disposition": disposition}, headers=headers[user.pk], timeout=30
        )

    results = run_together([remove(rep, "Success"), remove(manager, "Not Interested")])
    assert [kind for kind, _ in results] == ["ok", "ok"], results
    responses = sorted((value for _, value in results), key=lambda response: response.status_code)
    assert [r.status_code for r in responses] == [200, 409], [r.text for r in responses]
    won, lost = (r.json() for r in responses)
    assert won["State"] == "Complete"
    assert lost == {
        "detail": f"Cannot remove tracker {tracker.sf_id}: it is already Complete "
        "(ManuallyRemoved).",
        "code": "INVALID_OPERATION",
    }
    stored = ActionCadenceTracker.objects.get(pk=tracker.pk)
    assert stored.completion_disposition == won["CompletionDisposition"]
    assert (
        ActionCadenceTrackerChangeEvent.objects.filter(
            tracker=tracker, values__State="Complete"
        ).count()
        == 1
    )


def test_a_pause_and_a_removal_at_once_leave_a_consistent_tracker(rep, slow_checks):
    tracker = running_tracker(owner=rep)
    results = run_together(
        [
            lambda: lifecycle.pause(tracker.pk, actor=rep),
            lambda: lifecycle.remove_target(tracker.pk, actor=rep),
        ]
    )
    # Either order is fine; what matters is that the removal always lands and the events
    # tell the same story as the row.
    stored = ActionCadenceTracker.objects.get(pk=tracker.pk)
    assert stored.state == "Complete"
    events = list(ActionCadenceTrackerChangeEvent.objects.filter(tracker=tracker))
    assert events[-1].values["State"] == "Complete"
    paused = results[0][0] == "ok"
    assert len(events) == 2 + 1 + paused  # assign's two, the removal, maybe the pause
    if not paused:
        assert "already Complete" in results[0][1].message


@pytest.fixture
def slow_limit_check(monkeypatch):
    """Widen the window between counting active trackers and inserting one: without the
    org-row lock every assigner would count the same total and all of them would pass."""
    original = lifecycle._check_org_limit

    def slow(adding):
        original(adding)
        time.sleep(0.2)

    monkeypatch.setattr(lifecycle, "_check_org_limit", slow)


def test_concurrent_assigners_never_push_active_trackers_past_the_org_limit(
    rep, settings, slow_limit_check
):
    cadence = make_cadence(StepType.MAKE_A_CALL)
    for _ in range(2):
        running_tracker(owner=rep, cadence=cadence)
    settings.CADENCE_ACTIVE_TRACKER_LIMIT = 5
    leads = [LeadFactory() for _ in range(8)]

    results = run_together(
        [(lambda lead=lead: lifecycle.assign_target(lead, cadence, actor=rep)) for lead in leads]
    )

    succeeded = [value for kind, value in results if kind == "ok"]
    refused = [value for kind, value in results if kind == "error"]
    assert len(succeeded) == 3
    assert len(refused) == 5
    assert all(isinstance(error, lifecycle.OrgLimitReached) for error in refused), refused
    assert {error.message for error in refused} == {
        "The org already has 5 active trackers; its limit is 5. "
        "Complete or remove some before adding more targets."
    }
    assert ActionCadenceTracker.objects.active().count() == 5
    # The refused ones wrote nothing at all.
    assert ActionCadenceTracker.all_objects.count() == 5
    assert ActionCadenceTrackerChangeEvent.objects.filter(change_type="CREATE").count() == 5


def test_two_assigns_of_the_same_lead_at_once_start_only_one_tracker(rep):
    cadences = [make_cadence(StepType.MAKE_A_CALL) for _ in range(2)]
    lead = LeadFactory()
    results = run_together(
        [
            (lambda cadence=cadence: lifecycle.assign_target(lead, cadence, actor=rep))
            for cadence in cadences
        ]
    )
    assert sorted(kind for kind, _ in results) == ["error", "ok"], results
    (error,) = [value for kind, value in results if kind == "error"]
    assert isinstance(error, lifecycle.InvalidTransition)
    assert "one cadence at a time" in error.message
    assert ActionCadenceTracker.objects.filter(target_lead=lead).count() == 1
    assert ActionCadenceTrackerChangeEvent.objects.filter(change_type="CREATE").count() == 1


# --------------------------------------------------------------------------- two workers


def test_two_db_workers_drain_one_queue_and_run_every_task_exactly_once(rep, workers):
    """GIVEN two workers polling the same PostgreSQL queue, WHEN three large and forty
    one-tracker bulk removals plus thirty periodic jobs land in it at once, THEN both
    workers take tasks, every task runs exactly once, and every tracker ends Complete with
    its own job's disposition: none lost, none left Processing, one completion each."""
    cadence = make_cadence(StepType.MAKE_A_CALL, StepType.SEND_AN_EMAIL)
    dispositions = [value for value, _ in CompletionDisposition.choices]
    large = [[running_tracker(owner=rep, cadence=cadence) for _ in range(20)] for _ in range(3)]
    single = [running_tracker(owner=rep, cadence=cadence) for _ in range(40)]
    # Small chunks with a pause after each, so the large jobs overlap the small ones.
    env = {"CADENCE_BULK_CHUNK_SIZE": "4", "CADENCE_TEST_BULK_CHUNK_DELAY": "0.05"}
    pair = [workers("worker-a", **env), workers("worker-b", **env)]
    for worker in pair:
        worker.wait_started()

    # One commit: the whole queue appears at once, in front of two idle workers.
    expected: dict[int, str] = {}  # tracker pk -> the disposition its job gives it
    with transaction.atomic():
        jobs = []
        for index, group in enumerate([*large, *([t] for t in single)]):
            disposition = dispositions[index % len(dispositions)]
            jobs.append(lifecycle.start_bulk("remove", group, actor=rep, disposition=disposition))
            expected.update({t.pk: disposition for t in group})
        for _ in range(10):
            for periodic in tasks.PERIODIC_TASKS:
                periodic.enqueue()
    assert DBTaskResult.objects.count() == 73

    unfinished = DBTaskResult.objects.filter(status__in=["READY", "RUNNING"])
    wait_until(lambda: not unfinished.exists(), 180, "the queue to drain")
    for worker in pair:
        assert worker.stop() == 0, worker.output()

    results = list(DBTaskResult.objects.all())
    assert {r.status for r in results} == {"SUCCESSFUL"}, [r.traceback for r in results]
    # Claimed once each (a second claim would add a second worker id), by both workers.
    assert [r for r in results if len(r.worker_ids) != 1] == []
    ran_on = Counter(r.worker_ids[0] for r in results)
    assert set(ran_on) == {"worker-a", "worker-b"}, ran_on
    # And the workers' own logs agree: each task started once, on the worker it names.
    logs = {worker.worker_id: worker.output() for worker in pair}
    for result in results:
        line = f"Task id={result.id} path={result.task_path} state=RUNNING"
        starts = {name: log.count(line) for name, log in logs.items()}
        assert starts == {name: int(name in result.worker_ids) for name in logs}, starts

    by_task = {r.args_kwargs["args"][0]: r for r in results if r.task_path.endswith("bulk_job")}
    for job in BulkJob.objects.filter(pk__in=[job.pk for job in jobs]):
        assert (job.status, job.succeeded, job.failed) == ("done", job.total, 0)
        assert by_task[job.pk].return_value == job.total

    rows = ActionCadenceTracker.objects.filter(pk__in=expected)
    assert rows.count() == 100
    assert not ActionCadenceTracker.objects.filter(state="Processing").exists()
    assert {
        row.pk: (row.state, row.completion_reason, row.completion_disposition) for row in rows
    } == {pk: ("Complete", "ManuallyRemoved", disposition) for pk, disposition in expected.items()}
    events = ActionCadenceTrackerChangeEvent.objects.filter(tracker__in=expected)
    completions = Counter(events.filter(values__State="Complete").values_list("tracker", flat=True))
    marks = Counter(events.filter(values__State="Processing").values_list("tracker", flat=True))
    assert completions == marks == Counter(dict.fromkeys(expected, 1))
