"""The admin's import page: upload, preview (detected object, first rows, per-row
errors, nothing written), confirm; superusers only; CSRF protected."""

from __future__ import annotations

import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from cadence_site.sfimport import admin_views
from tests.factories import UserFactory
from tests.sfimport.conftest import FIXTURES, ORG, not_utf8_further_down
from trackers.models import ActionCadenceTracker, Lead

URL = "/admin/import-salesforce/"


def upload(path, name=None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name or path.name, path.read_bytes(), content_type="text/csv")


@pytest.fixture
def superuser_client(db):
    client = Client()
    client.force_login(UserFactory(username="importer", is_staff=True, is_superuser=True))
    return client


def test_the_admin_index_links_to_the_import_page(superuser_client):
    response = superuser_client.get("/admin/")
    assert URL in response.content.decode()


def test_upload_preview_then_confirm(superuser_client):
    response = superuser_client.post(URL, {"files": [upload(ORG / "Lead.csv")]})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Lead.csv: Lead, 3 records" in page
    assert "Lovelace, Babbage &amp; Co" in page  # the first rows, as the file has them
    assert "columns not in Lead were ignored: Rating__c" in page
    assert not Lead.objects.exists()  # a preview writes nothing
    token = response.context["token"]
    done = superuser_client.post(URL, {"token": token, "confirm": "Import"})
    assert done.status_code == 200
    assert 'id="sfimport-done"' in done.content.decode()
    assert Lead.objects.count() == 3
    # The token is spent: confirming again imports nothing twice.
    again = superuser_client.post(URL, {"token": token, "confirm": "Import"})
    assert again.status_code == 302
    assert Lead.objects.count() == 3


def test_preview_lists_each_bad_row_and_confirm_skips_them(superuser_client):
    files = [upload(path) for path in sorted(ORG.glob("*.csv"))]
    superuser_client.post(URL, {"files": files})
    superuser_client.post(URL, {"token": _last_token(superuser_client), "confirm": "Import"})
    response = superuser_client.post(
        URL, {"files": [upload(FIXTURES / "bad" / "ActionCadenceTracker.csv")]}
    )
    errors = response.context["errors"]
    assert len(errors) == 5
    assert errors[0].startswith("ActionCadenceTracker.csv:2:State: 'Runing'")
    assert "ActionCadenceTracker.csv:6:OwnerId" in response.content.decode()
    done = superuser_client.post(URL, {"token": response.context["token"], "confirm": "Import"})
    assert len(done.context["errors"]) == 5
    assert ActionCadenceTracker.objects.filter(sf_id="7CTImpGood00006OCA").exists()


def test_all_or_nothing_imports_nothing_when_a_row_is_bad(superuser_client):
    files = [upload(ORG / "Lead.csv"), upload(FIXTURES / "bad" / "ActionCadenceTracker.csv")]
    response = superuser_client.post(URL, {"files": files, "atomic": "on"})
    done = superuser_client.post(URL, {"token": response.context["token"], "confirm": "Import"})
    assert 'id="sfimport-rolled-back"' in done.content.decode()
    assert not Lead.objects.exists()


def test_cancel_imports_nothing_and_removes_the_upload(superuser_client):
    response = superuser_client.post(URL, {"files": [upload(ORG / "Lead.csv")]})
    token = response.context["token"]
    superuser_client.post(URL, {"token": token, "cancel": "Cancel"})
    assert not Lead.objects.exists()
    assert not os.path.exists(admin_views._folder(token))


def test_unreadable_files_and_big_uploads_are_refused(superuser_client, settings, monkeypatch):
    response = superuser_client.post(URL, {"files": [upload(ORG / "Lead.csv", "export.csv")]})
    assert "cannot tell which object" in response.content.decode()
    response = superuser_client.post(
        URL, {"files": [upload(ORG / "Lead.csv", "export.csv")], "object_name": "Lead"}
    )
    assert response.context["previews"][0]["object"] == "Lead"
    monkeypatch.setattr(admin_views, "MAX_UPLOAD_BYTES", 100)
    response = superuser_client.post(URL, {"files": [upload(ORG / "Lead.csv")]})
    assert "manage.py import_salesforce" in response.content.decode()


def test_only_superusers(db):
    staff = Client()
    staff.force_login(UserFactory(username="staff_only", is_staff=True))
    assert staff.get(URL).status_code == 403
    assert staff.post(URL, {"files": [upload(ORG / "Lead.csv")]}).status_code == 403
    assert "sfimport-module" not in staff.get("/admin/").content.decode()
    anonymous = Client()
    assert anonymous.get(URL).status_code == 302  # to the admin login
    assert not Lead.objects.exists()


def test_csrf_is_required(db):
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(username="csrf_admin", is_staff=True, is_superuser=True))
    response = client.post(URL, {"files": [upload(ORG / "Lead.csv")]})
    assert response.status_code == 403
    form = client.get(URL)
    token = form.cookies["csrftoken"].value
    response = client.post(URL, {"files": [upload(ORG / "Lead.csv")], "csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert not Lead.objects.exists()


def _last_token(client: Client) -> str:
    return list(client.session[admin_views.SESSION_KEY])[-1]


def test_uploads_never_confirmed_are_removed_after_a_day(superuser_client):
    response = superuser_client.post(URL, {"files": [upload(ORG / "Lead.csv")]})
    forgotten = admin_views._folder(response.context["token"])
    day_old = os.path.getmtime(forgotten) - admin_views.STALE_AFTER_SECONDS - 1
    os.utime(forgotten, (day_old, day_old))
    superuser_client.post(URL, {"files": [upload(ORG / "Contact.csv")]})
    assert not os.path.exists(forgotten)


def test_a_file_not_utf8_further_down_is_refused_on_upload(superuser_client):
    """Not a 500: the upload form says the file is not UTF-8, and nothing is kept."""
    good = (ORG / "Lead.csv").read_bytes()
    body = not_utf8_further_down(good)
    response = superuser_client.post(
        URL, {"files": [SimpleUploadedFile("Lead.csv", body, content_type="text/csv")]}
    )
    assert response.status_code == 200
    assert "not UTF-8 text after line" in response.content.decode()
    assert not Lead.objects.exists()
