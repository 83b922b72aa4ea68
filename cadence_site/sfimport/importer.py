"""Importing Salesforce records: every registry object, ids kept, references resolved.

``run_import(files)`` reads the files of every object given, in dependency order
(roles before users before groups ... trackers before step trackers before
shares), so files may come in any order. Per object, records go in batches:

1. each cell is converted by its field's registry type (``values``); a bad cell is
   an error naming its file, line and field, and its row is skipped;
2. references are resolved to keys with dict look-ups (plus one ``IN`` query a
   batch for ids not seen yet); a reference to an object imported later in the
   same run (a role's parent role, a tracker's current step tracker) is set in a
   second pass at the end;
3. an Id already in the database is an update (only what differs is written, so
   re-importing a file changes nothing); a new Id keeps that Id; a row without an
   Id gets a new one;
4. trackers are checked against SPEC 2.1's invariants (State, CompletionReason,
   IsTrackerActive, disposition, exit rule, attribution, owner, the org limit);
5. rows are written as plain tuples: on SQLite many rows an INSERT statement, on
   PostgreSQL with the bulk loader's ``TableWriter`` (COPY);
   a batch the database refuses is retried row by row so only the bad rows fail.

Imported trackers get their CREATE (or UPDATE) change events, and the sharing
recalculation runs for what changed. The whole import is one transaction: with
``atomic`` any error rolls it all back, otherwise bad rows are skipped.
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import json
import operator
import re
import sqlite3
import sys
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import DatabaseError, connection, models, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

import sharing.sobjects  # noqa: F401  (registers the declarations read here)
import trackers.sobjects  # noqa: F401
from cadence_site import registry, sfid
from cadence_site.registry import FieldSpec, SObjectType
from cadence_site.sfimport import values as cells
from cadence_site.sfimport.readers import MISSING, SourceFile
from trackers.bulkload import EVENT_COLUMNS, TableWriter, bulk_load, next_id, reset_sequences
from trackers.choices import ACTIVE_STATES, ChangeType, TrackerState

# Parents before children: a required reference always points at an object already
# imported. Nullable references to later objects (and to the same one) wait for the
# second pass.
ORDER = (
    "UserRole",
    "User",
    "Group",
    "GroupMember",
    "Lead",
    "Contact",
    "Opportunity",
    "Invoice",
    "ActionCadence",
    "ActionCadenceStep",
    "ActionCadenceRule",
    "ActionCadenceTracker",
    "ActionCadenceStepTracker",
    "ActionCadenceTrackerOwnerSharingRule",
    "ActionCadenceTrackerShare",
)
# Objects whose changes move users between groups: the Rule share rows are recomputed.
SHARING_STRUCTURE = frozenset(
    {"UserRole", "User", "Group", "GroupMember", "ActionCadenceTrackerOwnerSharingRule"}
)
BATCH = 5000
# From this many trackers and step trackers (and no fewer than the table holds), their
# indexes are dropped for the load and rebuilt at the end, as generate_trackers does.
REBUILD_FROM = 10_000
REFERENCE_CACHE = 100_000  # normalized reference ids remembered, by their text in the file
SQLITE_CACHE_KIB = -256 * 1024  # negative: KiB, not pages
SQLITE_ROWS_PER_INSERT = 50
# The writer thread's statements: fewer and bigger, so it asks for the interpreter lock
# less often (as many as SQLite's limit on parameters allows).
WRITER_ROWS_PER_INSERT = 2000
# While the writer thread runs, the interpreter lock changes hands every 0.2 ms (Python's
# default: 5 ms), or the writer waits that long for it after each statement.
WRITER_SWITCH_INTERVAL = 0.0002
# Ids looked up per query: one JSON array (SQLite) or array (PostgreSQL) parameter.
ID_CHUNK = 50_000
STAMP_COLUMNS = ("last_modified_date", "system_modstamp")
CHANGE_ORIGIN = "import_salesforce"
ACTIVE = frozenset(str(state) for state in ACTIVE_STATES)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class RowError:
    location: str  # "Lead.csv:12" or "page2.json:record 3"
    field: str | None
    message: str

    def __str__(self) -> str:
        if self.field:
            return f"{self.location}:{self.field}: {self.message}"
        return f"{self.location}: {self.message}"


@dataclass
class ObjectCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged + self.skipped


@dataclass
class ImportResult:
    counts: dict[str, ObjectCounts] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rolled_back: bool = False
    dry_run: bool = False

    def count(self, name: str) -> ObjectCounts:
        return self.counts.setdefault(name, ObjectCounts())

    def summary_lines(self) -> list[str]:
        lines = []
        for name, counts in self.counts.items():
            lines.append(
                f"{name}: {counts.created} created, {counts.updated} updated, "
                f"{counts.unchanged} unchanged, {counts.skipped} skipped"
            )
        return lines


class _RollBack(Exception):
    """Raised inside the transaction to undo it (``atomic`` with errors, or a dry run)."""


Progress = Callable[[SourceFile, int], None]
# One column of a file as the reader converts it: (cell index, field, API name, kind,
# converter).
_Slot = tuple[int, "_Field", str, str, Callable[[Any], Any]]
# Characters str.strip() removes (the last is U+3000): a cell that starts or ends with
# one may be a padded null.
_SPACES = frozenset(chr(code) for code in range(0x3001) if chr(code).isspace())


# --------------------------------------------------------------------------- per-object plans


@dataclass
class _Field:
    """One API field of an object as the importer writes it."""

    spec: FieldSpec
    kind: str  # "id", "value", "reference" or "derived" (checked, never written)
    convert: Callable[[Any], Any]
    attname: str | None = None  # value fields
    columns: dict[str, str] = field(default_factory=dict)  # reference: object -> attname
    prefixes: dict[str, str] = field(default_factory=dict)  # reference: key prefix -> object
    null: Any = None  # what an empty cell stores ("" for a text column that is never NULL)
    required: bool = False  # a new record must have it
    nillable: bool = True  # an empty cell is a value (else: an error)
    defaulted: bool = False  # an empty cell keeps the default (audit fields)


@functools.lru_cache(maxsize=4096)  # a row's dates often repeat (CreatedDate, LastModifiedDate)
def _sqlite_datetime(value: dt.datetime) -> str:
    """What Django's SQLite backend stores for an aware datetime (naive UTC text), fast."""
    if value.tzinfo is not dt.UTC:
        value = value.astimezone(dt.UTC)
    return value.replace(tzinfo=None).isoformat(" ")


def _adapter(model_field: models.Field) -> Callable[[Any], Any] | None:
    ops = connection.ops
    if isinstance(model_field, models.DateTimeField):
        if connection.vendor == "sqlite" and settings.USE_TZ:
            return _sqlite_datetime
        return ops.adapt_datetimefield_value
    if isinstance(model_field, models.DateField):
        return ops.adapt_datefield_value
    if isinstance(model_field, models.DecimalField):
        digits, places = model_field.max_digits, model_field.decimal_places
        return lambda value: ops.adapt_decimalfield_value(value, digits, places)
    return None


class _Plan:
    """How one object's API fields map onto its table."""

    def __init__(self, sobject: SObjectType, now: dt.datetime) -> None:
        self.sobject = sobject
        self.model = sobject.model
        self.name = sobject.name
        concrete = {
            model_field.attname: model_field
            for model_field in self.model._meta.concrete_fields
            if not model_field.primary_key and not model_field.generated
        }
        self.attnames = [name for name in concrete if name != "sf_id"]
        # The columns whose values need converting for the driver (dates, decimals).
        self.adapters = [
            (index, adapter)
            for index, name in enumerate(self.attnames)
            if (adapter := _adapter(concrete[name])) is not None
        ]
        self.fields: dict[str, _Field] = {}  # by lower-case API name (headers in any case)
        self.by_name: dict[str, _Field] = {}
        self.by_attname: dict[str, _Field] = {}
        for spec in sobject.fields:
            plan = self._field(spec, concrete)
            self.fields[spec.name.lower()] = self.by_name[spec.name] = plan
            for attname in [plan.attname, *plan.columns.values()]:
                if attname:
                    self.by_attname[attname] = plan
        # In ``attnames`` order: a merged row's values() is the row to write.
        self.defaults = {}
        for attname in self.attnames:
            model_field = concrete[attname]
            if attname in ("created_date", *STAMP_COLUMNS):
                self.defaults[attname] = now
            elif model_field.has_default():
                self.defaults[attname] = model_field.get_default()
            else:
                self.defaults[attname] = None if model_field.null else model_field.get_default()
        if self.name == "User":
            self.defaults["password"] = make_password(None)  # imported users sign in once given one
            self.defaults["date_joined"] = now
        if self.name == "ActionCadenceTrackerShare":
            self.defaults["row_cause"] = "Manual"
        self.stamped = all(name in concrete for name in STAMP_COLUMNS)
        self.was_empty = False
        # (API name, kind, attribute) of every field, for change events.
        self.event_fields = [
            (
                spec.name,
                "ref" if spec.type == "reference" else spec.type,
                f"{spec.attr}_id" if spec.type == "reference" and spec.attr else spec.attr,
            )
            for spec in sobject.fields
        ]

    def _field(self, spec: FieldSpec, concrete: dict[str, models.Field]) -> _Field:
        defaulted = "defaulted_on_create" in spec.properties
        if spec.type == "id":
            return _Field(spec, "id", cells.normalize_id)
        if spec.type == "reference":
            columns, prefixes = {}, {}
            for object_name, attr in spec.columns.items():
                model_field = self.model._meta.get_field(attr)
                columns[object_name] = model_field.attname
                prefixes[registry.get(object_name).key_prefix] = object_name
            return _Field(
                spec,
                "reference",
                cells.normalize_id,
                columns=columns,
                prefixes=prefixes,
                required=not spec.nillable and not defaulted,
                nillable=spec.nillable,
                defaulted=defaulted,
            )
        model_field = concrete.get(spec.attr or "")
        if model_field is None:  # User.Name, IsTrackerActive: computed from other fields
            return _Field(spec, "derived", cells.converter(spec, None), defaulted=True)
        return _Field(
            spec,
            "value",
            cells.converter(spec, model_field),
            attname=model_field.attname,
            null=None if model_field.null else ("" if model_field.empty_strings_allowed else None),
            required=not spec.nillable and not defaulted and not model_field.has_default(),
            nillable=spec.nillable or model_field.null,
            defaulted=defaulted,
        )

    def adapt(self, row: dict[str, Any]) -> list[Any]:
        """The row's values in ``attnames`` order (its keys' order), ready for the driver."""
        out = list(row.values())
        for index, adapter in self.adapters:
            value = out[index]
            if value is not None:
                out[index] = adapter(value)
        return out


# --------------------------------------------------------------------------- references


class _Resolver:
    """sf_id -> primary key per object: a cache filled by this import's writes and by
    one ``IN`` query a batch for ids not seen yet."""

    def __init__(self) -> None:
        self.keys: dict[str, dict[str, int]] = defaultdict(dict)

    def load(self, object_name: str, ids: Iterable[str]) -> None:
        known = self.keys[object_name]
        missing = sorted({value for value in ids if value not in known})
        if not missing:
            return
        known.update(_keys_by_sf_id(registry.get(object_name).model, missing))

    def get(self, object_name: str, value: str) -> int | None:
        return self.keys[object_name].get(value)


@dataclass
class _Deferred:
    """A reference to a record imported later in this run, set by the second pass."""

    plan: _Plan
    pk: int
    attname: str
    object_name: str
    value: str
    location: str
    field: str


@dataclass
class _Row:
    location: str
    sf_id: str
    values: dict[str, Any]  # API name -> converted value, as the file gave it
    refs: list[tuple[_Field, str, str]]  # (field, object, 18-char id)
    pk: int | None = None
    existing: dict[str, Any] | None = None
    merged: dict[str, Any] = field(default_factory=dict)
    deferred: list[tuple[str, str, str, str]] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    active_delta: int = 0  # what writing it adds to the org's count of active trackers


class _OneAtATime:
    """A partial unique constraint checked in memory, so a bad row is named before the
    database sees it (and a load with its indexes dropped never meets it at the end):
    at most one row per key (the first non-null of ``columns``) in ``states``."""

    def __init__(
        self,
        model: type[models.Model],
        columns: tuple[str, ...],
        states: Iterable[str],
        field_name: str,
        message: str,
        *,
        live_only: bool,
    ) -> None:
        self.columns, self.states = columns, frozenset(str(state) for state in states)
        self.field_name, self.message, self.live_only = field_name, message, live_only
        rows = model._base_manager.filter(state__in=self.states)
        if live_only:
            rows = rows.filter(is_deleted=False)
        self.holders = {
            key: sf_id
            for sf_id, *keys in rows.values_list("sf_id", *columns).iterator(chunk_size=BATCH)
            if (key := self._key(keys)) is not None
        }

    @staticmethod
    def _key(keys: Iterable[Any]) -> tuple[int, Any] | None:
        for index, value in enumerate(keys):
            if value is not None:
                return index, value
        return None

    def _holds(self, row: dict[str, Any]) -> tuple[int, Any] | None:
        if row["state"] not in self.states or (self.live_only and row.get("is_deleted")):
            return None
        return self._key(row[column] for column in self.columns)

    def check(self, row: _Row) -> str | None:
        """The problem with ``row``, or None (and the row now holds its key)."""
        me = row.sf_id or row.location  # a row without an Id gets one only when written
        if row.existing is not None:
            old = self._holds(row.existing)
            if old is not None and self.holders.get(old) == me:
                del self.holders[old]
        key = self._holds(row.merged)
        if key is None:
            return None
        holder = self.holders.get(key)
        if holder is not None and holder != me:
            return f"{self.message} ({holder})."
        self.holders[key] = me
        return None

    def release(self, row: _Row) -> None:
        """The database refused ``row`` after ``check``: its new key is free again, and
        a stored row keeps the key it had."""
        me = row.sf_id or row.location
        key = self._holds(row.merged)
        if key is not None and self.holders.get(key) == me:
            del self.holders[key]
        if row.existing is not None:
            old = self._holds(row.existing)
            if old is not None:
                self.holders.setdefault(old, me)


# --------------------------------------------------------------------------- database messages

_CONSTRAINT_MESSAGES = {
    "tracker_one_active_per_lead": (
        "TargetId",
        "this lead already has an active tracker; a target has at most one at a time.",
    ),
    "tracker_one_active_per_contact": (
        "TargetId",
        "this contact already has an active tracker; a target has at most one at a time.",
    ),
    "steptracker_one_open_per_tracker": (
        "State",
        "the tracker already has an open step tracker; a tracker has at most one.",
    ),
    "step_wait_needs_wait_time": ("WaitTimeInSeconds", "a Wait step needs WaitTimeInSeconds."),
    "step_chained_cadence_only_on_daisy_chain": (
        "ChainedCadenceId",
        "only a DaisyChain step has a ChainedCadenceId.",
    ),
    "group_role_iff_role_type": (
        "RelatedId",
        "Role and RoleAndSubordinates groups need a RelatedId (their role); others have none.",
    ),
}
_SQLITE_UNIQUE = {
    "trackers_actioncadencetracker.target_lead_id": "tracker_one_active_per_lead",
    "trackers_actioncadencetracker.target_contact_id": "tracker_one_active_per_contact",
    "trackers_actioncadencesteptracker.action_cadence_tracker_id": (
        "steptracker_one_open_per_tracker"
    ),
}


def _explain(plan: _Plan, error: DatabaseError) -> tuple[str | None, str]:
    """(API field, message) for a row the database refused."""
    text = str(error)
    for name, explained in _CONSTRAINT_MESSAGES.items():
        if name in text:
            return explained
    unique = re.search(r"UNIQUE constraint failed: ([\w., ]+)", text)
    if unique:
        columns = [part.strip().split(".")[-1] for part in unique.group(1).split(",")]
        key = unique.group(1).split(",")[0].strip()
        if key in _SQLITE_UNIQUE:
            return _CONSTRAINT_MESSAGES[_SQLITE_UNIQUE[key]]
    else:
        match = re.search(r"Key \(([^)]*)\)=", text)
        columns = [part.strip() for part in match.group(1).split(",")] if match else []
    if columns:
        names = [_api_name(plan, column) for column in columns]
        return names[0], f"another {plan.name} already has this {' and '.join(names)}."
    check = re.search(r'CHECK constraint failed: (\w+)|check constraint "(\w+)"', text)
    if check:
        return None, f"breaks the rule {check.group(1) or check.group(2)}."
    return None, f"the database refused the row: {text}"


def _api_name(plan: _Plan, column: str) -> str:
    for attname in (column, column + "_id"):
        found = plan.by_attname.get(attname)
        if found is not None:
            return found.spec.name
    return column


# --------------------------------------------------------------------------- the importer


class Importer:
    def __init__(
        self,
        files: list[SourceFile],
        *,
        atomic: bool = False,
        dry_run: bool = False,
        actor: Any = None,
        progress: Progress | None = None,
        batch_size: int = BATCH,
    ) -> None:
        self.files = files
        self.atomic = atomic
        self.dry_run = dry_run
        self.actor = actor if actor is not None and getattr(actor, "pk", None) else None
        self.progress = progress
        self.batch_size = batch_size
        self.now = timezone.now()
        self.result = ImportResult(dry_run=dry_run)
        self.resolver = _Resolver()
        self.deferred: list[_Deferred] = []
        self.seen: dict[str, dict[str, str]] = defaultdict(dict)
        self.changed_trackers: list[int] = []
        self.sharing_changed = False
        names = {source.sobject.name for source in files}
        self.order = [name for name in ORDER if name in names] + sorted(names - set(ORDER))
        self.position = {name: index for index, name in enumerate(self.order)}
        self.done: set[str] = set()
        self.reference_ids: dict[Any, str] = {}
        self.writes: ThreadPoolExecutor | None = None  # the writer thread (SQLite)
        self._pending: tuple | None = None  # its batch, until ``_settle``
        # _SqliteCreateEvents by object and the references a file gives.
        self.create_events: dict[tuple, _SqliteCreateEvents | None] = {}

    # ----------------------------------------------------------------- entry point

    def _transaction(self) -> Any:
        """One transaction; for a load of trackers as big as the table (and not inside
        someone else's transaction) the bulk loader's, which drops the tracker tables'
        indexes for the load and rebuilds them before commit. The change events' stay:
        that table only grows (rebuilding would cost what it already holds, however
        small the import), most of its keys arrive in order (tracker, time, user), and
        on SQLite the writer thread maintains them beside the reading. On PostgreSQL
        its foreign keys are dropped and checked again at the end, in one pass each."""
        from trackers.models import (
            ActionCadenceStepTracker,
            ActionCadenceTracker,
            ActionCadenceTrackerChangeEvent,
        )

        if connection.in_atomic_block or self.dry_run:  # a preview never locks tables
            return transaction.atomic()
        rows = sum(
            source.count()
            for source in self.files
            if source.sobject.model in (ActionCadenceTracker, ActionCadenceStepTracker)
        )
        if rows < REBUILD_FROM or rows < ActionCadenceTracker.all_objects.count():
            return transaction.atomic()
        return bulk_load(
            ActionCadenceTracker,
            ActionCadenceStepTracker,
            also_checked=(ActionCadenceTrackerChangeEvent,),
        )

    def run(self) -> ImportResult:
        try:
            with _sqlite_page_cache(), self._transaction(), self._writer_thread(), _no_gc():
                for name in self.order:
                    plan = _Plan(registry.get(name), self.now)
                    # Into an empty table every row is new: no look-ups for existing Ids.
                    plan.was_empty = not plan.model._base_manager.exists()
                    self.result.count(name)
                    for source in self.files:
                        if source.sobject.name == name:
                            self._import_file(plan, source)
                    self.done.add(name)
                self._second_pass()
                # Reading and checking find a row's problems at different times: report
                # them file by file, line by line.
                self.result.errors.sort(key=_error_order)
                if self.atomic and self.result.errors:
                    raise _RollBack
                self._after()
                if self.dry_run:
                    raise _RollBack
        except _RollBack:
            self.result.rolled_back = True
        return self.result

    def _error(self, location: str, field_name: str | None, message: str) -> None:
        self.result.errors.append(RowError(location, field_name, message))

    # ----------------------------------------------------------------- reading

    def _import_file(self, plan: _Plan, source: SourceFile) -> None:
        slots: list[_Slot] = []
        ignored = []
        for index, column in enumerate(source.columns):
            found = plan.fields.get(column.lower())
            if found is None:
                ignored.append(column)
            else:
                slots.append((index, found, found.spec.name, found.kind, found.convert))
        if ignored:
            self.result.notes.append(
                f"{source.name}: columns not in {plan.name} were ignored: {', '.join(ignored)}"
            )
        given = {slot[2] for slot in slots}
        batch: list[_Row] = []
        done = 0
        read = self._read
        for number, row_cells in source.cells():
            row = read(plan, source, number, row_cells, slots)
            if row is not None:
                batch.append(row)
                if len(batch) >= self.batch_size:
                    self._write_batch(plan, batch, given)
                    batch = []
            done += 1
            if self.progress is not None and done % 1000 == 0:
                self.progress(source, done)
        if batch:
            self._write_batch(plan, batch, given)
        self._settle()
        if self.progress is not None:
            self.progress(source, done)

    def _read(
        self,
        plan: _Plan,
        source: SourceFile,
        number: int,
        row_cells: list[Any] | int,
        slots: list[_Slot],
    ) -> _Row | None:
        location = source.location(number)
        if isinstance(row_cells, int):
            self._error(
                location, None, f"{row_cells} cells, but the header has {len(source.columns)}."
            )
            self.result.count(plan.name).skipped += 1
            return None
        errors: list[tuple[str, str]] = []
        given: dict[str, Any] = {}
        refs: list[tuple[_Field, str, str]] = []
        sf_id = None
        known_ids = self.reference_ids
        nulls, spaces = cells.NULLS, _SPACES
        for index, found, name, kind, convert in slots:
            raw = row_cells[index]
            if raw.__class__ is str:
                padded = raw and (raw[0] in spaces or raw[-1] in spaces)
                if raw in nulls or (padded and raw.strip() in nulls):
                    raw = None
            elif raw is MISSING:  # a JSON record may leave a column out
                continue
            elif isinstance(raw, (list, dict)):  # JSON: a field holds one value, never several
                errors.append((name, f"expected a single value, got {type(raw).__name__}"))
                continue
            if raw is None:
                if kind == "id" or found.defaulted:
                    continue
                if not found.nillable:
                    errors.append((name, f"{name} is required; the cell is empty."))
                given[name] = None
                continue
            if kind == "reference":
                # Owners, cadences and rules repeat on every row: their ids are checked once.
                value = known_ids.get(raw)
                if value is None:
                    try:
                        value = convert(raw)
                    except cells.FieldError as error:
                        errors.append((name, str(error)))
                        continue
                    if len(known_ids) < REFERENCE_CACHE:
                        known_ids[raw] = value
                object_name = found.prefixes.get(value[:3])
                if object_name is None:
                    errors.append((name, f"{value} is not an id of {' or '.join(found.columns)}."))
                    continue
                refs.append((found, object_name, value))
                given[name] = value
                continue
            try:
                value = convert(raw)
            except cells.FieldError as error:
                errors.append((name, str(error)))
                continue
            if kind == "id":
                if value[:3] != plan.sobject.key_prefix:
                    errors.append(
                        (
                            name,
                            f"{value} is not an id of {plan.name} "
                            f"(key prefix {plan.sobject.key_prefix}).",
                        )
                    )
                sf_id = value
                continue
            given[name] = value
        counts = self.result.count(plan.name)
        if plan.name == "ActionCadenceTrackerShare" and given.get("RowCause") in ("Owner", "Rule"):
            # Derived rows: Owner access comes from OwnerId, Rule rows from recalculation.
            counts.skipped += 1
            note = (
                f"{source.name}: Owner and Rule share rows are derived (from OwnerId and the "
                "sharing rules) and were not imported; only Manual rows are."
            )
            if note not in self.result.notes:
                self.result.notes.append(note)
            return None
        if sf_id is not None:
            first = self.seen[plan.name].get(sf_id)
            if first is not None:
                errors.append(("Id", f"{sf_id} appears twice in this import (first at {first})."))
            else:
                self.seen[plan.name][sf_id] = location
        if errors:
            for name, message in errors:
                self._error(location, name, message)
            counts.skipped += 1
            return None
        return _Row(location, sf_id or "", given, refs)

    # ----------------------------------------------------------------- writing

    def _write_batch(self, plan: _Plan, batch: list[_Row], given: set[str]) -> None:
        self._settle()  # the previous batch's writes: the connection is free again
        counts = self.result.count(plan.name)
        self._load_existing(plan, batch)
        by_object: dict[str, set[str]] = defaultdict(set)
        for row in batch:
            for _, object_name, value in row.refs:
                by_object[object_name].add(value)
        for object_name, ids in by_object.items():
            self.resolver.load(object_name, ids)
        missing = [
            found.spec.name
            for found in plan.fields.values()
            if found.required and found.spec.name not in given
        ]
        accepted: list[_Row] = []
        for row in batch:
            if self._merge(plan, row, given, missing):
                accepted.append(row)
            else:
                counts.skipped += 1
        if plan.name == "ActionCadenceTracker":
            accepted = self._check_trackers(accepted, given)
        elif plan.name == "ActionCadenceStepTracker":
            accepted = self._check_step_trackers(accepted)
        creates = [row for row in accepted if row.existing is None]
        updates = [row for row in accepted if row.existing is not None and row.changed]
        counts.unchanged += sum(
            1 for row in accepted if row.existing is not None and not row.changed
        )
        if self.writes is not None and creates and not updates:
            self._insert_in_background(plan, creates, given)
            return
        written_creates = self._insert(plan, creates)
        written_updates = self._update(plan, updates)
        self._written(plan, creates, written_creates, updates, written_updates)
        if plan.name == "ActionCadenceTracker" and (written_creates or written_updates):
            self._events(plan, written_creates, written_updates)

    def _written(
        self,
        plan: _Plan,
        creates: list[_Row],
        written_creates: list[_Row],
        updates: list[_Row],
        written_updates: list[_Row],
    ) -> None:
        """What follows a batch's writes: counts, keys, references for the second pass,
        and what the sharing recalculation must look at."""
        counts = self.result.count(plan.name)
        counts.created += len(written_creates)
        counts.updated += len(written_updates)
        counts.skipped += len(creates) - len(written_creates) + len(updates) - len(written_updates)
        keys = self.resolver.keys[plan.name]
        for row in written_creates:
            keys[row.sf_id] = row.pk
        for row in (*written_creates, *written_updates):
            for attname, object_name, value, field_name in row.deferred:
                self.deferred.append(
                    _Deferred(plan, row.pk, attname, object_name, value, row.location, field_name)
                )
        if written_creates or written_updates:
            if plan.name in SHARING_STRUCTURE:
                self.sharing_changed = True
            if plan.name == "ActionCadenceTracker":
                self.changed_trackers.extend(row.pk for row in (*written_creates, *written_updates))

    # ----------------------------------------------------------------- the writer thread

    def _insert_in_background(self, plan: _Plan, rows: list[_Row], given: set[str]) -> None:
        """Hand a batch of new rows (and their change events) to the writer thread, in a
        savepoint; ``_settle`` waits for it, keeps it or writes it again row by row."""
        from trackers.models import ActionCadenceTrackerChangeEvent

        assert self.writes is not None
        savepoint = transaction.savepoint()
        self._number(plan, rows)
        adapt = plan.adapt
        driver = connection.connection
        # Every statement is made before the writer starts: from then on, this thread
        # leaves the connection alone until ``_settle``.
        insert = _SqliteInsert(plan.model, ["id", "sf_id", *plan.attnames], WRITER_ROWS_PER_INSERT)
        made = insert_events = None
        if plan.name == "ActionCadenceTracker":
            made_for = (plan.name, frozenset(given))
            if made_for not in self.create_events:
                self.create_events[made_for] = _SqliteCreateEvents.of(plan, given)
            made = self.create_events[made_for]
            if made is None:
                insert_events = _SqliteInsert(
                    ActionCadenceTrackerChangeEvent, EVENT_COLUMNS, WRITER_ROWS_PER_INSERT
                )
        inserted = self.writes.submit(
            insert.raw, driver, [(row.pk, row.sf_id, *adapt(row.merged)) for row in rows]
        )
        # The change events are written after the rows, unless those were refused.
        events = None
        if made is not None or insert_events is not None:
            if made is not None:
                header = self._event_header(plan)
                write_events, arguments = made.raw, (rows[0].pk, header, made.references(rows))
            else:
                write_events, arguments = insert_events.raw, (self._event_rows(plan, rows, []),)
            events = self.writes.submit(_unless_failed, inserted, write_events, driver, *arguments)
        self._pending = (plan, rows, savepoint, inserted, events)

    def _settle(self) -> None:
        """Wait for the writer thread's batch (the connection is this thread's again
        afterwards). If the database refused it, the savepoint undoes it and the rows
        are written again one by one, so only the refused ones fail."""
        if self._pending is None:
            return
        plan, rows, savepoint, inserted, events = self._pending
        self._pending = None
        futures.wait([future for future in (inserted, events) if future is not None])
        if inserted.exception() is None:
            error = events.exception() if events is not None else None
            if error is not None:
                with connection.wrap_database_errors:
                    raise error
            transaction.savepoint_commit(savepoint)
            self._written(plan, rows, rows, [], [])
            return
        transaction.savepoint_rollback(savepoint)
        transaction.savepoint_commit(savepoint)  # released, as Django's atomic does
        written = self._one_by_one(plan, rows, self._create_writer(plan))
        self._written(plan, rows, written, [], [])
        if written and plan.name == "ActionCadenceTracker":
            self._events(plan, written, [])

    @contextmanager
    def _writer_thread(self) -> Iterator[None]:
        """On SQLite, a second thread for the inserts of new rows: the database's work
        (the driver's C code, which lets go of Python's interpreter lock) runs on a
        second core while this thread reads and checks the next batch. The thread uses
        this thread's connection (Django opens SQLite's with check_same_thread=False)
        only between ``_insert_in_background`` and ``_settle``, when this one leaves it
        alone. On PostgreSQL the client's share of COPY is Python work: no gain there."""
        if connection.vendor != "sqlite":
            yield
            return
        connection.ensure_connection()
        pool = ThreadPoolExecutor(1, thread_name_prefix="import-writer")
        self.writes = pool
        interval = sys.getswitchinterval()
        sys.setswitchinterval(WRITER_SWITCH_INTERVAL)
        try:
            yield
        finally:
            try:
                # On an error here, the writer's running job (one batch's statements)
                # ends before the rollback; a queued one never starts.
                _drain(pool)
            finally:
                sys.setswitchinterval(interval)
                self.writes, self._pending = None, None

    def _load_existing(self, plan: _Plan, batch: list[_Row]) -> None:
        ids = [row.sf_id for row in batch if row.sf_id]
        if not ids or plan.was_empty:
            return
        found = {
            values[1]: values
            for values in _by_sf_id(plan.model, ids, "pk", "sf_id", *plan.attnames)
        }
        keys = self.resolver.keys[plan.name]
        for row in batch:
            values = found.get(row.sf_id)
            if values is not None:
                row.pk = values[0]
                row.existing = dict(zip(plan.attnames, values[2:], strict=True))
                keys[row.sf_id] = row.pk

    def _merge(self, plan: _Plan, row: _Row, given: set[str], missing: list[str]) -> bool:
        """The row as it will be stored (``row.merged``), or False after reporting why
        it cannot be. ``missing``: the required fields the file has no column for."""
        if row.existing is None:
            for name in missing:
                self._error(row.location, name, f"{name} is required for a new {plan.name}.")
            if missing:
                return False
        merged = dict(row.existing if row.existing is not None else plan.defaults)
        if row.existing is None and self.actor is not None and plan.stamped:
            merged["created_by_id"] = merged["last_modified_by_id"] = self.actor.pk
        by_name = plan.by_name
        for name, value in row.values.items():
            found = by_name[name]
            if found.kind == "value":
                merged[found.attname] = found.null if value is None else value
            elif found.kind == "reference" and value is None:
                for attname in found.columns.values():
                    merged[attname] = None
        ok = True
        keys = self.resolver.keys
        for found, object_name, value in row.refs:
            columns = found.columns
            if len(columns) > 1:
                for attname in columns.values():
                    merged[attname] = None
            attname = columns[object_name]
            pk = keys[object_name].get(value)
            if pk is not None:
                merged[attname] = pk
                continue
            pending = object_name not in self.done and object_name in self.position
            if pending and plan.model._meta.get_field(attname.removesuffix("_id")).null:
                row.deferred.append((attname, object_name, value, found.spec.name))
                if row.existing is not None:
                    merged[attname] = row.existing[attname]  # kept until the second pass
                continue
            ok = False
            self._error(
                row.location,
                found.spec.name,
                f"no {object_name} with Id {value} in the database or in this import.",
            )
        if not ok:
            return False
        if row.existing is not None:
            row.changed = [
                attname for attname in plan.attnames if merged[attname] != row.existing[attname]
            ]
            # A reference waiting for the second pass changes unless it already points there.
            row.changed += [
                attname
                for attname, object_name, value, _ in row.deferred
                if attname not in row.changed
                and self.resolver.get(object_name, value) != row.existing[attname]
            ]
            if row.changed and plan.stamped:
                # A change the file does not date is dated now, by whoever imports it.
                if "LastModifiedDate" not in given:
                    merged["last_modified_date"] = self.now
                if "SystemModstamp" not in given:
                    merged["system_modstamp"] = self.now
                if "LastModifiedById" not in given and self.actor is not None:
                    merged["last_modified_by_id"] = self.actor.pk
        row.merged = merged
        return True

    def _check_trackers(self, rows: list[_Row], given: set[str]) -> list[_Row]:
        """SPEC 2.1's invariants, each with a message that says which fields disagree,
        and the org's limit on active trackers."""
        if not hasattr(self, "_active"):
            from sharing.models import Organization
            from trackers.models import ActionCadenceTracker

            Organization.objects.select_for_update().filter(pk=Organization.get().pk).first()
            self._active = ActionCadenceTracker.objects.filter(state__in=ACTIVE).count()
            self._one_per_target = _OneAtATime(
                ActionCadenceTracker,
                ("target_lead_id", "target_contact_id"),
                ACTIVE,
                "TargetId",
                "this target already has an active tracker; a target has at most one at a time",
                live_only=True,
            )
        limit = settings.CADENCE_ACTIVE_TRACKER_LIMIT
        accepted = []
        counts = self.result.count("ActionCadenceTracker")
        for row in rows:
            problems = _tracker_problems(row.merged, row.values)
            if not problems:
                clash = self._one_per_target.check(row)
                if clash:
                    problems.append(("TargetId", clash))
            was_active = row.existing is not None and row.existing["state"] in ACTIVE
            is_active = row.merged["state"] in ACTIVE and not row.merged["is_deleted"]
            was_active = was_active and not row.existing["is_deleted"]
            if not problems and is_active and not was_active and self._active + 1 > limit:
                problems.append(
                    (
                        "State",
                        f"the org already has {self._active:,} active trackers; its limit is "
                        f"{limit:,} (CADENCE_ACTIVE_TRACKER_LIMIT).",
                    )
                )
            if problems:
                for name, message in problems:
                    self._error(row.location, name, message)
                counts.skipped += 1
                continue
            row.active_delta = int(is_active) - int(was_active)
            self._active += row.active_delta
            accepted.append(row)
        return accepted

    def _check_step_trackers(self, rows: list[_Row]) -> list[_Row]:
        from trackers.choices import OPEN_STEP_STATES
        from trackers.models import ActionCadenceStepTracker

        if not hasattr(self, "_one_open_step"):
            self._one_open_step = _OneAtATime(
                ActionCadenceStepTracker,
                ("action_cadence_tracker_id",),
                OPEN_STEP_STATES,
                "State",
                "the tracker already has an open step tracker; a tracker has at most one",
                live_only=False,
            )
        accepted = []
        for row in rows:
            clash = self._one_open_step.check(row)
            if clash:
                self._error(row.location, "State", clash)
                self.result.count("ActionCadenceStepTracker").skipped += 1
            else:
                accepted.append(row)
        return accepted

    def _insert(self, plan: _Plan, rows: list[_Row]) -> list[_Row]:
        if not rows:
            return []
        if connection.vendor == "postgresql":
            # Explicit keys from MAX(id) + 1 hold only while nobody else inserts: other
            # writers wait for this import's commit (readers do not). SQLite's write
            # transaction already keeps every other writer out.
            with connection.cursor() as cursor:
                cursor.execute(
                    f"LOCK TABLE {connection.ops.quote_name(plan.model._meta.db_table)} "
                    "IN SHARE ROW EXCLUSIVE MODE"
                )
        self._number(plan, rows)
        written = self._guarded(plan, rows, self._create_writer(plan))
        reset_sequences(plan.model)
        return written

    @staticmethod
    def _number(plan: _Plan, rows: list[_Row]) -> None:
        """Keys from one past the table's highest, and new Ids for rows without one."""
        first = next_id(plan.model)
        missing_ids = [row for row in rows if not row.sf_id]
        for row, new in zip(missing_ids, _new_ids(plan, len(missing_ids)), strict=True):
            row.sf_id = new
        for offset, row in enumerate(rows):
            row.pk = first + offset

    @staticmethod
    def _create_writer(plan: _Plan) -> Callable[[list[_Row]], None]:
        writer = _writer(plan.model, ["id", "sf_id", *plan.attnames])
        adapt = plan.adapt

        def write(chunk: list[_Row]) -> None:
            writer([(row.pk, row.sf_id, *adapt(row.merged)) for row in chunk])

        return write

    def _update(self, plan: _Plan, rows: list[_Row]) -> list[_Row]:
        if not rows:
            return []
        quote = connection.ops.quote_name
        assignments = ", ".join(f"{quote(name)} = %s" for name in plan.attnames)
        sql = (
            f"UPDATE {quote(plan.model._meta.db_table)} SET {assignments} WHERE {quote('id')} = %s"
        )

        def write(chunk: list[_Row]) -> None:
            with connection.cursor() as cursor:
                cursor.executemany(sql, [(*plan.adapt(row.merged), row.pk) for row in chunk])

        return self._guarded(plan, rows, write)

    def _guarded(
        self, plan: _Plan, rows: list[_Row], write: Callable[[list[_Row]], None]
    ) -> list[_Row]:
        """Write the batch; if the database refuses it, write row by row so only the
        refused rows fail, each reported with the constraint in words."""
        try:
            with transaction.atomic():
                write(rows)
            return rows
        except DatabaseError:
            return self._one_by_one(plan, rows, write)

    def _one_by_one(
        self, plan: _Plan, rows: list[_Row], write: Callable[[list[_Row]], None]
    ) -> list[_Row]:
        written = []
        for row in rows:
            try:
                with transaction.atomic():
                    write([row])
            except DatabaseError as error:
                name, message = _explain(plan, error)
                self._error(row.location, name, message)
                if plan.name == "ActionCadenceTracker":
                    self._active -= row.active_delta
                    self._one_per_target.release(row)
                elif plan.name == "ActionCadenceStepTracker":
                    self._one_open_step.release(row)
            else:
                written.append(row)
        if len(written) < len(rows) and not gc.isenabled():
            # Each refused row leaves a reference cycle (the database error's traceback
            # frames), which the paused collector would keep until the import ends.
            gc.collect()
        return written

    # ----------------------------------------------------------------- change events

    def _events(self, plan: _Plan, creates: list[_Row], updates: list[_Row]) -> None:
        from trackers.models import ActionCadenceTrackerChangeEvent

        _writer(ActionCadenceTrackerChangeEvent, EVENT_COLUMNS)(
            self._event_rows(plan, creates, updates)
        )

    def _event_rows(self, plan: _Plan, creates: list[_Row], updates: list[_Row]) -> list[tuple]:
        """The CREATE and UPDATE change events of these rows, as tuples in
        ``EVENT_COLUMNS`` order, one transaction key for them all."""
        stamp, actor_id, actor_sf_id, key, origin, created_at = self._event_header(plan)
        dumps = json.JSONEncoder().encode
        every_field = _EventValues(plan.event_fields)
        subsets: dict[tuple[str, ...], _EventValues] = {}
        rows = []
        for change_type, batch in ((ChangeType.CREATE, creates), (ChangeType.UPDATE, updates)):
            type_name = str(change_type)
            for row in batch:
                if change_type == ChangeType.CREATE:
                    changed_fields = "[]"
                    event_values = every_field(row, self.actor)
                else:
                    names = sorted(
                        {
                            plan.by_attname[attname].spec.name
                            for attname in row.changed
                            if attname in plan.by_attname
                        }
                    )
                    if (row.existing["state"] in ACTIVE) != (row.merged["state"] in ACTIVE):
                        names = sorted({*names, "IsTrackerActive"})
                    some_fields = subsets.get(tuple(names))
                    if some_fields is None:
                        some_fields = subsets[tuple(names)] = _EventValues(
                            item for item in plan.event_fields if item[0] in names
                        )
                    event_values = some_fields(row, self.actor)
                    changed_fields = json.dumps(names)
                rows.append(
                    (
                        row.pk,
                        row.sf_id,
                        type_name,
                        changed_fields,
                        dumps(event_values),
                        stamp,
                        actor_id,
                        actor_sf_id,
                        key,
                        len(rows) + 1,
                        origin,
                        created_at,
                    )
                )
        return rows

    def _event_header(self, plan: _Plan) -> tuple:
        """What every event of one batch shares: commit timestamp, commit user and its
        Id, a new transaction key, the change origin, and when it was made."""
        return (
            int(self.now.timestamp() * 1000),
            self.actor.pk if self.actor else None,
            self.actor.sf_id if self.actor else "",
            str(uuid.uuid4()),
            CHANGE_ORIGIN,
            _adapter(plan.model._meta.get_field("created_date"))(self.now),
        )

    # ----------------------------------------------------------------- second pass and after

    def _second_pass(self) -> None:
        """References to records imported after the row that names them."""
        by_column: dict[tuple[type[models.Model], str], list[tuple[int, int]]] = defaultdict(list)
        unresolved = []
        for name in {item.object_name for item in self.deferred}:
            self.resolver.load(
                name, [item.value for item in self.deferred if item.object_name == name]
            )
        for item in self.deferred:
            pk = self.resolver.get(item.object_name, item.value)
            if pk is None:
                self._error(
                    item.location,
                    item.field,
                    f"no {item.object_name} with Id {item.value} in the database or in this "
                    "import (its row was skipped); the reference was not set.",
                )
                unresolved.append(item)
                continue
            by_column[(item.plan.model, item.attname)].append((pk, item.pk))
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            for (model, attname), pairs in by_column.items():
                cursor.executemany(
                    f"UPDATE {quote(model._meta.db_table)} SET {quote(attname)} = %s "
                    f"WHERE {quote('id')} = %s",
                    pairs,
                )
        self._blank_unresolved_in_events(unresolved)

    def _blank_unresolved_in_events(self, unresolved: list[_Deferred]) -> None:
        """A CREATE event names the file's reference; one that never resolved was left
        empty, and the event must say so too."""
        from trackers.models import ActionCadenceTrackerChangeEvent

        for item in unresolved:
            if item.plan.name != "ActionCadenceTracker":
                continue
            for event in ActionCadenceTrackerChangeEvent.objects.filter(
                tracker_id=item.pk, change_origin=CHANGE_ORIGIN, created_at=self.now
            ):
                if item.field in event.values:
                    event.values[item.field] = None
                    event.save(update_fields=["values"])

    def _after(self) -> None:
        """Sharing: the org graph's cache key moves and Rule rows are recomputed."""
        from sharing import recalc
        from sharing.models import Organization

        if self.sharing_changed:
            Organization.bump_sharing_version()
            recalc.recalculate_rules()
        elif len(self.changed_trackers) > BATCH:
            recalc.recalculate_rules()
        elif self.changed_trackers:
            recalc.recalculate_for_trackers(self.changed_trackers)


def _writer(model: type[models.Model], columns: list[str]) -> Callable[[list[tuple]], object]:
    """Writes tuples (in ``columns`` order) into the model's table: on PostgreSQL the
    bulk loader's COPY, on SQLite ``_SqliteInsert``. Errors come as Django's, so a
    refused batch can be retried row by row."""
    if connection.vendor == "sqlite":
        return _SqliteInsert(model, columns)
    return TableWriter(model, columns).write


class _SqliteInsert:
    """``rows_per_insert`` rows an INSERT statement, which takes half the time of one
    statement a row (executemany): a statement's fixed costs (binding, reset, the
    AUTOINCREMENT counter's update) are paid once per many rows.

    Called, it writes on this thread's connection with Django's errors; ``raw`` writes
    on a driver connection handed over (the import's writer thread) and raises the
    driver's own errors.
    """

    def __init__(
        self, model: type[models.Model], columns: list[str], rows_per_insert: int | None = None
    ) -> None:
        table = TableWriter(model, columns)
        quote = connection.ops.quote_name
        self.head = (
            f"INSERT INTO {quote(table.table)} "
            f"({', '.join(quote(name) for name in table.columns)}) VALUES "
        )
        self.one = f"({', '.join(['?'] * len(table.columns))})"
        connection.ensure_connection()
        limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        self.per = min(rows_per_insert or SQLITE_ROWS_PER_INSERT, limit // len(table.columns))
        self.full = self.head + ", ".join([self.one] * self.per)
        self.extra = table.extra

    def __call__(self, rows: list[tuple]) -> None:
        # The driver's own cursor (qmark parameters; Django's debug wrapper would keep
        # every row), its errors turned into Django's as a Django cursor's are.
        connection.ensure_connection()
        with connection.wrap_database_errors:
            self.raw(connection.connection, rows)

    def raw(self, driver: Any, rows: list[tuple]) -> None:
        if self.extra:
            rows = [row + self.extra for row in rows]
        per = self.per
        whole = len(rows) - len(rows) % per
        cursor = driver.cursor()
        try:
            if whole:
                cursor.executemany(
                    self.full,
                    [
                        list(chain.from_iterable(rows[start : start + per]))
                        for start in range(0, whole, per)
                    ],
                )
            if whole < len(rows):
                rest = rows[whole:]
                cursor.execute(
                    self.head + ", ".join([self.one] * len(rest)), list(chain.from_iterable(rest))
                )
        finally:
            cursor.close()


class _SqliteCreateEvents:
    """The CREATE change events of a batch of new rows, made by SQLite from the rows
    just written (``INSERT … SELECT`` with ``json_object``): every field as the API
    shows it, as ``_EventValues`` gives it, without a row passing through Python, so
    the writer thread makes them while this one reads on. References the file gives
    come from it (one JSON array a batch, as ``_EventValues`` takes them: one the second
    pass sets later is there already, and the writer looks up no target among a
    million leads); the others from the stored row (an audit field stamped with the
    importing user, or null). ``of`` gives None for an object with a field whose type
    has no SQL form here (numbers: their JSON is Python's float)."""

    def __init__(self, sql: str, extra: tuple, from_file: tuple[str, ...]) -> None:
        self.sql, self.extra, self.from_file = sql, extra, from_file

    @classmethod
    def of(cls, plan: _Plan, given: Iterable[str]) -> _SqliteCreateEvents | None:
        """For a file with the fields ``given``."""
        from trackers.models import ActionCadenceTrackerChangeEvent

        given = set(given)
        from_file = tuple(
            spec.name
            for spec in plan.sobject.fields
            if spec.type == "reference" and spec.name in given
        )
        members = []
        for spec in plan.sobject.fields:
            value = _sqlite_json(plan, spec)
            if value is None:
                return None
            if spec.name in from_file:
                place = from_file.index(spec.name)
                value = f"COALESCE(json_extract(j.value, '$[{place}]'), {value})"
            members += [f"'{spec.name}'", value]
        quote = connection.ops.quote_name
        table = TableWriter(ActionCadenceTrackerChangeEvent, EVENT_COLUMNS)
        made = [
            "t.id",
            "t.sf_id",
            f"'{ChangeType.CREATE}'",
            "'[]'",
            f"json_object({', '.join(members)})",
            "?",  # commit timestamp
            "?",  # commit user
            "?",  # its Id
            "?",  # transaction key
            "t.id - ? + 1",  # sequence number: the row's place in its batch
            "?",  # change origin
            "?",  # created at
        ]
        assert len(made) == len(EVENT_COLUMNS)
        sql = (
            f"INSERT INTO {quote(table.table)} "
            f"({', '.join(quote(name) for name in table.columns)}) "
            f"SELECT {', '.join(made + ['?'] * len(table.extra))} "
            f"FROM json_each(?) AS j JOIN {quote(plan.model._meta.db_table)} AS t "
            "ON t.id = j.key + ? ORDER BY t.id"
        )
        return cls(sql, table.extra, from_file)

    def references(self, rows: list[_Row]) -> str:
        """The batch's references as the file gave them: a JSON array a row (made a
        column at a time, then turned into rows by zip, in C)."""
        given = [row.values for row in rows]
        columns = [[values.get(name) for values in given] for name in self.from_file]
        return json.dumps(list(zip(*columns, strict=True)) if columns else [[]] * len(rows))

    def raw(self, driver: Any, first: int, header: tuple, references: str) -> None:
        """Events for the rows with keys from ``first`` on, one per item of
        ``references``; ``header``: commit timestamp, user and Id, transaction key,
        change origin, created at."""
        stamp, user, user_sf_id, key, origin, created_at = header
        parameters = (stamp, user, user_sf_id, key, first, origin, created_at, *self.extra)
        driver.execute(self.sql, (*parameters, references, first))


# Field types whose stored SQLite value is their JSON value: text, picklists, whole
# numbers, dates (stored as 2024-03-01).
_SQLITE_AS_STORED = frozenset(
    {"string", "textarea", "picklist", "email", "phone", "url", "int", "date"}
)


def _sqlite_json(plan: _Plan, spec: FieldSpec) -> str | None:
    """SQLite's expression for the API's JSON value of ``spec`` on row ``t``."""
    quote = connection.ops.quote_name
    if spec.type == "id":
        return "t.sf_id"
    if spec.type == "reference":
        lookups = []
        for object_name, attr in spec.columns.items():
            target = registry.get(object_name).model._meta.db_table
            column = plan.model._meta.get_field(attr).column
            lookups.append(
                f"(SELECT r.sf_id FROM {quote(target)} AS r WHERE r.id = t.{quote(column)})"
            )
        return lookups[0] if len(lookups) == 1 else f"COALESCE({', '.join(lookups)})"
    if not spec.attr:
        return None
    column = f"t.{quote(plan.model._meta.get_field(spec.attr).column)}"
    if spec.type == "datetime":
        # Stored as 2024-03-01 12:34:56[.123456] (UTC); shown as 2024-03-01T12:34:56.123+0000.
        return (
            f"CASE WHEN {column} IS NULL THEN NULL ELSE substr({column}, 1, 10) || 'T' || "
            f"substr({column}, 12, 8) || '.' || substr(substr({column}, 21) || '000', 1, 3) "
            "|| '+0000' END"
        )
    if spec.type == "boolean":
        return (
            f"json(CASE WHEN {column} IS NULL THEN 'null' WHEN {column} THEN 'true' "
            "ELSE 'false' END)"
        )
    if spec.type in _SQLITE_AS_STORED:
        return column
    return None  # numbers (their JSON is Python's float), and any type not listed here


def _by_sf_id(model: type[models.Model], ids: list[str], *fields: str) -> Iterator[tuple]:
    """``values_list(*fields)`` of the rows (deleted ones too) with these ids."""
    for queryset in _with_sf_ids(model, ids):
        yield from queryset.values_list(*fields)


def _keys_by_sf_id(model: type[models.Model], ids: list[str]) -> Iterator[tuple[str, int]]:
    """(Id, key) of the rows (deleted ones too) with these ids, as the driver gives them:
    text and a whole number need no conversion, and Django's per-row results cost more
    than the query (a batch of 5,000 references)."""
    for queryset in _with_sf_ids(model, ids):
        sql, params = queryset.values_list("sf_id", "pk").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            yield from cursor.fetchall()


def _with_sf_ids(model: type[models.Model], ids: list[str]) -> Iterator[models.QuerySet]:
    """The rows with these ids, a query per ``ID_CHUNK``: the ids go as one parameter (a
    JSON array on SQLite, an array on PostgreSQL), so a batch of thousands is one query
    instead of one per 999 ids."""
    manager = model._base_manager
    vendor = connection.vendor
    size = ID_CHUNK if vendor in ("sqlite", "postgresql") else 900
    for start in range(0, len(ids), size):
        chunk: Any = list(ids[start : start + size])
        if vendor == "sqlite":
            chunk = RawSQL("SELECT value FROM json_each(%s)", [json.dumps(chunk)])
        elif vendor == "postgresql":
            chunk = RawSQL("SELECT unnest(%s::text[])", [chunk])
        yield manager.filter(sf_id__in=chunk)


@contextmanager
def _sqlite_page_cache() -> Iterator[None]:
    """A big load into SQLite with its default 2 MB page cache spills pages of the
    (random-order) Id indexes to the journal over and over; 256 MB keeps them."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (before,) = cursor.fetchone()
        cursor.execute(f"PRAGMA cache_size = {SQLITE_CACHE_KIB}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(before)}")


@contextmanager
def _no_gc() -> Iterator[None]:
    """Python's cyclic garbage collector paused for the import: its rows hold no
    cycles (reference counting frees every batch), yet each full collection walks
    every object alive, and a big import made it run often (0.7 s of 14 for 200,000
    trackers)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _drain(pool: ThreadPoolExecutor) -> None:
    """Shut the writer thread down, waiting for its job even through Ctrl-C: the
    transaction must not roll back under a statement still writing (the statements
    after it would commit on their own). An interrupt is raised once it has stopped."""
    interrupted = None
    while True:
        try:
            pool.shutdown(wait=True, cancel_futures=True)
        except KeyboardInterrupt as error:
            interrupted = error
            continue
        break
    if interrupted is not None:
        raise interrupted


def _unless_failed(before: futures.Future, write: Callable[..., None], *args: Any) -> None:
    """A writer-thread job that writes only if the job before it succeeded."""
    if before.exception() is None:
        write(*args)


def _error_order(error: RowError) -> tuple[str, int]:
    name, _, number = error.location.rpartition(":")
    return name, int(number.removeprefix("record "))


def _new_ids(plan: _Plan, count: int) -> list[str]:
    from trackers.bulkload import new_sf_ids

    return new_sf_ids(plan.sobject.key_prefix, count) if count else []


class _EventValues:
    """Fields by API name as the API shows them after the import: references as the
    file gave them (or the importing user, for audit fields it stamped), the rest
    from the stored row. Made once per set of fields; a row then costs a dict copy,
    one C-level copy of its stored values and a look-up per reference and per date."""

    def __init__(self, fields: Iterable[tuple[str, str, str | None]]) -> None:
        fields = list(fields)
        self.template = dict.fromkeys(name for name, _, _ in fields)
        self.id_names = [name for name, kind, _ in fields if kind == "id"]
        self.active_names = [name for name, _, _ in fields if name == "IsTrackerActive"]
        self.references = [(name, attr) for name, kind, attr in fields if kind == "ref"]
        stored = [
            (name, kind, attr)
            for name, kind, attr in fields
            if kind not in ("ref", "id") and name != "IsTrackerActive"
        ]
        self.stored_names = [name for name, _, _ in stored]
        attrs = [attr for _, _, attr in stored]
        self.stored_values = _getter(attrs)
        # Dates and numbers: the JSON form differs from the stored value.
        self.converted = [name for name, kind, _ in stored if kind in _CONVERTED_KINDS]

    def __call__(self, row: _Row, actor: Any) -> dict[str, Any]:
        given, merged = row.values, row.merged
        values = self.template.copy()
        for name in self.id_names:
            values[name] = row.sf_id
        for name in self.active_names:
            values[name] = merged["state"] in ACTIVE
        for name, attr in self.references:
            value = given.get(name, MISSING)
            if value is MISSING:
                stamped = actor is not None and attr and merged.get(attr) == actor.pk
                value = actor.sf_id if stamped else None
            values[name] = value
        values.update(zip(self.stored_names, self.stored_values(merged), strict=True))
        for name in self.converted:
            value = values[name]
            if value is not None:
                values[name] = _json(value)
        return values


_CONVERTED_KINDS = frozenset({"datetime", "date", "currency", "double", "percent"})


def _getter(keys: list[str]) -> Callable[[dict[str, Any]], tuple]:
    """A tuple of these keys' values in a dict (``itemgetter`` gives a bare value for
    one key)."""
    if len(keys) > 1:
        return operator.itemgetter(*keys)
    return lambda row: tuple(row[key] for key in keys)


@functools.lru_cache(maxsize=4096)  # a row's dates often repeat (CreatedDate, LastModifiedDate)
def _json_datetime(value: dt.datetime) -> str:
    """format_datetime's output (2026-11-27T12:00:00.000+0000), through C isoformat."""
    if value.tzinfo is not dt.UTC:
        value = value.astimezone(dt.UTC)
    return value.isoformat(timespec="milliseconds")[:-6] + "+0000"


_json = functools.partial(registry.json_form, datetime_format=_json_datetime)


def _tracker_problems(row: dict[str, Any], given: dict[str, Any]) -> list[tuple[str, str]]:
    """Why this tracker breaks SPEC 2.1 (empty when it does not)."""
    problems = []
    state = row["state"]
    reason = row["completion_reason"]
    active = state in ACTIVE
    claimed = given.get("IsTrackerActive")
    if claimed is not None and claimed != active:
        problems.append(
            (
                "IsTrackerActive",
                f"is {str(claimed).lower()} but State is {state}; a tracker is active "
                "exactly when its State is Running, Paused, Processing or Initializing.",
            )
        )
    if state == TrackerState.PROCESSING:
        problems.append(
            (
                "State",
                "Processing is transient (Salesforce is still changing the tracker); export "
                "it again once it has finished.",
            )
        )
    if state == TrackerState.COMPLETE and not reason:
        problems.append(("CompletionReason", "a Complete tracker needs a CompletionReason."))
    if state != TrackerState.COMPLETE and reason:
        problems.append(
            (
                "CompletionReason",
                f"is {reason} but State is {state}; only a Complete tracker has one.",
            )
        )
    if row["completion_disposition"] is not None and state != TrackerState.COMPLETE:
        problems.append(
            (
                "CompletionDisposition",
                f"is set but State is {state}; only a Complete tracker has one.",
            )
        )
    exited = reason == "AutomaticallyExited"
    if exited != (row["exit_global_rule_id"] is not None):
        problems.append(
            (
                "ExitGlobalRuleId",
                "is required when CompletionReason is AutomaticallyExited"
                if exited
                else "is only set when CompletionReason is AutomaticallyExited.",
            )
        )
    iteration = row["daisy_chain_iteration"]
    if iteration is not None and not 1 <= iteration <= 10:
        problems.append(("DaisyChainIteration", f"is {iteration}; it runs from 1 to 10."))
    if (row["owner_user_id"] is None) == (row["owner_queue_id"] is None):
        problems.append(("OwnerId", "OwnerId is required (a user or a queue)."))
    if (
        row["related_to_attribution_type"] is not None
        and row["related_opportunity_id"] is None
        and row["related_invoice_id"] is None
    ):
        problems.append(("RelatedToAttributionType", "is only set together with RelatedToId."))
    return problems


def run_import(files: list[SourceFile], **options: Any) -> ImportResult:
    return Importer(files, **options).run()


__all__ = ["ImportResult", "Importer", "ObjectCounts", "RowError", "run_import", "sfid"]
