"""Turning a cell of a Salesforce file into a typed value, by the registry's field type.

Cells come as text (CSV) or JSON values. An empty cell, JSON null and Data
Loader's ``#N/A`` are null. Each converter raises ``FieldError`` with a message
that says what was wrong and what was expected.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import models

from cadence_site import sfid
from cadence_site.registry import FieldSpec

NULLS = frozenset({"", "#N/A"})
TRUE = frozenset({"true", "1", "yes", "y"})
FALSE = frozenset({"false", "0", "no", "n"})

# Byte by byte, 1 for an upper-case ASCII letter and 0 for anything else: the case-safe
# suffix's input (bytes.translate: one table look-up a character, in C).
_UPPER_FLAGS = bytes(0x31 if 0x41 <= code <= 0x5A else 0x30 for code in range(256))
_SUFFIX = {format(bits, "05b")[::-1].encode(): sfid.SUFFIX_ALPHABET[bits] for bits in range(32)}


class FieldError(ValueError):
    """A cell that cannot be stored; the message names the expectation."""


def normalize_id(raw: Any) -> str:
    """The 18-character id of a 15- or 18-character one (the common, already-correct
    18-character case costs one translate and three dict look-ups)."""
    if raw.__class__ is str and len(raw) == 18 and raw.isascii() and raw.isalnum():
        flags = raw.encode()[:15].translate(_UPPER_FLAGS)
        if raw[15:] == _SUFFIX[flags[:5]] + _SUFFIX[flags[5:10]] + _SUFFIX[flags[10:]]:
            return raw
    try:
        return sfid.normalize(raw)
    except sfid.InvalidId as error:
        raise FieldError(str(error)) from None


@functools.lru_cache(maxsize=4096)  # a row's dates often repeat (CreatedDate, LastModifiedDate)
def parse_datetime(raw: Any) -> dt.datetime:
    """2024-03-01T12:34:56.000Z, ...000+0000, ...+00:00, without milliseconds, or a
    bare date (midnight). A value without an offset is UTC, Data Loader's default."""
    if isinstance(raw, str):
        text = raw.strip()
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            value = None
        if value is not None and ("T" in text or " " in text or len(text) == 10):
            if value.tzinfo is None:
                return value.replace(tzinfo=dt.UTC)
            return value if value.tzinfo is dt.UTC else value.astimezone(dt.UTC)
    raise FieldError(
        f"{raw!r} is not a date and time; expected e.g. 2024-03-01T12:34:56.000Z, "
        "2024-03-01T12:34:56.000+0000 or 2024-03-01."
    )


def parse_date(raw: Any) -> dt.date:
    if isinstance(raw, str):
        text = raw.strip()
        try:
            return dt.date.fromisoformat(text[:10]) if len(text) == 10 else _date_of(text)
        except ValueError:
            pass
    raise FieldError(f"{raw!r} is not a date; expected e.g. 2024-03-01.")


def _date_of(text: str) -> dt.date:
    """A datetime's date, accepted only when it is midnight (Data Export writes dates
    of some tools as 2024-03-01T00:00:00.000Z)."""
    value = parse_datetime(text)
    if value.time() != dt.time(0):
        raise ValueError(text)
    return value.date()


def parse_boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise FieldError(f"{raw!r} is not a boolean; expected true or false.")


def parse_int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise FieldError(f"{raw!r} is not a whole number.")
    if isinstance(raw, int):
        return raw
    try:
        number = Decimal(str(raw).strip())
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or number != number.to_integral_value():
        raise FieldError(f"{raw!r} is not a whole number.")
    return int(number)


def parse_decimal(raw: Any) -> Decimal:
    if isinstance(raw, bool):
        raise FieldError(f"{raw!r} is not a number.")
    try:
        number = Decimal(str(raw).strip())
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise FieldError(f"{raw!r} is not a number.")
    return number


def text_converter(spec: FieldSpec, model_field: models.Field | None) -> Callable[[Any], Any]:
    limit = getattr(model_field, "max_length", None) or spec.length or None
    restricted = spec.restricted_picklist and spec.picklist
    canonical = {value.lower(): value for value in spec.picklist}

    def convert(raw: Any) -> str:
        if not isinstance(raw, str):
            if isinstance(raw, (dict, list)):
                raise FieldError(f"{raw!r} is not text.")
            raw = str(raw)
        if restricted:
            value = canonical.get(raw.strip().lower())
            if value is None:
                raise FieldError(
                    f"{raw!r} is not a value of the restricted picklist {spec.name} "
                    f"({', '.join(spec.picklist)})."
                )
            return value
        if limit and len(raw) > limit:
            raise FieldError(f"{len(raw)} characters; {spec.name} holds at most {limit}.")
        return raw

    return convert


# Field types with few distinct values (State, IsDeleted, DaisyChainIteration): a file's
# cells of them are converted once each and then looked up.
FEW_VALUES = frozenset({"picklist", "boolean", "int"})
FEW_VALUES_KEPT = 1024


def _remembered(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``convert``, remembering up to FEW_VALUES_KEPT text cells' values (only text: in
    JSON, True and 1 are equal keys but not the same cell)."""
    known: dict[str, Any] = {}

    def remembered(raw: Any) -> Any:
        value = known.get(raw) if raw.__class__ is str else None
        if value is None:
            value = convert(raw)
            if raw.__class__ is str and len(known) < FEW_VALUES_KEPT:
                known[raw] = value
        return value

    return remembered


def converter(spec: FieldSpec, model_field: models.Field | None) -> Callable[[Any], Any]:
    """The converter of a non-null cell of this field."""
    convert = _converter(spec, model_field)
    return _remembered(convert) if spec.type in FEW_VALUES else convert


def _converter(spec: FieldSpec, model_field: models.Field | None) -> Callable[[Any], Any]:
    kind = spec.type
    if kind in ("id", "reference"):
        return normalize_id
    if kind == "datetime":
        return parse_datetime
    if kind == "date":
        return parse_date
    if kind == "boolean":
        return parse_boolean
    if kind == "int":
        return parse_int
    if kind in ("currency", "double", "percent"):
        places = getattr(model_field, "decimal_places", None)
        if places is None:
            return parse_decimal

        def convert_decimal(raw: Any) -> Decimal:
            number = parse_decimal(raw)
            if number != number.quantize(Decimal(1).scaleb(-places)):
                raise FieldError(f"{raw!r} has more than {places} decimal places.")
            return number

        return convert_decimal
    return text_converter(spec, model_field)
