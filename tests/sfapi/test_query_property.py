"""Property: any WHERE clause over a few fields returns exactly the ids an independent
Python filter picks from the same rows.

The Python side states SOQL's semantics on its own terms: text compares
case-insensitively, a comparison with a null field is false (so ``!=`` and
``NOT IN`` are true for nulls), ``NOT`` flips true and false, LIKE is a
case-insensitive whole-value match with ``%`` and ``_``.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import QueueFactory, UserFactory, make_cadence
from tests.sfapi.conftest import client_for, query
from trackers.choices import CompletionDisposition, CompletionReason, TrackerState, values
from trackers.models import ActionCadenceTracker, Contact, Lead

pytestmark = pytest.mark.django_db

STATES = values(TrackerState)
DISPOSITIONS = [*values(CompletionDisposition), "Left voicemail"]  # not restricted: imports
MESSAGES = ["Mailbox full", "mailbox FULL", "Bounce 100%", "under_score", "Timeout"]
SURNAMES = ["Smith", "smith", "O'Brien", "Nguyen"]
OWNERS = ["Ada Lovelace", "rep_plain", "Inbound queue"]
MOMENTS = [dt.datetime(2030, 1, day, 9, 30, tzinfo=dt.UTC) for day in (1, 2, 3)]
ACTIVE = {"Running", "Paused", "Processing", "Initializing"}


def _rows() -> list[dict]:
    """40 trackers' worth of field values covering nulls, case variants and every state."""
    chooser = random.Random(20261127)
    rows = []
    for index in range(40):
        state = STATES[index % len(STATES)]
        complete = state == "Complete"
        rows.append(
            {
                "State": state,
                "DaisyChainIteration": chooser.choice([None, 1, 2, 3, 10]),
                "CompletionDisposition": chooser.choice([None, *DISPOSITIONS])
                if complete
                else None,
                "ErrorMessage": chooser.choice([None, *MESSAGES]),
                "ScheduledResumeDateTime": chooser.choice([None, *MOMENTS]),
                "IsTrackerActive": state in ACTIVE,
                # Target.LastName and Owner.Name read through polymorphic references.
                "Target.LastName": chooser.choice([None, *SURNAMES]),
                "TargetKind": chooser.choice(["Lead", "Contact"]),
                "Owner.Name": chooser.choice(OWNERS),
            }
        )
    return rows


def _target(row: dict):
    if row["Target.LastName"] is None:
        return {}
    if row["TargetKind"] == "Lead":
        return {"target_lead": Lead.objects.create(last_name=row["Target.LastName"], company="A")}
    return {"target_contact": Contact.objects.create(last_name=row["Target.LastName"])}


@pytest.fixture
def dataset(db):
    admin = UserFactory(is_superuser=True, first_name="Ada", last_name="Lovelace")
    owners = {
        "Ada Lovelace": {"owner_user": admin},
        "rep_plain": {"owner_user": UserFactory(username="rep_plain", first_name="", last_name="")},
        "Inbound queue": {"owner_queue": QueueFactory(name="Inbound queue")},
    }
    cadence = make_cadence()
    rows = _rows()
    trackers = ActionCadenceTracker.objects.bulk_create(
        [
            ActionCadenceTracker(
                action_cadence=cadence,
                **owners[row["Owner.Name"]],
                **_target(row),
                state=row["State"],
                prior_state="Running" if row["State"] == "Processing" else None,
                completion_reason=(
                    CompletionReason.MANUALLY_REMOVED if row["State"] == "Complete" else None
                ),
                completion_disposition=row["CompletionDisposition"],
                daisy_chain_iteration=row["DaisyChainIteration"],
                error_message=row["ErrorMessage"],
                scheduled_resume_date_time=row["ScheduledResumeDateTime"],
            )
            for row in rows
        ]
    )
    for tracker, row in zip(trackers, rows, strict=True):
        row["Id"] = tracker.sf_id
    return client_for(admin), rows


# --------------------------------------------------------------------------- predicates


def _soql_string(text: str, double: bool) -> str:
    escaped = text.replace("\\", "\\\\")
    if double:
        return '"' + escaped.replace('"', '\\"') + '"'
    return "'" + escaped.replace("'", "\\'") + "'"


def _case_variants(words: list[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(words).flatmap(
        lambda word: st.sampled_from([word, word.lower(), word.upper()])
    )


@st.composite
def text_predicate(draw, field: str, choices: list[str], nullable: bool):
    operator = draw(st.sampled_from(["=", "!=", "IN", "NOT IN", "LIKE"]))
    pool = st.one_of(_case_variants(choices), st.just("Nope"))
    double = draw(st.booleans())
    if operator == "LIKE":
        word = draw(st.sampled_from(choices))
        cut = draw(st.integers(0, max(0, len(word) - 1)))
        pattern = draw(
            st.sampled_from(
                [
                    word[:cut] + "%",
                    "%" + word[cut:],
                    "%" + word[1:-1] + "%",
                    word[:1] + "_" + word[2:],
                ]
            )
        )
        return (field, "LIKE", pattern), f"{field} LIKE {_soql_string(pattern, double)}"
    if operator in ("IN", "NOT IN"):
        items = draw(
            st.lists(st.one_of(pool, st.none()) if nullable else pool, min_size=1, max_size=3)
        )
        rendered = ", ".join(
            "null" if item is None else _soql_string(item, double) for item in items
        )
        return (field, operator, items), f"{field} {operator} ({rendered})"
    value = draw(st.one_of(pool, st.none()) if nullable else pool)
    rendered = "null" if value is None else _soql_string(value, double)
    written = draw(st.sampled_from(["!=", "<>"])) if operator == "!=" else "="
    return (field, operator, value), f"{field} {written} {rendered}"


@st.composite
def number_predicate(draw):
    operator = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN"]))
    numbers = st.sampled_from([Decimal(0), Decimal(1), Decimal(2), Decimal("2.5"), Decimal(10)])
    field = "DaisyChainIteration"
    if operator in ("IN", "NOT IN"):
        items = draw(st.lists(st.one_of(numbers, st.none()), min_size=1, max_size=3))
        rendered = ", ".join("null" if item is None else str(item) for item in items)
        return (field, operator, items), f"{field} {operator} ({rendered})"
    value = draw(st.one_of(numbers, st.none()) if operator in ("=", "!=") else numbers)
    return (field, operator, value), f"{field} {operator} {'null' if value is None else value}"


@st.composite
def moment_predicate(draw):
    operator = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
    field = "ScheduledResumeDateTime"
    if operator in ("=", "!=") and draw(st.booleans()):
        return (field, operator, None), f"{field} {operator} null"
    moment = draw(st.sampled_from(MOMENTS)) + dt.timedelta(
        minutes=draw(st.sampled_from([-1, 0, 1]))
    )
    form = draw(
        st.sampled_from(
            ["%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.000+0000", "%Y-%m-%dT%H:%M:%S+00:00"]
        )
    )
    return (field, operator, moment), f"{field} {operator} {moment.strftime(form)}"


@st.composite
def boolean_predicate(draw):
    operator, value = draw(st.sampled_from(["=", "!="])), draw(st.booleans())
    return ("IsTrackerActive", operator, value), f"IsTrackerActive {operator} {str(value).lower()}"


PREDICATES = st.one_of(
    text_predicate("State", STATES, nullable=False),
    text_predicate("CompletionDisposition", DISPOSITIONS, nullable=True),
    text_predicate(
        "ErrorMessage", ["Mailbox full", "Bounce", "under_score", "Timeout"], nullable=True
    ),
    number_predicate(),
    moment_predicate(),
    boolean_predicate(),
    text_predicate("Target.LastName", SURNAMES, nullable=True),
    text_predicate("Owner.Name", OWNERS, nullable=False),
)


def conditions(leaves):
    """(tree, SOQL) pairs: AND/OR lists parenthesised (SOQL never mixes them bare), NOT."""

    def combine(children):
        junction = st.tuples(
            st.sampled_from(["AND", "OR"]), st.lists(children, min_size=2, max_size=3)
        ).map(
            lambda pair: (
                (pair[0], [c[0] for c in pair[1]]),
                f" {pair[0]} ".join(f"({c[1]})" for c in pair[1]),
            )
        )
        negation = children.map(lambda child: (("NOT", child[0]), f"NOT ({child[1]})"))
        return st.one_of(junction, negation)

    return st.recursive(leaves, combine, max_leaves=6)


# --------------------------------------------------------------------------- the oracle


def _like(value: str, pattern: str) -> bool:
    regex = "".join(
        ".*" if char == "%" else "." if char == "_" else re.escape(char) for char in pattern
    )
    return re.fullmatch(regex, value, flags=re.IGNORECASE | re.DOTALL) is not None


def _equals(field: str, actual, wanted) -> bool:
    if wanted is None:
        return actual is None
    if actual is None:
        return False
    if isinstance(actual, str):
        return actual.lower() == wanted.lower()
    return actual == wanted


def holds(tree, row: dict) -> bool:
    kind = tree[0]
    if kind == "AND":
        return all(holds(child, row) for child in tree[1])
    if kind == "OR":
        return any(holds(child, row) for child in tree[1])
    if kind == "NOT":
        return not holds(tree[1], row)
    field, operator, wanted = tree
    actual = row[field]
    if operator == "=":
        return _equals(field, actual, wanted)
    if operator == "!=":
        return not _equals(field, actual, wanted)
    if operator in ("IN", "NOT IN"):
        found = any(_equals(field, actual, item) for item in wanted)
        return found if operator == "IN" else not found
    if actual is None:
        return False
    if operator == "LIKE":
        return _like(actual, wanted)
    return {
        "<": actual < wanted,
        "<=": actual <= wanted,
        ">": actual > wanted,
        ">=": actual >= wanted,
    }[operator]


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(condition=conditions(PREDICATES))
def test_where_matches_an_independent_python_filter(dataset, condition):
    client, rows = dataset
    tree, soql_condition = condition
    response = query(client, f"SELECT Id FROM ActionCadenceTracker WHERE {soql_condition}")
    assert response.status_code == 200, (soql_condition, response.json())
    body = response.json()
    found = {record["Id"] for record in body["records"]}
    expected = {row["Id"] for row in rows if holds(tree, row)}
    assert found == expected, soql_condition
    assert body["totalSize"] == len(expected)


NULLABLE_PREDICATES = st.one_of(
    text_predicate("Target.LastName", SURNAMES, nullable=True),
    text_predicate("CompletionDisposition", DISPOSITIONS, nullable=True),
    text_predicate("ErrorMessage", ["Mailbox full", "Bounce", "under_score"], nullable=True),
    number_predicate(),
    moment_predicate(),
)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(leaf=NULLABLE_PREDICATES, negate=st.booleans())
def test_negations_include_nulls_as_soql_does(dataset, leaf, negate):
    """``!=``, ``NOT IN`` and ``NOT (...)`` over fields that are null on some rows
    (including a polymorphic relationship field): nulls count as not matching."""
    client, rows = dataset
    tree, soql_condition = leaf
    if negate:
        tree, soql_condition = ("NOT", tree), f"NOT ({soql_condition})"
    response = query(client, f"SELECT Id FROM ActionCadenceTracker WHERE {soql_condition}")
    assert response.status_code == 200, (soql_condition, response.json())
    found = {record["Id"] for record in response.json()["records"]}
    assert found == {row["Id"] for row in rows if holds(tree, row)}, soql_condition
