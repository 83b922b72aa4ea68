"""Bulk removal, pause and resume: trackers wait in Processing while a background task
(the database queue, run by the real ``db_worker``) applies the final state. A worker
that fails half-way, or never runs, must not strand a tracker in Processing."""

from __future__ import annotations

import datetime as dt
import io
import signal

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from cadence_site import registry
from cadence_site.registry import format_datetime
from tests.factories import (
    LeadFactory,
    UserFactory,
    UserRoleFactory,
    make_cadence,
    running_tracker,
)
from trackers import lifecycle
from trackers.choices import StepType
from trackers.models import (
    ActionCadenceStepTracker,
    ActionCadenceTracker,
    ActionCadenceTrackerChangeEvent,
    BulkJob,
)

Events = ActionCadenceTrackerChangeEvent.objects
STAMPS = {"LastModifiedDate", "SystemModstamp", "LastModifiedById"}


class WorkerCrashed(RuntimeError):
    pass


def states(trackers) -> dict[int, str]:
    return dict(
        ActionCadenceTracker.all_objects.filter(pk__in=[t.pk for t in trackers]).values_list(
            "pk", "state"
        )
    )


def latest_event(tracker) -> ActionCadenceTrackerChangeEvent:
    return Events.filter(tracker=tracker).order_by("-replay_id").first()


def assert_events_match_the_database(trackers) -> None:
    """Replaying a tracker's events gives its current row: the feed never lies."""
    fields = registry.for_model(ActionCadenceTracker)
    for tracker in trackers:
        stored = ActionCadenceTracker.all_objects.get(pk=tracker.pk)
        replayed: dict = {}
        for event in Events.filter(tracker=tracker).order_by("replay_id"):
            replayed.update(event.values)
        for name in ("State", "CompletionReason", "CompletionDisposition", "IsTrackerActive"):
            assert replayed.get(name) == fields.field(name).json_value(stored), (name, stored)


def run_worker() -> None:
    """The real ``manage.py db_worker``, until the queue is empty."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}
    try:
        call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


@pytest.fixture
def team(rep, outsider):
    """Four of rep's trackers that a removal applies to (three Running, one Paused), one
    already Complete, and one of the outsider's that rep cannot see."""
    cadence = make_cadence(StepType.MAKE_A_CALL, StepType.SEND_AN_EMAIL)
    running = [running_tracker(owner=rep, cadence=cadence) for _ in range(3)]
    paused = running_tracker(owner=rep, cadence=cadence)
    lifecycle.pause(paused, actor=rep)
    complete = running_tracker(owner=rep, cadence=cadence)
    lifecycle.remove_target(complete, actor=rep)
    hidden = running_tracker(owner=outsider, cadence=cadence)
    return {
        "eligible": [*running, paused],
        "running": running,
        "paused": paused,
        "complete": complete,
        "hidden": hidden,
    }


def start_removal(team, rep, disposition="No Response") -> BulkJob:
    ids = [t.pk for t in team["eligible"]] + [team["complete"].pk, team["hidden"].pk, 99999999]
    return lifecycle.start_bulk("remove", ids, actor=rep, disposition=disposition)


# --------------------------------------------------------------------------- start_bulk


@pytest.mark.django_db
def test_start_bulk_marks_the_trackers_processing_and_queues_one_task(rep, team):
    before = Events.count()
    job = start_removal(team, rep)

    eligible = team["eligible"]
    rows = ActionCadenceTracker.objects.filter(pk__in=[t.pk for t in eligible])
    assert {row.state for row in rows} == {"Processing"}
    assert all(row.is_tracker_active for row in rows)
    assert {row.pk: row.prior_state for row in rows} == {
        **{t.pk: "Running" for t in team["running"]},
        team["paused"].pk: "Paused",
    }
    assert {row.bulk_job_id for row in rows} == {job.pk}
    # Untouched: the Complete one and the one rep cannot see.
    assert states([team["complete"], team["hidden"]]) == {
        team["complete"].pk: "Complete",
        team["hidden"].pk: "Running",
    }

    written = list(Events.order_by("replay_id")[before:])
    assert sorted(e.tracker_id for e in written) == sorted(t.pk for t in eligible)
    assert {e.change_type for e in written} == {"UPDATE"}
    assert {e.values["State"] for e in written} == {"Processing"}
    # Processing is still active: IsTrackerActive does not flip.
    assert all(set(e.changed_fields) - STAMPS == {"State"} for e in written)
    assert len({e.transaction_key for e in written}) == 1
    assert sorted(e.sequence_number for e in written) == [1, 2, 3, 4]

    task = DBTaskResult.objects.get()
    assert task.task_path == "trackers.tasks.run_bulk_job"
    assert task.args_kwargs == {"args": [job.pk], "kwargs": {}}
    assert task.status == "READY"
    job.refresh_from_db()
    assert job.task_id == str(task.id)
    assert job.status == "queued"
    assert job.action == "remove" and job.completion_disposition == "No Response"
    assert (job.total, job.succeeded, job.failed) == (4, 0, 3)


@pytest.mark.django_db
def test_start_bulk_reports_ineligible_and_invisible_trackers_without_leaking_them(rep, team):
    job = start_removal(team, rep)
    errors = sorted(job.errors, key=lambda error: error["id"] or "")
    assert errors == [
        {"id": None, "message": "No such tracker.", "errorCode": "NOT_FOUND"},
        {"id": None, "message": "No such tracker.", "errorCode": "NOT_FOUND"},
        {
            "id": team["complete"].sf_id,
            "message": "Cannot remove a tracker in State Complete.",
            "errorCode": "INVALID_OPERATION",
        },
    ]
    assert team["hidden"].sf_id not in str(job.errors)


@pytest.mark.django_db
def test_start_bulk_with_nothing_eligible_finishes_at_once_without_a_task(rep, team):
    job = lifecycle.start_bulk("remove", [team["complete"].pk], actor=rep)
    assert job.status == "done" and job.finished_at is not None
    assert (job.total, job.failed) == (0, 1)
    assert not DBTaskResult.objects.exists()


@pytest.mark.django_db
def test_start_bulk_refuses_bad_input_and_writes_nothing(rep, team):
    ids = [t.pk for t in team["eligible"]]
    before = (Events.count(), BulkJob.objects.count(), DBTaskResult.objects.count())
    with pytest.raises(lifecycle.InvalidValue, match="Invalid CompletionDisposition"):
        lifecycle.start_bulk("remove", ids, actor=rep, disposition="Whatever")
    with pytest.raises(lifecycle.InvalidValue, match="Unknown bulk action"):
        lifecycle.start_bulk("delete", ids, actor=rep)
    with pytest.raises(lifecycle.InvalidValue, match="at least one"):
        lifecycle.start_bulk("remove", [], actor=rep)
    assert (Events.count(), BulkJob.objects.count(), DBTaskResult.objects.count()) == before
    assert set(states(team["eligible"]).values()) == {"Running", "Paused"}


@pytest.mark.django_db
def test_a_manager_above_the_owner_can_bulk_remove_the_owners_trackers():
    """Role hierarchy through the visibility filter, under SELECT ... FOR UPDATE (PostgreSQL
    refuses FOR UPDATE on the nullable side of an outer join, so this must not join)."""
    boss_role = UserRoleFactory()
    rep_role = UserRoleFactory(parent_role=boss_role)
    boss = UserFactory(role=boss_role)
    owner = UserFactory(role=rep_role)
    trackers = [running_tracker(owner=owner) for _ in range(2)]
    job = lifecycle.start_bulk("remove", [t.pk for t in trackers], actor=boss)
    assert (job.total, job.failed) == (2, 0)
    lifecycle.run_bulk_job(job.pk)
    assert set(states(trackers).values()) == {"Complete"}


# --------------------------------------------------------------------------- running the job


@pytest.mark.django_db
def test_run_bulk_job_completes_every_tracker_with_the_disposition(rep, team):
    job = start_removal(team, rep, disposition="Not Interested")
    lifecycle.run_bulk_job(job.pk)

    eligible = team["eligible"]
    rows = list(ActionCadenceTracker.objects.filter(pk__in=[t.pk for t in eligible]))
    assert {(r.state, r.completion_reason, r.completion_disposition) for r in rows} == {
        ("Complete", "ManuallyRemoved", "Not Interested")
    }
    assert {(r.prior_state, r.current_step_id, r.is_tracker_active) for r in rows} == {
        (None, None, False)
    }
    assert not ActionCadenceTracker.objects.filter(state="Processing").exists()
    assert not ActionCadenceStepTracker.objects.filter(
        action_cadence_tracker__in=eligible, state__in=["Active", "Paused"]
    ).exists()
    job.refresh_from_db()
    assert job.status == "done" and job.finished_at is not None
    assert (job.total, job.succeeded, job.failed, job.processed) == (4, 4, 3, 7)
    for tracker in eligible:
        event = latest_event(tracker)
        assert set(event.changed_fields) - STAMPS == {
            "State",
            "CompletionReason",
            "CompletionDisposition",
            "IsTrackerActive",
            "CurrentStepId",
        }
        assert event.values["IsTrackerActive"] is False
    assert_events_match_the_database([*eligible, team["hidden"], team["complete"]])
    # Running a finished job again changes nothing.
    count = Events.count()
    assert lifecycle.run_bulk_job(job.pk).status == "done"
    assert Events.count() == count


@pytest.mark.django_db(transaction=True)
def test_the_db_worker_runs_the_queued_job(rep, team):
    job = start_removal(team, rep)
    run_worker()

    task = DBTaskResult.objects.get()
    assert task.status == "SUCCESSFUL", task.traceback
    assert task.return_value == 4
    job.refresh_from_db()
    assert job.status == "done" and (job.succeeded, job.failed) == (4, 3)
    assert set(states(team["eligible"]).values()) == {"Complete"}
    assert_events_match_the_database(team["eligible"])


@pytest.mark.django_db
def test_bulk_pause_then_bulk_resume(rep, team):
    running, paused = team["running"], team["paused"]
    job = lifecycle.start_bulk("pause", [t.pk for t in [*running, paused]], actor=rep)
    assert (job.total, job.failed) == (3, 1)  # the paused one cannot be paused again
    lifecycle.run_bulk_job(job.pk)
    assert set(states(running).values()) == {"Paused"}
    for tracker in running:
        assert ActionCadenceStepTracker.objects.get(pk=tracker.current_step_id).state == "Paused"
        # Paused → Processing → Paused: active throughout, so IsTrackerActive never changes.
        assert set(latest_event(tracker).changed_fields) - STAMPS == {"State"}

    job = lifecycle.start_bulk("resume", [t.pk for t in [*running, paused]], actor=rep)
    assert (job.total, job.failed) == (4, 0)
    lifecycle.run_bulk_job(job.pk)
    assert set(states([*running, paused]).values()) == {"Running"}
    for tracker in [*running, paused]:
        assert ActionCadenceStepTracker.objects.get(pk=tracker.current_step_id).state == "Active"
        assert "IsTrackerActive" not in latest_event(tracker).changed_fields
    assert_events_match_the_database([*running, paused])


@pytest.mark.django_db
def test_bulk_pause_and_resume_keep_a_wait_step_waiting(rep):
    """Bulk pause must not leave the wait's resume time behind (the scheduler would resume
    the tracker by itself), and bulk resume must put the wait back on the schedule."""
    cadence = make_cadence(StepType.MAKE_A_CALL, StepType.WAIT, StepType.SEND_AN_EMAIL)
    tracker = running_tracker(owner=rep, cadence=cadence)
    lifecycle.complete_step(tracker, actor=rep)
    due = ActionCadenceTracker.objects.get(pk=tracker.pk).scheduled_resume_date_time
    lifecycle.run_bulk_job(lifecycle.start_bulk("pause", [tracker.pk], actor=rep).pk)
    stored = ActionCadenceTracker.objects.get(pk=tracker.pk)
    assert stored.state == "Paused" and stored.scheduled_resume_date_time is None
    assert lifecycle.resume_due(now=due + dt.timedelta(hours=1)) == 0

    lifecycle.run_bulk_job(lifecycle.start_bulk("resume", [tracker.pk], actor=rep).pk)
    stored = ActionCadenceTracker.objects.get(pk=tracker.pk)
    assert stored.state == "Running" and stored.scheduled_resume_date_time == due
    assert ActionCadenceStepTracker.objects.get(pk=stored.current_step_id).state == "Scheduled"
    assert lifecycle.resume_due(now=due + dt.timedelta(seconds=1)) == 1
    stored = ActionCadenceTracker.objects.get(pk=tracker.pk)
    assert ActionCadenceStepTracker.objects.get(pk=stored.current_step_id).step_type == (
        "SendAnEmail"
    )


# --------------------------------------------------------------------------- failures


def many_running(rep, count):
    cadence = make_cadence(StepType.MAKE_A_CALL)
    return [running_tracker(owner=rep, cadence=cadence) for _ in range(count)]


@pytest.fixture
def crash_after_first_chunk(monkeypatch):
    chunks = []

    def crash(job):
        chunks.append(job.succeeded)
        raise WorkerCrashed("the worker lost its database connection")

    monkeypatch.setattr(lifecycle, "BULK_CHUNK_SIZE", 2)
    monkeypatch.setattr(lifecycle, "_after_chunk_hook", crash)
    return chunks


@pytest.mark.django_db
def test_a_worker_failure_mid_job_restores_every_unfinished_tracker(rep, crash_after_first_chunk):
    trackers = many_running(rep, 5)
    paused = trackers[-1]
    lifecycle.pause(paused, actor=rep)
    job = lifecycle.start_bulk("remove", [t.pk for t in trackers], actor=rep, disposition="Success")

    with pytest.raises(WorkerCrashed):
        lifecycle.run_bulk_job(job.pk)

    assert crash_after_first_chunk == [2]
    by_pk = states(trackers)
    assert "Processing" not in by_pk.values()
    finished = [t for t in trackers if by_pk[t.pk] == "Complete"]
    assert [t.pk for t in finished] == [t.pk for t in trackers[:2]]  # the committed chunk
    assert {by_pk[t.pk] for t in trackers[2:-1]} == {"Running"}
    assert by_pk[paused.pk] == "Paused"  # back to its own prior state, not just "Running"
    assert not ActionCadenceTracker.objects.filter(prior_state__isnull=False).exists()
    # The restored trackers are whole again: their step is open and they can go on.
    for tracker in trackers[2:4]:
        assert ActionCadenceStepTracker.objects.get(pk=tracker.current_step_id).state == "Active"
    lifecycle.remove_target(trackers[2], actor=rep)

    job.refresh_from_db()
    assert job.status == "failed" and job.finished_at is not None
    assert (job.succeeded, job.failed) == (2, 3)
    assert "3 trackers were restored" in job.errors[-1]["message"]
    assert "lost its database connection" in job.errors[-1]["message"]
    assert_events_match_the_database(trackers)
    # Every tracker wrote: Processing, then exactly one of Complete / restored.
    for tracker in trackers[:2] + trackers[3:4]:
        assert Events.filter(tracker=tracker).count() == 4


@pytest.mark.django_db(transaction=True)
def test_a_worker_failure_under_the_real_worker(rep, crash_after_first_chunk):
    trackers = many_running(rep, 5)
    job = lifecycle.start_bulk("remove", [t.pk for t in trackers], actor=rep)
    run_worker()

    task = DBTaskResult.objects.get()
    assert task.status == "FAILED"
    assert task.exception_class_path.endswith("WorkerCrashed")
    job.refresh_from_db()
    assert job.status == "failed"
    by_pk = states(trackers)
    assert sorted(by_pk.values()) == ["Complete", "Complete", "Running", "Running", "Running"]
    assert_events_match_the_database(trackers)


@pytest.mark.django_db
def test_recover_stuck_jobs_restores_trackers_of_a_job_that_never_ran(rep, team, settings):
    settings.CADENCE_PROCESSING_TIMEOUT_SECONDS = 600
    stuck = start_removal(team, rep)
    fresh_tracker = running_tracker(owner=rep)
    fresh = lifecycle.start_bulk("pause", [fresh_tracker.pk], actor=rep)
    BulkJob.objects.filter(pk=stuck.pk).update(
        created_at=timezone.now() - dt.timedelta(seconds=601)
    )

    assert lifecycle.recover_stuck_jobs() == 4
    assert states(team["eligible"]) == {
        **{t.pk: "Running" for t in team["running"]},
        team["paused"].pk: "Paused",
    }
    stuck.refresh_from_db()
    assert stuck.status == "failed" and "worker stopped" in stuck.errors[-1]["message"]
    # A job still inside its time is left alone.
    assert states([fresh_tracker]) == {fresh_tracker.pk: "Processing"}
    assert BulkJob.objects.get(pk=fresh.pk).status == "queued"
    assert_events_match_the_database(team["eligible"])

    # If the dead job's task runs after all, it does nothing.
    count = Events.count()
    assert lifecycle.run_bulk_job(stuck.pk).status == "failed"
    assert Events.count() == count
    assert lifecycle.recover_stuck_jobs() == 0


@pytest.mark.django_db
def test_a_recovered_job_is_not_reported_done_by_a_late_worker(rep, team, monkeypatch):
    """The worker is slow, not dead: recovery restores the rest while it works. The job
    must end failed (what happened to the restored trackers), not done."""
    trackers = team["eligible"]
    job = start_removal(team, rep)

    def recovery_strikes(running_job):
        lifecycle.restore_processing(running_job, reason="timed out")

    monkeypatch.setattr(lifecycle, "BULK_CHUNK_SIZE", 1)
    monkeypatch.setattr(lifecycle, "_after_chunk_hook", recovery_strikes)
    lifecycle.run_bulk_job(job.pk)
    job.refresh_from_db()
    assert job.status == "failed"
    assert list(states(trackers).values()).count("Complete") == 1
    assert "Processing" not in states(trackers).values()


@pytest.mark.django_db
def test_the_lead_of_a_processing_tracker_cannot_convert_until_the_job_ends(rep):
    tracker = running_tracker(owner=rep, target=LeadFactory())
    lifecycle.start_bulk("remove", [tracker.pk], actor=rep)
    with pytest.raises(lifecycle.InvalidTransition, match="Processing"):
        lifecycle.lead_converted(tracker.target_lead)
    tracker.target_lead.refresh_from_db()
    assert tracker.target_lead.is_converted is False


@pytest.mark.django_db(transaction=True)
def test_the_scheduler_round_runs_every_periodic_job_on_the_worker(rep, team, settings):
    """``cadence_scheduler --once`` enqueues the periodic jobs; the worker runs them: a due
    paused tracker resumes, an old deleted tracker is purged, a dead job is recovered."""
    due = running_tracker(owner=rep)
    lifecycle.pause(due, actor=rep, resume_at=timezone.now() + dt.timedelta(minutes=1))
    ActionCadenceTracker.objects.filter(pk=due.pk).update(
        scheduled_resume_date_time=timezone.now() - dt.timedelta(minutes=1)
    )
    deleted = running_tracker(owner=rep)
    lifecycle.delete_tracker(deleted, actor=rep)
    ActionCadenceTracker.all_objects.filter(pk=deleted.pk).update(
        system_modstamp=timezone.now() - dt.timedelta(days=settings.CADENCE_RECYCLE_BIN_DAYS + 1)
    )
    stuck = start_removal(team, rep)
    BulkJob.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - dt.timedelta(days=1))
    # The dead job's own task is gone, as if its worker took it down with it.
    DBTaskResult.objects.all().delete()

    call_command("cadence_scheduler", "--once", stdout=io.StringIO())
    assert DBTaskResult.objects.count() == 3
    run_worker()

    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}
    assert ActionCadenceTracker.objects.get(pk=due.pk).state == "Running"
    assert not ActionCadenceTracker.all_objects.filter(pk=deleted.pk).exists()
    assert set(states(team["eligible"]).values()) == {"Running", "Paused"}
    assert BulkJob.objects.get(pk=stuck.pk).status == "failed"


@pytest.mark.django_db
def test_a_job_that_still_beats_is_not_taken_for_dead(rep, team, settings):
    """An old job whose worker finished a chunk recently is alive: recovery leaves it."""
    settings.CADENCE_PROCESSING_TIMEOUT_SECONDS = 600
    job = start_removal(team, rep)
    long_ago = timezone.now() - dt.timedelta(hours=2)
    BulkJob.objects.filter(pk=job.pk).update(
        created_at=long_ago, status="running", heartbeat_at=timezone.now()
    )
    assert lifecycle.recover_stuck_jobs() == 0
    BulkJob.objects.filter(pk=job.pk).update(heartbeat_at=long_ago)
    assert lifecycle.recover_stuck_jobs() == 4


@pytest.mark.django_db
def test_start_bulk_over_a_filter_takes_only_editable_trackers_in_an_applicable_state(rep, team):
    """ "All matching this filter": a queryset, not a list of ids. The outsider's tracker
    and the completed one match the filter but are not taken, and nothing is reported
    about them."""
    matching = ActionCadenceTracker.objects.all()
    job = lifecycle.start_bulk("remove", matching, actor=rep, disposition="Success")
    assert job.total == 4 and job.errors == []
    assert set(states(team["eligible"]).values()) == {"Processing"}
    assert states([team["hidden"], team["complete"]]) == {
        team["hidden"].pk: "Running",
        team["complete"].pk: "Complete",
    }
    marked = Events.filter(tracker__in=team["eligible"], values__State="Processing")
    assert marked.count() == 4
    assert set(marked.first().changed_fields) == {"State", "LastModifiedDate", "SystemModstamp"}
    lifecycle.run_bulk_job(job.pk)
    assert set(states(team["eligible"]).values()) == {"Complete"}
    assert_events_match_the_database(team["eligible"])


@pytest.mark.django_db
def test_start_bulk_handles_more_ids_than_one_sql_statement_can_bind(rep, team, monkeypatch):
    monkeypatch.setattr(lifecycle, "ID_CHUNK", 2)
    job = start_removal(team, rep)
    assert job.total == 4 and len(job.errors) == 3
    assert set(states(team["eligible"]).values()) == {"Processing"}


@pytest.mark.django_db
def test_recovery_marks_the_dead_workers_task_failed(rep, team, settings):
    """A worker took the job's task and died: the task row stays RUNNING (the database
    queue has no reaper). Recovery restores the trackers and marks that task FAILED with
    the reason; tasks of live jobs are left alone."""
    from django_tasks_db.models import DBTaskResult

    settings.CADENCE_PROCESSING_TIMEOUT_SECONDS = 600
    job = start_removal(team, rep)
    DBTaskResult.objects.filter(pk=job.task_id).update(status="RUNNING", worker_ids=["gone"])
    long_ago = timezone.now() - dt.timedelta(hours=2)
    BulkJob.objects.filter(pk=job.pk).update(created_at=long_ago, status="running")

    assert lifecycle.recover_stuck_jobs() == 4

    task = DBTaskResult.objects.get(pk=job.task_id)
    assert (task.status, task.exception_class_path) == (
        "FAILED",
        "trackers.lifecycle.WorkerDied",
    )
    assert task.finished_at is not None
    assert "stopped before finishing" in task.traceback
    # The queue's own API reads it back as a failure with that exception.
    from trackers import tasks

    result = tasks.run_bulk_job.get_backend().get_result(job.task_id)
    assert result.status == "FAILED"
    assert result.errors[-1].exception_class is lifecycle.WorkerDied


# --------------------------------------------------------------------------- events


class RolledBack(Exception):
    pass


def single_update_event(tracker_pk, actor, changes, state="Processing") -> tuple[list, dict]:
    """The event the single-tracker path (``_update`` on the locked row) writes for the
    same change to the same Processing tracker, read back, with the change rolled back."""
    try:
        with transaction.atomic():
            with lifecycle._transition(actor, "oracle") as tx:
                tracker = lifecycle._lock(tracker_pk)
                lifecycle._update(tx, tracker, expected_state=state, **changes)
            event = latest_event(tracker)
            found = (event.changed_fields, event.values)
            raise RolledBack
    except RolledBack:
        return found


def final_changes(action, tracker_pk, disposition) -> dict:
    """What each bulk action writes to a tracker, as remove_target / pause / resume do."""
    if action == "remove":
        return {
            "state": "Complete",
            "completion_reason": "ManuallyRemoved",
            "completion_disposition": disposition,
            "current_step": None,
            "scheduled_resume_date_time": None,
            "prior_state": None,
        }
    if action == "pause":
        return {"state": "Paused", "scheduled_resume_date_time": None, "prior_state": None}
    step = lifecycle._open_step(ActionCadenceTracker.objects.get(pk=tracker_pk))
    waiting = step.step_type == StepType.WAIT and step.due_date_time is not None
    return {
        "state": "Running",
        "scheduled_resume_date_time": step.due_date_time if waiting else None,
        "prior_state": None,
    }


@pytest.mark.django_db
def test_the_processing_events_are_the_ones_the_single_tracker_path_writes(rep, teammate):
    """GIVEN trackers rep last changed and one a teammate did WHEN rep starts a bulk job
    THEN each one's Processing event is what ``_update`` writes for that change: with
    LastModifiedById only for the teammate's."""
    trackers = [running_tracker(owner=rep) for _ in range(3)]
    ActionCadenceTracker.objects.filter(pk=trackers[1].pk).update(last_modified_by=teammate)
    expected = {
        t.pk: single_update_event(
            t.pk, rep, {"state": "Processing", "prior_state": "Running"}, state="Running"
        )
        for t in trackers
    }

    lifecycle.start_bulk("pause", [t.pk for t in reversed(trackers)], actor=rep)

    marked = list(Events.filter(tracker__in=trackers, change_origin="bulk pause"))
    assert_written_as_expected(marked, expected, rep)
    assert [event.tracker_id for event in marked] == sorted(t.pk for t in trackers)
    assert [event.sequence_number for event in marked] == [1, 2, 3]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("action", "disposition"),
    [("remove", "Not Interested"), ("remove", None), ("pause", None), ("resume", None)],
)
def test_a_bulk_jobs_events_are_the_ones_the_single_tracker_path_writes(
    rep, teammate, monkeypatch, action, disposition
):
    """GIVEN trackers in different situations (on a call step, waiting on a Wait step,
    last modified by someone else) WHEN a bulk job finishes them THEN each one's event
    has exactly the changed fields and values that ``_update`` writes for the same change,
    one transaction per chunk numbering its events in order."""
    # Chunks of three: the second holds two trackers waiting until different times.
    monkeypatch.setattr(lifecycle, "BULK_CHUNK_SIZE", 3)
    calls = make_cadence(StepType.MAKE_A_CALL, StepType.SEND_AN_EMAIL)
    waits = make_cadence(StepType.WAIT, StepType.MAKE_A_CALL)
    trackers = [running_tracker(owner=rep, cadence=cadence) for cadence in [calls, waits] * 3]
    if action == "resume":
        for tracker in trackers:
            lifecycle.pause(tracker, actor=rep)
    job = lifecycle.start_bulk(action, [t.pk for t in trackers], actor=rep, disposition=disposition)
    assert job.total == len(trackers)
    # Someone else's stamp on two of them (a data fix in the admin, say): the final event
    # must then name LastModifiedById too.
    ActionCadenceTracker.objects.filter(pk__in=[trackers[0].pk, trackers[2].pk]).update(
        last_modified_by=teammate
    )
    expected = {
        t.pk: single_update_event(t.pk, rep, final_changes(action, t.pk, disposition))
        for t in trackers
    }
    lifecycle.run_bulk_job(job.pk)

    written = list(Events.filter(tracker__in=trackers, change_origin=f"bulk {action}"))
    finals = [event for event in written if event.values.get("State") != "Processing"]
    assert_written_as_expected(finals, expected, rep)
    by_transaction: dict[str, list] = {}
    for event in sorted(finals, key=lambda event: event.replay_id):
        by_transaction.setdefault(event.transaction_key, []).append(event)
    assert [len(events) for events in by_transaction.values()] == [3, 3]
    for events in by_transaction.values():
        assert [event.sequence_number for event in events] == [1, 2, 3]
        assert sorted(event.tracker_id for event in events) == [e.tracker_id for e in events]
    assert_events_match_the_database(trackers)


@pytest.mark.django_db
def test_restored_trackers_events_are_the_ones_the_single_tracker_path_writes(rep, teammate):
    """GIVEN a removal holding Running, Paused and waiting trackers in Processing WHEN they
    are restored after a failure THEN each goes back to its own prior state with the
    event ``_update`` writes for that change, numbered in order in one transaction."""
    calls = make_cadence(StepType.MAKE_A_CALL, StepType.SEND_AN_EMAIL)
    waits = make_cadence(StepType.WAIT, StepType.MAKE_A_CALL)
    trackers = [running_tracker(owner=rep, cadence=cadence) for cadence in [calls, waits] * 3]
    for tracker in trackers[3:5]:
        lifecycle.pause(tracker, actor=rep)
    prior = states(trackers)
    job = lifecycle.start_bulk("remove", [t.pk for t in trackers], actor=rep)
    ActionCadenceTracker.objects.filter(pk__in=[trackers[0].pk, trackers[3].pk]).update(
        last_modified_by=None
    )
    expected = {
        t.pk: single_update_event(t.pk, None, {"state": prior[t.pk], "prior_state": None})
        for t in trackers
    }

    assert lifecycle.restore_processing(job, reason="the worker lost its connection") == 6

    assert states(trackers) == prior
    restored = list(Events.filter(tracker__in=trackers, change_origin="bulk remove recovery"))
    assert_written_as_expected(restored, expected, None)
    assert len({event.transaction_key for event in restored}) == 1
    assert [event.sequence_number for event in restored] == [1, 2, 3, 4, 5, 6]
    assert [event.tracker_id for event in restored] == sorted(t.pk for t in trackers)
    assert not ActionCadenceTracker.objects.filter(prior_state__isnull=False).exists()
    assert_events_match_the_database(trackers)


def assert_written_as_expected(events, expected, actor) -> None:
    """One event per tracker, each with the changed fields and values of ``expected``
    (LastModifiedDate and SystemModstamp being the time of its own transaction), and not
    all alike."""
    stamps = ("LastModifiedDate", "SystemModstamp")
    assert sorted(event.tracker_id for event in events) == sorted(expected)
    for event in events:
        names, values = expected[event.tracker_id]
        assert event.changed_fields == names, event.record_id
        assert {k: v for k, v in event.values.items() if k not in stamps} == {
            k: v for k, v in values.items() if k not in stamps
        }
        assert [event.values[name] for name in stamps] == [format_datetime(event.created_at)] * 2
        assert (event.change_type, event.commit_user_sf_id) == (
            "UPDATE",
            actor.sf_id if actor else "",
        )
    assert len({tuple(event.changed_fields) for event in events}) > 1
