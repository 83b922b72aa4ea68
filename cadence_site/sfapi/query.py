"""The query resource: run SOQL, hand results out in batches, continue from a locator.

A locator is signed (django.core.signing), not stored: it carries the query, the
user it belongs to, how far the client has read, the total and the moment the
query was first run (so TODAY means the same day on every batch). Any web
process can continue any query. Queries without ORDER BY are read in primary
key order and continue after the last key, so late batches of a long result
cost the same as the first; ordered queries continue by offset.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core import signing
from django.utils import timezone

from cadence_site.registry import format_datetime
from cadence_site.sfapi import records
from cadence_site.sfapi.errors import SalesforceError
from cadence_site.sfapi.soql.compiler import ID, PK, CompiledQuery, compile_query
from cadence_site.sfapi.soql.parser import parse

DEFAULT_BATCH_SIZE = 2000
MIN_HEADER_BATCH_SIZE = 200
LOCATOR_SALT = "cadence_site.sfapi.query-locator"
LOCATOR_MAX_AGE = 15 * 60  # Salesforce drops a cursor after 15 minutes without use
_BATCH_OPTION = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)


def batch_size(header: str | None) -> int:
    """``SFAPI_QUERY_BATCH_SIZE`` (default 2,000), or less when the client asks with
    ``Sforce-Query-Options: batchSize=N`` (200 to 2,000, as Salesforce allows)."""
    size = getattr(settings, "SFAPI_QUERY_BATCH_SIZE", DEFAULT_BATCH_SIZE)
    match = _BATCH_OPTION.search(header or "")
    if match:
        size = min(size, max(MIN_HEADER_BATCH_SIZE, int(match.group(1))))
    return size


def _scalar(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _serialize_record(compiled: CompiledQuery, version: str, row: dict[str, Any]) -> dict[str, Any]:
    name = compiled.sobject.name
    body: dict[str, Any] = {
        "attributes": {"type": name, "url": records.record_url(version, name, row[ID])}
    }
    for column in compiled.columns:
        resolved = column.resolved
        if column.value is not None:
            body[resolved.key] = _scalar(row[column.value])
            continue
        relationship = resolved.relationship.relationship_name
        read = next((read for read in column.related if row[read.id_value] is not None), None)
        if read is None:
            body[relationship] = None
            continue
        target = read.sobject.name
        nested = body.setdefault(
            relationship,
            {
                "attributes": {
                    "type": target,
                    "url": records.record_url(version, target, row[read.id_value]),
                }
            },
        )
        nested[resolved.key] = None if read.leaf_value is None else _scalar(row[read.leaf_value])
    return body


def _serialize_group(compiled: CompiledQuery, row: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"attributes": {"type": "AggregateResult"}}
    for column in compiled.aggregate_columns:
        body[column.key] = _scalar(row[column.annotation])
    return body


class Cursor:
    """Where a client is in one query's results."""

    def __init__(self, text: str, user_id: int, now: dt.datetime, size: int) -> None:
        self.text = text
        self.user_id = user_id
        self.now = now
        self.size = size
        self.served = 0
        self.total: int | None = None
        self.last_pk: int | None = None

    def locator(self) -> str:
        payload = {
            "q": self.text,
            "u": self.user_id,
            "n": self.now.timestamp(),
            "b": self.size,
            "s": self.served,
            "t": self.total,
            "k": self.last_pk,
        }
        return signing.dumps(payload, salt=LOCATOR_SALT, compress=True)

    @classmethod
    def from_locator(cls, locator: str, user: Any) -> Cursor:
        invalid = SalesforceError("INVALID_QUERY_LOCATOR", "invalid query locator")
        try:
            payload = signing.loads(locator, salt=LOCATOR_SALT, max_age=LOCATOR_MAX_AGE)
        except signing.BadSignature:
            raise invalid from None
        if payload.get("u") != user.pk:
            raise invalid  # a locator is the user's own, like the session it came from
        cursor = cls(
            payload["q"],
            payload["u"],
            dt.datetime.fromtimestamp(payload["n"], dt.UTC),
            payload["b"],
        )
        cursor.served, cursor.total, cursor.last_pk = payload["s"], payload["t"], payload["k"]
        return cursor


def _first_total(compiled: CompiledQuery, fetched: int, wanted: int, cap: int | None) -> int:
    """How many rows the whole result has, counting only when the first batch is full."""
    if fetched < wanted or (cap is not None and fetched >= cap):
        return fetched
    offset = compiled.query.offset or 0
    total = max(compiled.queryset.count() - offset, 0)
    return total if cap is None else min(total, cap)


def _batch(compiled: CompiledQuery, cursor: Cursor, version: str) -> dict[str, Any]:
    query = compiled.query
    if compiled.kind == "count":
        total = max(compiled.queryset.count() - (query.offset or 0), 0)
        if query.limit is not None:
            total = min(total, query.limit)
        return {"totalSize": total, "done": True, "records": []}
    cap = query.limit
    remaining = (cap if cap is not None else float("inf")) - cursor.served
    if cursor.total is not None:
        remaining = min(remaining, cursor.total - cursor.served)
    wanted = int(max(0, min(cursor.size, remaining)))
    if compiled.kind == "aggregate" and not compiled.group_annotations:
        rows = [compiled.queryset.aggregate(**compiled.aggregates)][(query.offset or 0) :]
        rows = rows[:wanted]
        body = [_serialize_group(compiled, row) for row in rows]
        cursor.total = len(rows)
    else:
        queryset = compiled.queryset.order_by(*compiled.ordering)
        start = (query.offset or 0) + cursor.served
        if compiled.kind == "records":
            queryset = queryset.values(**compiled.selection)
            if compiled.keyset and cursor.last_pk is not None:
                queryset, start = queryset.filter(pk__gt=cursor.last_pk), 0
        fetched = list(queryset[start : start + wanted]) if wanted else []
        if compiled.kind == "records":
            body = [_serialize_record(compiled, version, row) for row in fetched]
            if fetched:
                cursor.last_pk = fetched[-1][PK]
        else:
            body = [_serialize_group(compiled, row) for row in fetched]
        if cursor.total is None:
            cursor.total = _first_total(compiled, len(fetched), wanted, cap)
        if len(fetched) < wanted:  # rows went away since the first batch: this is the end
            cursor.total = cursor.served + len(fetched)
    cursor.served += len(body)
    result: dict[str, Any] = {"totalSize": cursor.total, "done": cursor.served >= cursor.total}
    if not result["done"]:
        result["nextRecordsUrl"] = f"/services/data/v{version}/query/{cursor.locator()}"
    result["records"] = body
    return result


def run(text: str, user: Any, version: str, size: int) -> dict[str, Any]:
    """The first batch of a SOQL query's results."""
    cursor = Cursor(text, user.pk, timezone.now(), size)
    compiled = compile_query(parse(text), user, cursor.now)
    return _batch(compiled, cursor, version)


def more(locator: str, user: Any, version: str) -> dict[str, Any]:
    """The batch after the one whose ``nextRecordsUrl`` carried ``locator``."""
    cursor = Cursor.from_locator(locator, user)
    compiled = compile_query(parse(cursor.text), user, cursor.now)
    return _batch(compiled, cursor, version)
