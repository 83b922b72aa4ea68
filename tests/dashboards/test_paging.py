"""Keyset pagination: every row exactly once, forwards and back, NULLs included."""

from __future__ import annotations

from itertools import pairwise

import pytest

from trackers import lifecycle
from trackers.models import ActionCadenceTracker
from trackers.views.paging import SortColumn, make_cursor, paginate, read_cursor

pytestmark = pytest.mark.django_db

DISPOSITION = SortColumn("disposition", "completion_disposition", "Disposition", nullable=True)
CADENCE = SortColumn("cadence", "action_cadence__name", "Cadence", nullable=True)


@pytest.fixture
def trackers(team):
    """Seven trackers, four without a disposition (NULL) and ties among the rest."""
    trackers = team.running(7)
    for tracker, disposition in zip(trackers, ["Success", "Success", "Duplicate"], strict=False):
        lifecycle.remove_target(tracker, actor=team.owner, disposition=disposition)
    return trackers


def walk(queryset, column, descending):
    pages, cursor = [], None
    while True:
        page = paginate(queryset, column, descending=descending, cursor=cursor, per_page=2)
        pages.append(page)
        if not page.has_next:
            return pages
        cursor = page.next_cursor


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("column", [DISPOSITION, CADENCE])
def test_forward_walk_matches_the_database_order(trackers, column, descending):
    queryset = ActionCadenceTracker.objects.all()
    pages = walk(queryset, column, descending)
    seen = [item.pk for page in pages for item in page.items]
    ordered = [
        row.pk
        for row in paginate(
            queryset, column, descending=descending, cursor=None, per_page=100
        ).items
    ]
    assert seen == ordered and len(seen) == 7
    assert not pages[0].has_previous and all(page.has_previous for page in pages[1:])


@pytest.mark.parametrize("descending", [False, True])
def test_previous_returns_the_page_before(trackers, descending):
    queryset = ActionCadenceTracker.objects.all()
    pages = walk(queryset, DISPOSITION, descending)
    for before, after in pairwise(pages):
        back = paginate(
            queryset, DISPOSITION, descending=descending, cursor=after.previous_cursor, per_page=2
        )
        assert [item.pk for item in back.items] == [item.pk for item in before.items]


def test_nulls_sort_last_ascending_and_first_descending(trackers):
    queryset = ActionCadenceTracker.objects.all()
    ascending = paginate(queryset, DISPOSITION, descending=False, cursor=None, per_page=7)
    assert [t.completion_disposition for t in ascending.items][-4:] == [None] * 4
    descending = paginate(queryset, DISPOSITION, descending=True, cursor=None, per_page=7)
    assert [t.completion_disposition for t in descending.items][:4] == [None] * 4


def test_bad_cursors_mean_the_first_page(trackers):
    assert read_cursor("not base64 !!") is None
    assert read_cursor(make_cursor("x", 1, 1)) is None
    page = paginate(
        ActionCadenceTracker.objects.all(), DISPOSITION, descending=False, cursor="%%%", per_page=2
    )
    assert len(page.items) == 2 and not page.has_previous
