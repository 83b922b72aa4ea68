"""Signing in to the API: bearer tokens for integrations, the session for the browser."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from sharing.models import ApiToken

pytestmark = pytest.mark.django_db


def with_token(raw):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_a_valid_token_acts_as_its_user_with_their_sharing(tracker, rep, outsider):
    _row, raw = ApiToken.issue(rep)
    response = with_token(raw).get("/api/trackers/")
    assert response.status_code == 200
    assert [row["Id"] for row in response.json()["results"]] == [tracker.sf_id]
    _row, raw = ApiToken.issue(outsider)
    assert with_token(raw).get("/api/trackers/").json()["results"] == []
    assert with_token(raw).get(f"/api/trackers/{tracker.sf_id}/").status_code == 404


def test_a_token_can_act(tracker, rep):
    _row, raw = ApiToken.issue(rep)
    response = with_token(raw).post(f"/api/trackers/{tracker.sf_id}/pause/", {}, "json")
    assert response.status_code == 200
    assert response.json()["LastModifiedById"] == rep.sf_id


def test_a_revoked_token_is_401(rep):
    row, raw = ApiToken.issue(rep)
    row.revoked_at = timezone.now()
    row.save()
    response = with_token(raw).get("/api/trackers/")
    assert response.status_code == 401
    assert response.json()["code"] == "INVALID_SESSION_ID"
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_token_of_an_inactive_user_is_401(rep):
    _row, raw = ApiToken.issue(rep)
    rep.is_active = False
    rep.save()
    assert with_token(raw).get("/api/trackers/").status_code == 401


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer not-a-token", "Bearer a b"])
def test_missing_or_malformed_credentials_are_401(db, header):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/trackers/")
    assert response.status_code == 401
    assert response.json()["code"] == "INVALID_SESSION_ID"


def test_the_session_works_for_signed_in_browsers(tracker, rep):
    client = APIClient()
    client.force_login(rep)
    assert [row["Id"] for row in client.get("/api/trackers/").json()["results"]] == [tracker.sf_id]


def test_session_writes_need_the_csrf_token(tracker, rep):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(rep)
    response = client.post(f"/api/trackers/{tracker.sf_id}/pause/", {}, "json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    _row, raw = ApiToken.issue(rep)
    token_client = APIClient(enforce_csrf_checks=True)
    token_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert token_client.post(f"/api/trackers/{tracker.sf_id}/pause/", {}, "json").status_code == 200
