"""Background work, through the django-tasks API.

The database-backed queue is the embedded default (``manage.py db_worker``);
the same tasks run on an RQ or Celery-style backend by configuration.
"""

from django_tasks import task
from django_tasks.base import Task
from django_tasks_db.backend import DatabaseBackend

from trackers import lifecycle


def commits_with_the_database(job: Task) -> bool:
    """True for the database queue: a task enqueued in a transaction commits (or rolls
    back) with it. Redis is a separate system that a worker reads at once."""
    return isinstance(job.get_backend(), DatabaseBackend)


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
