"""Background work, through the django-tasks API.

The database-backed queue is the embedded default (``manage.py db_worker``);
the same tasks run on an RQ or Celery-style backend by configuration.
"""

from typing import Any

from django.db import transaction
from django_tasks import task
from django_tasks.base import Task
from django_tasks_db.backend import DatabaseBackend

from trackers import lifecycle


def commits_with_the_database(job: Task) -> bool:
    """True for the database queue: a task enqueued in a transaction commits (or rolls
    back) with it. Redis is a separate system that a worker reads at once."""
    return isinstance(job.get_backend(), DatabaseBackend)


def enqueue_after_commit(job: Task, *args: Any) -> None:
    """Queue ``job`` so that no worker can start it before the data it needs is committed:
    in the same transaction on the database queue, after the commit on any other."""
    if commits_with_the_database(job):
        job.enqueue(*args)
    else:
        transaction.on_commit(lambda: job.enqueue(*args))


@task()
def run_bulk_job(job_id: int) -> int:
    """Finish a bulk removal/pause/resume whose trackers wait in Processing."""
    return lifecycle.run_bulk_job(job_id).succeeded


@task()
def resume_due_trackers() -> int:
    return lifecycle.resume_due()


@task()
def purge_recycle_bin() -> int:
    return lifecycle.purge_deleted()


@task()
def recover_stuck_jobs() -> int:
    return lifecycle.recover_stuck_jobs()


PERIODIC_TASKS = (resume_due_trackers, purge_recycle_bin, recover_stuck_jobs)
