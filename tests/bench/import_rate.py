"""Import rate: trackers per second from Data Loader CSV into the database.

A benchmark, not a test. It builds a small org (users, cadences with steps and
an exit rule), writes N leads and N trackers as Salesforce CSV (10% Running,
each on a lead of its own; the rest Complete with a CompletionReason, some with a
CompletionDisposition, some AutomaticallyExited with their ExitGlobalRuleId),
imports the leads, then the trackers, each timed as the whole ``manage.py
import_salesforce FILE`` command: opening and counting the file, reading,
checking, writing, change events, index rebuild, sharing recalculation and
commit. It prints wall time and the process's CPU time (user + sys, every
thread), and the load average: on a shared machine wall time says more about
the others than about the importer. Run it on a database made for it:

    export DATABASE_URL=sqlite:////tmp/import-bench.sqlite3
    .venv/bin/python manage.py migrate
    .venv/bin/python -m tests.bench.import_rate 200000
"""

from __future__ import annotations

import csv
import io
import os
import random
import sys
import tempfile
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cadence_site.settings")
django.setup()

from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from cadence_site.registry import format_datetime  # noqa: E402
from sharing.models import User  # noqa: E402
from trackers.bulkload import new_sf_ids  # noqa: E402
from trackers.choices import CadenceState, GlobalEventType, StepType  # noqa: E402
from trackers.models import (  # noqa: E402
    ActionCadence,
    ActionCadenceRule,
    ActionCadenceStep,
    ActionCadenceTracker,
    Lead,
)

TRACKER_HEADER = [
    "Id",
    "CreatedDate",
    "LastModifiedDate",
    "SystemModstamp",
    "ActionCadenceId",
    "CompletionDisposition",
    "CompletionReason",
    "DaisyChainIteration",
    "ExitGlobalRuleId",
    "IsTrackerActive",
    "OwnerId",
    "State",
    "TargetId",
]


def build_org(rng: random.Random) -> tuple[list[str], list[tuple[str, str]]]:
    owners = []
    for index in range(50):
        user, _ = User.objects.get_or_create(username=f"import_bench_{index:02d}")
        owners.append(user.sf_id)
    cadences = []
    for index in range(10):
        cadence, _ = ActionCadence.objects.get_or_create(
            name=f"Import bench {index}",
            defaults={"state": CadenceState.ACTIVE, "owner": User.objects.get(sf_id=owners[0])},
        )
        ActionCadenceStep.objects.get_or_create(
            action_cadence=cadence, step_name="Root", defaults={"type": StepType.ROOT}
        )
        rule, _ = ActionCadenceRule.objects.get_or_create(
            action_cadence=cadence,
            rule_name="Reply",
            defaults={"global_event_type": GlobalEventType.EMAIL_REPLY},
        )
        cadences.append((cadence.sf_id, rule.sf_id))
    return owners, cadences


def write_files(folder: str, count: int, rng: random.Random) -> tuple[str, str]:
    owners, cadences = build_org(rng)
    leads = new_sf_ids(Lead.KEY_PREFIX, count)
    lead_path = os.path.join(folder, "Lead.csv")
    with open(lead_path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["Id", "FirstName", "LastName", "Company", "Email"])
        for index, lead in enumerate(leads):
            writer.writerow([lead, "Ada", f"Lovelace {index}", "Analytical, Ltd", ""])
    tracker_path = os.path.join(folder, "ActionCadenceTracker.csv")
    now = timezone.now()
    stamps = [format_datetime(now - timezone.timedelta(minutes=minutes)) for minutes in range(5000)]
    reasons = ["NoMoreSteps", "ManuallyRemoved", "AutomaticallyExited", "LeadConverted"]
    dispositions = ["", "No Response", "Not Interested", "Success"]
    with open(tracker_path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(TRACKER_HEADER)
        for tracker_id, lead in zip(
            new_sf_ids(ActionCadenceTracker.KEY_PREFIX, count), leads, strict=True
        ):
            cadence, rule = rng.choice(cadences)
            stamp = rng.choice(stamps)
            if rng.random() < 0.1:
                state, reason, disposition, exit_rule, active = "Running", "", "", "", "true"
            else:
                state, reason, active = "Complete", rng.choice(reasons), "false"
                disposition = rng.choice(dispositions) if reason == "ManuallyRemoved" else ""
                exit_rule = rule if reason == "AutomaticallyExited" else ""
            writer.writerow(
                [
                    tracker_id,
                    stamp,
                    stamp,
                    stamp,
                    cadence,
                    disposition,
                    reason,
                    1,
                    exit_rule,
                    active,
                    rng.choice(owners),
                    state,
                    lead,
                ]
            )
    return lead_path, tracker_path


def timed_import(path: str) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of this process, the command's output): on a shared
    machine the two differ by what other processes took."""
    out = io.StringIO()
    started, cpu = time.perf_counter(), time.process_time()
    call_command("import_salesforce", path, stdout=out, stderr=out)
    return time.perf_counter() - started, time.process_time() - cpu, out.getvalue()


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    rng = random.Random(8)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        lead_path, tracker_path = write_files(folder, count, rng)
        print(
            f"wrote {count:,} leads and {count:,} trackers as CSV in "
            f"{time.perf_counter() - started:.1f}s"
        )
        for label, path in (("leads", lead_path), ("trackers", tracker_path)):
            before = load()
            seconds, cpu, output = timed_import(path)
            lines = output.splitlines()
            for line in lines[:3] + (["  ..."] if len(lines) > 6 else []) + lines[3:][-3:]:
                print("  " + line)
            print(
                f"{label}: {count:,} rows in {seconds:.2f}s wall = {count / seconds:,.0f} rows/s; "
                f"{cpu:.2f}s CPU (user+sys) = {count / cpu:,.0f} rows per CPU second "
                f"({before} before, {load()} after)"
            )


if __name__ == "__main__":
    main()
