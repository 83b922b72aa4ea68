"""A worker dies in the middle of a bulk removal (SIGKILL: no cleanup, no restore, as when
a machine goes away). The next worker and the scheduler's recovery job must leave every
tracker either finished or back where it was, never stuck in Processing, with change
events that tell the same story as the rows.

Real ``manage.py db_worker`` processes on PostgreSQL (the in-memory SQLite test database
is invisible to them); the concurrent-request faults are in test_concurrency.py.
"""

from __future__ import annotations

import io
import time
from collections import Counter

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.factories import make_cadence, running_tracker
from tests.workers import wait_until
from trackers import lifecycle
from trackers.choices import StepType
from trackers.models import (
    ActionCadenceStepTracker,
    ActionCadenceTracker,
    ActionCadenceTrackerChangeEvent,
    BulkJob,
)

Events = ActionCadenceTrackerChangeEvent.objects


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_removal_loses_no_tracker(rep, workers):
    """GIVEN a bulk removal of 24 trackers (one of them Paused) worked two at a time by a
    worker that pauses between chunks, WHEN that worker is SIGKILLed after some chunks,
    THEN the trackers it finished stay Complete, the rest wait in Processing, and once the
    job's heartbeat is older than the timeout the scheduler's recovery job, run by a new
    worker, puts every unfinished tracker back in its prior state: one completion event
    per completed tracker, one restore per restored one, and nothing ran twice."""
    cadence = make_cadence(StepType.MAKE_A_CALL, StepType.SEND_AN_EMAIL)
    trackers = [running_tracker(owner=rep, cadence=cadence) for _ in range(24)]
    paused = trackers[-1]
    lifecycle.pause(paused, actor=rep)
    job = lifecycle.start_bulk("remove", trackers, actor=rep, disposition="Not Interested")
    pks = [t.pk for t in trackers]

    doomed = workers("doomed", CADENCE_BULK_CHUNK_SIZE="2", CADENCE_TEST_BULK_CHUNK_DELAY="0.5")
    progress = BulkJob.objects.filter(pk=job.pk, succeeded__gte=6)
    wait_until(progress.exists, 60, f"three chunks of job {job.pk}")
    doomed.kill()

    # Killed mid-way: some finished, the rest still held by a job nobody is running.
    stranded = ActionCadenceTracker.objects.filter(pk__in=pks, state="Processing")
    finished = set(
        ActionCadenceTracker.objects.filter(pk__in=pks, state="Complete").values_list(
            "pk", flat=True
        )
    )
    assert 6 <= len(finished) < 24 and stranded.count() == 24 - len(finished)
    assert finished == set(pks[: len(finished)])  # chunks go in id order
    job.refresh_from_db()
    assert (job.status, job.succeeded) == ("running", len(finished))
    (task,) = DBTaskResult.objects.all()
    assert (task.status, task.worker_ids) == ("RUNNING", ["doomed"])

    # A new worker that is not told about the dead one leaves the job alone: its
    # heartbeat is recent, and its task is claimed (the queue never hands it out twice).
    call_command("cadence_scheduler", "--once", stdout=io.StringIO())
    workers("too-soon", "--batch").wait()
    assert stranded.count() == 24 - len(finished)

    # Once the heartbeat is older than the timeout, the next round recovers the job.
    time.sleep(max(0, 2.5 - (timezone.now() - job.heartbeat_at).total_seconds()))
    call_command("cadence_scheduler", "--once", stdout=io.StringIO())
    workers("rescuer", "--batch", CADENCE_PROCESSING_TIMEOUT_SECONDS="2").wait()

    states = dict(ActionCadenceTracker.objects.filter(pk__in=pks).values_list("pk", "state"))
    restored = [pk for pk in pks if pk not in finished]
    assert "Processing" not in states.values()
    assert {pk: states[pk] for pk in finished} == dict.fromkeys(finished, "Complete")
    assert {pk: states[pk] for pk in restored} == {
        **dict.fromkeys(restored, "Running"),
        paused.pk: "Paused",
    }
    assert not ActionCadenceTracker.objects.filter(pk__in=pks, prior_state__isnull=False).exists()
    assert set(
        ActionCadenceTracker.objects.filter(pk__in=finished).values_list(
            "completion_reason", "completion_disposition"
        )
    ) == {("ManuallyRemoved", "Not Interested")}
    events = Events.filter(tracker__in=pks)
    completions = Counter(events.filter(values__State="Complete").values_list("tracker", flat=True))
    assert completions == Counter(dict.fromkeys(finished, 1))
    recoveries = events.filter(change_origin="bulk remove recovery")
    assert Counter(recoveries.values_list("tracker", flat=True)) == Counter(
        dict.fromkeys(restored, 1)
    )
    for event in recoveries:
        assert event.values["State"] == states[event.tracker_id]
    # Replaying each tracker's events gives its row: the feed never lies.
    for pk in pks:
        replayed: dict = {}
        for event in events.filter(tracker=pk).order_by("replay_id"):
            replayed.update(event.values)
        assert replayed["State"] == states[pk]
        assert replayed["IsTrackerActive"] is (pk not in finished)

    # The restored ones are whole: their step is open again and a rep can go on.
    for tracker in ActionCadenceTracker.objects.filter(pk__in=restored).exclude(pk=paused.pk):
        assert ActionCadenceStepTracker.objects.get(pk=tracker.current_step_id).state == "Active"
    lifecycle.remove_target(restored[0], actor=rep)

    job.refresh_from_db()
    assert job.status == "failed"
    assert (job.succeeded, job.failed) == (len(finished), len(restored))
    assert "the worker stopped before finishing" in job.errors[-1]["message"]
    # The dead worker's task is never run again: its job is over, and its record says
    # the worker died instead of staying RUNNING for ever.
    task.refresh_from_db()
    assert (task.status, task.worker_ids) == ("FAILED", ["doomed"])
    assert task.exception_class_path == "trackers.lifecycle.WorkerDied"
    assert f"bulk job {job.pk}" in task.traceback
    assert set(DBTaskResult.objects.exclude(pk=task.pk).values_list("status", flat=True)) == {
        "SUCCESSFUL"
    }


@pytest.mark.django_db
def test_a_second_recovery_of_the_same_job_keeps_what_the_first_one_recorded(rep):
    """Two recoveries of one dead job (two schedulers, or two workers each running a
    round's recovery job) both loaded it before either restored anything. The second has
    nothing left to restore and must not write its stale copy over the first's count and
    explanation."""
    trackers = [running_tracker(owner=rep) for _ in range(3)]
    job = lifecycle.start_bulk("remove", trackers, actor=rep)
    first, second = BulkJob.objects.get(pk=job.pk), BulkJob.objects.get(pk=job.pk)

    assert lifecycle.restore_processing(first, reason="the worker stopped") == 3
    assert lifecycle.restore_processing(second, reason="the worker stopped") == 0

    job.refresh_from_db()
    assert (job.status, job.succeeded, job.failed) == ("failed", 0, 3)
    assert [error["message"] for error in job.errors] == [
        "3 trackers were restored after a failure: the worker stopped"
    ]
    assert Events.filter(change_origin="bulk remove recovery").count() == 3
