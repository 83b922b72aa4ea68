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

from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from sharing import recalc  # noqa: E402
from sharing.models import (  # noqa: E402
    ActionCadenceTrackerOwnerSharingRule,
    ActionCadenceTrackerShare,
    Group,
    GroupMember,
    Organization,
    User,
)
from trackers.models import ActionCadenceTracker  # noqa: E402

GROUPS, RULES, PAGE = 200, 50, 50


def build_sharing(rng: random.Random) -> None:
    if Group.objects.filter(developer_name__startswith="Bench_").exists():
        return
    users = list(User.objects.filter(is_superuser=False).values_list("pk", flat=True))
    with transaction.atomic():
        groups = Group.objects.bulk_create(
            Group(name=f"Bench {n}", developer_name=f"Bench_{n}") for n in range(GROUPS)
        )
        members = []
        for index, group in enumerate(groups):
            members += [GroupMember(group=group, member_user_id=pk) for pk in rng.sample(users, 5)]
            if index % 10 == 9:  # some nesting
                members.append(GroupMember(group=group, member_group=groups[index - 1]))
        GroupMember.objects.bulk_create(members)
        ActionCadenceTrackerOwnerSharingRule.objects.bulk_create(
            ActionCadenceTrackerOwnerSharingRule(
                name=f"Bench rule {n}",
                developer_name=f"Bench_rule_{n}",
                group=groups[n],
                share_with_group=groups[GROUPS - 1 - n],
                access_level="Read",
            )
            for n in range(RULES)
        )
        # Bulk writes skip the signals: say the org graph changed.
        Organization.bump_sharing_version()


def first_page(user) -> tuple[float, int]:
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        rows = list(
            ActionCadenceTracker.objects.visible_to(user)
            .with_related()
            .order_by("-last_modified_date", "-pk")[:PAGE]
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
    rule.group = Group.objects.get(developer_name="Bench_150")
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
