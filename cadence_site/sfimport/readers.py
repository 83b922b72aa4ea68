"""Reading Salesforce data files: Data Loader / Data Export CSV and REST query JSON.

A ``SourceFile`` knows its object (from ``attributes.type``, the file name or
``--object``) and its columns, and yields its records one at a time with the
line (CSV) or record number (JSON) each came from, so an error can name it.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cadence_site import registry

# Data Export writes long text fields whole; the csv module's default cap is 128 KB.
csv.field_size_limit(16 * 1024 * 1024)


MISSING = object()  # a column a JSON record leaves out (not null: not given at all)


class SourceError(ValueError):
    """A file that cannot be read at all (not a row problem): its name says which."""


@dataclass
class SourceFile:
    """One input file: its display name, object, columns and records."""

    name: str
    sobject: registry.SObjectType
    columns: list[str]
    unit: str  # "line" for CSV, "record" for JSON
    _opener: Any = field(repr=False, default=None)
    _records: list[dict[str, Any]] | None = field(repr=False, default=None)
    _count: int | None = field(repr=False, default=None)

    def records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """(line or record number, {column: raw value}) for every record; a CSV line
        with the wrong number of cells is ``{"__width__": its cell count}``."""
        columns = self.columns
        for number, cells in self.cells():
            if cells.__class__ is int:
                yield number, {"__width__": cells}
            else:
                pairs = zip(columns, cells, strict=True)
                yield number, {column: raw for column, raw in pairs if raw is not MISSING}

    def cells(self) -> Iterator[tuple[int, list[Any] | int]]:
        """(line or record number, its cells in ``columns`` order) for every record,
        without a dict a row: ``MISSING`` for a column a JSON record leaves out, and for
        a CSV line with the wrong number of cells that number instead of a list."""
        if self._records is not None:
            columns = self.columns
            for number, record in enumerate(self._records, start=1):
                yield number, [record.get(column, MISSING) for column in columns]
            return
        with self._opener() as stream:
            reader = csv.reader(stream)
            next(reader)  # the header, read already
            width = len(self.columns)
            start = reader.line_num + 1
            rows = iter(reader)
            while True:
                try:
                    row = next(rows)
                except StopIteration:
                    return
                except UnicodeDecodeError as error:
                    raise SourceError(
                        f"{self.name}: not UTF-8 text after line {reader.line_num} "
                        f"({error.reason}); save it as UTF-8 and try again."
                    ) from None
                except csv.Error as error:
                    raise SourceError(f"{self.name}:{reader.line_num}: {error}.") from None
                line, start = start, reader.line_num + 1
                if len(row) != width or width == 1:
                    if not row or row == [""]:  # a blank line between records
                        continue
                    if len(row) != width:
                        yield line, len(row)
                        continue
                yield line, row

    def count(self) -> int:
        """How many records (one quick pass, remembered)."""
        if self._count is None:
            self._count = sum(1 for _ in self.cells())
        return self._count

    def location(self, number: int) -> str:
        return f"{self.name}:{number}" if self.unit == "line" else f"{self.name}:record {number}"


def _object_from_name(name: str) -> registry.SObjectType | None:
    stem = os.path.basename(name)
    for suffix in (".csv", ".json", ".CSV", ".JSON"):
        stem = stem.removesuffix(suffix)
    # "Lead.csv", "Lead-2024-03-01.csv", "Lead_page2.json" and "Lead.2.json" all name Lead.
    for separator in ("-", "_", ".", " "):
        candidate = registry.get(stem.split(separator)[0])
        if candidate is not None and stem.split(separator)[0] != stem:
            return candidate
    return registry.get(stem)


def _named_object(name: str, object_name: str | None) -> registry.SObjectType | None:
    if object_name:
        sobject = registry.get(object_name)
        if sobject is None:
            raise SourceError(f"{name}: there is no object named {object_name!r}.")
        return sobject
    return _object_from_name(name)


def open_source(name: str, opener: Any, object_name: str | None = None) -> SourceFile:
    """Read a file's header (CSV) or whole body (JSON) and decide its object.

    ``opener()`` returns a fresh binary stream each time it is called; CSV files are
    read twice (the header now, the records later) and never held in memory whole.
    """
    with opener() as raw:
        head = raw.read(4096)
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith((b"{", b"[")):
        return _open_json(name, opener, object_name)
    return _open_csv(name, opener, object_name)


def _text(opener: Any) -> Any:
    """A text stream over ``opener()``: UTF-8 with or without a BOM, line ends kept
    for the csv module (quoted fields may hold CR LF)."""

    class _Stream:
        def __enter__(self) -> io.TextIOWrapper:
            self.raw = opener()
            self.text = io.TextIOWrapper(self.raw, encoding="utf-8-sig", newline="")
            return self.text

        def __exit__(self, *exc: object) -> None:
            self.text.close()

    return _Stream


def _open_csv(name: str, opener: Any, object_name: str | None) -> SourceFile:
    text = _text(opener)
    try:
        with text() as stream:
            header = next(csv.reader(stream), None)
    except UnicodeDecodeError as error:
        raise SourceError(
            f"{name}: not UTF-8 text ({error.reason} at byte {error.start})."
        ) from None
    if not header or not any(cell.strip() for cell in header):
        raise SourceError(f"{name}: empty file; expected a header row of API names.")
    sobject = _named_object(name, object_name)
    if sobject is None:
        raise SourceError(
            f"{name}: cannot tell which object this is; name the file after it "
            "(Lead.csv, ActionCadenceTracker.csv) or pass --object."
        )
    columns = [cell.strip() for cell in header]
    seen: set[str] = set()
    for column in columns:
        if column.lower() in seen:
            raise SourceError(f"{name}: the column {column} appears twice in the header.")
        seen.add(column.lower())
    source = SourceFile(name=name, sobject=sobject, columns=columns, unit="line", _opener=text)
    # One pass now (the count is needed anyway): a file that is not UTF-8 or not CSV
    # further down is refused whole, before anything is imported or previewed.
    source.count()
    return source


def _open_json(name: str, opener: Any, object_name: str | None) -> SourceFile:
    try:
        with opener() as raw:
            body = json.loads(raw.read().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SourceError(f"{name}: not valid JSON ({error}).") from None
    if isinstance(body, list):
        records = body
    elif isinstance(body, dict) and isinstance(body.get("records"), list):
        records = body["records"]
    else:
        raise SourceError(
            f'{name}: expected a REST query result ({{"totalSize", "done", "records"}}).'
        )
    types = {
        (record.get("attributes") or {}).get("type")
        for record in records
        if isinstance(record, dict)
    } - {None}
    if len(types) > 1:
        raise SourceError(f"{name}: records of several objects ({', '.join(sorted(types))}).")
    sobject = _named_object(name, object_name or (types.pop() if types else None))
    if sobject is None:
        raise SourceError(
            f"{name}: cannot tell which object this is (no attributes.type); pass --object."
        )
    columns: dict[str, None] = {}
    for record in records:
        if not isinstance(record, dict):
            raise SourceError(f"{name}: every record must be a JSON object.")
        for key, value in record.items():
            # "attributes" and nested relationship objects (Owner: {...}) are not columns.
            if key != "attributes" and not isinstance(value, dict):
                columns.setdefault(key)
    rows = [{key: value for key, value in record.items() if key in columns} for record in records]
    return SourceFile(
        name=name, sobject=sobject, columns=list(columns), unit="record", _records=rows
    )


def open_path(path: str, object_name: str | None = None) -> SourceFile:
    if not os.path.isfile(path):
        raise SourceError(f"{path}: no such file.")
    return open_source(os.path.basename(path), lambda: open(path, "rb"), object_name)


def open_bytes(name: str, data: bytes, object_name: str | None = None) -> SourceFile:
    return open_source(name, lambda: io.BytesIO(data), object_name)
