"""The parsed form of a SOQL query: plain dataclasses, each node knowing where it was written."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Position:
    line: int
    column: int


@dataclass(frozen=True)
class FieldRef:
    """``State`` or ``ActionCadence.Name`` (one relationship hop at most)."""

    path: tuple[str, ...]
    position: Position

    @property
    def text(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class CountAll:
    position: Position


@dataclass(frozen=True)
class AggregateCall:
    function: str  # COUNT, COUNT_DISTINCT, MIN, MAX, SUM, AVG
    field: FieldRef
    position: Position

    @property
    def text(self) -> str:
        return f"{self.function}({self.field.text})"


@dataclass(frozen=True)
class Aggregate:
    call: AggregateCall
    alias: str | None


@dataclass(frozen=True)
class Literal:
    """``kind``: string, number, boolean, null, date, datetime, date_literal or id.

    ``value`` is the Python value: str, Decimal, bool, None, date, aware datetime,
    (name, n) for a date literal (n None for the fixed ones), or the id text.
    """

    kind: str
    value: Any
    text: str
    position: Position


@dataclass(frozen=True)
class Comparison:
    field: FieldRef
    operator: str  # = != < <= > >= LIKE
    value: Literal


@dataclass(frozen=True)
class InList:
    field: FieldRef
    values: tuple[Literal, ...]
    negated: bool


@dataclass(frozen=True)
class BoolOp:
    operator: str  # AND, OR
    operands: tuple[Any, ...]


@dataclass(frozen=True)
class Not:
    operand: Any


@dataclass(frozen=True)
class OrderItem:
    target: FieldRef | AggregateCall
    descending: bool = False
    nulls_last: bool | None = None  # None: SOQL's default, nulls first


@dataclass
class Query:
    text: str
    select: list[FieldRef | Aggregate | CountAll]
    sobject: str
    sobject_position: Position
    where: Any = None
    group_by: list[FieldRef] = field(default_factory=list)
    order_by: list[OrderItem] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None
