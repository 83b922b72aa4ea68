"""Helpers for the Salesforce import/export tests: the fixture files and a runner."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command

FIXTURES = Path(__file__).parent / "fixtures"
ORG = FIXTURES / "org"
# Parents before children, as an import resolves them; the tests pass them reversed.
ORG_ORDER = [
    "UserRole",
    "User",
    "Group",
    "GroupMember",
    "Lead",
    "Contact",
    "Opportunity",
    "Invoice",
    "ActionCadence",
    "ActionCadenceStep",
    "ActionCadenceRule",
    "ActionCadenceTracker",
    "ActionCadenceStepTracker",
    "ActionCadenceTrackerOwnerSharingRule",
    "ActionCadenceTrackerShare",
]


def org_files(reverse: bool = True) -> list[str]:
    names = list(reversed(ORG_ORDER)) if reverse else ORG_ORDER
    return [str(ORG / f"{name}.csv") for name in names]


class Run:
    def __init__(self, stdout: str, stderr: str) -> None:
        self.stdout, self.stderr = stdout, stderr


def run_command(*args: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_salesforce", *args, stdout=out, stderr=err)
    return Run(out.getvalue(), err.getvalue())


@pytest.fixture
def imported_org(db) -> Run:
    """The whole fixture org, files given children first."""
    return run_command(*org_files())
