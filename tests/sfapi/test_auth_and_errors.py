"""Authentication, URL shapes and Salesforce-shaped errors."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from sharing.models import ApiToken
from tests.sfapi.conftest import BASE

pytestmark = pytest.mark.django_db

SESSION_EXPIRED = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer nope", "Bearer a b", "Token abc", "Bearer cdo_revoked"],
)
def test_missing_or_invalid_token_is_401(rep, header):
    client = APIClient()
    if header == "Bearer cdo_revoked":
        token, raw = ApiToken.issue(rep)
        token.revoked_at = timezone.now()
        token.save()
        header = f"Bearer {raw}"
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(f"{BASE}/sobjects/")
    assert response.status_code == 401
    assert response.json() == SESSION_EXPIRED


def test_inactive_users_token_is_refused(api, rep):
    client = api(rep)
    rep.is_active = False
    rep.save()
    assert client.get(f"{BASE}/sobjects").status_code == 401


def test_session_login_is_not_enough(client, rep):
    """The browser session does not authenticate the Salesforce surface: tokens only."""
    client.force_login(rep)
    response = client.get(f"{BASE}/sobjects")
    assert response.status_code == 401


@pytest.mark.parametrize("version", ["v64.0", "v45.0", "v99.9"])
@pytest.mark.parametrize("slash", ["", "/"])
def test_any_version_with_and_without_trailing_slash(api, rep, version, slash):
    client = api(rep)
    for path in ("sobjects", "sobjects/ActionCadenceTracker/describe", "actions/standard"):
        response = client.get(f"/services/data/{version}/{path}{slash}")
        assert response.status_code == 200, path  # never a redirect


def test_urls_in_responses_carry_the_requested_version(api, rep):
    body = api(rep).get("/services/data/v51.0/sobjects/ActionCadenceTracker/describe").json()
    assert body["urls"]["describe"] == "/services/data/v51.0/sobjects/ActionCadenceTracker/describe"


def test_version_root_lists_resources(api, rep):
    body = api(rep).get(f"{BASE}/").json()
    assert body["query"] == f"{BASE}/query"


def test_unknown_resource_is_salesforce_404(api, rep):
    response = api(rep).get(f"{BASE}/nothing/here")
    assert response.status_code == 404
    assert response.json() == [
        {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
    ]


def test_unknown_resource_still_needs_a_token():
    assert APIClient().get(f"{BASE}/nothing/here").status_code == 401


def test_unsupported_method_is_405(api, rep):
    client = api(rep)
    response = client.put(f"{BASE}/sobjects/", {}, format="json")
    assert response.status_code == 405
    (error,) = response.json()
    assert error["errorCode"] == "METHOD_NOT_ALLOWED"
    assert "GET" in error["message"]
    response = client.post(f"{BASE}/query", {}, format="json")
    assert response.status_code == 405


def test_malformed_json_is_json_parser_error(api, admin_user):
    response = api(admin_user).generic(
        "POST", f"{BASE}/sobjects/UserRole", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
