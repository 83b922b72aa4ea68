"""Build the demo org once; afterwards just print its logins."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from trackers import demo


class Command(BaseCommand):
    help = (
        "Create a small realistic org: a role hierarchy (VP, two managers, six reps), a "
        "Sales Ops group, an Inbound queue, sharing rules, seven cadences (call, email, "
        "wait, branch and daisy-chain steps; one Draft, one Inactive) and about "
        f"{demo.DEFAULT_TRACKERS:,} trackers over the last {demo.HISTORY_DAYS} days in every "
        "State and CompletionReason: a showcase played through the lifecycle, the rest "
        "written in bulk. If the demo is already there it changes nothing and prints the "
        "logins; --reset rebuilds it."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--trackers",
            type=int,
            default=demo.DEFAULT_TRACKERS,
            help=f"About how many trackers to create (default {demo.DEFAULT_TRACKERS:,}).",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete the demo's cadences, trackers and targets and build them again.",
        )
        parser.add_argument(
            "--seed", type=int, default=2026, help="Random seed of the planned history."
        )

    def handle(self, *args, trackers: int, reset: bool, seed: int, **options):
        if trackers < 100:
            raise CommandError("--trackers must be at least 100 to show every State.")
        if demo.demo_exists() and not reset:
            self.stdout.write("Demo data is already there (use --reset to rebuild it).")
        else:
            started = time.monotonic()
            with transaction.atomic():
                if reset:
                    demo.wipe()
                demo.seed(trackers, random_seed=seed)
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo org ready in {time.monotonic() - started:.1f} s: {demo.summary()}."
                )
            )
        self._print_logins()

    def _print_logins(self) -> None:
        rows = [("username", "password", "who"), *demo.logins()]
        widths = [max(len(row[column]) for row in rows) for column in range(3)]
        line = "+".join("-" * (width + 2) for width in widths)
        self.stdout.write("\nDemo logins (http://127.0.0.1:8000/ and /admin/):")
        self.stdout.write(f"+{line}+")
        for index, row in enumerate(rows):
            cells = " | ".join(value.ljust(width) for value, width in zip(row, widths, strict=True))
            self.stdout.write(f"| {cells} |")
            if index == 0:
                self.stdout.write(f"+{line}+")
        self.stdout.write(f"+{line}+")
