"""manage.py import_salesforce FILE...: Salesforce CSV and REST query JSON in."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from cadence_site.sfimport.importer import run_import
from cadence_site.sfimport.readers import SourceError, SourceFile, open_path
from sharing.models import User

BAR_WIDTH = 30


class Command(BaseCommand):
    help = (
        "Import Salesforce records (users, roles, groups and members, sharing rules, manual "
        "shares, leads, contacts, opportunities, invoices, cadences, steps, rules, trackers "
        "and step trackers) from Data Loader / Data Export CSV files (the object from the "
        "file name, e.g. Lead.csv, or --object) and REST query JSON pages (the object from "
        "attributes.type). Ids are kept; a record whose Id exists is updated; references "
        "resolve across the files in any order. A bad row is reported with its file, line "
        "and field and skipped; with --atomic any bad row rolls the whole import back."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE")
        parser.add_argument(
            "--object", dest="object_name", help="The object of every CSV file given."
        )
        parser.add_argument(
            "--atomic", action="store_true", help="All or nothing: any bad row undoes it all."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Check everything, then undo it."
        )
        parser.add_argument(
            "--user",
            help="Username the change events and audit fields name (default: the system).",
        )
        parser.add_argument("--batch-size", type=int, default=5000, help="Rows per batch.")

    def handle(self, *args, **options):
        actor = None
        if options["user"]:
            actor = User.objects.filter(username=options["user"]).first()
            if actor is None:
                raise CommandError(f"No user named {options['user']!r}.")
        try:
            files = [open_path(path, options["object_name"]) for path in options["files"]]
        except SourceError as error:
            raise CommandError(str(error)) from None
        progress = self._bar(files) if self.stdout.isatty() else None
        result = run_import(
            files,
            atomic=options["atomic"],
            dry_run=options["dry_run"],
            actor=actor,
            progress=progress,
            batch_size=options["batch_size"],
        )
        if progress is not None:
            self.stdout.write("")
        for note in result.notes:
            self.stdout.write(f"note: {note}")
        for error in result.errors:
            self.stderr.write(str(error))
        for line in result.summary_lines():
            self.stdout.write(line)
        if result.rolled_back and not result.dry_run:
            raise CommandError(f"{len(result.errors)} error(s); --atomic: nothing was imported.")
        if result.dry_run:
            self.stdout.write("Dry run: nothing was imported.")
        elif result.errors:
            self.stdout.write(
                self.style.WARNING(f"Imported, skipping the {len(result.errors)} error(s) above.")
            )
        else:
            self.stdout.write(self.style.SUCCESS("Imported."))

    def _bar(self, files: list[SourceFile]):
        totals = {id(source): source.count() for source in files}

        def show(source: SourceFile, done: int) -> None:
            total = totals[id(source)] or 1
            filled = BAR_WIDTH * done // total
            self.stdout.write(
                f"\r{source.name} [{'#' * filled}{' ' * (BAR_WIDTH - filled)}] {done:,}/{total:,}",
                ending="",
            )
            sys.stdout.flush()

        return show
