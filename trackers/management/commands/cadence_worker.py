"""Run the worker the configured queue needs: ``db_worker`` for the database queue
(the default), ``rqworker default`` when TASKS_BACKEND=rq. Deployment scripts and
``make serve`` call this, so switching the queue is a setting, not a script change."""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

RQ_BACKEND = "django_tasks_rq.RQBackend"


class Command(BaseCommand):
    help = (
        "Run the background worker for the configured queue (TASKS_BACKEND): db_worker for "
        "the database queue, rqworker for Redis."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--once",
            action="store_true",
            help="Run what is queued now, then exit (db_worker --batch / rqworker --burst).",
        )

    def handle(self, *args, once: bool, **options):
        backend = settings.TASKS["default"]["BACKEND"]
        if backend == RQ_BACKEND:
            self.stdout.write("Queue: Redis (rqworker default)")
            call_command("rqworker", "default", *(["--burst"] if once else []))
        else:
            self.stdout.write(f"Queue: database ({backend}; db_worker)")
            call_command("db_worker", *(["--batch", "--no-startup-delay"] if once else []))
