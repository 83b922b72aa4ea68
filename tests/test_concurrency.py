"""Two people (or processes) acting on the same data at the same moment, on PostgreSQL.

Each test starts its threads together on a barrier; every thread uses its own database
connection and closes it when done. The data is committed first (transactional tests),
so the threads see it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from tests.factories import LeadFactory, make_cadence, running_tracker
from trackers import lifecycle
from trackers.choices import StepType
from trackers.models import ActionCadenceTracker, ActionCadenceTrackerChangeEvent

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


def test_concurrent_assigners_never_push_active_trackers_past_the_org_limit(rep, settings):
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
