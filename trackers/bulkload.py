"""Fast bulk writes for scale data: precomputed rows straight into the tables.

Saving through the ORM costs tens of microseconds a row, minutes for a million.
Here rows are plain tuples in the column order a ``TableWriter`` announces, sent
with ``executemany`` (SQLite) or PostgreSQL's ``COPY`` (psycopg 3); columns the
database computes itself (``IsTrackerActive``) are left out. ``bulk_load`` wraps
a big load in one transaction with the indexes built at the end, and
``BulkTrackerWriter`` makes realistic trackers that keep every invariant the
lifecycle keeps. ``seed_demo`` uses them. ``DatabaseLoad`` (``generate_trackers``)
goes further: the database makes the rows itself, with no row passing through Python.

Ids are 18-character Salesforce ids (3-character prefix, 12 base-62 characters,
case-safe suffix), made a whole batch at once and ascending, as Salesforce's are.
"""

from __future__ import annotations

import bisect
import datetime as dt
import enum
import itertools
import json
import math
import os
import random
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.db.models.fields import AutoFieldMixin

from cadence_site import registry, sfid
from trackers.choices import (
    ACTIVE_STATES,
    ChangeType,
    CompletionDisposition,
    CompletionReason,
    RelatedToAttributionType,
    RuleType,
    StepTrackerState,
    StepType,
    TrackerState,
)
from trackers.models import (
    ActionCadence,
    ActionCadenceStepTracker,
    ActionCadenceTracker,
    ActionCadenceTrackerChangeEvent,
)

# 1 marks an upper-case letter and 0 anything else: the checksum's input.
_UPPER_FLAG = bytes(ord("1") if ord("A") <= value <= ord("Z") else ord("0") for value in range(256))
# Five flags of one block (first character first) -> its suffix character.
_SUFFIX_FOR_FLAGS = {format(bits, "05b")[::-1]: sfid.SUFFIX_ALPHABET[bits] for bits in range(32)}


# Bulk ids count upwards, as Salesforce's own do (a pod prefix, then a sequence): a
# load appends to the sf_id index instead of scattering random keys through it,
# which on SQLite (whose inline UNIQUE index stays during a load) is most of the
# insert time. Each process draws a random 4-character "pod" and a random start,
# so ids from two loads (or from ``sfid.generate``'s random ones) never meet in
# practice: 62**4 pods times 62**8 sequence numbers.
_POD_CHARS = 4
_SEQUENCE_CHARS = 8
_LOW_CHARS = 3  # the sequence's last three characters come from a table
_LOW_SPAN = 62**_LOW_CHARS
_LOW_TABLE: list[str] = []
_sequences: dict[str, Iterator[int]] = {}
_pods: dict[str, str] = {}


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(sfid.BASE62[digit])
    return "".join(reversed(digits))


def new_sf_ids(prefix: str, count: int) -> list[str]:
    """``count`` fresh 18-character ids with this key prefix, ascending within a
    process (never seeded: always unique)."""
    if not _LOW_TABLE:
        _LOW_TABLE.extend(_base62(number, _LOW_CHARS) for number in range(_LOW_SPAN))
    if prefix not in _sequences:
        _pods[prefix] = _base62(int.from_bytes(os.urandom(4)) % 62**_POD_CHARS, _POD_CHARS)
        # Start in the lower half, so a process never runs out of sequence numbers.
        start = int.from_bytes(os.urandom(8)) % (62**_SEQUENCE_CHARS // 2)
        _sequences[prefix] = itertools.count(start)
    sequence = _sequences[prefix]
    first = next(sequence)
    for _ in range(count - 1):
        next(sequence)
    head = prefix + _pods[prefix]
    low_table = _LOW_TABLE
    high_width = _SEQUENCE_CHARS - _LOW_CHARS
    bodies = []
    number, end = first, first + count
    while number < end:
        high, low = divmod(number, _LOW_SPAN)
        stop = min(end, (high + 1) * _LOW_SPAN)
        start_of_block = head + _base62(high, high_width)
        bodies.extend(start_of_block + chunk for chunk in low_table[low : low + stop - number])
        number = stop
    text = "".join(bodies).encode("ascii")
    flags = text.translate(_UPPER_FLAG).decode("ascii")
    suffix = _SUFFIX_FOR_FLAGS
    ids = []
    for index, body in enumerate(bodies):
        block = flags[index * 15 : index * 15 + 15]
        ids.append(body + suffix[block[:5]] + suffix[block[5:10]] + suffix[block[10:]])
    return ids


class TimestampFormatter:
    """Epoch seconds -> the text the database takes for a timestamp column, fast.

    Day and time-of-day strings are precomputed once, so a million timestamps cost
    two list look-ups each. SQLite stores Django's naive UTC text; PostgreSQL gets
    an explicit UTC offset.
    """

    def __init__(self, first: dt.datetime, last: dt.datetime) -> None:
        midnight = first.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        self.origin = int(midnight.timestamp())
        days = (int(last.timestamp()) - self.origin) // 86400 + 1
        self._days = [
            (midnight + dt.timedelta(days=offset)).strftime("%Y-%m-%d ") for offset in range(days)
        ]
        zone = "" if connection.vendor == "sqlite" else "+00"
        self._times = [
            f"{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}{zone}"
            for second in range(86400)
        ]

    def __call__(self, epoch: int) -> str:
        day, second = divmod(epoch - self.origin, 86400)
        return self._days[day] + self._times[second]


class TableWriter:
    """Inserts tuples into one model's table, in ``columns`` order.

    Columns the caller does not give get the field's default, computed once, so a
    field added to the model later with a default does not break the writer.
    """

    def __init__(self, model: type[models.Model], columns: Sequence[str]) -> None:
        self.table = model._meta.db_table
        fields = {field.column: field for field in model._meta.concrete_fields}
        unknown = set(columns) - set(fields)
        if unknown:
            raise ValueError(f"{model.__name__} has no columns {sorted(unknown)}")
        # Left to the database: generated columns and an auto-incremented key not given.
        extra_fields = [
            field
            for column, field in fields.items()
            if column not in columns
            and not field.generated
            and not isinstance(field, AutoFieldMixin)
        ]
        self.extra = tuple(_database_default(field) for field in extra_fields)
        self.columns = [*columns, *(field.column for field in extra_fields)]

    def write(self, rows: Iterable[tuple]) -> int:
        extra = self.extra
        rows = [row + extra for row in rows] if extra else list(rows)
        if not rows:
            return 0
        quote = connection.ops.quote_name
        names = ", ".join(quote(column) for column in self.columns)
        # The driver's own cursor, its errors turned into Django's as a Django cursor's
        # are (a lost connection is then a 503, and Django drops the connection).
        with connection.cursor() as cursor, connection.wrap_database_errors:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {quote(self.table)} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                placeholders = ", ".join(["%s"] * len(self.columns))
                # The driver's own cursor: Django's debug wrapper would keep every row.
                cursor.cursor.executemany(
                    f"INSERT INTO {quote(self.table)} ({names}) VALUES ({placeholders})", rows
                )
        return len(rows)


def _database_default(field: models.Field) -> Any:
    if field.has_default():
        return field.get_db_prep_save(field.get_default(), connection)
    if field.null:
        return None
    raise ValueError(
        f"{field.model.__name__}.{field.name} has no default; the bulk loader must set it."
    )


def next_id(model: type[models.Model]) -> int:
    """The first primary key free for explicit keys: one past the current maximum.

    Explicit keys let a batch refer to rows of another table it writes in the same
    transaction (a tracker and its current step tracker point at each other). They
    assume no other writer adds rows meanwhile.
    """
    pk = model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT MAX({connection.ops.quote_name(pk)}) "
            f"FROM {connection.ops.quote_name(model._meta.db_table)}"
        )
        (highest,) = cursor.fetchone()
    return (highest or 0) + 1


def reset_sequences(*model_classes: type[models.Model]) -> None:
    """After explicit keys, move PostgreSQL's identity sequences past them (SQLite's
    AUTOINCREMENT follows by itself)."""
    statements = connection.ops.sequence_reset_sql(no_style(), list(model_classes))
    if statements:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)


@contextmanager
def bulk_load(
    *model_classes: type[models.Model],
    rebuild_indexes: bool = True,
    also_checked: Sequence[type[models.Model]] = (),
) -> Iterator[None]:
    """One transaction for a big load into these tables: all of it or none of it.

    With ``rebuild_indexes``, the tables' secondary indexes (and, on PostgreSQL, their
    unique and foreign key constraints) are dropped for the load and built again from their exact
    definitions before commit: building an index once is several times faster than
    growing it row by row. DDL is transactional on SQLite and PostgreSQL, so a
    failure puts everything back, and the rebuild re-checks every (partial) unique
    index and foreign key over the new rows. SQLite checks foreign keys with
    ``PRAGMA foreign_key_check`` instead, since its deferred checks would scan the
    unindexed tables once per row. SQLite readers keep seeing the tables as they
    were; PostgreSQL keeps them locked until commit, so this is for a quiet database.

    ``also_checked``: tables the load writes too, their indexes kept; their foreign
    keys are checked at the end with the others' (on PostgreSQL dropped and added
    again: checking a deferred key row by row at commit costs far more).

    Inside someone else's transaction (a test, a larger job) the indexes stay put
    and the load is a savepoint.
    """
    if connection.in_atomic_block or not rebuild_indexes:
        with transaction.atomic():
            yield
        return
    tables = [model._meta.db_table for model in model_classes]
    sqlite = connection.vendor == "sqlite"
    if sqlite:
        connection.disable_constraint_checking()  # only possible outside a transaction
    try:
        with transaction.atomic():
            drops, builds = _index_statements(
                tables, keys_only=[model._meta.db_table for model in also_checked]
            )
            with connection.cursor() as cursor:
                for statement in drops:
                    cursor.execute(statement)
            yield
            with connection.cursor() as cursor:
                for statement in builds:
                    cursor.execute(statement)
            if sqlite:
                connection.check_constraints(
                    table_names=tables + [model._meta.db_table for model in also_checked]
                )
    finally:
        if sqlite:
            connection.enable_constraint_checking()


def _index_statements(
    tables: list[str], keys_only: Sequence[str] = ()
) -> tuple[list[str], list[str]]:
    """(statements that drop, statements that rebuild) the tables' secondary indexes
    and, on PostgreSQL, their unique and foreign key constraints, and the foreign keys
    of the ``keys_only`` tables (PostgreSQL). Primary keys stay."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            placeholders = ", ".join(["%s"] * len(tables))
            # Indexes SQLite made for inline UNIQUE and PRIMARY KEY have no SQL: they stay.
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                f"AND tbl_name IN ({placeholders})",
                tables,
            )
            indexes = cursor.fetchall()
            return [f'DROP INDEX "{name}"' for name, _ in indexes], [sql for _, sql in indexes]
        if connection.vendor != "postgresql":
            return [], []
        cursor.execute(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = ANY(%s::regclass[]) AND NOT x.indisprimary "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
            [tables],
        )
        indexes = cursor.fetchall()
        # Unique constraints (the random sf_id) first, then foreign keys.
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype IN ('u', 'f') AND conrelid = ANY(%s::regclass[]) "
            "ORDER BY contype DESC, conname",
            [tables],
        )
        keys = cursor.fetchall()
        if keys_only:
            cursor.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                "FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY(%s::regclass[]) "
                "ORDER BY conname",
                [list(keys_only)],
            )
            keys += cursor.fetchall()
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
    drops = [f'DROP INDEX "{name}"' for name, _ in indexes] + [
        f'ALTER TABLE {table} DROP CONSTRAINT "{name}"' for table, name, _ in keys
    ]
    builds = [sql for _, sql in indexes] + [
        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
        for table, name, definition in keys
    ]
    return drops, builds


# --------------------------------------------------------------------------- trackers in bulk


@dataclass(frozen=True)
class StepRef:
    id: int
    title: str
    type: str
    wait_seconds: int | None


@dataclass(frozen=True)
class CadenceRef:
    """What the writer needs of a cadence: the steps a tracker can stand on (not Root,
    not DaisyChain) and its global exit rules, as (id, sf_id)."""

    id: int
    sf_id: str
    steps: tuple[StepRef, ...]
    exit_rules: tuple[tuple[int, str], ...]
    enrolls: bool = True  # False: only finished trackers (an Inactive cadence's history)

    @classmethod
    def of(cls, cadence: ActionCadence, *, enrolls: bool = True) -> CadenceRef:
        steps = tuple(
            StepRef(
                step.pk, step.step_title or step.step_name, step.type, step.wait_time_in_seconds
            )
            for step in cadence.steps.exclude(type__in=(StepType.ROOT, StepType.DAISY_CHAIN))
        )
        rules = tuple(
            cadence.rules.filter(rule_type=RuleType.ROOT_STEP, global_event_type__isnull=False)
            .order_by("pk")
            .values_list("pk", "sf_id")
        )
        if not steps or not rules:
            raise ValueError(f"Cadence {cadence.name!r} needs steps and a global exit rule.")
        return cls(cadence.pk, cadence.sf_id, steps, rules, enrolls)


@dataclass(frozen=True)
class OwnerRef:
    """A tracker owner (a user or a queue) and the user its changes are stamped with."""

    user_id: int | None
    queue_id: int | None
    sf_id: str
    actor_id: int
    actor_sf_id: str


class TargetRef(NamedTuple):
    """A lead or a contact (a million of these are held at once: a tuple is lightest)."""

    lead_id: int | None
    contact_id: int | None
    sf_id: str


@dataclass(frozen=True)
class RelatedRef:
    opportunity_id: int | None
    invoice_id: int | None
    sf_id: str


Weighted = tuple[tuple[Any, float], ...]


@dataclass(frozen=True)
class TrackerMix:
    """The shares the writer draws states, reasons and dispositions from."""

    active_states: Weighted = (
        (TrackerState.RUNNING, 88),
        (TrackerState.PAUSED, 10),
        (TrackerState.INITIALIZING, 2),
    )
    error_share: float = 0.015  # of the trackers that are not active
    reasons: Weighted = (
        (CompletionReason.NO_MORE_STEPS, 34),
        (CompletionReason.MANUALLY_REMOVED, 30),
        (CompletionReason.AUTOMATICALLY_EXITED, 18),
        (CompletionReason.LEAD_CONVERTED, 7),
        (CompletionReason.DAISY_CHAINED, 7),
        (CompletionReason.AUTOMATICALLY_EXITED_DELETED_STEP, 2),
        (CompletionReason.AUTOMATICALLY_EXITED_INVALID_PARENT_STEP, 2),
    )
    dispositions: dict[str, Weighted] = field(
        default_factory=lambda: {
            CompletionReason.MANUALLY_REMOVED: (
                (None, 8),
                (CompletionDisposition.BAD_DATA, 4),
                (CompletionDisposition.CONTACT_LATER, 10),
                (CompletionDisposition.CUSTOMER_CONNECTED, 12),
                (CompletionDisposition.CUSTOMER_ENGAGED, 10),
                (CompletionDisposition.DISQUALIFIED, 8),
                (CompletionDisposition.DUPLICATE, 4),
                (CompletionDisposition.NO_RESPONSE, 20),
                (CompletionDisposition.NOT_INTERESTED, 16),
                (CompletionDisposition.SUCCESS, 8),
            ),
            CompletionReason.NO_MORE_STEPS: (
                (None, 70),
                (CompletionDisposition.NO_RESPONSE, 20),
                (CompletionDisposition.CUSTOMER_ENGAGED, 6),
                (CompletionDisposition.SUCCESS, 4),
            ),
            CompletionReason.AUTOMATICALLY_EXITED: (
                (None, 80),
                (CompletionDisposition.CUSTOMER_CONNECTED, 8),
                (CompletionDisposition.NOT_INTERESTED, 8),
                (CompletionDisposition.BAD_DATA, 4),
            ),
        }
    )
    paused_with_resume: float = 0.35
    opportunity_share: float = 0.12
    invoice_share: float = 0.05
    later_daisy_iteration: float = 0.08  # trackers on a second or third chained cadence


ERROR_MESSAGES = (
    "Email step failed: the target has no email address.",
    "Email template 'Case study' was deleted.",
    "Call step failed: the dialer integration returned 503.",
    "The owner's email account is disconnected; reconnect it to resume.",
)
# Every SObject's own columns, first in each row tuple below.
SYSTEM_COLUMNS = (
    "id",
    "sf_id",
    "created_date",
    "created_by_id",
    "last_modified_date",
    "last_modified_by_id",
    "system_modstamp",
    "is_deleted",
)
TRACKER_COLUMNS = (
    *SYSTEM_COLUMNS,
    "action_cadence_id",
    "completion_disposition",
    "completion_reason",
    "current_step_id",
    "daisy_chain_iteration",
    "error_message",
    "exit_global_rule_id",
    "owner_user_id",
    "owner_queue_id",
    "related_to_attribution_type",
    "related_opportunity_id",
    "related_invoice_id",
    "scheduled_resume_date_time",
    "state",
    "target_lead_id",
    "target_contact_id",
)
STEP_TRACKER_COLUMNS = (
    *SYSTEM_COLUMNS,
    "action_cadence_tracker_id",
    "action_cadence_step_id",
    "action_cadence_id",
    "target_lead_id",
    "target_contact_id",
    "step_title",
    "step_type",
    "state",
    "due_date_time",
)
EVENT_COLUMNS = (
    "tracker_id",
    "record_id",
    "change_type",
    "changed_fields",
    "values",
    "commit_timestamp",
    "commit_user_id",
    "commit_user_sf_id",
    "transaction_key",
    "sequence_number",
    "change_origin",
    "created_at",
)
_DAY = 86400


class _Picker:
    """Weighted choice from precomputed cumulative weights (``random.choices`` per call
    rebuilds them)."""

    def __init__(self, weighted: Weighted) -> None:
        self.values = [_plain(value) for value, _ in weighted]
        self.cumulative = list(itertools.accumulate(weight for _, weight in weighted))
        self.total = self.cumulative[-1]

    def __call__(self, rng: random.Random) -> Any:
        return self.values[bisect.bisect(self.cumulative, rng.random() * self.total)]


def _plain(value: Any) -> Any:
    """Choices members as plain strings: drivers may adapt an Enum by its name."""
    return value.value if isinstance(value, enum.Enum) else value


RUNNING, PAUSED = TrackerState.RUNNING.value, TrackerState.PAUSED.value
ERROR, COMPLETE = TrackerState.ERROR.value, TrackerState.COMPLETE.value
LEAD_CONVERTED = CompletionReason.LEAD_CONVERTED.value
AUTOMATICALLY_EXITED = CompletionReason.AUTOMATICALLY_EXITED.value
NO_MORE_STEPS = CompletionReason.NO_MORE_STEPS.value
ACTIVE_STEP, PAUSED_STEP = StepTrackerState.ACTIVE.value, StepTrackerState.PAUSED.value
SCHEDULED_STEP = StepTrackerState.SCHEDULED.value
WAIT = StepType.WAIT.value
CREATE = ChangeType.CREATE.value
# Trackers that stand on a step: their current step tracker is written with them.
STATES_ON_A_STEP = (RUNNING, PAUSED, ERROR)
ATTRIBUTIONS_BY_KIND = {
    "opportunity": tuple(
        _plain(kind)
        for kind in (RelatedToAttributionType.ACTIVATION, RelatedToAttributionType.MATURATION)
    ),
    "invoice": tuple(
        _plain(kind)
        for kind in (
            RelatedToAttributionType.COLLECTED,
            RelatedToAttributionType.COLLECTION_ADVANCEMENT,
        )
    ),
}


@dataclass
class WriteCounts:
    trackers: int = 0
    active: int = 0
    step_trackers: int = 0
    change_events: int = 0

    @property
    def rows(self) -> int:
        return self.trackers + self.step_trackers + self.change_events


class BulkTrackerWriter:
    """Writes trackers with realistic states, reasons, owners and dates straight into
    the database, batch by batch, each batch in its own transaction.

    Every row satisfies the tracker's check constraints, and active trackers get
    distinct targets (the partial unique constraints). Running, Paused and Error
    trackers get their current step tracker (Error keeps the step it failed on, so a
    retry carries on); Initializing and Complete ones get none. With
    ``change_events`` each tracker also gets its CREATE event (a snapshot of the
    row as written, dated at its CreatedDate).
    """

    def __init__(
        self,
        *,
        cadences: Sequence[CadenceRef],
        owners: Sequence[OwnerRef],
        related: Sequence[RelatedRef] = (),
        mix: TrackerMix | None = None,
        now: dt.datetime,
        history_days: float,
        active_days: float,
        rng: random.Random,
        change_events: bool = False,
        origin: str = "bulk load",
    ) -> None:
        self.cadences = list(cadences)
        self.enrolling = [cadence for cadence in self.cadences if cadence.enrolls]
        if not self.enrolling or not owners:
            raise ValueError("The writer needs at least one enrolling cadence and one owner.")
        self.owners = list(owners)
        self.opportunities = [ref for ref in related if ref.opportunity_id]
        self.invoices = [ref for ref in related if ref.invoice_id]
        self.mix = mix or TrackerMix()
        self.rng = rng
        self.change_events = change_events
        self.origin = origin
        self.now = int(now.timestamp())
        self.history = int(history_days * _DAY)
        self.recent = int(active_days * _DAY)
        self.format = TimestampFormatter(
            now - dt.timedelta(days=history_days + 1), now + dt.timedelta(days=31)
        )
        self.active_state = _Picker(self.mix.active_states)
        self.reason = _Picker(self.mix.reasons)
        self.disposition = {
            reason: _Picker(weights) for reason, weights in self.mix.dispositions.items()
        }
        self.trackers = TableWriter(ActionCadenceTracker, TRACKER_COLUMNS)
        self.step_trackers = TableWriter(ActionCadenceStepTracker, STEP_TRACKER_COLUMNS)
        self.events = TableWriter(ActionCadenceTrackerChangeEvent, EVENT_COLUMNS)
        self._event_fields = [
            (spec.name, tuple(spec.columns.values()) or (spec.attr,))
            for spec in registry.for_model(ActionCadenceTracker).fields
        ]

    def write(
        self,
        *,
        total: int,
        active: int,
        active_targets: Sequence[TargetRef],
        history_targets: Sequence[TargetRef],
        converted_leads: Sequence[TargetRef] = (),
        batch_size: int = 20_000,
        on_batch: Any = None,
    ) -> WriteCounts:
        """``active`` of the ``total`` trackers are active, each on its own target from
        ``active_targets``; the rest pick any of ``history_targets`` (LeadConverted ones
        take ``converted_leads``, a lead each while they last). Each batch is its own
        transaction, or a savepoint in the caller's.
        """
        if active > len(active_targets):
            raise ValueError("Every active tracker needs a target of its own.")
        if total > active and not history_targets:
            raise ValueError("Finished trackers need targets to have finished on.")
        counts = WriteCounts()
        tracker_pk = next_id(ActionCadenceTracker)
        step_pk = next_id(ActionCadenceStepTracker)
        batches = self._batches(
            total,
            active,
            active_targets,
            history_targets,
            converted_leads,
            batch_size,
            tracker_pk,
            step_pk,
        )
        for flags, batch in batches:
            with transaction.atomic():
                self.trackers.write(batch.trackers)
                self.step_trackers.write(batch.step_trackers)
                if self.change_events:
                    self.events.write(batch.events)
            counts.trackers += len(flags)
            counts.active += sum(flags)
            counts.step_trackers += len(batch.step_trackers)
            counts.change_events += len(batch.events)
            if on_batch is not None:
                on_batch(counts)
        reset_sequences(ActionCadenceTracker, ActionCadenceStepTracker)
        return counts

    def _batches(
        self,
        total: int,
        active: int,
        active_targets: Sequence[TargetRef],
        history_targets: Sequence[TargetRef],
        converted_leads: Sequence[TargetRef],
        batch_size: int,
        tracker_pk: int,
        step_pk: int,
    ) -> Iterator[tuple[list[bool], _Batch]]:
        """(active flags, rows) for each batch in turn."""
        converted = itertools.cycle(converted_leads) if converted_leads else None
        active_targets = iter(active_targets)
        remaining, remaining_active = total, active
        while remaining:
            size = min(batch_size, remaining)
            # Selection sampling: exactly ``active`` actives, spread evenly over the ids.
            flags = []
            for left in range(remaining, remaining - size, -1):
                pick = self.rng.random() * left < remaining_active
                remaining_active -= pick
                flags.append(pick)
            batch = self._batch(
                flags, tracker_pk, step_pk, active_targets, history_targets, converted
            )
            yield flags, batch
            tracker_pk += size
            step_pk += len(batch.step_trackers)
            remaining -= size

    def _batch(
        self,
        flags: list[bool],
        tracker_pk: int,
        step_pk: int,
        active_targets: Iterator[TargetRef],
        history_targets: Sequence[TargetRef],
        converted: Iterator[TargetRef] | None,
    ) -> _Batch:
        rng = self.rng
        draw = rng.random
        mix = self.mix
        fmt = self.format
        now = self.now
        owners, cadences, enrolling = self.owners, self.cadences, self.enrolling
        tracker_ids = new_sf_ids(ActionCadenceTracker.KEY_PREFIX, len(flags))
        step_ids = iter(new_sf_ids(ActionCadenceStepTracker.KEY_PREFIX, len(flags)))
        batch = _Batch(transaction_key=str(uuid.uuid4()))
        for index, is_active in enumerate(flags):
            pk = tracker_pk + index
            owner = owners[int(draw() * len(owners))]
            reason = disposition = rule = error = resume = current = None
            iteration = 1 if draw() >= mix.later_daisy_iteration else 2 + (draw() < 0.25)
            if is_active:
                target = next(active_targets)
                cadence = enrolling[int(draw() * len(enrolling))]
                state = self.active_state(rng)
                # Most active trackers started in the last weeks.
                created = now - int(self.recent * draw() ** 2)
                modified = created + int((now - created) * draw())
            else:
                target = history_targets[int(draw() * len(history_targets))]
                cadence = cadences[int(draw() * len(cadences))]
                created = now - int(self.history * draw())
                modified = min(now - 60, created + 3600 + int(45 * _DAY * draw() ** 2))
                if draw() < mix.error_share:
                    state = ERROR
                    error = ERROR_MESSAGES[int(draw() * len(ERROR_MESSAGES))]
                else:
                    state = COMPLETE
                    reason = self.reason(rng)
                    if reason == LEAD_CONVERTED:
                        if converted is None:
                            reason = NO_MORE_STEPS
                        else:
                            target = next(converted)
                    elif reason == AUTOMATICALLY_EXITED:
                        rule = cadence.exit_rules[int(draw() * len(cadence.exit_rules))]
                    picker = self.disposition.get(reason)
                    disposition = picker(rng) if picker else None
            related, attribution = self._related()
            modified_text = fmt(modified)
            if state in STATES_ON_A_STEP:
                step = cadence.steps[int(draw() * len(cadence.steps))]
                current = (step_pk + len(batch.step_trackers), next(step_ids))
                if state == ERROR:
                    # The step it failed on stays open: a retry carries on from it.
                    step_state, due = ACTIVE_STEP, modified
                elif state == PAUSED:
                    step_state, due = PAUSED_STEP, modified
                    if draw() < mix.paused_with_resume:
                        resume = now + 3600 + int(13 * _DAY * draw())
                elif step.type == WAIT:
                    # Waiting: the scheduler moves it on when the wait is over.
                    step_state = SCHEDULED_STEP
                    due = resume = now + 60 + int((step.wait_seconds or _DAY) * draw())
                else:
                    step_state, due = ACTIVE_STEP, modified + int(_DAY * draw())
                batch.step_trackers.append(
                    (
                        current[0],
                        current[1],
                        modified_text,
                        owner.actor_id,
                        modified_text,
                        owner.actor_id,
                        modified_text,
                        False,
                        pk,
                        step.id,
                        cadence.id,
                        target.lead_id,
                        target.contact_id,
                        step.title,
                        step.type,
                        step_state,
                        fmt(due),
                    )
                )
            row = (
                pk,
                tracker_ids[index],
                fmt(created),
                owner.actor_id,
                modified_text,
                owner.actor_id,
                modified_text,
                False,
                cadence.id,
                disposition,
                reason,
                current[0] if current else None,
                iteration,
                error,
                rule[0] if rule else None,
                owner.user_id,
                owner.queue_id,
                attribution,
                related.opportunity_id if related else None,
                related.invoice_id if related else None,
                fmt(resume) if resume else None,
                state,
                target.lead_id,
                target.contact_id,
            )
            batch.trackers.append(row)
            if self.change_events:
                references = {
                    "action_cadence": cadence.sf_id,
                    "current_step": current[1] if current else None,
                    "exit_global_rule": rule[1] if rule else None,
                    "created_by": owner.actor_sf_id,
                    "last_modified_by": owner.actor_sf_id,
                    "owner_user" if owner.user_id else "owner_queue": owner.sf_id,
                    "target_lead" if target.lead_id else "target_contact": target.sf_id,
                }
                if related:
                    kind = "related_opportunity" if related.opportunity_id else "related_invoice"
                    references[kind] = related.sf_id
                batch.events.append(
                    self._create_event(row, references, (created, modified, resume), owner, batch)
                )
        return batch

    def _related(self) -> tuple[RelatedRef | None, str | None]:
        draw = self.rng.random()
        mix = self.mix
        if draw >= mix.opportunity_share + mix.invoice_share:
            return None, None
        if draw < mix.opportunity_share and self.opportunities:
            pool, kinds = self.opportunities, ATTRIBUTIONS_BY_KIND["opportunity"]
        elif draw < mix.opportunity_share + mix.invoice_share and self.invoices:
            pool, kinds = self.invoices, ATTRIBUTIONS_BY_KIND["invoice"]
        else:
            return None, None
        related = pool[int(self.rng.random() * len(pool))]
        # A third of them without an attribution type: it is optional.
        return related, self.rng.choice((*kinds, None))

    def _create_event(
        self,
        row: tuple,
        references: dict[str, str | None],
        times: tuple[int, int, int | None],
        owner: OwnerRef,
        batch: _Batch,
    ) -> tuple:
        """The CREATE event of a tracker: every field by API name, as the row stands."""
        by_attribute: dict[str, Any] = {
            column.removesuffix("_id"): value
            for column, value in zip(TRACKER_COLUMNS, row, strict=True)
        }
        by_attribute.update(references)
        by_attribute["sf_id"] = row[1]
        by_attribute["is_tracker_active"] = row[TRACKER_COLUMNS.index("state")] in ACTIVE_STATES
        by_attribute["last_completed_step"] = None
        created, modified, resume = times
        names = ("created_date", "last_modified_date", "system_modstamp")
        for name, epoch in zip(names, (created, modified, modified), strict=True):
            by_attribute[name] = registry.format_datetime(dt.datetime.fromtimestamp(epoch, dt.UTC))
        by_attribute["scheduled_resume_date_time"] = (
            registry.format_datetime(dt.datetime.fromtimestamp(resume, dt.UTC)) if resume else None
        )
        values = {}
        for name, attributes in self._event_fields:
            found = [by_attribute.get(attribute) for attribute in attributes]
            values[name] = next((value for value in found if value is not None), found[0])
        return (
            row[0],
            row[1],
            CREATE,
            "[]",
            json.dumps(values),
            created * 1000,
            owner.actor_id,
            owner.actor_sf_id,
            batch.transaction_key,
            len(batch.events) + 1,
            self.origin,
            self.format(created),
        )


@dataclass
class _Batch:
    """One transaction's rows; its change events share a transaction key, as the
    lifecycle's do."""

    transaction_key: str
    trackers: list[tuple] = field(default_factory=list)
    step_trackers: list[tuple] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)


# --------------------------------------------------------------------------- made by the database

# Draws are residues modulo this prime: a quadratic in the row number, ((a·i + b)·(c·i + d))
# mod p, its coefficients drawn from the seed. Every product stays below 2**63, so SQLite
# (which turns an overflowing integer into a float) and PostgreSQL compute the same numbers.
_PRIME = 2_147_483_647
_COUNTING_CHARS = 5  # the characters of an id that count the rows of one load


class _Sql:
    """The few spellings SQLite and PostgreSQL do not share, and SQL-building helpers."""

    def __init__(self) -> None:
        self.postgres = connection.vendor == "postgresql"
        # Ends a subquery the planner must not merge into the query around it, so each of
        # its columns is computed once a row however often it is used.
        self.fence = "OFFSET 0" if self.postgres else "LIMIT -1 OFFSET 0"

    def numbers(self, start: int, stop: int) -> str:
        """A FROM item: the integers ``start`` to ``stop - 1`` as column ``i``."""
        if self.postgres:
            return f"generate_series({start}::bigint, {stop - 1}) AS g(i)"
        return (
            f"(WITH RECURSIVE g(i) AS (SELECT {start} UNION ALL SELECT i + 1 FROM g "
            f"WHERE i < {stop - 1}) SELECT i FROM g) AS g"
        )

    def timestamp(self, epoch: str) -> str:
        if self.postgres:
            return f"to_timestamp({epoch})"
        return f"datetime({epoch}, 'unixepoch')"  # Django's naive UTC text

    def least(self, first: str, second: str) -> str:
        return f"{'LEAST' if self.postgres else 'MIN'}({first}, {second})"

    def literal(self, value: Any) -> str:
        value = _plain(value)
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, str):
            return "'" + value.replace("'", "''") + "'"
        raise TypeError(f"No SQL literal for {value!r}")

    def word(self, index: str, words: Sequence[str]) -> str:
        """``words[index]``: an array element on PostgreSQL; on SQLite (no arrays) cut from
        one packed literal. ASCII words only (the packing counts bytes)."""
        if any(not word.isascii() for word in words):
            raise ValueError("Packed words must be ASCII.")
        if self.postgres:
            array = ", ".join(self.literal(word) for word in words)
            return f"(ARRAY[{array}])[({index}) + 1]"
        width = max(len(word) for word in words)
        # A blob: SUBSTR counts its bytes, where on text it would walk the characters.
        packed = "".join(word.ljust(width) for word in words).encode().hex()
        return f"RTRIM(CAST(SUBSTR(X'{packed}', ({index}) * {width} + 1, {width}) AS TEXT))"

    def pick(self, draw: str, weighted: Weighted) -> str:
        """A weighted choice: thresholds on a draw."""
        total = sum(weight for _, weight in weighted)
        branches, running = [], 0.0
        for value, weight in weighted[:-1]:
            running += weight
            threshold = int(_PRIME * running / total)
            branches.append(f"WHEN {draw} < {threshold} THEN {self.literal(value)}")
        last = self.literal(weighted[-1][0])
        return f"CASE {' '.join(branches)} ELSE {last} END" if branches else last


class _IdSeries:
    """18-character ids for up to ``count`` rows of one load, ascending with the row's
    offset: the key prefix, seven random characters, then five counting ones in digits
    and lower case only, so that the case-safe suffix is the same for the whole series."""

    DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"

    def __init__(self, prefix: str, count: int) -> None:
        span = len(self.DIGITS) ** _COUNTING_CHARS
        if count > span:
            raise ValueError(f"One load makes at most {span:,} ids of an object.")
        head = prefix + "".join(sfid.BASE62[byte % 62] for byte in os.urandom(7))
        self.first = int.from_bytes(os.urandom(4)) % (span - count + 1)
        self.head = head
        self.suffix = sfid.checksum(head + "00000")

    def sql(self, offset: str) -> str:
        number = f"({offset} + {self.first})"
        base = len(self.DIGITS)
        chars = " || ".join(
            f"SUBSTR('{self.DIGITS}', CAST({number} / {base**power} % {base} AS INTEGER) + 1, 1)"
            for power in reversed(range(_COUNTING_CHARS))
        )
        return f"'{self.head}' || {chars} || '{self.suffix}'"


class _Draws:
    """Named streams of deterministic pseudo-random draws, 0 to _PRIME - 1, in SQL."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def __call__(self, name: str, index: str = "i") -> str:
        rng = random.Random(f"{self.seed}:{name}")
        a, b, c, d = (rng.randrange(1, _PRIME) for _ in range(4))
        return (
            f"((({index} * {a} + {b}) % {_PRIME}) * (({index} * {c} + {d}) % {_PRIME}) % {_PRIME})"
        )

    def shuffle(self, name: str, size: int) -> tuple[int, int]:
        """(a, b) with gcd(a, size) = 1, so ``(a·i + b) mod size`` shuffles 0 to size - 1."""
        rng = random.Random(f"{self.seed}:{name}")
        while True:
            a = rng.randrange(1, max(size, 2))
            if math.gcd(a, size) == 1:
                return a, rng.randrange(size)


def _below(draw: str, share: float) -> str:
    """True for about ``share`` of the draws."""
    return f"{draw} < {int(_PRIME * share)}"


def _scaled(draw: str, span: int | str) -> str:
    """A draw mapped onto 0 to span - 1."""
    return f"{draw} * {span} / {_PRIME}"


def _squared(draw: str, span: int) -> str:
    """``span`` times the square of a draw taken as 0 to 1: values bunched near zero."""
    return f"{span} * ({draw} / 32768) * ({draw} / 32768) / 4294967296"


def _temporary(name: str) -> str:
    """A temporary table's name with its schema, for DROP: unqualified, it would drop a
    permanent table of that name when no temporary one exists."""
    return f"{'pg_temp' if connection.vendor == 'postgresql' else 'temp'}.{name}"


class DatabaseLoad:
    """Leads, contacts, trackers and their current step trackers made by the database
    itself with ``INSERT … SELECT`` over a series of row numbers: no row passes through
    Python. The same shares as ``BulkTrackerWriter`` (a ``TrackerMix``) and the same
    invariants; for a given seed the same rows on SQLite and PostgreSQL (dates relative
    to ``now``; ids are fresh each load, as ``new_sf_ids``'s are).

    Every draw is a hash of the row number (``_Draws``). The active trackers are the rows
    a shuffle puts first, so exactly ``active`` of them, spread over the ids; active
    tracker k takes target ``(a·k + b) mod targets`` (a second shuffle), so each its
    own, and a converted lead is never one of those. A step tracker takes its tracker's
    row number as key (``step_pk + i``): only trackers on a step have one, so step
    tracker keys have gaps.
    """

    def __init__(
        self,
        *,
        cadences: Sequence[CadenceRef],
        owners: Sequence[OwnerRef],
        related: Sequence[RelatedRef] = (),
        mix: TrackerMix | None = None,
        now: dt.datetime,
        history_days: float,
        active_days: float,
        seed: int | None = None,
    ) -> None:
        self.sql = _Sql()
        self.draw = _Draws(seed if seed is not None else int.from_bytes(os.urandom(8)))
        self.cadences = sorted(cadences, key=lambda cadence: not cadence.enrolls)
        self.enrolling = sum(cadence.enrolls for cadence in self.cadences)
        if not self.enrolling or not owners:
            raise ValueError("The load needs at least one enrolling cadence and one owner.")
        self.owners = list(owners)
        self.opportunities = [ref.opportunity_id for ref in related if ref.opportunity_id]
        self.invoices = [ref.invoice_id for ref in related if ref.invoice_id]
        self.mix = mix or TrackerMix()
        self.now = int(now.timestamp())
        self.history = int(history_days * _DAY)
        self.recent = int(active_days * _DAY)
        self.targets = self.leads = self.active_targets = 0
        self.target_shuffle = (1, 0)
        self.lead_pk = self.contact_pk = 0
        self.converted = 0

    @contextmanager
    def lookups(self) -> Iterator[None]:
        """Small temporary tables the big inserts join: owners, cadences with their steps
        and exit rules, opportunities and invoices, and (once written) converted leads."""
        steps, rules, cadences = [], [], []
        for index, cadence in enumerate(self.cadences):
            cadences.append(
                (
                    index,
                    cadence.id,
                    len(steps),
                    len(cadence.steps),
                    len(rules),
                    len(cadence.exit_rules),
                )
            )
            steps += [(step.id, step.title, step.type, step.wait_seconds) for step in cadence.steps]
            rules += [(rule_id,) for rule_id, _ in cadence.exit_rules]
        tables = {
            "bulk_owner": (
                "user_id INTEGER, queue_id INTEGER, actor_id INTEGER",
                [(owner.user_id, owner.queue_id, owner.actor_id) for owner in self.owners],
            ),
            "bulk_cadence": (
                "id INTEGER, first_step INTEGER, step_count INTEGER, first_rule INTEGER, "
                "rule_count INTEGER",
                [row[1:] for row in cadences],
            ),
            "bulk_step": ("id INTEGER, title TEXT, type TEXT, wait_seconds INTEGER", steps),
            "bulk_rule": ("id INTEGER", rules),
            "bulk_related": (
                "opportunity_id INTEGER, invoice_id INTEGER",
                [(pk, None) for pk in self.opportunities] + [(None, pk) for pk in self.invoices],
            ),
            "bulk_converted": ("lead_id INTEGER", []),
        }
        with connection.cursor() as cursor:
            for name, (columns, rows) in tables.items():
                cursor.execute(f"DROP TABLE IF EXISTS {_temporary(name)}")
                cursor.execute(
                    f"CREATE TEMPORARY TABLE {name} (idx INTEGER PRIMARY KEY, {columns})"
                )
                if rows:
                    placeholders = ", ".join(["%s"] * (len(rows[0]) + 1))
                    cursor.executemany(
                        f"INSERT INTO {name} VALUES ({placeholders})",
                        [(index, *row) for index, row in enumerate(rows)],
                    )
        try:
            yield
        finally:
            if not connection.needs_rollback:  # else they go with the rollback
                with connection.cursor() as cursor:
                    for name in tables:
                        cursor.execute(f"DROP TABLE IF EXISTS {_temporary(name)}")

    # ---- leads and contacts

    def write_targets(
        self,
        *,
        total: int,
        active: int,
        lead_share: float,
        converted_share: float,
        created: tuple[dt.datetime, dt.timedelta],
        batch_size: int,
    ) -> None:
        """``total`` new leads and contacts (``lead_share`` of them leads), ``active`` of
        them kept for the active trackers; about ``converted_share`` of the others are
        converted leads. Each was created at a random moment of the period ``created``
        (its start and length), and is owned by the owners in turn."""
        from trackers.demo import COMPANIES, FIRST_NAMES, LAST_NAMES, LEAD_STATUSES, TITLES
        from trackers.models import Contact, Lead

        sql, draw = self.sql, self.draw
        self.targets, self.active_targets = total, active
        self.leads = leads = round(total * lead_share)
        self.target_shuffle = self.draw.shuffle("targets", total)
        self.lead_pk, self.contact_pk = next_id(Lead), next_id(Contact)
        # Converted leads are drawn among the leads no active tracker takes.
        free_leads = leads - round(active * lead_share)
        converted = min(1.0, converted_share * (total - active) / max(free_leads, 1))
        start, span = int(created[0].timestamp()), int(created[1].total_seconds())
        first_name = sql.word(_scaled(draw("first_name"), len(FIRST_NAMES)), FIRST_NAMES)
        last_name = sql.word(_scaled(draw("last_name"), len(LAST_NAMES)), LAST_NAMES)
        created_at = sql.timestamp(f"{start} + " + _scaled(draw("target_created"), span))
        people = (
            f"SELECT i AS j, {first_name} AS first_name, {last_name} AS last_name, "
            f"{created_at} AS created, {_below(draw('converted'), converted)} AND i < {leads} "
            f"AND {self._slot_of_target('i')} >= {active} AS converted "
            f"FROM {{numbers}} {sql.fence}"
        )
        domains = sql.word(f"p.j % {len(COMPANIES)}", [domain for _, domain in COMPANIES])
        companies = sql.word(f"p.j % {len(COMPANIES)}", [name for name, _ in COMPANIES])
        common = [
            "p.created",
            "o.actor_id",
            "p.created",
            "o.actor_id",
            "p.created",
            sql.literal(False),
            "p.first_name",
            "p.last_name",
        ]
        email = f"LOWER(p.first_name || '.' || p.last_name || '.' || p.j || '@' || {domains})"
        lead_ids, contact_ids = (
            _IdSeries(Lead.KEY_PREFIX, leads),
            _IdSeries(Contact.KEY_PREFIX, total - leads),
        )
        kinds = (
            (
                Lead,
                0,
                leads,
                [f"{self.lead_pk} + p.j", lead_ids.sql("p.j"), *common],
                {
                    "company": companies,
                    "email": email,
                    "status": f"CASE WHEN p.converted THEN 'Closed - Converted' "
                    f"ELSE {sql.word('p.j % 3', LEAD_STATUSES)} END",
                    "is_converted": "p.converted",
                },
            ),
            (
                Contact,
                leads,
                total,
                [f"{self.contact_pk - leads} + p.j", contact_ids.sql(f"p.j - {leads}"), *common],
                {"email": email, "title": sql.word(f"p.j % {len(TITLES)}", TITLES)},
            ),
        )
        for model, first, last, system, own in kinds:
            columns = [*SYSTEM_COLUMNS, "first_name", "last_name", *own]
            for offset in range(first, last, batch_size):
                numbers = sql.numbers(offset, min(offset + batch_size, last))
                _insert_select(
                    model,
                    columns,
                    [*system, *own.values()],
                    f"({people.format(numbers=numbers)}) AS p "
                    f"LEFT JOIN bulk_owner o ON o.idx = p.j % {len(self.owners)}",
                )
        table = Lead._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO bulk_converted (idx, lead_id) "
                f"SELECT ROW_NUMBER() OVER (ORDER BY id) - 1, id FROM {table} "
                f"WHERE id >= {self.lead_pk} AND is_converted"
            )
            self.converted = cursor.rowcount
        reset_sequences(Lead, Contact)

    def target_refs(self) -> tuple[list[TargetRef], list[TargetRef], list[TargetRef]]:
        """The targets ``write_targets`` wrote, for ``BulkTrackerWriter``: (one per active
        tracker, in the order this load gives them out; all of them; converted leads)."""
        from trackers.models import Contact, Lead

        leads = Lead.objects.filter(pk__gte=self.lead_pk).order_by("pk")
        contacts = Contact.objects.filter(pk__gte=self.contact_pk).order_by("pk")
        every = [TargetRef(pk, None, sf_id) for pk, sf_id in leads.values_list("pk", "sf_id")] + [
            TargetRef(None, pk, sf_id) for pk, sf_id in contacts.values_list("pk", "sf_id")
        ]
        a, b = self.target_shuffle
        active = [every[(slot * a + b) % self.targets] for slot in range(self.active_targets)]
        converted = [
            TargetRef(pk, None, sf_id)
            for pk, sf_id in leads.filter(is_converted=True).values_list("pk", "sf_id")
        ]
        return active, every, converted

    def _slot_of_target(self, target: str) -> str:
        """The active tracker a target is kept for (if below the active count)."""
        a, b = self.target_shuffle
        inverse = pow(a, -1, self.targets) if self.targets > 1 else 0
        return f"(({target} + {self.targets - b}) * {inverse} % {self.targets})"

    # ---- trackers

    def write_trackers(
        self, *, total: int, active: int, batch_size: int, on_batch: Any = None
    ) -> WriteCounts:
        """``total`` trackers on the targets ``write_targets`` wrote, ``active`` of them
        active; Running, Paused and Error ones with their current step tracker."""
        if active > self.active_targets:
            raise ValueError("Every active tracker needs a target of its own.")
        if total > active and not self.targets:
            raise ValueError("Finished trackers need targets to have finished on.")
        tracker_pk = next_id(ActionCadenceTracker)
        step_pk = next_id(ActionCadenceStepTracker)
        tracker_ids = _IdSeries(ActionCadenceTracker.KEY_PREFIX, total)
        step_ids = _IdSeries(ActionCadenceStepTracker.KEY_PREFIX, total)
        shuffle = self.draw.shuffle("active", total)
        counts = WriteCounts()
        sql = self.sql
        on_step = ", ".join(sql.literal(state) for state in STATES_ON_A_STEP)
        modified = "r.modified_at"
        tracker_values = [
            f"{tracker_pk} + r.i",
            tracker_ids.sql("r.i"),
            "r.created_at",
            "r.actor_id",
            modified,
            "r.actor_id",
            modified,
            sql.literal(False),
            "r.cadence_id",
            "r.disposition",
            "r.reason",
            f"CASE WHEN r.state IN ({on_step}) THEN {step_pk} + r.i END",
            "r.iteration",
            "r.error_message",
            "r.rule_id",
            "r.user_id",
            "r.queue_id",
            "r.attribution",
            "r.opportunity_id",
            "r.invoice_id",
            "r.resume_at",
            "r.state",
            "r.lead_id",
            "r.contact_id",
        ]
        step_state = (
            f"CASE WHEN r.state = '{PAUSED}' THEN '{PAUSED_STEP}' "
            f"WHEN r.state = '{RUNNING}' AND r.step_type = '{WAIT}' THEN '{SCHEDULED_STEP}' "
            f"ELSE '{ACTIVE_STEP}' END"
        )
        # Error and Paused: due when it stopped; waiting: when the wait is over.
        due = (
            f"CASE WHEN r.state <> '{RUNNING}' THEN r.modified_at "
            f"WHEN r.step_type = '{WAIT}' THEN r.resume_at "
            f"ELSE {sql.timestamp('r.modified + ' + _scaled('r.due', _DAY))} END"
        )
        step_values = [
            f"{step_pk} + r.i",
            step_ids.sql("r.i"),
            modified,
            "r.actor_id",
            modified,
            "r.actor_id",
            modified,
            sql.literal(False),
            f"{tracker_pk} + r.i",
            "r.step_id",
            "r.cadence_id",
            "r.lead_id",
            "r.contact_id",
            "r.step_title",
            "r.step_type",
            step_state,
            due,
        ]
        for offset in range(0, total, batch_size):
            stop = min(offset + batch_size, total)
            # Decided once, in a temporary table, for both inserts.
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {_temporary('bulk_plan')}")
                cursor.cursor.execute(
                    "CREATE TEMPORARY TABLE bulk_plan AS "
                    + self._tracker_plan(offset, stop, total, active, shuffle)
                )
            counts.trackers += _insert_select(
                ActionCadenceTracker, TRACKER_COLUMNS, tracker_values, "bulk_plan AS r"
            )
            counts.step_trackers += _insert_select(
                ActionCadenceStepTracker,
                STEP_TRACKER_COLUMNS,
                step_values,
                f"bulk_plan AS r WHERE r.state IN ({on_step})",
            )
            if on_batch is not None:
                on_batch(counts)
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {_temporary('bulk_plan')}")
        counts.active = active
        reset_sequences(ActionCadenceTracker, ActionCadenceStepTracker)
        return counts

    def _tracker_plan(
        self, start: int, stop: int, total: int, active: int, shuffle: tuple[int, int]
    ) -> str:
        """A SELECT of trackers ``start`` to ``stop - 1``, one row each with every value
        decided: the draws (``h_…``), then state, reason and dates, then the lookups."""
        sql, draw, mix, now = self.sql, self.draw, self.mix, self.now
        draws = _RowDraws.columns(draw)
        d, p = _RowDraws("d"), _RowDraws("p")
        is_active = f"d.slot < {active}"
        failed = _below(d.error, mix.error_share)
        reasons = tuple(
            (NO_MORE_STEPS if reason == LEAD_CONVERTED and not self.converted else reason, weight)
            for reason, weight in mix.reasons
        )
        nothing = "CAST(NULL AS INTEGER)"
        opportunities, invoices = len(self.opportunities), len(self.invoices)
        opportunity = _scaled(d.related_pick, opportunities) if opportunities else nothing
        invoice = f"{opportunities} + {_scaled(d.related_pick, invoices)}" if invoices else nothing
        target_a, target_b = self.target_shuffle
        decided = [
            "d.*",
            f"{is_active} AS active",
            f"CASE WHEN {is_active} THEN {_scaled(d.cadence, self.enrolling)} "
            f"ELSE {_scaled(d.cadence, len(self.cadences))} END AS cadence_idx",
            f"CASE WHEN {is_active} THEN {sql.pick(d.state, mix.active_states)} "
            f"WHEN {failed} THEN '{ERROR}' ELSE '{COMPLETE}' END AS state",
            f"CASE WHEN NOT {is_active} AND NOT {failed} "
            f"THEN {sql.pick(d.reason, reasons)} END AS reason",
            # Most active trackers started in the last weeks; finished ones any time.
            f"CASE WHEN {is_active} THEN {now} - {_squared(d.created, self.recent)} "
            f"ELSE {now} - {_scaled(d.created, self.history)} END AS created",
            f"CASE WHEN {is_active} THEN (d.slot * {target_a} + {target_b}) % {self.targets} "
            f"ELSE {_scaled(d.target, self.targets)} END AS target_idx",
            f"CASE WHEN {_below(d.related, mix.opportunity_share)} THEN {opportunity} "
            f"WHEN {_below(d.related, mix.opportunity_share + mix.invoice_share)} "
            f"THEN {invoice} END AS related_idx",
        ]
        a, b = shuffle
        numbers = sql.numbers(start, stop)
        plan = (
            f"SELECT {', '.join(decided)} FROM (SELECT i, (i * {a} + {b}) % {total} AS slot, "
            f"{', '.join(draws)} FROM {numbers} {sql.fence}) AS d {sql.fence}"
        )
        dispositions = " ".join(
            f"WHEN {sql.literal(reason)} THEN {sql.pick(p.disposition, weighted)}"
            for reason, weighted in mix.dispositions.items()
        )
        attribution = {
            kind: sql.pick(p.attribution, tuple((value, 1) for value in (*values, None)))
            for kind, values in ATTRIBUTIONS_BY_KIND.items()
        }
        later = mix.later_daisy_iteration
        to_lead = f"p.reason = '{LEAD_CONVERTED}'"
        # Finished: changed last within weeks of starting, most within days.
        finished_modified = sql.least(
            f"{now} - 60", "p.created + 3600 + " + _squared(p.modified, 45 * _DAY)
        )
        wait = _scaled(p.resume, f"COALESCE(s.wait_seconds, {_DAY})")
        message = sql.word(_scaled(p.message, len(ERROR_MESSAGES)), ERROR_MESSAGES)
        step, rule = _scaled(p.step, "c.step_count"), _scaled(p.rule, "c.rule_count")
        resolved = [
            "p.i",
            "p.state",
            "p.reason",
            "p.created",
            "p.h_due AS due",
            "o.user_id",
            "o.queue_id",
            "o.actor_id",
            "c.id AS cadence_id",
            "s.id AS step_id",
            "s.title AS step_title",
            "s.type AS step_type",
            f"CASE WHEN p.reason = '{AUTOMATICALLY_EXITED}' THEN ru.id END AS rule_id",
            f"CASE WHEN p.active THEN p.created + ({now} - p.created) * p.h_modified / {_PRIME} "
            f"ELSE {finished_modified} END AS modified",
            f"CASE WHEN p.state = '{PAUSED}' "
            f"AND {_below(p.resume_share, mix.paused_with_resume)} "
            f"THEN {now} + 3600 + {_scaled(p.resume, 13 * _DAY)} "
            # Waiting: the scheduler moves it on when the wait is over.
            f"WHEN p.state = '{RUNNING}' AND s.type = '{WAIT}' THEN {now} + 60 + {wait} "
            "END AS resume",
            f"CASE p.reason {dispositions} END AS disposition",
            f"CASE WHEN {to_lead} THEN cv.lead_id WHEN p.target_idx < {self.leads} "
            f"THEN {self.lead_pk} + p.target_idx END AS lead_id",
            f"CASE WHEN NOT {to_lead} AND p.target_idx >= {self.leads} "
            f"THEN {self.contact_pk - self.leads} + p.target_idx END AS contact_id",
            "rel.opportunity_id",
            "rel.invoice_id",
            f"CASE WHEN rel.opportunity_id IS NOT NULL THEN {attribution['opportunity']} "
            f"WHEN rel.invoice_id IS NOT NULL THEN {attribution['invoice']} END AS attribution",
            f"CASE WHEN {_below(p.iteration, later / 4)} THEN 3 "
            f"WHEN {_below(p.iteration, later)} THEN 2 ELSE 1 END AS iteration",
            f"CASE WHEN p.state = '{ERROR}' THEN {message} END AS error_message",
        ]
        timestamps = ", ".join(
            f"{sql.timestamp(f'r.{name}')} AS {name}_at"
            for name in ("created", "modified", "resume")
        )
        return (
            f"SELECT r.*, {timestamps} FROM (SELECT {', '.join(resolved)} FROM ({plan}) AS p "
            f"LEFT JOIN bulk_owner o ON o.idx = {_scaled(p.owner, len(self.owners))} "
            "LEFT JOIN bulk_cadence c ON c.idx = p.cadence_idx "
            f"LEFT JOIN bulk_step s ON s.idx = c.first_step + {step} "
            f"LEFT JOIN bulk_rule ru ON ru.idx = c.first_rule + {rule} "
            "LEFT JOIN bulk_related rel ON rel.idx = p.related_idx "
            # LeadConverted: on a converted lead, the load's converted leads in turn.
            f"LEFT JOIN bulk_converted cv ON cv.idx = CASE WHEN {to_lead} "
            f"THEN p.i % {max(self.converted, 1)} END {sql.fence}) AS r"
        )


_LEVELS = 46_341  # about the square root of _PRIME: a draw cut in two


class _RowDraws:
    """A tracker row's draws, as columns of the subquery ``alias``: seven of full precision,
    and six pairs cut from one hash each (46,341 levels apiece), for shares and for picks
    among a few values. Fewer hashes a row: they are most of what a row costs to decide."""

    SINGLE = ("owner", "created", "modified", "target", "related_pick", "resume", "due")
    PAIRS = (
        ("iteration", "state"),
        ("error", "message"),
        ("reason", "disposition"),
        ("rule", "related"),
        ("attribution", "resume_share"),
        ("cadence", "step"),
    )

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def __getattr__(self, name: str) -> str:
        if name in self.SINGLE:
            return f"{self.alias}.h_{name}"
        for first, second in self.PAIRS:
            if name in (first, second):
                column = f"{self.alias}.h_{first}_{second}"
                part = f"{column} / {_LEVELS}" if name == first else f"{column} % {_LEVELS}"
                return f"({part} * {_LEVELS})"
        raise AttributeError(name)

    @classmethod
    def columns(cls, draw: _Draws) -> list[str]:
        return [f"{draw(name)} AS h_{name}" for name in cls.SINGLE] + [
            f"{draw(f'{first}_{second}')} AS h_{first}_{second}" for first, second in cls.PAIRS
        ]


def _insert_select(
    model: type[models.Model], columns: Sequence[str], values: Sequence[str], source: str
) -> int:
    """INSERT INTO the model's table SELECT ``values`` FROM ``source``; columns not
    given get the field's default (as ``TableWriter``). Returns the rows written."""
    writer = TableWriter(model, columns)
    sql = _Sql()
    defaults = [sql.literal(value) for value in writer.extra]
    quote = connection.ops.quote_name
    names = ", ".join(quote(column) for column in writer.columns)
    statement = (
        f"INSERT INTO {quote(writer.table)} ({names}) "
        f"SELECT {', '.join([*values, *defaults])} FROM {source}"
    )
    with connection.cursor() as cursor:
        # The driver's own cursor: no placeholders to parse in the modulo signs.
        cursor.cursor.execute(statement)
        return cursor.cursor.rowcount
