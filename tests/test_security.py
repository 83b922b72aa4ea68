"""Security: login throttling, no user enumeration, token revocation, CSP.

The three-user pattern where it applies; everything through the real request
stack (middleware, forms, views) and the real database.
"""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.db import connection
from django.test import Client
from django.utils import timezone

from sharing.login import LOCKED_OUT_MESSAGE, claim_attempt, record_failure
from sharing.models import ApiToken, LoginAttempt
from tests.dashboards.team import Team
from tests.factories import UserFactory
from trackers import lifecycle

PASSWORD = "pw-for-tests-123"
LOGIN = "/accounts/login/"
INVALID = "Please enter a correct username and password"
LOCKED = LOCKED_OUT_MESSAGE.split(".")[0]  # "Too many failed logins for this username …"


def attempt(username: str, password: str, ip: str = "10.0.0.1", url: str = LOGIN, **extra):
    """One login from a fresh browser (no cookies) at ``ip``."""
    client = Client(REMOTE_ADDR=ip, **extra)
    response = client.post(url, {"username": username, "password": password})
    return client, response


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def fail(username: str, times: int, ip: str = "10.0.0.1", **extra) -> None:
    for _ in range(times):
        _client, response = attempt(username, "wrong-password", ip, **extra)
        assert response.status_code == 200


# --------------------------------------------------------------------------- throttling


def all_at_once(workers: int, call) -> None:
    """Run ``call`` in ``workers`` threads released together, each on its own
    database connection (closed afterwards)."""
    start = threading.Barrier(workers)

    def run() -> None:
        start.wait()
        try:
            call()
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_five_failures_lock_the_username_out_from_that_address(rep):
    """GIVEN five wrong passwords for rep_owner from one address WHEN the right password
    comes next from there THEN it is refused with a clear message, and no one is logged in."""
    fail("rep_owner", 5)
    client, response = attempt("rep_owner", PASSWORD)
    assert response.status_code == 200
    assert LOCKED in response.content.decode()
    assert "Try again in 15 minutes" in response.content.decode()
    assert not logged_in(client)
    assert client.get("/").status_code == 302  # still sent to the login page


def test_four_failures_do_not_lock(rep):
    fail("rep_owner", 4)
    client, response = attempt("rep_owner", PASSWORD)
    assert response.status_code == 302
    assert logged_in(client)


def test_the_count_lives_in_the_database_not_in_a_process(rep):
    """Each attempt is a new browser; only the database remembers the failures, which
    is what every gunicorn worker and host share (tests/test_production.py also shows a
    lockout surviving a server restart)."""
    fail("rep_owner", 5)
    row = LoginAttempt.objects.get(username="rep_owner", ip_address="10.0.0.1")
    assert row.failures == 5
    assert row.locked_until > timezone.now() + timedelta(minutes=14)


def test_another_address_can_still_log_in(rep):
    fail("rep_owner", 5, ip="10.0.0.1")
    client, response = attempt("rep_owner", PASSWORD, ip="10.0.0.2")
    assert response.status_code == 302 and logged_in(client)


def test_the_username_is_counted_whatever_its_case(rep):
    fail("REP_Owner", 3)
    fail("rep_owner", 2)
    _client, response = attempt("rep_owner", PASSWORD)
    assert LOCKED in response.content.decode()


def test_failures_older_than_the_window_are_forgotten(rep):
    fail("rep_owner", 4)
    LoginAttempt.objects.update(window_started_at=timezone.now() - timedelta(minutes=16))
    fail("rep_owner", 1)  # a new window: 1 failure, not 5
    client, response = attempt("rep_owner", PASSWORD)
    assert response.status_code == 302 and logged_in(client)


def test_the_lockout_ends_and_a_good_login_then_clears_it(rep):
    fail("rep_owner", 5)
    LoginAttempt.objects.update(locked_until=timezone.now() - timedelta(seconds=1))
    client, response = attempt("rep_owner", PASSWORD)
    assert response.status_code == 302 and logged_in(client)
    assert not LoginAttempt.objects.exists()


def test_a_successful_login_resets_the_count(rep):
    fail("rep_owner", 4)
    client, response = attempt("rep_owner", PASSWORD)
    assert response.status_code == 302
    fail("rep_owner", 4)
    client, response = attempt("rep_owner", PASSWORD)
    assert response.status_code == 302 and logged_in(client)


def test_the_limit_and_lockout_come_from_settings(rep, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    settings.LOGIN_LOCKOUT_SECONDS = 60
    fail("rep_owner", 2)
    _client, response = attempt("rep_owner", PASSWORD)
    assert "Try again in 1 minute." in response.content.decode()


def test_a_forged_x_forwarded_for_does_not_escape_the_lockout(rep):
    fail("rep_owner", 5)
    _client, response = attempt("rep_owner", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert LOCKED in response.content.decode()


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(rep, settings):
    """GIVEN one trusted proxy (which appends the address it saw) THEN clients behind it
    are told apart by that address, and what a client writes further left is ignored."""
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.9.9.9"
    fail("rep_owner", 5, ip=proxy, HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7")
    _client, response = attempt(
        "rep_owner", PASSWORD, proxy, HTTP_X_FORWARDED_FOR="5.6.7.8, 198.51.100.7"
    )
    assert LOCKED in response.content.decode()
    client, response = attempt("rep_owner", PASSWORD, proxy, HTTP_X_FORWARDED_FOR="198.51.100.8")
    assert response.status_code == 302 and logged_in(client)


def test_the_admin_login_is_throttled_too(admin_user):
    url = "/admin/login/?next=/admin/"
    for _ in range(5):
        attempt("admin", "wrong-password", url=url)
    client, response = attempt("admin", PASSWORD, url=url)
    assert response.status_code == 200
    assert LOCKED in response.content.decode()
    assert not logged_in(client)


@pytest.mark.postgres
def test_simultaneous_failures_from_many_processes_are_all_counted(transactional_db):
    """Eight workers record a failure for the same pair at the same instant (the first
    ones race to create its row): every failure counts, and the fifth locks."""
    workers = 8
    all_at_once(workers, lambda: record_failure("rep_owner", "10.0.0.1"))
    row = LoginAttempt.objects.get()
    assert row.failures == workers
    assert row.locked_until is not None


def test_attempts_still_in_flight_count_against_the_limit(db, settings):
    """Attempts are counted before their password is checked: with five claimed and
    none finished yet (a burst sent in parallel), the sixth is refused unchecked."""
    settings.LOGIN_FAILURE_LIMIT = 5
    allowed = [claim_attempt("rep_owner", "10.0.0.9") is None for _ in range(5)]
    assert allowed == [True] * 5
    refused = claim_attempt("rep_owner", "10.0.0.9")
    assert refused is not None and refused.total_seconds() > 0
    # Another address is counted on its own.
    assert claim_attempt("rep_owner", "10.0.0.10") is None


@pytest.mark.postgres
def test_a_parallel_burst_gets_no_more_password_checks_than_the_limit(transactional_db):
    """Twenty attempts for one pair arrive at the same instant: exactly the limit
    (five) may check a password; the rest are refused before any check."""
    workers = 20
    outcomes: list[bool] = []
    all_at_once(workers, lambda: outcomes.append(claim_attempt("rep_owner", "10.0.0.2") is None))
    assert sorted(outcomes) == [False] * (workers - 5) + [True] * 5
    assert LoginAttempt.objects.get().locked_until is not None


# --------------------------------------------------------------------------- enumeration


def normalised(response, username: str) -> str:
    """The page with what legitimately differs between two attempts taken out."""
    html = response.content.decode()
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)
    return html.replace(f'value="{username}"', 'value=""')


def test_an_unknown_user_and_a_wrong_password_read_the_same(rep):
    _client, wrong_password = attempt("rep_owner", "wrong-password")
    _client, unknown_user = attempt("no_such_user", "wrong-password")
    assert INVALID in wrong_password.content.decode()
    assert normalised(wrong_password, "rep_owner") == normalised(unknown_user, "no_such_user")


class CountingHasher(MD5PasswordHasher):
    """Django's MD5 hasher, counting how often it hashes."""

    calls = 0

    def encode(self, password, salt):
        CountingHasher.calls += 1
        return super().encode(password, salt)


@pytest.fixture
def counting_hasher(settings):
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    CountingHasher.calls = 0
    return CountingHasher


def test_an_unknown_user_costs_the_same_hashing_as_a_wrong_password(db, counting_hasher):
    """Timing can't tell them apart: both hash the offered password exactly once."""
    UserFactory(username="rep_owner")
    counting_hasher.calls = 0
    attempt("rep_owner", "wrong-password")
    wrong_password = counting_hasher.calls
    counting_hasher.calls = 0
    attempt("no_such_user", "wrong-password")
    assert wrong_password == counting_hasher.calls == 1


def test_a_lockout_does_not_reveal_whether_the_user_exists(rep, counting_hasher):
    fail("rep_owner", 5)
    fail("no_such_user", 5)
    counting_hasher.calls = 0
    _client, real = attempt("rep_owner", PASSWORD)
    _client, unknown = attempt("no_such_user", PASSWORD)
    assert LOCKED in real.content.decode()
    assert normalised(real, "rep_owner") == normalised(unknown, "no_such_user")
    assert counting_hasher.calls == 0  # a locked-out pair checks no password at all


# --------------------------------------------------------------------------- API tokens


@pytest.mark.parametrize(
    ("url", "body_check"),
    [
        ("/api/trackers/", lambda body: "detail" in body),
        (
            "/services/data/v62.0/sobjects/",
            lambda body: body[0]["errorCode"] == "INVALID_SESSION_ID",
        ),
    ],
    ids=["drf", "salesforce"],
)
def test_a_revoked_token_is_refused_on_the_very_next_request(rep, admin_user, url, body_check):
    """GIVEN a token in use WHEN an administrator revokes it in the admin THEN the very
    next request with it is a 401: nothing caches a token."""
    token, raw = ApiToken.issue(rep, name="integration")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get(url).status_code == 200
    assert api.get(url).status_code == 200  # last_used_at is fresh: the second read writes nothing

    admin = Client()
    admin.force_login(admin_user)
    response = admin.post(
        "/admin/sharing/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk], "index": 0},
    )
    assert response.status_code == 302

    refused = api.get(url)
    assert refused.status_code == 401
    assert body_check(refused.json())


def test_a_deactivated_users_token_stops_at_once(rep):
    _token, raw = ApiToken.issue(rep)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/trackers/").status_code == 200
    rep.is_active = False
    rep.save(update_fields=["is_active"])
    assert api.get("/api/trackers/").status_code == 401


# --------------------------------------------------------------------------- CSP


class InlineCode(HTMLParser):
    """Inline scripts, style elements, style attributes and on* handlers in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.nonces: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name in attributes:
            if name == "style" or name.startswith("on"):
                self.found.append(f"<{tag} {name}=…>")
        if tag == "style" or (
            tag == "script"
            and not attributes.get("src")
            and attributes.get("type") != "application/json"
        ):
            if attributes.get("nonce"):
                self.nonces.append(attributes["nonce"])
            else:
                self.found.append(f"inline <{tag}>")


def inline_code(html: str) -> InlineCode:
    parser = InlineCode()
    parser.feed(html)
    return parser


def directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def test_every_page_sends_a_policy_without_inline_code(client):
    policy = directives(client.get(LOGIN))
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] == ["'self'"]


@pytest.fixture
def populated_team(db):
    team = Team()
    trackers = team.running(4)
    lifecycle.remove_target(trackers[0], actor=team.owner, disposition="Success")
    lifecycle.remove_target(trackers[1], actor=team.owner, disposition="Not Interested")
    lifecycle.pause(trackers[2], actor=team.owner)
    job = lifecycle.start_bulk("pause", [trackers[3]], actor=team.owner)
    return team, trackers, job


def test_no_page_relies_on_inline_scripts_or_styles(populated_team, admin_user):
    """Every dashboard, admin and login page passes a CSP of script-src 'self' and
    style-src 'self': no inline script, style element, style attribute or handler."""
    team, trackers, job = populated_team
    anonymous, owner, admin = Client(), Client(), Client()
    owner.force_login(team.owner)
    admin.force_login(admin_user)
    pages = [
        (anonymous, LOGIN),
        (owner, "/"),
        (owner, "/trackers/"),
        (owner, f"/trackers/{trackers[0].sf_id}/"),
        (owner, "/cadences/"),
        (owner, f"/cadences/{team.cadence.sf_id}/"),
        (owner, f"/trackers/jobs/{job.pk}/"),
        (admin, "/admin/"),
        (admin, "/admin/trackers/actioncadencetracker/"),
        (admin, f"/admin/trackers/actioncadencetracker/{trackers[0].pk}/change/"),
        (admin, "/admin/sharing/apitoken/"),
    ]
    for client, path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        assert inline_code(response.content.decode()).found == [], path
        assert directives(response)["script-src"] == ["'self'"], path


def test_the_api_docs_inline_config_carries_the_policy_nonce(admin_user):
    client = Client()
    client.force_login(admin_user)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    page = inline_code(response.content.decode())
    assert page.found == []
    assert len(page.nonces) == 2  # the style and the SwaggerUIBundle config
    (nonce,) = set(page.nonces)
    assert f"'nonce-{nonce}'" in directives(response)["script-src"]
    assert f"'nonce-{nonce}'" in directives(response)["style-src"]
