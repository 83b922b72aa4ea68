"""Scale data for benchmarks: a million trackers made by the database itself."""

from __future__ import annotations

import datetime as dt
import random
import time
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from sharing.models import Group, GroupMember, User, UserRole
from trackers import demo
from trackers.bulkload import (
    BulkTrackerWriter,
    CadenceRef,
    DatabaseLoad,
    OwnerRef,
    RelatedRef,
    WriteCounts,
    bulk_load,
)
from trackers.choices import CadenceState, GlobalEventType, StepType
from trackers.demo import StepSpec
from trackers.models import (
    ActionCadence,
    ActionCadenceStepTracker,
    ActionCadenceTracker,
    Contact,
    Invoice,
    Lead,
    Opportunity,
)
from trackers.models import ActionCadenceTrackerChangeEvent as ChangeEvent

HISTORY_DAYS = 730
ACTIVE_DAYS = 120
LEAD_SHARE = 0.6
CONVERTED_SHARE = (
    0.07  # of the leads and contacts no active tracker takes: about the LeadConverted share
)
QUEUE_SHARE = 0.05
REBUILD_FROM = 10_000
INACTIVE_EVERY = 10  # every tenth benchmark cadence is Inactive: history only
TEMPLATES = (
    (
        StepSpec("intro_call", StepType.MAKE_A_CALL, "Intro call"),
        StepSpec("intro_email", StepType.SEND_AN_EMAIL, "Intro email"),
        StepSpec("wait", StepType.WAIT, "Wait 2 days", wait_days=2),
        StepSpec("follow_up_call", StepType.MAKE_A_CALL, "Follow-up call"),
        StepSpec("breakup_email", StepType.AUTO_SEND_AN_EMAIL, "Break-up email"),
    ),
    (
        StepSpec("linkedin", StepType.LINKEDIN_CONNECTION, "Connect on LinkedIn"),
        StepSpec("email", StepType.SEND_AN_EMAIL, "Personalised email"),
        StepSpec("wait", StepType.WAIT, "Wait 1 day", wait_days=1),
        StepSpec("call", StepType.MAKE_A_CALL, "Discovery call"),
        StepSpec("task", StepType.CREATE_TASK, "Research the account"),
    ),
    (
        StepSpec("newsletter", StepType.AUTO_SEND_AN_EMAIL, "Newsletter"),
        StepSpec("wait", StepType.WAIT, "Wait a week", wait_days=7),
        StepSpec("update", StepType.AUTO_SEND_AN_EMAIL, "Product update"),
        StepSpec("check_in", StepType.CREATE_TASK, "Check in"),
    ),
)
EXIT_EVENTS = (
    GlobalEventType.EMAIL_REPLY,
    GlobalEventType.EMAIL_HARD_BOUNCE,
    GlobalEventType.CALL_NOT_INTERESTED,
    GlobalEventType.CALL_UNQUALIFIED,
)


class Command(BaseCommand):
    help = (
        "Write N trackers, M of them active, for benchmarks: the database makes the rows itself "
        "(INSERT ... SELECT over a series of row numbers, draws hashed from the row number and "
        "--seed, so a seed gives the same rows on SQLite and PostgreSQL, bar ids and dates "
        "relative to now), in batches within one transaction. Creates new leads "
        "and contacts (60/40; --targets, by default M + (N - M) / 2), the benchmark users "
        "(bench_user_00001...) in a role hierarchy, a queue, cadences with steps and global "
        "exit rules, and some opportunities and invoices. Active trackers (mostly Running, some"
        " Paused, a few Initializing; never Processing, which only a real bulk job makes) each "
        "have a target of their own; the rest are Error (a small share) or Complete with a "
        "realistic mix of CompletionReason and CompletionDisposition, over the last two years. "
        "Step trackers: Running, Paused and Error trackers get their current one; no history of"
        " completed steps. Change events: none by default (a generated history is an import, "
        "not live changes); --change-events writes each tracker's CREATE event, the trackers "
        "and events then made row by row in Python (several times slower). Refuses, writing "
        "nothing, if M would take the org past "
        "CADENCE_ACTIVE_TRACKER_LIMIT. A load as big as the table is written with its indexes "
        "dropped and rebuilt at the end (PostgreSQL: the tables stay locked meanwhile); run it "
        "on a quiet database."
    )

    def add_arguments(self, parser):
        parser.add_argument("--trackers", type=int, required=True, help="Trackers to write (N).")
        parser.add_argument("--active", type=int, required=True, help="How many are active (M).")
        parser.add_argument(
            "--targets",
            type=int,
            default=None,
            help=(
                "New leads and contacts to write (default: one per active tracker plus one per "
                "two finished ones: people go through several cadences over the years)."
            ),
        )
        parser.add_argument("--users", type=int, default=50, help="Owners (default 50).")
        parser.add_argument("--cadences", type=int, default=10, help="Cadences (default 10).")
        parser.add_argument(
            "--batch-size", type=int, default=50_000, help="Rows per transaction (default 50,000)."
        )
        parser.add_argument("--seed", type=int, default=None, help="Random seed.")
        parser.add_argument(
            "--groups",
            type=int,
            default=0,
            help="Also make this many public groups of five owners (sharing at scale).",
        )
        parser.add_argument(
            "--rules",
            type=int,
            default=0,
            help="Also make this many owner sharing rules between those groups (Read).",
        )
        parser.add_argument(
            "--change-events",
            action="store_true",
            help="Also write each tracker's CREATE change event.",
        )

    def handle(self, *args, **options):
        total, active = options["trackers"], options["active"]
        users, cadences = options["users"], options["cadences"]
        batch_size = options["batch_size"]
        if total < 1 or not 0 <= active <= total:
            raise CommandError("--trackers must be at least 1 and --active between 0 and it.")
        if users < 1 or cadences < 1 or batch_size < 1:
            raise CommandError("--users, --cadences and --batch-size must be at least 1.")
        targets = options["targets"]
        if targets is None:
            targets = active + (total - active + 1) // 2
        if targets < max(active, 1):
            raise CommandError(
                f"--targets must be at least 1 and at least --active ({active:,}): every "
                "active tracker needs a lead or contact of its own."
            )
        self._check_org_limit(active)
        rng = random.Random(options["seed"])
        self.verbosity = options["verbosity"]
        started = time.monotonic()
        self._tune_connection()
        loaded = (Lead, Contact, ActionCadenceTracker, ActionCadenceStepTracker, ChangeEvent)
        # A load as big as what is there goes faster with the indexes built afterwards.
        rebuild = total >= REBUILD_FROM and total >= ActionCadenceTracker.all_objects.count()
        now = timezone.now()
        # All or nothing: one transaction, written in batches.
        with bulk_load(*loaded, rebuild_indexes=rebuild):
            owners = self._owners(users)
            cadence_refs = self._cadences(cadences, owners[0].actor_id)
            related = self._deals(max(10, total // 2000), owners[0].actor_id)
            # What both writers make trackers of.
            world = {
                "cadences": cadence_refs,
                "owners": owners,
                "related": related,
                "now": now,
                "history_days": HISTORY_DAYS,
                "active_days": ACTIVE_DAYS,
            }
            load = DatabaseLoad(**world, seed=options["seed"])
            with load.lookups():
                load.write_targets(
                    total=targets,
                    active=active,
                    lead_share=LEAD_SHARE,
                    converted_share=CONVERTED_SHARE,
                    created=(now - dt.timedelta(days=HISTORY_DAYS + 30), dt.timedelta(days=30)),
                    batch_size=batch_size,
                )
                self._progress(f"{targets:,} leads and contacts", started)

                def on_batch(counts: WriteCounts) -> None:
                    self._progress(f"{counts.trackers:,} trackers", started)

                if options["change_events"]:
                    # The CREATE events are built in Python, by the row-by-row writer, on
                    # the targets ``load`` wrote.
                    active_targets, history_targets, converted = load.target_refs()
                    writer = BulkTrackerWriter(**world, rng=rng, change_events=True)
                    counts = writer.write(
                        total=total,
                        active=active,
                        active_targets=active_targets,
                        history_targets=history_targets,
                        converted_leads=converted,
                        batch_size=batch_size,
                        on_batch=on_batch,
                    )
                else:
                    counts = load.write_trackers(
                        total=total, active=active, batch_size=batch_size, on_batch=on_batch
                    )
            if rebuild:
                self._progress("rows written; building indexes", started)
        self._analyze()
        elapsed = time.monotonic() - started
        self._report(counts, targets, elapsed)
        if options["groups"]:
            from sharing.bulk import build_groups_and_rules

            made = build_groups_and_rules(
                [owner.user_id for owner in owners if owner.user_id],
                groups=options["groups"],
                rules=options["rules"],
                rng=rng,
            )
            self.stdout.write(f"Sharing: {made[0]:,} groups and {made[1]:,} rules.")
        self._share()

    # ---- checks and connection

    def _check_org_limit(self, adding: int) -> None:
        limit = settings.CADENCE_ACTIVE_TRACKER_LIMIT
        existing = ActionCadenceTracker.objects.active().count()
        if existing + adding > limit:
            raise CommandError(
                f"--active {adding:,} would exceed the org's limit of {limit:,} active trackers "
                f"(CADENCE_ACTIVE_TRACKER_LIMIT): {existing:,} are active already, so at most "
                f"{max(limit - existing, 0):,} more can be added. Nothing was written."
            )

    def _tune_connection(self) -> None:
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                # A big page cache (1 GB) keeps the indexes in memory as they grow.
                cursor.execute("PRAGMA cache_size = -1048576")

    def _analyze(self) -> None:
        """Fresh planner statistics, so benchmarks run against realistic plans."""
        tables = [model._meta.db_table for model in (Lead, Contact, ActionCadenceTracker)]
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("ANALYZE " + ", ".join(tables))
            elif connection.vendor == "sqlite":
                # Whole-index statistics. A sample (PRAGMA analysis_limit = 1000, 2 s
                # faster at 1,000,000) saw 1,001 trackers per State where 800,000 are
                # Complete, and SQLite then sorted every Complete tracker for a list
                # page (deep filtered page 44 -> 430 ms, a SOQL batch 0.1 -> 4.9 s).
                cursor.execute("PRAGMA optimize")

    # ---- who, what and whom

    def _owners(self, count: int) -> list[OwnerRef]:
        """bench_user_00001... in regions of ten under a VP, plus a queue of three."""
        with transaction.atomic():
            vp, _ = UserRole.objects.get_or_create(
                developer_name="Benchmark_VP", defaults={"name": "Benchmark VP"}
            )
            regions = [
                UserRole.objects.get_or_create(
                    developer_name=f"Benchmark_Region_{number}",
                    defaults={"name": f"Benchmark Region {number}", "parent_role": vp},
                )[0]
                for number in range(1, (count - 1) // 10 + 2)
            ]
            names = [f"bench_user_{number:05d}" for number in range(1, count + 1)]
            existing = set(
                User.objects.filter(username__in=names).values_list("username", flat=True)
            )
            password = make_password(None)
            User.objects.bulk_create(
                User(
                    username=name,
                    first_name=demo.FIRST_NAMES[index % len(demo.FIRST_NAMES)],
                    last_name=demo.LAST_NAMES[
                        index // len(demo.FIRST_NAMES) % len(demo.LAST_NAMES)
                    ],
                    email=f"{name}@bench.example",
                    role=regions[index // 10],
                    password=password,
                )
                for index, name in enumerate(names)
                if name not in existing
            )
            users = list(User.objects.filter(username__in=names).order_by("username"))
            queue, _ = Group.objects.get_or_create(
                developer_name="Benchmark_Queue",
                defaults={"name": "Benchmark Queue", "type": Group.Type.QUEUE},
            )
            for user in users[:3]:
                GroupMember.objects.get_or_create(group=queue, member_user=user)
        refs = [OwnerRef(user.pk, None, user.sf_id, user.pk, user.sf_id) for user in users]
        worker = users[0]
        queue_ref = OwnerRef(None, queue.pk, queue.sf_id, worker.pk, worker.sf_id)
        return refs + [queue_ref] * max(1, round(len(refs) * QUEUE_SHARE))

    def _cadences(self, count: int, owner_id: int) -> list[CadenceRef]:
        owner = User.objects.get(pk=owner_id)
        refs = []
        with transaction.atomic():
            for number in range(1, count + 1):
                name = f"Benchmark Cadence {number:03d}"
                cadence = ActionCadence.objects.filter(name=name).first()
                if cadence is None:
                    cadence = demo.create_cadence(
                        name,
                        owner=owner,
                        steps=TEMPLATES[number % len(TEMPLATES)],
                        exit_events=EXIT_EVENTS,
                        state=CadenceState.INACTIVE
                        if number % INACTIVE_EVERY == 0
                        else CadenceState.ACTIVE,
                    )
                refs.append(CadenceRef.of(cadence, enrolls=cadence.state == CadenceState.ACTIVE))
        if not any(ref.enrolls for ref in refs):
            raise CommandError("None of the benchmark cadences is Active.")
        return refs

    def _deals(self, count: int, owner_id: int) -> list[RelatedRef]:
        today = timezone.now().date()
        with transaction.atomic():
            opportunities = Opportunity.objects.bulk_create(
                Opportunity(
                    name=f"Benchmark deal {number}",
                    amount=Decimal(1000 * (number % 200 + 1)),
                    close_date=today + dt.timedelta(days=number % 180),
                    created_by_id=owner_id,
                    last_modified_by_id=owner_id,
                )
                for number in range(1, count + 1)
            )
            invoices = Invoice.objects.bulk_create(
                Invoice(
                    document_number=f"BENCH-{number:07d}",
                    status="Posted",
                    total_amount=Decimal(100 * (number % 500 + 1)),
                    created_by_id=owner_id,
                    last_modified_by_id=owner_id,
                )
                for number in range(1, count + 1)
            )
        return [RelatedRef(deal.pk, None, deal.sf_id) for deal in opportunities] + [
            RelatedRef(None, invoice.pk, invoice.sf_id) for invoice in invoices
        ]

    # ---- output

    def _progress(self, what: str, started: float) -> None:
        if self.verbosity >= 2:
            self.stdout.write(f"  {what} after {time.monotonic() - started:.1f} s")

    def _report(self, counts: WriteCounts, targets: int, elapsed: float) -> None:
        rows = counts.rows + targets
        events = f", {counts.change_events:,} change events" if counts.change_events else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {counts.trackers:,} trackers ({counts.active:,} active), "
                f"{counts.step_trackers:,} step trackers{events} and {targets:,} leads and "
                f"contacts in {elapsed:.1f} s on {connection.vendor}: {rows / elapsed:,.0f} rows/s "
                f"({counts.trackers / elapsed:,.0f} trackers/s)."
            )
        )

    def _share(self) -> None:
        """Raw inserts skip the per-tracker sharing hook; sharing rules catch up here."""
        from sharing.services import schedule_recalculation

        how = schedule_recalculation()
        if how == "queued":
            self.stdout.write("Sharing rules exist: their recalculation is queued for a worker.")
