"""Which queue runs the background work, and the RQ (Redis) queue end to end.

The database queue's worker is covered in test_bulk.py (a bulk job, a worker failure,
the scheduler's periodic round), test_concurrency.py (two workers at once) and
test_faults.py (a worker killed mid-job). Here: TASKS_BACKEND switches the queue to Redis,
and a real RQ worker runs a bulk removal and the periodic round from it.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import signal
import subprocess
import sys

import pytest
import redis
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from tests.factories import make_cadence, running_tracker
from tests.workers import ROOT, worker_env
from trackers import lifecycle, tasks
from trackers.choices import StepType
from trackers.models import ActionCadenceTracker, ActionCadenceTrackerChangeEvent, BulkJob

# A database of its own, so a test run never empties someone else's queue.
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
RQ_BACKEND = "django_tasks_rq.RQBackend"

SHOW_SETTINGS = (
    "import json; from django.conf import settings as s; print(json.dumps(["
    "s.TASKS['default']['BACKEND'], 'django_rq' in s.INSTALLED_APPS, "
    "getattr(s, 'RQ_QUEUES', None), getattr(s, 'RQ', None)]))"
)


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"TASKS_BACKEND", "REDIS_URL"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def shown_settings(**env: str) -> list:
    done = manage("shell", "-c", SHOW_SETTINGS, **env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- configuration


def test_the_database_queue_is_the_default_and_django_rq_stays_out():
    assert shown_settings() == ["django_tasks_db.DatabaseBackend", False, None, None]
    assert shown_settings(TASKS_BACKEND="database")[0] == "django_tasks_db.DatabaseBackend"
    assert "Unknown command: 'rqworker'" in manage("rqworker", "--help").stderr


@pytest.mark.parametrize("name", ["rq", "RQ", RQ_BACKEND])
def test_tasks_backend_rq_with_redis_url_switches_the_queue_to_redis(name):
    url = "redis://cache.internal:6380/2"
    assert shown_settings(TASKS_BACKEND=name, REDIS_URL=url) == [
        RQ_BACKEND,
        True,
        {"default": {"URL": url, "DEFAULT_TIMEOUT": 3600}},
        {"JOB_CLASS": "django_tasks_rq.Job"},
    ]


def test_the_rq_configuration_passes_the_system_checks_and_has_its_worker_command():
    env = {"TASKS_BACKEND": "rq", "REDIS_URL": REDIS_URL}
    checked = manage("check", **env)
    assert checked.returncode == 0, checked.stderr
    assert "--burst" in manage("rqworker", "--help", **env).stdout


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TASKS_BACKEND": "rq"}, "TASKS_BACKEND=rq needs REDIS_URL, e.g. redis://"),
        ({"CADENCE_BULK_CHUNK_SIZE": "0"}, "CADENCE_BULK_CHUNK_SIZE=0: must be at least 1."),
        (
            {"CADENCE_BULK_CHUNK_SIZE": "lots"},
            "CADENCE_BULK_CHUNK_SIZE='lots': expected a whole number.",
        ),
        (
            {"TASKS_BACKEND": "celery"},
            "Unknown TASKS_BACKEND 'celery': use 'database' (django_tasks_db.DatabaseBackend) "
            "or 'rq' (django_tasks_rq.RQBackend), or a backend's dotted path.",
        ),
    ],
)
def test_a_queue_misconfiguration_stops_every_command_with_a_clear_message(env, message):
    done = manage("check", **env)
    assert done.returncode != 0
    assert f"ImproperlyConfigured: {message}" in done.stderr


# --------------------------------------------------------------------------- RQ end to end


@pytest.fixture
def rq_queue(settings):
    """This process enqueues through the RQ backend, into a Redis queue emptied first."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError as error:
        reason = f"needs Redis at {REDIS_URL} (set TEST_REDIS_URL): {error}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    import django_rq

    settings.TASKS = {"default": {"BACKEND": RQ_BACKEND, "QUEUES": ["default"]}}
    settings.RQ_QUEUES = {"default": {"URL": REDIS_URL}}
    settings.RQ = {"JOB_CLASS": "django_tasks_rq.Job"}
    queue = django_rq.get_queue("default")
    queue.empty()
    yield queue
    queue.empty()


def run_rq_worker() -> None:
    """``manage.py rqworker default --burst``: until the queue is empty.

    On PostgreSQL, a real process configured only by TASKS_BACKEND=rq and REDIS_URL. The
    in-memory SQLite test database lives inside this process, so there the same command
    runs here with RQ's SimpleWorker (no fork, which would write to a copy of it).
    """
    if connection.vendor == "postgresql":
        done = subprocess.run(
            [sys.executable, "manage.py", "rqworker", "default", "--burst"],
            cwd=ROOT,
            env=worker_env(TASKS_BACKEND="rq", REDIS_URL=REDIS_URL),
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return
    from django_rq.management.commands.rqworker import Command

    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        call_command(
            Command(), "default", "--burst", "--worker-class", "rq.SimpleWorker", verbosity=0
        )
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


@pytest.mark.django_db(transaction=True)
def test_a_bulk_removal_and_the_periodic_round_run_on_an_rq_worker(rep, rq_queue, settings):
    """GIVEN the Redis queue, WHEN a rep bulk-removes four trackers and the scheduler
    enqueues its round (a due paused tracker, an expired deleted one, a job whose worker
    died), THEN an RQ worker in burst mode finishes all of it: the removal done once, the
    due tracker resumed, the deleted one purged, the dead job's trackers restored."""
    cadence = make_cadence(StepType.MAKE_A_CALL, StepType.SEND_AN_EMAIL)
    removed = [running_tracker(owner=rep, cadence=cadence) for _ in range(4)]
    due = running_tracker(owner=rep, cadence=cadence)
    lifecycle.pause(due, actor=rep, resume_at=timezone.now() + dt.timedelta(minutes=1))
    ActionCadenceTracker.objects.filter(pk=due.pk).update(
        scheduled_resume_date_time=timezone.now() - dt.timedelta(minutes=1)
    )
    deleted = running_tracker(owner=rep, cadence=cadence)
    lifecycle.delete_tracker(deleted, actor=rep)
    ActionCadenceTracker.all_objects.filter(pk=deleted.pk).update(
        system_modstamp=timezone.now() - dt.timedelta(days=settings.CADENCE_RECYCLE_BIN_DAYS + 1)
    )
    stranded = [running_tracker(owner=rep, cadence=cadence) for _ in range(2)]
    dead = lifecycle.start_bulk("pause", stranded, actor=rep)
    rq_queue.empty()  # its worker took the task and died with it
    BulkJob.objects.filter(pk=dead.pk).update(created_at=timezone.now() - dt.timedelta(days=1))

    with transaction.atomic():
        job = lifecycle.start_bulk("remove", removed, actor=rep, disposition="Customer Engaged")
        # Redis is a separate system: a worker must find nothing before the marks commit.
        assert rq_queue.count == 0
    assert job.task_id and rq_queue.job_ids == [job.task_id]
    call_command("cadence_scheduler", "--once", stdout=io.StringIO())
    assert rq_queue.count == 4

    run_rq_worker()

    assert rq_queue.count == 0
    backend = tasks.run_bulk_job.get_backend()
    result = backend.get_result(job.task_id)
    assert (result.status, result.return_value, len(result.worker_ids)) == ("SUCCESSFUL", 4, 1)
    job.refresh_from_db()
    assert (job.status, job.succeeded, job.failed) == ("done", 4, 0)
    assert set(
        ActionCadenceTracker.objects.filter(pk__in=[t.pk for t in removed]).values_list(
            "state", "completion_reason", "completion_disposition"
        )
    ) == {("Complete", "ManuallyRemoved", "Customer Engaged")}
    completions = ActionCadenceTrackerChangeEvent.objects.filter(
        tracker__in=removed, values__State="Complete"
    )
    assert sorted(completions.values_list("tracker", flat=True)) == sorted(t.pk for t in removed)

    assert ActionCadenceTracker.objects.get(pk=due.pk).state == "Running"
    assert not ActionCadenceTracker.all_objects.filter(pk=deleted.pk).exists()
    assert set(
        ActionCadenceTracker.objects.filter(pk__in=[t.pk for t in stranded]).values_list(
            "state", flat=True
        )
    ) == {"Running"}
    assert BulkJob.objects.get(pk=dead.pk).status == "failed"


@pytest.mark.django_db(transaction=True)
def test_a_bulk_removal_that_redis_refuses_gives_its_trackers_back(rep, rq_queue, settings):
    """Redis goes away between the marks and the queueing: the job fails with the reason
    and its trackers are back in their prior state at once, not in ten minutes."""
    trackers = [running_tracker(owner=rep) for _ in range(3)]
    lifecycle.pause(trackers[0], actor=rep)
    settings.RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:1/0"}}  # nothing listens

    job = lifecycle.start_bulk("remove", trackers, actor=rep)

    assert job.status == "failed" and job.task_id == ""
    assert "the task queue refused it" in job.errors[-1]["message"]
    assert dict(
        ActionCadenceTracker.objects.filter(pk__in=[t.pk for t in trackers]).values_list(
            "pk", "state"
        )
    ) == {trackers[0].pk: "Paused", trackers[1].pk: "Running", trackers[2].pk: "Running"}


# --------------------------------------------------------------------------- cadence_worker


@pytest.mark.django_db(transaction=True)
def test_cadence_worker_runs_the_database_queue_by_default(rep):
    """GIVEN the default queue and a bulk removal waiting in it, WHEN `cadence_worker
    --once` runs, THEN it is db_worker that runs the job to the end."""
    cadence = make_cadence(StepType.MAKE_A_CALL)
    trackers = [running_tracker(owner=rep, cadence=cadence) for _ in range(3)]
    job = lifecycle.start_bulk("remove", trackers, actor=rep, disposition="Bad Data")
    out = io.StringIO()

    call_command("cadence_worker", "--once", stdout=out)

    assert "Queue: database (django_tasks_db.DatabaseBackend; db_worker)" in out.getvalue()
    job.refresh_from_db()
    assert (job.status, job.succeeded) == ("done", 3)
    assert set(
        ActionCadenceTracker.objects.filter(pk__in=[t.pk for t in trackers]).values_list(
            "state", "completion_disposition"
        )
    ) == {("Complete", "Bad Data")}


def test_cadence_worker_runs_rqworker_when_the_queue_is_redis(rq_queue):
    """GIVEN TASKS_BACKEND=rq, WHEN `cadence_worker --once` runs, THEN it is RQ's worker
    (in burst mode: it drains the queue and exits), not db_worker."""
    done = manage("cadence_worker", "--once", TASKS_BACKEND="rq", REDIS_URL=REDIS_URL)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Queue: Redis (rqworker default)" in done.stdout
    assert "Worker" in done.stderr + done.stdout  # RQ's own start and stop lines
    assert "db_worker" not in done.stdout


def test_a_sharing_recalculation_that_redis_refuses_runs_in_the_request(
    rep, teammate, rq_queue, settings, django_capture_on_commit_callbacks, caplog
):
    """A rule saved while Redis is down still gets its share rows (computed in the
    request, slowly, and logged), rather than granting nothing until the next change."""
    from sharing import services
    from sharing.models import ActionCadenceTrackerOwnerSharingRule, Group, GroupMember

    tracker = running_tracker(owner=rep)
    east = Group.objects.create(name="East", developer_name="East")
    GroupMember.objects.create(group=east, member_user=rep)
    settings.SHARING_INLINE_RECALC_MAX_TRACKERS = 0  # every recalculation goes to a worker
    settings.RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:1/0"}}  # nothing listens
    rule = ActionCadenceTrackerOwnerSharingRule(
        name="East to teammate",
        developer_name="East_to_teammate",
        group=east,
        share_with_user=teammate,
        access_level="Read",
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.save_rule(rule, actor=None) == "queued"
    assert "Could not queue a sharing recalculation; running it here" in caplog.text
    assert ActionCadenceTracker.objects.visible_to(teammate).filter(pk=tracker.pk).exists()
    assert rq_queue.count == 0
