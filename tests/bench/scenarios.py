"""Every benchmark measurement, run through the real stack against one dataset.

Run by ``tests.bench.run`` once per (database, size) as

    DATABASE_URL=... python -m tests.bench.scenarios --size N --out result.json

Pages go through Django's test ``Client`` logged in as the benchmark superuser,
manager or rep; the APIs get a bearer token; the bulk removal goes through the
DRF endpoint and a real ``db_worker --batch`` run, and is then put back as it was,
so a dataset can be reused. Each measurement is timed over repeated runs after a
warm-up (p50 and p95), its queries counted with ``CaptureQueriesContext``, and set
against its lower bound: SQL computing the same answer, run directly through the
driver's cursor and timed the same way.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import django
import django.db.models

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cadence_site.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, override_settings  # noqa: E402

from sharing.models import ActionCadenceTrackerOwnerSharingRule, ApiToken, User, UserRole  # noqa: E402
from trackers.choices import BulkJobStatus  # noqa: E402
from trackers.models import (  # noqa: E402
    ActionCadenceStepTracker,
    ActionCadenceTracker,
    ActionCadenceTrackerChangeEvent,
    BulkJob,
)
from trackers.views.paging import make_cursor  # noqa: E402

T = ActionCadenceTracker._meta.db_table
STEPS = ActionCadenceStepTracker._meta.db_table
SOQL = "/services/data/v62.0/query"
BULK_SIZE = 10_000
EXPORT_ROWS = 100_000
# Each measurement gets about this many seconds of repeated runs (at least MIN_RUNS).
BUDGET_SECONDS = float(os.environ.get("BENCH_BUDGET_SECONDS", "6"))
MIN_RUNS, MAX_RUNS = 5, 20
FALSE = "false" if connection.vendor == "postgresql" else "0"


# --------------------------------------------------------------------------- logins


def prepare_logins() -> None:
    """The dataset's three logins: bench_admin (superuser), bench_manager (the VP role,
    above every benchmark rep) and, chosen when measuring, the rep in the most groups
    that receive sharing rules."""
    if not User.objects.filter(username="bench_admin").exists():
        User.objects.create_superuser("bench_admin", password=None)
    vp = UserRole.objects.get(developer_name="Benchmark_VP")
    User.objects.update_or_create(username="bench_manager", defaults={"role": vp})


def the_rep() -> User:
    receiving = ActionCadenceTrackerOwnerSharingRule.objects.values("share_with_group")
    candidates = (
        User.objects.filter(is_superuser=False, username__startswith="bench_user_")
        .filter(group_memberships__group__in=receiving)
        .annotate(receiving=django.db.models.Count("group_memberships"))
        .order_by("-receiving", "pk")
    )
    rep = candidates.first()
    return rep or User.objects.filter(username__startswith="bench_user_").order_by("pk").first()


# --------------------------------------------------------------------------- timing


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def repeat(call: Callable[[], Any], *, runs: int | None = None, warmup: int = 1) -> dict:
    """p50/p95 in ms and the largest query count over repeated calls."""
    for _ in range(warmup):
        call()
    timings: list[float] = []
    counts: list[int] = []
    deadline = None
    limit = runs or MAX_RUNS
    while len(timings) < limit:
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            call()
            timings.append((time.perf_counter() - started) * 1000)
        counts.append(len(queries.captured_queries))
        if runs is None:
            deadline = deadline or time.perf_counter() + BUDGET_SECONDS
            if len(timings) >= MIN_RUNS and time.perf_counter() > deadline:
                break
    return {
        "p50": statistics.median(timings),
        "p95": percentile(timings, 0.95),
        "queries": max(counts),
        "runs": len(timings),
    }


def raw(sqls: list[tuple[str, list]], **options) -> dict:
    """The lower bound: the statements through the driver's cursor, every row fetched."""

    def call() -> None:
        with connection.cursor() as cursor:
            for sql, params in sqls:
                cursor.execute(sql, params)
                if cursor.description:
                    cursor.fetchall()

    result = repeat(call, **options)
    return {"raw_p50": result["p50"], "raw_p95": result["p95"], "raw_queries": len(sqls)}


def sql_of(queryset) -> tuple[str, list]:
    sql, params = queryset.query.sql_with_params()
    return sql, list(params)


def ok(response, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.content[:500])
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


# --------------------------------------------------------------------------- raw SQL

# What a tracker list row shows: the tracker and its cadence, owner, target and step.
LIST_ROWS = f"""
SELECT t.*, c.sf_id, c.name, u.sf_id, u.username, u.first_name, u.last_name, q.sf_id, q.name,
       l.sf_id, l.first_name, l.last_name, k.sf_id, k.first_name, k.last_name,
       s.sf_id, s.step_title, s.state
FROM {T} t
LEFT JOIN trackers_actioncadence c ON c.id = t.action_cadence_id
LEFT JOIN sharing_user u ON u.id = t.owner_user_id
LEFT JOIN sharing_group q ON q.id = t.owner_queue_id
LEFT JOIN trackers_lead l ON l.id = t.target_lead_id
LEFT JOIN trackers_contact k ON k.id = t.target_contact_id
LEFT JOIN {STEPS} s ON s.id = t.current_step_id
"""

# What an API row or an export row references, by Id.
REFERENCE_IDS = f"""
SELECT t.*, c.sf_id, u.sf_id, q.sf_id, l.sf_id, k.sf_id, s.sf_id, ls.sf_id, r.sf_id,
       o.sf_id, i.sf_id, cb.sf_id, mb.sf_id
FROM {T} t
LEFT JOIN trackers_actioncadence c ON c.id = t.action_cadence_id
LEFT JOIN sharing_user u ON u.id = t.owner_user_id
LEFT JOIN sharing_group q ON q.id = t.owner_queue_id
LEFT JOIN trackers_lead l ON l.id = t.target_lead_id
LEFT JOIN trackers_contact k ON k.id = t.target_contact_id
LEFT JOIN {STEPS} s ON s.id = t.current_step_id
LEFT JOIN {STEPS} ls ON ls.id = t.last_completed_step_id
LEFT JOIN trackers_actioncadencerule r ON r.id = t.exit_global_rule_id
LEFT JOIN trackers_opportunity o ON o.id = t.related_opportunity_id
LEFT JOIN trackers_invoice i ON i.id = t.related_invoice_id
LEFT JOIN sharing_user cb ON cb.id = t.created_by_id
LEFT JOIN sharing_user mb ON mb.id = t.last_modified_by_id
"""


def keys_then_rows(keys_sql: str, params: list, rows_sql: str, order: str) -> Callable[[], None]:
    """A page as the lower bound reads it: its keys, then its rows by those keys."""

    def call() -> None:
        with connection.cursor() as cursor:
            cursor.execute(keys_sql, params)
            keys = [row[0] for row in cursor.fetchall()]
            if keys:
                marks = ",".join(["%s"] * len(keys))
                cursor.execute(f"{rows_sql} WHERE t.id IN ({marks}) ORDER BY {order}", keys)
                cursor.fetchall()

    return call


def raw_call(call: Callable[[], None], **options) -> dict:
    result = repeat(call, **options)
    return {"raw_p50": result["p50"], "raw_p95": result["p95"]}


# --------------------------------------------------------------------------- the run


class Bench:
    def __init__(self, size: int, only: set[str] | None) -> None:
        self.size = size
        self.only = only
        self.rows: list[dict] = []
        self.admin = User.objects.get(username="bench_admin")
        self.manager = User.objects.get(username="bench_manager")
        self.rep = the_rep()
        self.clients = {}
        for who in (self.admin, self.manager, self.rep):
            client = Client()
            client.force_login(who)
            self.clients[who.username] = client
        _token, raw_token = ApiToken.issue(self.admin, name="benchmark")
        self.api = Client(headers={"Authorization": f"Bearer {raw_token}"})

    def record(self, name: str, result: dict, **extra: Any) -> None:
        row = {"name": name, "size": self.size, "database": connection.vendor, **result, **extra}
        if row.get("raw_p50"):
            row["ratio"] = row["p50"] / row["raw_p50"]
        row["loadavg"] = os.getloadavg()[0]
        row["run"] = os.environ.get("BENCH_RUN_LABEL", "")
        self.rows.append(row)
        shown = {k: round(v, 1) if isinstance(v, float) else v for k, v in row.items()}
        print(json.dumps(shown), flush=True)

    def wanted(self, name: str) -> bool:
        return self.only is None or name in self.only

    def page(self, who: User, url: str) -> Callable[[], bytes]:
        client = self.clients[who.username]
        return lambda: ok(client.get(url))

    # ---- the measurements

    def overview(self) -> None:
        since = "now() - interval '30 days'" if FALSE == "false" else "datetime('now', '-30 days')"
        sqls = [
            (
                f"SELECT action_cadence_id, state, COUNT(*) FROM {T} WHERE NOT is_deleted "
                "GROUP BY action_cadence_id, state",
                [],
            ),
            (
                "SELECT action_cadence_id, completion_reason, completion_disposition, COUNT(*) "
                f"FROM {T} WHERE NOT is_deleted AND state = 'Complete' "
                f"AND last_modified_date >= {since} "
                "GROUP BY action_cadence_id, completion_reason, completion_disposition",
                [],
            ),
            ("SELECT id, sf_id, name FROM trackers_actioncadence", []),
        ]
        bound = raw(sqls)
        # As users get it: figures reused for up to CADENCE_OVERVIEW_MAX_AGE (60 s) with
        # their age on the page (the warm-up counts them), then counted on every view.
        result = repeat(self.page(self.admin, "/"))
        self.record(
            "overview (superuser)",
            {**result, **bound},
            detail=f"figures reused up to {settings.CADENCE_OVERVIEW_MAX_AGE} s, age shown",
        )
        counted = repeat(self.page(self.admin, "/?refresh=1"))
        self.record("overview (superuser), counted now", {**counted, **bound}, detail="?refresh=1")
        if self.wanted("overview-manager"):
            self.record("overview (manager)", repeat(self.page(self.manager, "/?refresh=1")))

    def list_pages(self) -> None:
        newest = "t.system_modstamp DESC, t.id DESC"
        keys = (
            f"SELECT t.id, t.system_modstamp FROM {T} t WHERE NOT t.is_deleted "
            f"AND t.state <> 'Processing' ORDER BY {newest} LIMIT 51"
        )
        first = repeat(self.page(self.admin, "/trackers/"))
        bound = raw_call(keys_then_rows(keys, [], LIST_ROWS, newest))
        self.record("list first page (superuser)", {**first, **bound})
        self.superuser_first = first

        # A deep page of a filtered list: half-way through the Complete / No Response rows.
        matching = ActionCadenceTracker.objects.filter(
            state="Complete", completion_disposition="No Response"
        ).order_by("-system_modstamp", "-pk")
        depth = matching.count() // 2
        value, pk = matching.values_list("system_modstamp", "pk")[depth]
        cursor = make_cursor("n", value, pk, 1001)
        url = f"/trackers/?state=Complete&completion_disposition=No+Response&cursor={cursor}"
        deep_keys = (
            f"SELECT t.id, t.system_modstamp FROM {T} t WHERE NOT t.is_deleted "
            "AND t.state = 'Complete' AND t.completion_disposition = 'No Response' "
            "AND (t.system_modstamp, t.id) < (%s, %s) "
            f"ORDER BY {newest} LIMIT 51"
        )
        deep = repeat(self.page(self.admin, url))
        bound = raw_call(keys_then_rows(deep_keys, [value, pk], LIST_ROWS, newest))
        self.record(
            "list deep page, filtered (superuser)", {**deep, **bound}, detail=f"row {depth:,}"
        )
        self.deep_page = deep

    def rep_pages(self) -> None:
        for who, label in ((self.rep, "rep"), (self.manager, "manager")):
            result = repeat(self.page(who, "/trackers/"))
            from sharing.access import visible_q

            keys = (
                ActionCadenceTracker.objects.filter(visible_q(who, "read"))
                .exclude(state="Processing")
                .order_by("-system_modstamp", "-pk")
                .values_list("pk", "system_modstamp")[:51]
            )
            sql, params = sql_of(keys)
            bound = raw_call(
                keys_then_rows(sql, params, LIST_ROWS, "t.system_modstamp DESC, t.id DESC")
            )
            versus = result["p50"] / self.superuser_first["p50"]
            self.record(
                f"list first page ({label})",
                {**result, **bound},
                vs_superuser=versus,
                detail=f"{who.username}; {versus:.2f}x the superuser's page",
            )

    def export(self) -> None:
        newest = ActionCadenceTracker.objects.order_by("-created_date").values_list(
            "created_date", flat=True
        )
        since = newest[min(EXPORT_ROWS, self.size) - 1]
        stamp = since.isoformat().replace("+00:00", "Z")
        url = f"/trackers/export.csv?created_after={stamp}"
        client = self.clients["bench_admin"]
        lines = ok(client.get(url)).count(b"\n") - 1
        # The first export (counting its lines) was the warm-up.
        result = repeat(lambda: ok(client.get(url)), runs=3, warmup=0)
        sql = (
            f"{REFERENCE_IDS} WHERE NOT t.is_deleted AND t.state <> 'Processing' "
            "AND t.created_date >= %s ORDER BY t.id"
        )
        bound = raw([(sql, [since])], runs=3)
        self.record("CSV export", {**result, **bound}, detail=f"{lines:,} rows")

    def soql(self) -> None:
        text = (
            "SELECT Id, ActionCadenceId, OwnerId, TargetId, State, CompletionReason, "
            "CompletionDisposition, LastModifiedDate FROM ActionCadenceTracker "
            "WHERE State = 'Complete'"
        )
        fetch = lambda: ok(self.api.get(SOQL, {"q": text}))  # noqa: E731
        body = json.loads(fetch())
        assert len(body["records"]) == 2000, len(body["records"])
        rows_sql = (
            f"SELECT t.id, t.sf_id, c.sf_id, u.sf_id, q.sf_id, l.sf_id, k.sf_id, t.state, "
            "t.completion_reason, t.completion_disposition, t.last_modified_date "
            f"FROM {T} t "
            "LEFT JOIN trackers_actioncadence c ON c.id = t.action_cadence_id "
            "LEFT JOIN sharing_user u ON u.id = t.owner_user_id "
            "LEFT JOIN sharing_group q ON q.id = t.owner_queue_id "
            "LEFT JOIN trackers_lead l ON l.id = t.target_lead_id "
            "LEFT JOIN trackers_contact k ON k.id = t.target_contact_id "
            f"WHERE NOT t.is_deleted AND t.state = 'Complete' ORDER BY t.id LIMIT 2000"
        )
        count_sql = f"SELECT COUNT(*) FROM {T} WHERE NOT is_deleted AND state = 'Complete'"
        bound = raw([(rows_sql, []), (count_sql, [])])
        self.record(
            "SOQL batch of 2,000",
            {**repeat(fetch), **bound},
            detail=f"totalSize {body['totalSize']:,}",
        )

        group = "SELECT State, COUNT(Id) FROM ActionCadenceTracker GROUP BY State"
        fetch = lambda: ok(self.api.get(SOQL, {"q": group}))  # noqa: E731
        sql = f"SELECT state, COUNT(id) FROM {T} WHERE NOT is_deleted GROUP BY state"
        self.record("SOQL GROUP BY State", {**repeat(fetch), **raw([(sql, [])])})

    def drf(self) -> None:
        fetch = lambda: ok(self.api.get("/api/trackers/?page_size=200"))  # noqa: E731
        newest = "t.created_date DESC, t.id DESC"
        keys = f"SELECT t.id FROM {T} t WHERE NOT t.is_deleted ORDER BY {newest} LIMIT 201"
        result = repeat(fetch)
        bound = raw_call(keys_then_rows(keys, [], REFERENCE_IDS, newest))
        self.record("DRF page of 200", {**result, **bound})
        self.drf_page = result

    def stock(self) -> None:
        """The stock admin changelist and a plain ModelViewSet, first and deep pages."""
        admin_client = self.clients["bench_admin"]
        User.objects.filter(pk=self.admin.pk).update(is_staff=True)
        url = "/stock-admin/trackers/actioncadencetracker/"
        first = repeat(lambda: ok(admin_client.get(url)))
        count = f"SELECT COUNT(*) FROM {T} WHERE NOT is_deleted"
        page_sql = f"SELECT * FROM {T} WHERE NOT is_deleted ORDER BY id DESC LIMIT 100"
        self.record(
            "stock admin changelist, first page",
            {**first, **raw([(count, []), (count, []), (page_sql, [])])},
            vs_ours=first["p50"] / self.superuser_first["p50"],
        )
        deep_page = max(1, self.size // 100 // 2)
        deep = repeat(lambda: ok(admin_client.get(f"{url}?p={deep_page}")))
        self.record(
            "stock admin changelist, deep page",
            deep,
            detail=f"?p={deep_page:,}",
            vs_ours=deep["p50"] / self.deep_page["p50"],
        )
        plain = repeat(lambda: ok(self.api.get("/stock-api/trackers/")))
        self.record(
            "plain DRF ModelViewSet, 200 rows",
            plain,
            vs_ours=plain["p50"] / self.drf_page["p50"],
        )
        deep_number = max(1, self.size // 200 // 2)
        plain_deep = repeat(lambda: ok(self.api.get(f"/stock-api/trackers/?page={deep_number}")))
        self.record(
            "plain DRF ModelViewSet, deep page",
            plain_deep,
            detail=f"?page={deep_number:,}",
            vs_ours=plain_deep["p50"] / self.drf_page["p50"],
        )

    def bulk_removal(self) -> None:
        """10,000 trackers removed through the API and a real worker, then put back."""
        picked = list(
            ActionCadenceTracker.objects.filter(state="Running")
            .order_by("pk")
            .values_list("pk", "sf_id")[:BULK_SIZE]
        )
        timings, counts = [], []
        for _run in range(3):
            chunk = picked  # the same trackers each run: the snapshot puts them back
            ids = [pk for pk, _sf in chunk]
            with snapshot(ids):
                with CaptureQueriesContext(connection) as queries:
                    started = time.perf_counter()
                    response = self.api.post(
                        "/api/trackers/bulk-remove/",
                        {"ids": [sf for _pk, sf in chunk], "completion_disposition": "No Response"},
                        content_type="application/json",
                    )
                    ok(response, 202)
                    call_command(
                        "db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0
                    )
                    timings.append((time.perf_counter() - started) * 1000)
                counts.append(len(queries.captured_queries))
                job = BulkJob.objects.get(pk=json.loads(response.content)["id"])
                assert job.status == BulkJobStatus.DONE and job.succeeded == len(chunk), job
        raw_times = []
        for _run in range(3):
            ids = [pk for pk, _sf in picked]
            with snapshot(ids):
                started = time.perf_counter()
                raw_removal(ids)
                raw_times.append((time.perf_counter() - started) * 1000)
        self.record(
            "bulk removal of 10,000 (API + worker)",
            {
                "p50": statistics.median(timings),
                "p95": max(timings),
                "queries": max(counts),
                "runs": len(timings),
                "raw_p50": statistics.median(raw_times),
                "raw_p95": max(raw_times),
            },
        )

    def run(self) -> list[dict]:
        steps = [
            ("overview", self.overview),
            ("list", self.list_pages),
            ("rep", self.rep_pages),
            ("export", self.export),
            ("soql", self.soql),
            ("drf", self.drf),
            ("stock", self.stock),
            ("bulk", self.bulk_removal),
        ]
        for name, step in steps:
            if self.wanted(name) or (name == "list" and self.wanted("rep")):
                step()
        return self.rows


# --------------------------------------------------------------------------- bulk helpers

SNAP_T = "bench_snapshot_tracker"
SNAP_S = "bench_snapshot_step"
TRACKER_COLUMNS = (
    "state",
    "completion_reason",
    "completion_disposition",
    "current_step_id",
    "scheduled_resume_date_time",
    "prior_state",
    "bulk_job_id",
    "last_modified_date",
    "last_modified_by_id",
    "system_modstamp",
)
STEP_COLUMNS = (
    "state",
    "completion_reason",
    "completion_date",
    "completed_by_id",
    "last_modified_date",
    "last_modified_by_id",
    "system_modstamp",
)


class snapshot:
    """Copy the trackers and their open steps aside, and put them back afterwards: the
    removal benchmark must leave the dataset as it found it."""

    def __init__(self, ids: list[int]) -> None:
        self.ids = ids

    def __enter__(self) -> None:
        marks = ",".join(str(int(pk)) for pk in self.ids)
        self.last_event = (
            ActionCadenceTrackerChangeEvent.objects.order_by("-replay_id")
            .values_list("replay_id", flat=True)
            .first()
            or 0
        )
        self.last_job = BulkJob.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        with transaction.atomic(), connection.cursor() as cursor:
            for table in (SNAP_T, SNAP_S):
                cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.execute(
                f"CREATE TABLE {SNAP_T} AS SELECT id, {', '.join(TRACKER_COLUMNS)} FROM {T} "
                f"WHERE id IN ({marks})"
            )
            cursor.execute(
                f"CREATE TABLE {SNAP_S} AS SELECT id, {', '.join(STEP_COLUMNS)} FROM {STEPS} "
                f"WHERE action_cadence_tracker_id IN ({marks}) "
                "AND state IN ('Active', 'InProgress', 'Queued', 'Scheduled', 'Paused')"
            )
            # Putting rows back looks each one up by id: without these, every row would
            # scan the whole snapshot.
            for table in (SNAP_T, SNAP_S):
                cursor.execute(f"CREATE UNIQUE INDEX {table}_id ON {table} (id)")

    def __exit__(self, *exc: Any) -> None:
        def put_back(table: str, snap: str, columns: tuple[str, ...]) -> str:
            names = ", ".join(columns)
            picked = ", ".join(f"s.{name}" for name in columns)
            return (
                f"UPDATE {table} SET ({names}) = (SELECT {picked} FROM {snap} s "
                f"WHERE s.id = {table}.id) WHERE id IN (SELECT id FROM {snap})"
            )

        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(put_back(STEPS, SNAP_S, STEP_COLUMNS))
            cursor.execute(put_back(T, SNAP_T, TRACKER_COLUMNS))
            ActionCadenceTrackerChangeEvent.objects.filter(replay_id__gt=self.last_event).delete()
            BulkJob.objects.filter(pk__gt=self.last_job).delete()
            for table in (SNAP_T, SNAP_S):
                cursor.execute(f"DROP TABLE {table}")


def raw_removal(ids: list[int]) -> None:
    """The least a removal must write: open steps Cancelled, trackers Complete, and one
    change event per tracker, in one transaction."""
    marks = ",".join(str(int(pk)) for pk in ids)
    now = "now()" if connection.vendor == "postgresql" else "strftime('%Y-%m-%d %H:%M:%f', 'now')"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {STEPS} SET state = 'Cancelled', completion_date = {now}, "
            f"last_modified_date = {now}, system_modstamp = {now} "
            f"WHERE action_cadence_tracker_id IN ({marks}) "
            "AND state IN ('Active', 'InProgress', 'Queued', 'Scheduled', 'Paused')"
        )
        cursor.execute(
            f"UPDATE {T} SET state = 'Complete', completion_reason = 'ManuallyRemoved', "
            "completion_disposition = 'No Response', current_step_id = NULL, "
            f"last_modified_date = {now}, system_modstamp = {now} WHERE id IN ({marks})"
        )
        events = ActionCadenceTrackerChangeEvent._meta.db_table
        values = "'{}'" if connection.vendor == "sqlite" else "'{}'::jsonb"
        changed = "'[]'" if connection.vendor == "sqlite" else "'[]'::jsonb"
        cursor.execute(
            f"INSERT INTO {events} (tracker_id, record_id, change_type, changed_fields, "
            '"values", commit_timestamp, commit_user_sf_id, transaction_key, '
            "sequence_number, change_origin, created_at) "
            f"SELECT id, sf_id, 'UPDATE', {changed}, {values}, 0, '', 'bench-raw-' || id, 1, "
            f"'bench', {now} FROM {T} WHERE id IN ({marks})"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--only", default="", help="Comma-separated steps (default: all).")
    args = parser.parse_args()
    only = {name for name in args.only.split(",") if name} or None
    with override_settings(ROOT_URLCONF="tests.bench.stock"):
        rows = Bench(args.size, only).run()
    with open(args.out, "w") as out:
        json.dump(rows, out, indent=1, default=str)


if __name__ == "__main__":
    sys.exit(main())
