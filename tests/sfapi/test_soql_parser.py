"""The SOQL grammar: what parses, into what, and where a malformed query goes wrong."""

import datetime as dt
from decimal import Decimal

import pytest

from cadence_site.sfapi.errors import SalesforceError
from cadence_site.sfapi.soql import ast, dates
from cadence_site.sfapi.soql.compiler import like_condition
from cadence_site.sfapi.soql.parser import parse

SEED_QUERY = (
    "select TargetId from ActionCadenceTracker where ActionCadenceId=77C000000000001EAA\n"
    ' and State= "Running"'
)


def test_seed_usage_query_parses_as_printed():
    query = parse(SEED_QUERY)
    assert [item.path for item in query.select] == [("TargetId",)]
    assert query.sobject == "ActionCadenceTracker"
    cadence, state = query.where.operands
    assert query.where.operator == "AND"
    assert cadence.value == ast.Literal(
        "id", "77C000000000001EAA", "77C000000000001EAA", ast.Position(1, 65)
    )
    assert state.value.kind == "string" and state.value.value == "Running"
    assert state.field.position == ast.Position(2, 6)


@pytest.mark.parametrize(
    "soql",
    [
        "SELECT Id FROM ActionCadenceTracker",
        "select id from actioncadencetracker",
        "SeLeCt Id FrOm ActionCadenceTracker WhErE State = 'Running' LiMiT 5",
        "SELECT Id, ActionCadence.Name, Owner.Name FROM ActionCadenceTracker",
        "SELECT Group.Name FROM GroupMember",
        "SELECT COUNT() FROM ActionCadenceTracker",
        "SELECT State, COUNT(Id), COUNT(TargetId) n FROM ActionCadenceTracker GROUP BY State",
        "SELECT COUNT_DISTINCT(OwnerId), MIN(CreatedDate), MAX(DaisyChainIteration), "
        "SUM(DaisyChainIteration), AVG(DaisyChainIteration) FROM ActionCadenceTracker",
        "SELECT Id FROM X WHERE a = 1 AND b != 2 AND c <> 3 AND d < 4 AND e <= 5 AND f > 6 "
        "AND g >= 7",
        "SELECT Id FROM X WHERE a = 1 OR b = 2 OR c = 3",
        "SELECT Id FROM X WHERE (a = 1 OR b = 2) AND NOT (c = 3 AND d = 4)",
        "SELECT Id FROM X WHERE NOT a = 1",
        "SELECT Id FROM X WHERE a IN ('x', 'y') AND b NOT IN (1, 2.5, -3)",
        "SELECT Id FROM X WHERE a LIKE 'Acme%' AND b LIKE '_\\%\\_'",
        "SELECT Id FROM X WHERE a = null AND b = true AND c = FALSE",
        "SELECT Id FROM X WHERE a = 2026-11-27 AND b = 2026-11-27T12:00:00Z",
        "SELECT Id FROM X WHERE b > 2026-11-27T12:00:00.123+0000 AND c < 2026-11-27T12:00:00-08:00",
        "SELECT Id FROM X WHERE a = TODAY AND b = LAST_N_DAYS:30 AND c = NEXT_N_DAYS:7 "
        "AND d = THIS_MONTH AND e = LAST_90_DAYS AND f = N_DAYS_AGO:3",
        "SELECT Id FROM X ORDER BY a, b DESC, c ASC NULLS LAST, d NULLS FIRST LIMIT 10 OFFSET 20",
        'SELECT Id FROM X WHERE a = \'it\\\'s\' AND b = "double \\"quoted\\""',
        "SELECT Id\n  FROM X\n WHERE a = 1\n",
    ],
)
def test_valid_queries_parse(soql):
    assert isinstance(parse(soql), ast.Query)


def test_parse_tree_shapes():
    query = parse(
        "SELECT Id, COUNT(Id) c FROM X WHERE NOT (a = 1 OR b IN ('p', 'q')) "
        "AND c LIKE 'x%' ORDER BY COUNT(Id) DESC NULLS LAST LIMIT 3 OFFSET 4"
    )
    aggregate = query.select[1]
    assert aggregate.alias == "c" and aggregate.call.function == "COUNT"
    negated, like = query.where.operands
    assert isinstance(negated, ast.Not) and negated.operand.operator == "OR"
    in_list = negated.operand.operands[1]
    assert [value.value for value in in_list.values] == ["p", "q"] and not in_list.negated
    assert like.operator == "LIKE"
    (order,) = query.order_by
    assert order.descending and order.nulls_last and isinstance(order.target, ast.AggregateCall)
    assert (query.limit, query.offset) == (3, 4)


def test_literal_values():
    query = parse(
        "SELECT Id FROM X WHERE a = -2.5 AND b = 2026-11-27T13:00:00+01:00 AND c = 2026-02-03 "
        "AND d = LAST_N_DAYS:14 AND e = 'tab\\there' AND f <> 'x'"
    )
    a, b, c, d, e, f = query.where.operands
    assert a.value.value == Decimal("-2.5")
    assert b.value.value == dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
    assert c.value.value == dt.date(2026, 2, 3)
    assert d.value.value == ("LAST_N_DAYS", 14)
    assert e.value.value == "tab\there"
    assert f.operator == "!="


@pytest.mark.parametrize(
    ("soql", "row", "column", "fragment"),
    [
        ("SELECT Id frm X", 1, 11, "unexpected token: 'frm'"),
        ("SELECT FROM X", 1, 13, "unexpected token: 'X'"),
        ("SELECT Id FROM X WHERE", 1, 23, "<EOF>"),
        ("SELECT Id FROM X WHERE a = 1 AND\n", 1, 33, "<EOF>"),
        ("SELECT Id FROM X WHERE a = 1 AND b = 2 OR c = 3", 1, 40, "unexpected token: 'OR'"),
        ("SELECT Id FROM X WHERE a = $", 1, 28, "unexpected character: '$'"),
        ("SELECT Id FROM X\nWHERE a == 1", 2, 10, "unexpected token: '='"),
        ("SELECT Id FROM X WHERE a = 'bad \\q escape'", 1, 28, "illegal escape"),
        ("SELECT Id FROM X WHERE a = 2026-02-30", 1, 28, "Invalid date"),
        ("SELECT Id FROM X LIMIT -1", 1, 24, "unexpected"),
        ("SELECT Id FROM X WHERE a IN ()", 1, 30, "unexpected token: ')'"),
        ("SELECT Id FROM X WHERE a = 'unterminated", 1, 28, "unexpected character"),
        ("SELECT Id, FROM X", 1, 17, "unexpected token: 'X'"),
        ("DELETE FROM X", 1, 1, "unexpected token: 'DELETE'"),
    ],
)
def test_malformed_queries_report_position(soql, row, column, fragment):
    with pytest.raises(SalesforceError) as raised:
        parse(soql)
    error = raised.value
    assert error.code == "MALFORMED_QUERY" and error.status == 400
    assert f"ERROR at Row:{row}:Column:{column}" in error.message
    assert fragment in error.message
    # The offending line is echoed with a caret under the column.
    lines = error.message.split("\n")
    assert lines[2] == " " * (column - 1) + "^"


def test_empty_and_overlong_queries():
    for text in ("", "   "):
        with pytest.raises(SalesforceError, match="empty"):
            parse(text)
    with pytest.raises(SalesforceError, match="100,000"):
        parse("SELECT Id FROM X WHERE a = '" + "x" * 100_000 + "'")


@pytest.mark.parametrize(
    ("literal", "start", "end"),
    [
        # Friday 2026-11-27; weeks start on Sunday.
        ("TODAY", "2026-11-27", "2026-11-28"),
        ("YESTERDAY", "2026-11-26", "2026-11-27"),
        ("TOMORROW", "2026-11-28", "2026-11-29"),
        ("THIS_WEEK", "2026-11-22", "2026-11-29"),
        ("LAST_WEEK", "2026-11-15", "2026-11-22"),
        ("NEXT_WEEK", "2026-11-29", "2026-12-06"),
        ("THIS_MONTH", "2026-11-01", "2026-12-01"),
        ("LAST_MONTH", "2026-10-01", "2026-11-01"),
        ("NEXT_MONTH", "2026-12-01", "2027-01-01"),
        ("LAST_90_DAYS", "2026-08-29", "2026-11-28"),
        ("NEXT_90_DAYS", "2026-11-28", "2027-02-26"),
        ("THIS_QUARTER", "2026-10-01", "2027-01-01"),
        ("THIS_YEAR", "2026-01-01", "2027-01-01"),
        ("LAST_YEAR", "2025-01-01", "2026-01-01"),
        ("LAST_N_DAYS:1", "2026-11-26", "2026-11-28"),
        ("NEXT_N_DAYS:3", "2026-11-28", "2026-12-01"),
        ("LAST_N_MONTHS:2", "2026-09-01", "2026-11-01"),
        ("N_DAYS_AGO:2", "2026-11-25", "2026-11-26"),
    ],
)
def test_date_literal_ranges(literal, start, end):
    name, _, number = literal.partition(":")
    found = dates.date_range(name, int(number) if number else None, dt.date(2026, 11, 27))
    assert found == (dt.date.fromisoformat(start), dt.date.fromisoformat(end))


@pytest.mark.parametrize(
    ("pattern", "lookup"),
    [
        ("Acme", "iexact"),
        ("Acme%", "istartswith"),
        ("%Acme", "iendswith"),
        ("%Acme%", "icontains"),
        ("A_me", "iregex"),
        ("A%c%e", "iregex"),
        ("100\\%", "iexact"),
    ],
)
def test_like_uses_the_cheapest_lookup(pattern, lookup):
    (child,) = like_condition("name", pattern).children
    assert child[0] == f"name__{lookup}"
