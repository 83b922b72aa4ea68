"""Helpers for the Salesforce import/export tests: the fixture files and a runner."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from cadence_site.sfimport import importer

FIXTURES = Path(__file__).parent / "fixtures"
ORG = FIXTURES / "org"
# Parents before children, as an import resolves them; the tests pass them reversed.
ORG_ORDER = list(importer.ORDER)


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


def not_utf8_further_down(csv_bytes: bytes) -> bytes:
    """The file's header and rows, its rows again until it is well past the first
    block a reader decodes (64 KB), then a Latin-1 "José": a file that goes wrong far
    from its start."""
    lines = csv_bytes.rstrip(b"\r\n").split(b"\r\n")
    body = b"\r\n".join(lines[1:])
    repeats = 64 * 1024 // max(len(body), 1) + 2
    bad = lines[1].replace(b",", b",Jos\xe9", 1)
    return b"\r\n".join([lines[0]] + [body] * repeats + [bad]) + b"\r\n"
