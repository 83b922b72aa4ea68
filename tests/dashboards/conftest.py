import pytest

from tests.dashboards.team import Team


@pytest.fixture
def team(db) -> Team:
    return Team()
