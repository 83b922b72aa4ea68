"""Sharing at scale (issue: 1,000 users, 200 groups, 50 rules, 1,000,000 trackers).

Measures a rep's first page of trackers against a superuser's, and a full rule
recalculation after a rule change. A benchmark, not a test: run it by hand on a
database made for it, e.g.

    DATABASE_URL=sqlite:////tmp/bench.sqlite3 .venv/bin/python manage.py migrate
    DATABASE_URL=sqlite:////tmp/bench.sqlite3 .venv/bin/python manage.py \\
        generate_trackers --trackers 1000000 --active 150000 --users 1000
    DATABASE_URL=sqlite:////tmp/bench.sqlite3 .venv/bin/python -m tests.bench.sharing_scale
"""

from __future__ import annotations

import os
import random
import statistics
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cadence_site.settings")
django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from sharing import recalc  # noqa: E402
from sharing.bulk import build_groups_and_rules  # noqa: E402
from sharing.models import (  # noqa: E402
    ActionCadenceTrackerOwnerSharingRule,
    ActionCadenceTrackerShare,
    Group,
    User,
)
from trackers.models import ActionCadenceTracker  # noqa: E402

GROUPS, RULES, PAGE = 200, 50, 50


def build_sharing(rng: random.Random) -> None:
    users = list(User.objects.filter(is_superuser=False).values_list("pk", flat=True))
    build_groups_and_rules(users, groups=GROUPS, rules=RULES, rng=rng)


def first_page(user) -> tuple[float, int]:
    """A list page as the dashboard and the API build it: the page's keys from the
    tracker table alone, then those rows with their related records."""
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        newest = ("-last_modified_date", "-pk")
        keys = list(
            ActionCadenceTracker.objects.visible_to(user)
            .order_by(*newest)
            .values_list("pk", flat=True)[:PAGE]
        )
        rows = list(
            ActionCadenceTracker.objects.filter(pk__in=keys).with_related().order_by(*newest)
        )
    assert rows, f"{user} sees nothing"
    return (time.perf_counter() - started) * 1000, len(queries.captured_queries)


def measure(user, runs: int = 30) -> tuple[float, float, int]:
    first_page(user)  # warm: permissions and the org graph
    timings, counts = [], set()
    for _ in range(runs):
        ms, count = first_page(user)
        timings.append(ms)
        counts.add(count)
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.95) - 1], max(counts)


def main() -> None:
    rng = random.Random(7)
    total = ActionCadenceTracker.all_objects.count()
    build_sharing(rng)
    started = time.perf_counter()
    totals = recalc.recalculate_rules()
    first_recalc = time.perf_counter() - started
    rule = ActionCadenceTrackerOwnerSharingRule.objects.order_by("pk").first()
    rule.group = Group.objects.get(developer_name="Bench_G150")
    rule.save()
    started = time.perf_counter()
    changed = recalc.recalculate_rules([rule.pk])
    one_rule = time.perf_counter() - started
    started = time.perf_counter()
    again = recalc.recalculate_rules()
    idle = time.perf_counter() - started

    superuser = User.objects.filter(is_superuser=True).first() or User.objects.create_superuser(
        "bench_admin", password=None
    )
    # The rep in the most groups receiving rules: the hardest ordinary case.
    receiving = set(
        ActionCadenceTrackerOwnerSharingRule.objects.values_list("share_with_group", flat=True)
    )
    rep = (
        User.objects.filter(is_superuser=False, group_memberships__group__in=receiving)
        .order_by("?")
        .first()
    )
    sup = measure(superuser)
    mine = measure(rep)
    shares = ActionCadenceTrackerShare.objects.count()
    print(f"database: {connection.vendor}; trackers: {total:,}; share rows: {shares:,}")
    print(f"users {User.objects.count():,}, groups {Group.objects.count():,}, rules {RULES}")
    print(f"full recalculation from nothing: {first_recalc:.1f} s {totals}")
    print(f"one rule's source group changed: {one_rule:.2f} s {changed}")
    print(f"recalculation with nothing to do: {idle:.2f} s {again}")
    print(f"superuser first page: p50 {sup[0]:.1f} ms, p95 {sup[1]:.1f} ms, {sup[2]} queries")
    print(f"rep first page:       p50 {mine[0]:.1f} ms, p95 {mine[1]:.1f} ms, {mine[2]} queries")
    print(f"rep / superuser (p50): {mine[0] / sup[0]:.2f}x")


if __name__ == "__main__":
    main()
