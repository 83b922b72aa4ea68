"""Export -> import into an empty database -> export again: byte-identical, and every
id, reference and picklist value intact through the Salesforce-compatible API."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from cadence_site import registry
from sharing.models import (
    ActionCadenceTrackerOwnerSharingRule,
    ActionCadenceTrackerShare,
    ApiToken,
    Group,
    GroupMember,
    Organization,
    User,
    UserRole,
)
from tests.sfimport.conftest import ORG_ORDER, run_command
from trackers.models import (
    ActionCadence,
    ActionCadenceTracker,
    ActionCadenceTrackerChangeEvent,
    Contact,
    Invoice,
    Lead,
    Opportunity,
)

pytestmark = pytest.mark.usefixtures("imported_org")


def export(name: str, fmt: str = "csv") -> str:
    out = io.StringIO()
    call_command("export_salesforce", name, "--format", fmt, stdout=out)
    return out.getvalue()


def export_all(folder, fmt: str = "csv") -> dict[str, str]:
    texts = {}
    for name in ORG_ORDER:
        texts[name] = export(name, fmt)
        (folder / f"{name}.{fmt}").write_text(texts[name], encoding="utf-8", newline="")
    return texts


def empty_the_database() -> None:
    ActionCadenceTrackerShare.objects.all().delete()
    ActionCadenceTrackerOwnerSharingRule.objects.all().delete()
    ActionCadenceTracker.all_objects.update(current_step=None, last_completed_step=None)
    ActionCadenceTracker.all_objects.all().delete()
    ActionCadence.objects.all().delete()
    for model in (Lead, Contact, Opportunity, Invoice, GroupMember, Group):
        model.objects.all().delete()
    User.objects.all().delete()
    UserRole.objects.update(parent_role=None)
    UserRole.objects.all().delete()
    Organization.objects.all().delete()


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_import_export_is_byte_identical(tmp_path, fmt):
    first = export_all(tmp_path, fmt)
    assert "7CTImpTrkRun001OSA" in first["ActionCadenceTracker"]
    empty_the_database()
    assert not ActionCadenceTracker.all_objects.exists()
    # Given children first: the importer puts them in order.
    files = [str(tmp_path / f"{name}.{fmt}") for name in reversed(ORG_ORDER)]
    result = run_command(*files)
    assert result.stderr == ""
    assert "ActionCadenceTracker: 5 created" in result.stdout
    assert {name: export(name, fmt) for name in ORG_ORDER} == first


def test_csv_export_is_data_loader_shaped():
    text = export("ActionCadenceTracker")
    assert text.startswith("Id,CreatedDate,CreatedById,")
    assert "\r\n" in text
    rows = {row["Id"]: row for row in csv.DictReader(io.StringIO(text))}
    running = rows["7CTImpTrkRun001OSA"]
    assert running["CreatedDate"] == "2024-03-01T12:34:56.000+0000"
    assert running["IsTrackerActive"] == "true"
    assert running["CompletionReason"] == ""
    assert rows["7CTImpTrkRem002OSA"]["CompletionDisposition"] == "Left the company"


def test_json_export_is_a_rest_query_result():
    body = json.loads(export("ActionCadenceTracker", "json"))
    assert (body["totalSize"], body["done"]) == (5, True)
    record = next(item for item in body["records"] if item["Id"] == "7CTImpTrkExt003OSA")
    assert record["attributes"] == {
        "type": "ActionCadenceTracker",
        "url": "/services/data/v62.0/sobjects/ActionCadenceTracker/7CTImpTrkExt003OSA",
    }
    assert record["ExitGlobalRuleId"] == "7CRImpRuleRply1OCB"


def test_every_value_survives_through_the_api(tmp_path):
    """After the round trip, the API's retrieve answers with the exported values."""
    exported = {
        row["Id"]: row for row in csv.DictReader(io.StringIO(export("ActionCadenceTracker")))
    }
    export_all(tmp_path)
    empty_the_database()
    run_command(*[str(tmp_path / f"{name}.csv") for name in ORG_ORDER])
    admin = User.objects.create_superuser("roundtrip_admin", "admin@example.com", "pw-12345678")
    _token, raw = ApiToken.issue(admin)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    sobject = registry.get("ActionCadenceTracker")
    for sf_id, row in exported.items():
        response = client.get(f"/services/data/v62.0/sobjects/ActionCadenceTracker/{sf_id}")
        assert response.status_code == 200, response.content
        body = response.json()
        for spec in sobject.fields:
            value = body[spec.name]
            shown = "" if value is None else ("true" if value is True else value)
            shown = "false" if value is False else shown
            assert str(shown) == row[spec.name], (sf_id, spec.name)


def test_the_dashboard_csv_export_reads_back_unchanged(client, tmp_path):
    admin = User.objects.create_superuser("dash_admin", "dash@example.com", "pw-12345678")
    client.force_login(admin)
    response = client.get("/trackers/export.csv")
    assert response.status_code == 200
    assert response.streaming
    path = tmp_path / "ActionCadenceTracker.csv"
    path.write_bytes(b"".join(response.streaming_content))
    events = ActionCadenceTrackerChangeEvent.objects.count()
    result = run_command(str(path))
    assert result.stderr == ""
    assert "ActionCadenceTracker: 0 created, 0 updated, 5 unchanged, 0 skipped" in result.stdout
    assert ActionCadenceTrackerChangeEvent.objects.count() == events
