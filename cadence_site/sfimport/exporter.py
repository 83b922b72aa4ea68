"""Exporting records as Salesforce writes them: Data Loader CSV or a REST query page.

Columns are the registry's API names, values as the API shows them (ids 18
characters, datetimes ``2026-11-27T12:00:00.000+0000``, booleans ``true`` /
``false``, empty cells for null), so ``import_salesforce`` reads the output
back unchanged. Rows stream in primary-key order, a chunk at a time.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any

from django.db import models

import sharing.sobjects  # noqa: F401  (registers the declarations read here)
import trackers.sobjects  # noqa: F401
from cadence_site.registry import SObjectType

CHUNK = 2000
API_VERSION = "v62.0"


class _Echo:
    """csv.writer wants a file; this one hands each line straight back."""

    def write(self, value: str) -> str:
        return value


def csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def exported_rows(sobject: SObjectType) -> models.QuerySet:
    """What an export holds: live records (not the recycle bin) and, of the shares, the
    Manual rows (Owner and Rule access is derived, and recomputed on import)."""
    model = sobject.model
    queryset = model._default_manager.all()
    if any(field.name == "is_deleted" for field in model._meta.concrete_fields):
        queryset = queryset.filter(is_deleted=False)
    if sobject.name == "ActionCadenceTrackerShare":
        queryset = queryset.filter(row_cause="Manual")
    return queryset.select_related(*sobject.select_related()).order_by("pk")


def csv_lines(sobject: SObjectType, rows: models.QuerySet | None = None) -> Iterator[str]:
    writer = csv.writer(_Echo())
    rows = exported_rows(sobject) if rows is None else rows
    yield writer.writerow([spec.name for spec in sobject.fields])
    for record in rows.iterator(chunk_size=CHUNK):
        yield writer.writerow([csv_cell(spec.json_value(record)) for spec in sobject.fields])


def json_chunks(sobject: SObjectType, rows: models.QuerySet | None = None) -> Iterator[str]:
    """One REST query result with every record (``done`` true), written as it streams."""
    rows = exported_rows(sobject) if rows is None else rows
    total = rows.count()
    yield f'{{"totalSize": {total}, "done": true, "records": ['
    base = f"/services/data/{API_VERSION}/sobjects/{sobject.name}/"
    for index, record in enumerate(rows.iterator(chunk_size=CHUNK)):
        body = {"attributes": {"type": sobject.name, "url": base + record.sf_id}}
        body.update(sobject.to_dict(record))
        yield ("," if index else "") + "\n" + json.dumps(body)
    yield "\n]}\n"
