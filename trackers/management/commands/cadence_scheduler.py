"""Enqueue the periodic jobs: resume due trackers, purge the recycle bin, recover
trackers a dead worker left in Processing. Workers (`manage.py db_worker`) run them."""

import time

from django.core.management.base import BaseCommand

from trackers.tasks import PERIODIC_TASKS


class Command(BaseCommand):
    help = "Enqueue the periodic tracker jobs every --interval seconds (or once with --once)."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=int, default=60, help="Seconds between rounds.")
        parser.add_argument("--once", action="store_true", help="Enqueue one round and exit.")

    def handle(self, *args, interval: int, once: bool, **options):
        while True:
            for periodic in PERIODIC_TASKS:
                periodic.enqueue()
            if once:
                self.stdout.write(f"Enqueued {len(PERIODIC_TASKS)} periodic jobs.")
                return
            time.sleep(interval)
