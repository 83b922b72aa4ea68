"""``ast.Query`` -> an ORM queryset built from Q objects and expressions.

Nothing from the query text ever reaches SQL except as a bound parameter: field
names are looked up in the registry and become model lookups, literals become
typed Python values.

Filters use two-valued logic, as SOQL does: a comparison with a null field is
false (``!=`` and ``NOT IN`` are therefore true for nulls), and ``NOT`` flips
true and false. Every positive predicate on a field that may be null carries an
``IS NOT NULL`` guard, so negating it in SQL never meets an unknown.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import (
    Avg,
    CharField,
    Count,
    Expression,
    F,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Concat, NullIf, Trim, Upper
from lark import Token

from cadence_site import registry, sfid
from cadence_site.registry import FieldSpec, SObjectType
from cadence_site.sfapi import records
from cadence_site.sfapi.errors import SalesforceError
from cadence_site.sfapi.soql import ast, dates
from cadence_site.sfapi.soql.parser import query_error, unescape

MAX_OFFSET = 2000

_AGGREGATES = {"COUNT": Count, "MIN": Min, "MAX": Max, "SUM": Sum, "AVG": Avg}
_CASE_INSENSITIVE_TYPES = frozenset({"string", "textarea", "email"})
_RANGE_OPERATORS = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}


def _user_name(prefix: str) -> Expression:
    """User.Name is ``get_full_name() or username`` in Python; the same in SQL."""
    full = Trim(Concat(F(f"{prefix}first_name"), Value(" "), F(f"{prefix}last_name")))
    return Coalesce(NullIf(full, Value("")), F(f"{prefix}username"), output_field=CharField())


# Registry fields whose model attribute is a Python property, with their SQL twin.
COMPUTED = {("User", "Name"): _user_name}


@dataclass
class Resolved:
    """A field path resolved against the registry."""

    ref: ast.FieldRef
    spec: FieldSpec  # the leaf field (on the first related object that has it)
    relationship: FieldSpec | None
    # Where the leaf is read: (lookup prefix, object, field) per related object.
    leaves: list[tuple[str, SObjectType, FieldSpec]]

    @property
    def key(self) -> str:
        return self.spec.name

    @property
    def may_be_null(self) -> bool:
        return self.relationship is not None or self.spec.nillable or len(self.leaves) > 1


# The two values every records row carries: the key (to continue after) and the Id.
PK, ID = "soql_pk", "soql_id"


@dataclass
class RelatedRead:
    """One object a relationship column may point at, and where its values are read."""

    sobject: SObjectType
    id_value: str  # the related record's Id
    leaf: FieldSpec | None  # the field on that object (absent on some polymorphic targets)
    leaf_value: str | None


@dataclass
class RecordColumn:
    """One selected field of a records query: a value, or a related record's field."""

    resolved: Resolved
    value: str | None
    related: list[RelatedRead] = field(default_factory=list)


@dataclass
class AggregateColumn:
    """One output key of an aggregate query: a grouped field or an aggregate function."""

    key: str  # State, expr0, or the alias
    annotation: str
    is_group: bool


@dataclass
class CompiledQuery:
    query: ast.Query
    sobject: SObjectType
    kind: str  # "records", "count" or "aggregate"
    columns: list[RecordColumn] = field(default_factory=list)
    aggregate_columns: list[AggregateColumn] = field(default_factory=list)
    ordering: list[Any] = field(default_factory=list)
    selection: dict[str, Any] = field(default_factory=dict)  # values() of a records query
    group_annotations: dict[str, Any] = field(default_factory=dict)
    aggregates: dict[str, Any] = field(default_factory=dict)
    # Filtered (and grouped) rows the user may read; neither ordered nor sliced.
    queryset: QuerySet | None = None

    @property
    def keyset(self) -> bool:
        """Records in primary-key order: later batches continue after the last key."""
        return self.kind == "records" and not self.query.order_by


class Compiler:
    def __init__(self, query: ast.Query, user: Any, now: dt.datetime) -> None:
        self.query = query
        self.user = user
        self.today = now.astimezone(dt.UTC).date()
        self.aliases: dict[str, tuple[str, Any]] = {}
        sobject = registry.get(query.sobject)
        if sobject is None or not sobject.supports("query"):
            raise self.error(
                "INVALID_TYPE",
                f"sObject type '{query.sobject}' is not supported. If you are attempting to use "
                "a custom object, be sure to append the '__c' after the entity name. Please "
                "reference your WSDL or the describe call for the appropriate names.",
                query.sobject_position,
            )
        self.sobject = sobject

    def error(self, code: str, message: str, position: ast.Position) -> SalesforceError:
        return query_error(code, message, self.query.text, position)

    # ------------------------------------------------------------------ fields

    def resolve(self, ref: ast.FieldRef, purpose: str | None = None) -> Resolved:
        """``purpose`` ("filter", "sort", "group") checks the matching property."""
        if len(ref.path) == 1:
            spec = self.sobject.field(ref.path[0])
            if spec is None:
                raise self.error(
                    "INVALID_FIELD",
                    f"No such column '{ref.path[0]}' on entity '{self.sobject.name}'. "
                    "Please reference the describe call for the appropriate names.",
                    ref.position,
                )
            resolved = Resolved(ref, spec, None, [("", self.sobject, spec)])
        else:
            relationship = self.sobject.relationship(ref.path[0])
            if relationship is None:
                raise self.error(
                    "INVALID_FIELD",
                    f"Didn't understand relationship '{ref.path[0]}' in field path. "
                    "Please reference the describe call for the appropriate names.",
                    ref.position,
                )
            leaves = []
            for object_name, column in relationship.columns.items():
                target = registry.get(object_name)
                leaf = target.field(ref.path[1]) if target else None
                if leaf is not None:
                    leaves.append((f"{column}__", target, leaf))
            if not leaves:
                raise self.error(
                    "INVALID_FIELD",
                    f"No such column '{ref.path[1]}' on entity "
                    f"'{' or '.join(relationship.reference_to)}'.",
                    ref.position,
                )
            resolved = Resolved(ref, leaves[0][2], relationship, leaves)
        if purpose and not getattr(resolved.spec, f"{purpose}able"):
            verb = {"filter": "filtered", "sort": "sorted", "group": "grouped"}[purpose]
            raise self.error(
                "INVALID_FIELD",
                f"field '{ref.text}' can not be {verb} in a query call",
                ref.position,
            )
        return resolved

    def _leaf_expression(self, prefix: str, sobject: SObjectType, spec: FieldSpec) -> Any:
        if spec.type == "reference":
            parts = [F(f"{prefix}{column}__sf_id") for column in spec.columns.values()]
            return parts[0] if len(parts) == 1 else Coalesce(*parts)
        computed = COMPUTED.get((sobject.name, spec.name))
        if computed is not None:
            return computed(prefix)
        return F(f"{prefix}{spec.attr}")

    def expression(self, resolved: Resolved) -> Any:
        parts = [self._leaf_expression(*leaf) for leaf in resolved.leaves]
        return parts[0] if len(parts) == 1 else Coalesce(*parts)

    def lookup(self, resolved: Resolved) -> str:
        """A name Q objects and order_by can use: the model path, or an alias."""
        expression = self.expression(resolved)
        if isinstance(expression, F):
            return expression.name
        key = resolved.ref.text.lower()
        if key not in self.aliases:
            self.aliases[key] = (f"soql_{len(self.aliases)}", expression)
        return self.aliases[key][0]

    # ------------------------------------------------------------------ literals

    def _type_error(self, resolved: Resolved, literal: ast.Literal) -> SalesforceError:
        kind = resolved.spec.type
        quoted = kind in records.STRING_TYPES or kind in ("id", "reference")
        type_name = {"datetime": "dateTime", "reference": "id"}.get(kind, kind)
        return self.error(
            "INVALID_FIELD",
            f"value of filter criterion for field '{resolved.ref.text}' must be of type "
            f"{type_name} and should {'' if quoted else 'not '}be enclosed in quotes",
            literal.position,
        )

    def operand(self, resolved: Resolved, literal: ast.Literal) -> Any:
        """The literal as a value of the field's type (date literals as ranges)."""
        kind = resolved.spec.type
        if literal.kind == "null":
            return None
        if kind in ("id", "reference"):
            if literal.kind not in ("string", "id"):
                raise self._type_error(resolved, literal)
            try:
                return sfid.normalize(literal.value)
            except sfid.InvalidId:
                raise self.error(
                    "INVALID_QUERY_FILTER_OPERATOR",
                    f"invalid ID field: {literal.value}",
                    literal.position,
                ) from None
        if kind in records.STRING_TYPES:
            if literal.kind != "string":
                raise self._type_error(resolved, literal)
            if kind == "picklist":
                # Picklist values match case-insensitively; compare with the declared spelling.
                for choice in resolved.spec.picklist:
                    if choice.lower() == literal.value.lower():
                        return choice
            return literal.value
        if kind == "boolean":
            if literal.kind != "boolean":
                raise self._type_error(resolved, literal)
            return literal.value
        if kind in records.NUMBER_TYPES:
            if literal.kind != "number":
                raise self._type_error(resolved, literal)
            return literal.value
        if kind in ("date", "datetime"):
            if literal.kind == "date_literal":
                days = dates.date_range(*literal.value, self.today)
                return dates.as_datetimes(days) if kind == "datetime" else days
            if literal.kind != kind:
                raise self._type_error(resolved, literal)
            return literal.value
        raise self._type_error(resolved, literal)

    # ------------------------------------------------------------------ WHERE

    def condition(self, node: Any) -> Q:
        if isinstance(node, ast.BoolOp):
            parts = [self.condition(operand) for operand in node.operands]
            combined = parts[0]
            for part in parts[1:]:
                combined = combined & part if node.operator == "AND" else combined | part
            return combined
        if isinstance(node, ast.Not):
            return ~self.condition(node.operand)
        resolved = self.resolve(node.field, "filter")
        if isinstance(node, ast.InList):
            matched = self._in(resolved, node.values)
            return ~matched if node.negated else matched
        if node.operator == "!=":
            return ~self._compare(resolved, "=", node.value)
        return self._compare(resolved, node.operator, node.value)

    def _guard(self, resolved: Resolved, lookup: str, condition: Q) -> Q:
        if resolved.may_be_null:
            return condition & Q(**{f"{lookup}__isnull": False})
        return condition

    def _is_null(self, resolved: Resolved) -> Q:
        if resolved.relationship is None and resolved.spec.type == "reference":
            condition = Q()
            for column in resolved.spec.columns.values():
                condition &= Q(**{f"{column}__isnull": True})
            return condition
        if not resolved.may_be_null:
            return Q(pk__in=[])
        return Q(**{f"{self.lookup(resolved)}__isnull": True})

    def _reference_equals(self, resolved: Resolved, ids: list[str]) -> Q:
        """A reference of the queried object: ``column IN (SELECT pk ... WHERE sf_id IN ids)``,
        choosing the column by each id's key prefix (no join on the referenced table)."""
        condition = Q(pk__in=[])
        for object_name, column in resolved.spec.columns.items():
            target = registry.get(object_name)
            wanted = [value for value in ids if value[:3] == target.key_prefix]
            if wanted:
                targets = target.model._base_manager.filter(sf_id__in=wanted).values("pk")
                condition |= Q(**{f"{column}__in": targets, f"{column}__isnull": False})
        return condition

    def _exact(self, resolved: Resolved, value: Any) -> bool:
        """Whether ``= value`` is a plain equality (an index can serve it): not text, which
        SOQL compares case-insensitively, nor a date literal's range, nor a picklist value
        outside the declared ones (matched case-insensitively too)."""
        kind = resolved.spec.type
        if isinstance(value, tuple) or kind in _CASE_INSENSITIVE_TYPES:
            return False
        if kind == "picklist":
            return value in resolved.spec.picklist
        return not (kind == "int" and value != value.to_integral_value())

    def _in(self, resolved: Resolved, literals: tuple[ast.Literal, ...]) -> Q:
        condition = Q(pk__in=[])
        exact = []
        for literal in literals:
            value = self.operand(resolved, literal)
            if value is None:
                condition |= self._is_null(resolved)
            elif self._exact(resolved, value):
                exact.append(value)
            else:
                condition |= self._compare(resolved, "=", literal, value)
        if not exact:
            return condition
        if resolved.spec.type == "reference" and resolved.relationship is None:
            return condition | self._reference_equals(resolved, exact)
        lookup = self.lookup(resolved)
        return condition | self._guard(resolved, lookup, Q(**{f"{lookup}__in": exact}))

    def _compare(
        self, resolved: Resolved, operator: str, literal: ast.Literal, value: Any = None
    ) -> Q:
        kind = resolved.spec.type
        if operator == "LIKE":
            return self._like(resolved, literal)
        value = self.operand(resolved, literal) if value is None else value
        if value is None:
            if operator != "=":
                raise self.error(
                    "MALFORMED_QUERY",
                    "null can only be compared with = or !=",
                    literal.position,
                )
            return self._is_null(resolved)
        if kind == "boolean" and operator != "=":
            raise self.error(
                "INVALID_FIELD",
                f"invalid operator on boolean field '{resolved.ref.text}': use = or !=",
                literal.position,
            )
        if operator == "=" and kind == "reference" and resolved.relationship is None:
            return self._reference_equals(resolved, [value])
        lookup = self.lookup(resolved)
        if isinstance(value, tuple):  # a date literal's [start, end)
            start, end = value
            bounds = {
                "=": {"gte": start, "lt": end},
                "<": {"lt": start},
                "<=": {"lt": end},
                ">": {"gte": end},
                ">=": {"gte": start},
            }[operator]
            condition = Q(**{f"{lookup}__{name}": bound for name, bound in bounds.items()})
            return self._guard(resolved, lookup, condition)
        if kind == "int" and value != value.to_integral_value():
            # An int column never equals 2.5; x < 2.5 is x <= 2 and x > 2.5 is x >= 3.
            if operator == "=":
                return Q(pk__in=[])
            rounded = math.floor(value) if operator in ("<", "<=") else math.ceil(value)
            operator = "<=" if operator in ("<", "<=") else ">="
            value = Decimal(rounded)
        if operator == "=":
            name = "exact" if self._exact(resolved, value) else "iexact"
        else:
            name = _RANGE_OPERATORS[operator]
        return self._guard(resolved, lookup, Q(**{f"{lookup}__{name}": value}))

    def _like(self, resolved: Resolved, literal: ast.Literal) -> Q:
        if resolved.spec.type not in records.STRING_TYPES or literal.kind != "string":
            raise self.error(
                "INVALID_FIELD",
                f"LIKE can only compare a string field with a quoted pattern; "
                f"'{resolved.ref.text}' is {resolved.spec.type}",
                literal.position,
            )
        pattern = unescape_like(literal)
        lookup = self.lookup(resolved)
        return self._guard(resolved, lookup, like_condition(lookup, pattern))

    # ------------------------------------------------------------------ compile

    def compile(self) -> CompiledQuery:
        query = self.query
        if query.offset is not None and query.offset > MAX_OFFSET:
            raise SalesforceError(
                "NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}"
            )
        where = self.condition(query.where) if query.where is not None else None
        if any(isinstance(item, ast.CountAll) for item in query.select):
            compiled = self._count()
        elif query.group_by or any(isinstance(item, ast.Aggregate) for item in query.select):
            compiled = self._aggregate()
        else:
            compiled = self._records()
        # Every alias is known now (WHERE, ORDER BY): filter before any grouping.
        queryset = records.readable(self.sobject, self.user)
        if self.aliases:
            queryset = queryset.alias(**dict(self.aliases.values()))
        if where is not None:
            queryset = queryset.filter(where)
        if compiled.group_annotations:
            queryset = (
                queryset.annotate(**compiled.group_annotations)
                .values(*compiled.group_annotations)
                .annotate(**compiled.aggregates)
            )
        compiled.queryset = queryset
        return compiled

    def _count(self) -> CompiledQuery:
        query = self.query
        if len(query.select) > 1 or query.group_by or query.order_by:
            raise self.error(
                "MALFORMED_QUERY",
                "COUNT() must be the only element in the SELECT list, without GROUP BY or ORDER BY",
                query.select[0].position,
            )
        return CompiledQuery(query, self.sobject, "count")

    def _check_duplicates(self, resolved_columns: list[Resolved]) -> None:
        seen: set[str] = set()
        for resolved in resolved_columns:
            key = resolved.key.lower()
            if resolved.relationship is not None:
                key = f"{resolved.relationship.relationship_name}.{key}".lower()
            if key in seen:
                raise self.error(
                    "MALFORMED_QUERY",
                    f"duplicate field selected: {resolved.ref.text}",
                    resolved.ref.position,
                )
            seen.add(key)

    def _records(self) -> CompiledQuery:
        resolved_columns = [self.resolve(item) for item in self.query.select]
        self._check_duplicates(resolved_columns)
        # Rows are read as values, only the columns asked for: no model instances, no N+1.
        selection: dict[str, Any] = {PK: F("pk"), ID: F("sf_id")}

        def select(expression: Any) -> str:
            name = f"soql_column_{len(selection)}"
            selection[name] = expression
            return name

        related_ids: dict[str, str] = {}
        columns = []
        for resolved in resolved_columns:
            if resolved.relationship is None:
                columns.append(RecordColumn(resolved, select(self.expression(resolved))))
                continue
            related = []
            for object_name, column in resolved.relationship.columns.items():
                target = registry.get(object_name)
                if column not in related_ids:
                    related_ids[column] = select(F(f"{column}__sf_id"))
                leaf = target.field(resolved.key)
                leaf_value = (
                    None
                    if leaf is None
                    else select(self._leaf_expression(f"{column}__", target, leaf))
                )
                related.append(RelatedRead(target, related_ids[column], leaf, leaf_value))
            columns.append(RecordColumn(resolved, None, related))
        ordering = []
        for item in self.query.order_by:
            if isinstance(item.target, ast.AggregateCall):
                raise self.error(
                    "MALFORMED_QUERY",
                    "Aggregate functions can only be ordered in an aggregate query",
                    item.target.position,
                )
            ordering.append(self._order_expression(self.resolve(item.target, "sort"), item))
        ordering.append(F("pk").asc())
        return CompiledQuery(
            self.query,
            self.sobject,
            "records",
            columns=columns,
            ordering=ordering,
            selection=selection,
        )

    def _order_expression(self, resolved: Resolved, item: ast.OrderItem) -> Any:
        expression = F(self.lookup(resolved))
        if resolved.spec.type in _CASE_INSENSITIVE_TYPES:
            expression = Upper(expression)  # SOQL sorts text case-insensitively
        return _ordered(expression, item)

    def _aggregate(self) -> CompiledQuery:
        query = self.query
        groups: dict[str, str] = {}  # field path (lower case) -> annotation
        group_annotations: dict[str, Any] = {}
        for index, ref in enumerate(query.group_by):
            name = f"soql_group_{index}"
            group_annotations[name] = self.expression(self.resolve(ref, "group"))
            groups[ref.text.lower()] = name
        columns: list[AggregateColumn] = []
        aggregates: dict[str, Any] = {}
        unnamed = 0
        for item in query.select:
            if isinstance(item, ast.FieldRef):
                resolved = self.resolve(item)
                if item.text.lower() not in groups:
                    raise self.error(
                        "MALFORMED_QUERY",
                        f"Field must be grouped or aggregated: {item.text}",
                        item.position,
                    )
                columns.append(AggregateColumn(resolved.key, groups[item.text.lower()], True))
                continue
            key = item.alias
            if key is None:
                key, unnamed = f"expr{unnamed}", unnamed + 1
            if any(column.key.lower() == key.lower() for column in columns):
                raise self.error("MALFORMED_QUERY", f"duplicate alias: {key}", item.call.position)
            name = f"soql_aggregate_{len(aggregates)}"
            aggregates[name] = self._aggregate_expression(item.call)
            columns.append(AggregateColumn(key, name, False))
        ordering = []
        for item in query.order_by:
            if isinstance(item.target, ast.AggregateCall):
                name = f"soql_aggregate_{len(aggregates)}"
                aggregates[name] = self._aggregate_expression(item.target)
            else:
                self.resolve(item.target, "sort")
                name = groups.get(item.target.text.lower())
                if name is None:
                    raise self.error(
                        "MALFORMED_QUERY",
                        f"Ordered field must be grouped or aggregated: {item.target.text}",
                        item.target.position,
                    )
            ordering.append(_ordered(F(name), item))
        # Groups in a stable order, so batches of a long result never overlap.
        ordering.extend(F(name).asc(nulls_first=True) for name in group_annotations)
        return CompiledQuery(
            query,
            self.sobject,
            "aggregate",
            aggregate_columns=columns,
            ordering=ordering,
            group_annotations=group_annotations,
            aggregates=aggregates,
        )

    def _aggregate_expression(self, call: ast.AggregateCall) -> Any:
        resolved = self.resolve(call.field)
        if call.function in ("SUM", "AVG") and resolved.spec.type not in records.NUMBER_TYPES:
            raise self.error(
                "INVALID_FIELD",
                f"field {call.field.text} does not support aggregate operator {call.function}",
                call.position,
            )
        if call.function in ("MIN", "MAX") and not resolved.spec.sortable:
            raise self.error(
                "INVALID_FIELD",
                f"field {call.field.text} does not support aggregate operator {call.function}",
                call.position,
            )
        expression = self.expression(resolved)
        own_id = resolved.spec.type == "id" and resolved.relationship is None
        if call.function == "COUNT" and own_id:
            # COUNT(Id) counts rows (an Id is never null): COUNT(*) lets the database
            # answer from an index alone, without reading each row for its key.
            return Count("*")
        if call.function == "COUNT_DISTINCT":
            return Count(expression, distinct=True)
        return _AGGREGATES[call.function](expression)


def _ordered(expression: Any, item: ast.OrderItem) -> Any:
    """SOQL puts nulls first unless told NULLS LAST, in either direction."""
    nulls = {"nulls_last": True} if item.nulls_last else {"nulls_first": True}
    return expression.desc(**nulls) if item.descending else expression.asc(**nulls)


def unescape_like(literal: ast.Literal) -> str:
    """The pattern with LIKE's own escapes (\\%, \\_ and \\\\) still in place."""
    return unescape(Token("STRING", literal.text), keep="%_\\")


_LIKE_TOKENS = re.compile(r"\\[%_\\]|%|_|[^%_\\]+|\\")


def _like_text(tokens: list[str]) -> str:
    return "".join(token[1:] if len(token) == 2 and token[0] == "\\" else token for token in tokens)


def like_condition(lookup: str, pattern: str) -> Q:
    """SOQL LIKE (case-insensitive; ``%`` any run, ``_`` one character, ``\\%`` and
    ``\\_`` themselves) as the cheapest equivalent lookup."""
    tokens = _LIKE_TOKENS.findall(pattern)
    if "%" not in tokens and "_" not in tokens:
        return Q(**{f"{lookup}__iexact": _like_text(tokens)})
    core = list(tokens)
    leading = trailing = False
    while core and core[0] == "%":
        core.pop(0)
        leading = True
    while core and core[-1] == "%":
        core.pop()
        trailing = True
    if "_" not in tokens and "%" not in core:
        text = _like_text(core)
        if not text:
            return Q(**{f"{lookup}__isnull": False})
        name = {(True, True): "icontains", (False, True): "istartswith"}.get(
            (leading, trailing), "iendswith"
        )
        return Q(**{f"{lookup}__{name}": text})
    wildcards = {"%": ".*", "_": "."}
    regex = "".join(
        wildcards[token] if token in wildcards else re.escape(_like_text([token]))
        for token in tokens
    )
    return Q(**{f"{lookup}__iregex": f"^{regex}$"})


def compile_query(query: ast.Query, user: Any, now: dt.datetime) -> CompiledQuery:
    return Compiler(query, user, now).compile()
