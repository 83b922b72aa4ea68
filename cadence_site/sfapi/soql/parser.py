"""SOQL text -> ``ast.Query``, with a lark LALR grammar (``soql.lark``).

Syntax errors are MALFORMED_QUERY and say where, the way Salesforce does::

    select Id frm ActionCadenceTracker
              ^
    ERROR at Row:1:Column:11
    unexpected token: 'frm'
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal
from pathlib import Path

from lark import Lark, Token, Transformer, UnexpectedCharacters, UnexpectedEOF, UnexpectedToken
from lark.exceptions import VisitError

from cadence_site.sfapi.errors import SalesforceError
from cadence_site.sfapi.records import parse_datetime
from cadence_site.sfapi.soql import ast

MAX_QUERY_LENGTH = 100_000  # Salesforce's limit on a SOQL statement

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}
_PUNCTUATION = {"COMMA": ",", "DOT": ".", "LPAR": "(", "RPAR": ")", "$END": "<EOF>"}


class _LiteralError(Exception):
    def __init__(self, message: str, token: Token) -> None:
        super().__init__(message)
        self.message = message
        self.token = token


def query_error(code: str, message: str, text: str, position: ast.Position) -> SalesforceError:
    """An error pointing at ``position`` in the query, Salesforce style."""
    lines = text.splitlines() or [""]
    line = lines[min(position.line, len(lines)) - 1]
    caret = " " * (position.column - 1) + "^"
    return SalesforceError(
        code,
        f"\n{line}\n{caret}\nERROR at Row:{position.line}:Column:{position.column}\n{message}",
    )


def _position(token: Token) -> ast.Position:
    return ast.Position(token.line, token.column)


def unescape(token: Token, keep: str = "") -> str:
    """The text inside a quoted string; escapes in ``keep`` stay escaped (LIKE's \\% and \\_)."""
    body = str(token)[1:-1]
    out = []
    index = 0
    while index < len(body):
        char = body[index]
        if char != "\\":
            out.append(char)
            index += 1
            continue
        escaped = body[index + 1]
        if escaped in keep:
            out.append("\\" + escaped)
        elif escaped in _ESCAPES:
            out.append(_ESCAPES[escaped])
        elif escaped in "'\"\\%_":
            out.append(escaped)
        else:
            raise _LiteralError(
                f"Invalid string literal: illegal escape sequence \\{escaped}", token
            )
        index += 2
    return "".join(out)


def _tokens(children: list, *types: str) -> list[Token]:
    return [child for child in children if isinstance(child, Token) and child.type in types]


def _nodes(children: list) -> list:
    return [child for child in children if not isinstance(child, Token)]


class _ToAst(Transformer):
    """Builds ``ast`` nodes while the LALR parser reduces (no parse tree is kept)."""

    def start(self, children: list) -> ast.Query:
        clauses = dict(children)
        select, (sobject, sobject_position) = clauses["select"], clauses["from"]
        return ast.Query(
            text="",
            select=select,
            sobject=sobject,
            sobject_position=sobject_position,
            where=clauses.get("where"),
            group_by=clauses.get("group", []),
            order_by=clauses.get("order", []),
            limit=clauses.get("limit"),
            offset=clauses.get("offset"),
        )

    def select_clause(self, children: list) -> tuple:
        return ("select", _nodes(children))

    def count_all(self, children: list) -> ast.CountAll:
        return ast.CountAll(_position(children[0]))

    def agg_call(self, children: list) -> ast.AggregateCall:
        function, field = children
        return ast.AggregateCall(str(function).upper(), field, _position(function))

    def aggregate(self, children: list) -> ast.Aggregate:
        alias = str(children[1]) if len(children) > 1 else None
        return ast.Aggregate(children[0], alias)

    def field_ref(self, children: list) -> ast.FieldRef:
        return ast.FieldRef(tuple(str(name) for name in children), _position(children[0]))

    def from_clause(self, children: list) -> tuple:
        name = children[1]
        return ("from", (str(name), _position(name)))

    def where_clause(self, children: list) -> tuple:
        return ("where", children[1])

    def and_(self, children: list) -> ast.BoolOp:
        return ast.BoolOp("AND", tuple(_nodes(children)))

    def or_(self, children: list) -> ast.BoolOp:
        return ast.BoolOp("OR", tuple(_nodes(children)))

    def not_(self, children: list) -> ast.Not:
        return ast.Not(children[1])

    def compare(self, children: list) -> ast.Comparison:
        field, operator, value = children
        operator = "!=" if operator == "<>" else str(operator)
        return ast.Comparison(field, operator, value)

    def like(self, children: list) -> ast.Comparison:
        return ast.Comparison(children[0], "LIKE", children[2])

    def in_(self, children: list) -> ast.InList:
        return ast.InList(children[0], children[-1], negated=False)

    def not_in(self, children: list) -> ast.InList:
        return ast.InList(children[0], children[-1], negated=True)

    def value_list(self, children: list) -> tuple:
        return tuple(children)

    # ---- literals

    def _literal(self, kind: str, value: object, token: Token) -> ast.Literal:
        return ast.Literal(kind, value, str(token), _position(token))

    def string(self, children: list) -> ast.Literal:
        (token,) = children
        return self._literal("string", unescape(token), token)

    def number(self, children: list) -> ast.Literal:
        (token,) = children
        return self._literal("number", Decimal(str(token)), token)

    def datetime(self, children: list) -> ast.Literal:
        (token,) = children
        try:
            return self._literal("datetime", parse_datetime(str(token)), token)
        except ValueError:
            raise _LiteralError(f"Invalid dateTime: {token}", token) from None

    def date(self, children: list) -> ast.Literal:
        (token,) = children
        try:
            return self._literal("date", dt.date.fromisoformat(str(token)), token)
        except ValueError:
            raise _LiteralError(f"Invalid date: {token}", token) from None

    def date_literal(self, children: list) -> ast.Literal:
        (token,) = children
        name, _, number = str(token).upper().partition(":")
        return self._literal("date_literal", (name, int(number) if number else None), token)

    def true(self, children: list) -> ast.Literal:
        return self._literal("boolean", True, children[0])

    def false(self, children: list) -> ast.Literal:
        return self._literal("boolean", False, children[0])

    def null(self, children: list) -> ast.Literal:
        return self._literal("null", None, children[0])

    def bare_id(self, children: list) -> ast.Literal:
        return self._literal("id", str(children[0]), children[0])

    # ---- the rest

    def group_clause(self, children: list) -> tuple:
        return ("group", _nodes(children))

    def order_clause(self, children: list) -> tuple:
        return ("order", _nodes(children))

    def order_item(self, children: list) -> ast.OrderItem:
        words = {token.type for token in _tokens(children, "DESC", "FIRST", "LAST")}
        nulls_last = True if "LAST" in words else (False if "FIRST" in words else None)
        return ast.OrderItem(_nodes(children)[0], "DESC" in words, nulls_last)

    def limit_clause(self, children: list) -> tuple:
        return ("limit", int(children[1]))

    def offset_clause(self, children: list) -> tuple:
        return ("offset", int(children[1]))


@functools.cache
def _parser() -> Lark:
    grammar = (Path(__file__).parent / "soql.lark").read_text()
    # cache: the LALR tables are kept in a temp file, so a new process starts in ~30 ms.
    return Lark(grammar, parser="lalr", lexer="contextual", transformer=_ToAst(), cache=True)


def _describe_expected(expected: set[str]) -> str:
    names = sorted(_PUNCTUATION.get(name, name) for name in expected)
    if not names or len(names) > 8:
        return ""
    return "; expecting one of: " + ", ".join(names)


def parse(text: str) -> ast.Query:
    if len(text) > MAX_QUERY_LENGTH:
        raise SalesforceError(
            "MALFORMED_QUERY",
            f"SOQL statements cannot be longer than {MAX_QUERY_LENGTH:,} characters.",
        )
    if not text.strip():
        raise SalesforceError("MALFORMED_QUERY", "The query is empty.")
    try:
        query = _parser().parse(text)
    except UnexpectedToken as error:
        token = error.token
        shown = "<EOF>" if token.type == "$END" else f"'{token}'"
        at_end = token.type == "$END" or error.line < 1
        position = _end(text) if at_end else ast.Position(error.line, error.column)
        raise query_error(
            "MALFORMED_QUERY",
            f"unexpected token: {shown}{_describe_expected(error.expected)}",
            text,
            position,
        ) from None
    except UnexpectedCharacters as error:
        raise query_error(
            "MALFORMED_QUERY",
            f"unexpected character: '{text[error.pos_in_stream]}'",
            text,
            ast.Position(error.line, error.column),
        ) from None
    except UnexpectedEOF:
        raise query_error("MALFORMED_QUERY", "unexpected token: <EOF>", text, _end(text)) from None
    except (_LiteralError, VisitError) as error:
        literal_error = error.orig_exc if isinstance(error, VisitError) else error
        if not isinstance(literal_error, _LiteralError):
            raise
        raise query_error(
            "MALFORMED_QUERY", literal_error.message, text, _position(literal_error.token)
        ) from None
    query.text = text
    return query


def _end(text: str) -> ast.Position:
    lines = text.splitlines() or [""]
    return ast.Position(len(lines), len(lines[-1]) + 1)
