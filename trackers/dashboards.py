"""The figures behind the dashboards: a few GROUP BY queries over a visible tracker set.

Every function takes a queryset that has already been through the sharing
chokepoint (``ActionCadenceTracker.objects.visible_to(user, "read")``) and
answers in a fixed number of queries, however many trackers or cadences there
are. Processing trackers are left out by default, as the seed recommends:
Salesforce is still changing their state, so counting them would show a
figure that is about to move.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from trackers.choices import (
    ACTIVE_STATES,
    OPEN_STEP_STATES,
    CompletionDisposition,
    CompletionReason,
    StepTrackerState,
    StepType,
    TrackerState,
)
from trackers.models import ActionCadence, ActionCadenceStep, ActionCadenceStepTracker

PERIOD_DAYS = (7, 30, 90)
DEFAULT_PERIOD_DAYS = 30
NO_DISPOSITION = "(none)"
# Lists count this far and then say "1,000+": a COUNT(*) of a million rows on every
# page is what makes deep lists slow.
COUNT_CAP = 1000


def dashboard_trackers(visible: QuerySet, *, include_processing: bool) -> QuerySet:
    """The trackers a dashboard counts: the visible ones, less Processing unless asked."""
    if include_processing:
        return visible
    return visible.exclude(state=TrackerState.PROCESSING)


def parse_period(value: object) -> int:
    try:
        days = int(value)
    except (TypeError, ValueError):
        return DEFAULT_PERIOD_DAYS
    return days if days in PERIOD_DAYS else DEFAULT_PERIOD_DAYS


@dataclass
class CadenceRow:
    cadence_id: int
    sf_id: str
    name: str
    active: int = 0
    completed: int = 0
    successes: int = 0

    @property
    def success_rate(self) -> float | None:
        """Success dispositions over completions; None when nothing completed."""
        return self.successes / self.completed if self.completed else None


@dataclass
class Overview:
    period_days: int
    since: dt.datetime
    include_processing: bool
    limit: int
    by_state: list[tuple[str, int]]
    processing_hidden: int
    by_reason: list[tuple[str, int]]
    by_disposition: list[tuple[str, int]]
    cadences: list[CadenceRow] = field(default_factory=list)
    # When the figures were counted: a cached Overview shows its age (overview_as_of).
    computed_at: dt.datetime | None = None

    @property
    def active(self) -> int:
        return sum(count for state, count in self.by_state if state in ACTIVE_STATES)

    @property
    def total(self) -> int:
        return sum(count for _state, count in self.by_state)

    @property
    def completed_in_period(self) -> int:
        return sum(count for _reason, count in self.by_reason)

    @property
    def successes_in_period(self) -> int:
        return dict(self.by_disposition).get(CompletionDisposition.SUCCESS.value, 0)

    @property
    def success_rate(self) -> float | None:
        completed = self.completed_in_period
        return self.successes_in_period / completed if completed else None

    @property
    def limit_used(self) -> float:
        return self.active / self.limit if self.limit else 0.0


def overview(
    visible: QuerySet,
    *,
    period_days: int = DEFAULT_PERIOD_DAYS,
    include_processing: bool = False,
    now: dt.datetime | None = None,
) -> Overview:
    """The Overview page's figures: two GROUP BYs over the visible trackers.

    The first counts trackers by (cadence, State), the second the period's completions
    by (cadence, CompletionReason, CompletionDisposition); every figure adds up from
    those few hundred groups, however many trackers there are. Both group by plain
    columns, so PostgreSQL hashes them in one pass (grouping by a computed "in the
    period" column made it sort a million rows on disk). A completion belongs to the
    period by its completion time, the LastModifiedDate of a Complete tracker (nothing
    changes a tracker after it completes but deletion, and deleted trackers are not
    counted). A third, tiny query names the cadences.
    """
    now = now or timezone.now()
    since = now - dt.timedelta(days=period_days)
    by_cadence_and_state = (
        visible.order_by().values_list("action_cadence_id", "state").annotate(n=Count("*"))
    )
    completions = (
        visible.filter(state=TrackerState.COMPLETE, last_modified_date__gte=since)
        .order_by()
        .values_list("action_cadence_id", "completion_reason", "completion_disposition")
        # COUNT(*), not COUNT(id): the covering indexes hold no id, so counting ids would
        # read every row from the table instead of the index alone.
        .annotate(n=Count("*"))
    )
    states: Counter[str] = Counter()
    active: Counter[int] = Counter()
    for cadence_id, state, count in by_cadence_and_state:
        # Processing is counted by State even when hidden, so the note can say how many
        # were left out; every other figure leaves it out unless asked.
        states[state] += count
        if state in ACTIVE_STATES and (include_processing or state != TrackerState.PROCESSING):
            active[cadence_id] += count
    reasons: Counter[str] = Counter()
    dispositions: Counter[str] = Counter()
    completed: Counter[int] = Counter()
    successes: Counter[int] = Counter()
    for cadence_id, reason, disposition, count in completions:
        reasons[reason] += count
        dispositions[disposition or NO_DISPOSITION] += count
        completed[cadence_id] += count
        if disposition == CompletionDisposition.SUCCESS:
            successes[cadence_id] += count
    cadence_ids = {pk for pk in (*active, *completed) if pk is not None}
    cadences = [
        CadenceRow(pk, sf_id, name, active[pk], completed[pk], successes[pk])
        for pk, sf_id, name in ActionCadence.objects.filter(pk__in=cadence_ids).values_list(
            "pk", "sf_id", "name"
        )
    ]
    return Overview(
        period_days=period_days,
        since=since,
        include_processing=include_processing,
        limit=settings.CADENCE_ACTIVE_TRACKER_LIMIT,
        by_state=[
            (state.value, states[state.value])
            for state in TrackerState
            if include_processing or state != TrackerState.PROCESSING
        ],
        processing_hidden=0 if include_processing else states[TrackerState.PROCESSING.value],
        by_reason=_in_picklist_order(reasons, [str(value) for value in CompletionReason]),
        by_disposition=_in_picklist_order(
            dispositions, [*(str(value) for value in CompletionDisposition), NO_DISPOSITION]
        ),
        cadences=sorted(cadences, key=lambda row: (-row.active, row.name.lower())),
        computed_at=now,
    )


def overview_as_of(
    visible: QuerySet,
    *,
    period_days: int = DEFAULT_PERIOD_DAYS,
    include_processing: bool = False,
    max_age: int = 0,
    refresh: bool = False,
) -> Overview:
    """``overview``, reused for up to ``max_age`` seconds; the page shows how old it is
    and offers a refresh, as a Salesforce dashboard does.

    Counting a million trackers costs a few hundred milliseconds however it is done
    (BENCHMARKS.md); a figure that shows its age may be that old. Only for a visible
    set that cannot shrink under the user (the view passes ``max_age`` only to those
    who see every tracker): the key is the set's SQL, so it is shared by every
    administrator. The cache is Django's default (per process, unless CACHES names a
    shared one).
    """
    if max_age <= 0:
        return overview(visible, period_days=period_days, include_processing=include_processing)
    try:
        sql, params = visible.query.sql_with_params()
    except EmptyResultSet:
        sql, params = "nothing", ()
    digest = hashlib.sha256(repr((sql, params, period_days, include_processing)).encode())
    key = f"overview:{digest.hexdigest()}"
    if not refresh:
        cached = cache.get(key)
        if cached is not None:
            return cached
    figures = overview(visible, period_days=period_days, include_processing=include_processing)
    cache.set(key, figures, timeout=max_age)
    return figures


def _in_picklist_order(counts: Counter[str], order: list[str]) -> list[tuple[str, int]]:
    """Known values in picklist order, then any others (imports keep unknown dispositions)."""
    known = [(value, counts[value]) for value in order if counts.get(value)]
    others = sorted((value, n) for value, n in counts.items() if value not in order and n)
    return known + others


def processing_count(visible: QuerySet, cap: int) -> int:
    """How many visible trackers are Processing, counted no further than ``cap + 1``."""
    return capped_count(visible.filter(state=TrackerState.PROCESSING), cap)


def capped_count(queryset: QuerySet, cap: int) -> int:
    """COUNT over at most ``cap + 1`` rows: a page can say "1,000+" without a full scan."""
    return queryset.order_by()[: cap + 1].count()


# --------------------------------------------------------------------------- cadences


@dataclass
class CadenceSummary:
    cadence: ActionCadence
    steps: int
    active: int = 0
    total: int = 0


def cadence_index(visible: QuerySet) -> list[CadenceSummary]:
    """Every cadence with its step count and the visible trackers on it: two queries."""
    counts = {
        row["action_cadence_id"]: row
        for row in visible.filter(action_cadence__isnull=False)
        .order_by()
        .values("action_cadence_id")
        .annotate(active=Count("pk", filter=Q(state__in=ACTIVE_STATES)), total=Count("pk"))
    }
    cadences = ActionCadence.objects.annotate(
        step_count=Count("steps", filter=~Q(steps__type=StepType.ROOT))
    ).order_by("name")
    summaries = []
    for cadence in cadences:
        row = counts.get(cadence.pk, {})
        summaries.append(
            CadenceSummary(
                cadence=cadence,
                steps=cadence.step_count,
                active=row.get("active", 0),
                total=row.get("total", 0),
            )
        )
    return summaries


@dataclass
class FunnelStep:
    step: ActionCadenceStep
    depth: int
    reached: int = 0
    completed: int = 0
    current: int = 0
    share_of_first: float | None = None


def ordered_steps(steps: list[ActionCadenceStep]) -> list[tuple[ActionCadenceStep, int]]:
    """Steps in the order a target meets them (depth-first from Root), with their depth.

    Depth grows only where a step has several children (a branch), so a straight path
    reads as a list. Steps whose parent is missing (a broken tree) come last at depth 0,
    so none is hidden.
    """
    children: dict[str, list[ActionCadenceStep]] = {}
    for step in steps:
        children.setdefault(step.parent_step_name, []).append(step)
    for siblings in children.values():
        siblings.sort(key=lambda step: (step.sort_order, step.step_name))
    ordered: list[tuple[ActionCadenceStep, int]] = []
    seen: set[int] = set()

    def walk(parent: str, depth: int) -> None:
        siblings = children.get(parent, [])
        depth += len(siblings) > 1
        for step in siblings:
            if step.pk in seen:
                continue
            seen.add(step.pk)
            ordered.append((step, depth))
            walk(step.step_name, depth)

    roots = [step for step in steps if not step.parent_step_name]
    for root in sorted(roots, key=lambda step: (step.type != StepType.ROOT, step.sort_order)):
        if root.pk not in seen:
            seen.add(root.pk)
            ordered.append((root, 0))
            walk(root.step_name, 0)
    ordered += [(step, 0) for step in steps if step.pk not in seen]
    return ordered


def step_funnel(cadence: ActionCadence, visible: QuerySet) -> list[FunnelStep]:
    """Per step: step trackers that reached it, completed it, and sit on it now.

    Two queries: the steps, and the step trackers of visible trackers grouped by step.
    """
    steps = list(ActionCadenceStep.objects.filter(action_cadence=cadence))
    counts = {
        row["action_cadence_step_id"]: row
        for row in ActionCadenceStepTracker.objects.filter(
            action_cadence=cadence, action_cadence_tracker__in=visible.values("pk")
        )
        .order_by()
        .values("action_cadence_step_id")
        .annotate(
            reached=Count("pk"),
            completed=Count("pk", filter=Q(state=StepTrackerState.COMPLETED)),
            current=Count("pk", filter=Q(state__in=OPEN_STEP_STATES)),
        )
    }
    funnel = []
    first_reached = None
    for step, depth in ordered_steps(steps):
        row = counts.get(step.pk, {})
        item = FunnelStep(
            step=step,
            depth=depth,
            reached=row.get("reached", 0),
            completed=row.get("completed", 0),
            current=row.get("current", 0),
        )
        if step.type != StepType.ROOT:
            if first_reached is None:
                first_reached = item.reached
            item.share_of_first = item.reached / first_reached if first_reached else None
        funnel.append(item)
    return funnel
