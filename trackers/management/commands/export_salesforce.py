"""manage.py export_salesforce OBJECT: Data Loader CSV or REST query JSON out."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from cadence_site import registry
from cadence_site.sfimport.exporter import csv_lines, json_chunks


class Command(BaseCommand):
    help = (
        "Export every record of OBJECT (e.g. ActionCadenceTracker, Lead, User) as Data "
        "Loader CSV (API names as headers) or as a REST query result (--format json), to "
        "--output or standard output. import_salesforce reads it back unchanged."
    )

    def add_arguments(self, parser):
        parser.add_argument("object", metavar="OBJECT")
        parser.add_argument("--output", "-o", help="File to write (default: standard output).")
        parser.add_argument("--format", choices=("csv", "json"), default="csv")

    def handle(self, *args, **options):
        sobject = registry.get(options["object"])
        if sobject is None:
            names = ", ".join(item.name for item in registry.all_objects())
            raise CommandError(f"No object named {options['object']!r}; one of: {names}.")
        chunks = csv_lines(sobject) if options["format"] == "csv" else json_chunks(sobject)
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8", newline="") as out:
                for chunk in chunks:
                    out.write(chunk)
        else:
            for chunk in chunks:
                self.stdout.write(chunk, ending="")
