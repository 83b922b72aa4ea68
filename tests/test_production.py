"""Production settings and serving, through the real stack.

Gunicorn runs with cadence_site/gunicorn.conf.py and CADENCE_ENV=production in
a subprocess, against its own migrated SQLite file and collected static files,
and is spoken to over real HTTP. The database-killed-mid-request test runs on
PostgreSQL, where another connection can terminate the request's backend.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import psycopg
import pytest
import requests
from django.db import OperationalError, connection
from django.test import RequestFactory

from cadence_site.health import server_error
from cadence_site.middleware import DATABASE_UNAVAILABLE
from sharing.models import ApiToken
from tests.factories import UserFactory, running_tracker
from tests.live_gunicorn import BASE_DIR, PYTHON, Gunicorn, environment, free_port, manage
from trackers.models import ActionCadenceTracker, ActionCadenceTrackerChangeEvent

ADMIN_PASSWORD = "prod-test-pass-2026"


def production_env(database_url: str, static_root, **extra: str) -> dict[str, str]:
    return environment(
        database_url,
        CADENCE_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        STATIC_ROOT=str(static_root),
        SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
        **extra,
    )


# --------------------------------------------------------------------------- settings


def run_manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )


def test_check_deploy_reports_no_issues_with_production_settings(tmp_path):
    """GIVEN the environment a production host sets WHEN `check --deploy` runs
    at warning level THEN it finds nothing (HTTPS, HSTS, cookies, key, DEBUG)."""
    env = production_env(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path / "static")
    done = run_manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_check_deploy_still_clean_when_the_proxy_redirects_to_https(tmp_path):
    env = production_env(
        f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path / "static", SECURE_SSL_REDIRECT="false"
    )
    done = run_manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_deploy_fails_in_development_mode(tmp_path):
    """The development defaults (DEBUG on, a fixed key, no HTTPS) are what --deploy flags."""
    env = environment(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    done = run_manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode != 0
    assert "security.W018" in done.stderr  # DEBUG on


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = production_env(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path / "static")
    del env["SECRET_KEY"]
    done = run_manage(env, "check")
    assert done.returncode != 0
    assert "SECRET_KEY must be set in the environment in production" in done.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DEBUG", "maybe", "DEBUG='maybe': use true or false."),
        ("CADENCE_ENV", "prod", "CADENCE_ENV='prod': use 'production' or 'development'"),
        ("CADENCE_ACTIVE_TRACKER_LIMIT", "lots", "CADENCE_ACTIVE_TRACKER_LIMIT='lots': expected"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL='LOUD': use DEBUG, INFO, WARNING or ERROR."),
    ],
)
def test_a_bad_setting_is_named_with_what_to_use(tmp_path, name, value, message):
    env = environment(f"sqlite:///{tmp_path / 'db.sqlite3'}", **{name: value})
    done = run_manage(env, "check")
    assert done.returncode != 0
    assert message in done.stderr


# --------------------------------------------------------------------------- a production server


class Assets(HTMLParser):
    """Every script src and stylesheet href a page names."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script" and attributes.get("src"):
            self.urls.append(attributes["src"])
        if tag == "link" and attributes.get("rel") in {"stylesheet", "icon"}:
            self.urls.append(attributes["href"])


def assets_of(html: str) -> list[str]:
    parser = Assets()
    parser.feed(html)
    return parser.urls


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A migrated SQLite file with a superuser, and the collected static files."""
    folder = tmp_path_factory.mktemp("production")
    database_url = f"sqlite:///{folder / 'db.sqlite3'}"
    static_root = folder / "static"
    env = production_env(database_url, static_root)
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput")
    for username in ("ops_admin", "throttled_admin"):
        manage(
            {**env, "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD},
            "createsuperuser",
            "--noinput",
            "--username",
            username,
            "--email",
            f"{username}@example.com",
        )
    return {"folder": folder, "database_url": database_url, "static_root": static_root}


@pytest.fixture(scope="module")
def server(site):
    env = production_env(site["database_url"], site["static_root"])
    with Gunicorn(env, site["folder"] / "gunicorn.log") as running:
        yield running


HTTPS = {"X-Forwarded-Proto": "https"}


def test_health_answers_over_plain_http_without_a_session(server):
    """A load balancer checks /health/ over plain HTTP: no redirect, no cookie."""
    response = requests.get(server.url("/health/"), allow_redirects=False, timeout=10)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["database"] == "ok"
    assert "Set-Cookie" not in response.headers
    assert "no-cache" in response.headers["Cache-Control"]
    assert requests.head(server.url("/health/"), timeout=10).status_code == 200
    assert requests.post(server.url("/health/"), timeout=10).status_code == 405


def test_health_answers_a_probe_by_address_whatever_allowed_hosts_says(server):
    """A load balancer probes each host by its IP address, which ALLOWED_HOSTS doesn't
    list: health still answers, while every other page refuses that Host."""
    by_address = {"Host": "10.20.30.40"}
    assert requests.get(server.url("/health/"), headers=by_address, timeout=10).status_code == 200
    refused = requests.get(server.url("/accounts/login/"), headers=by_address, timeout=10)
    assert refused.status_code == 400


def test_plain_http_is_redirected_to_https(server):
    response = requests.get(server.url("/accounts/login/"), allow_redirects=False, timeout=10)
    assert response.status_code == 301
    assert response.headers["Location"] == server.url("/accounts/login/", scheme="https")


def test_https_pages_carry_the_security_headers_and_secure_cookies(server):
    response = requests.get(server.url("/accounts/login/"), headers=HTTPS, timeout=10)
    assert response.status_code == 200
    headers = response.headers
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Content-Type-Options"] == "nosniff"
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp + ";"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    csrf_cookie = response.raw.headers["Set-Cookie"]
    assert csrf_cookie.startswith("csrftoken=")
    for flag in ("Secure", "HttpOnly", "SameSite=Lax"):
        assert flag in csrf_cookie


class BehindTheProxy:
    """A browser whose requests reach gunicorn as the TLS-terminating proxy forwards
    them: plain HTTP with X-Forwarded-Proto: https. (requests itself would never send
    a Secure cookie over http://, so the cookies are carried here.)"""

    def __init__(self, server) -> None:
        self.server = server
        self.cookies: dict[str, str] = {}
        self.set_cookie_headers: list[str] = []

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {**HTTPS, **kwargs.pop("headers", {})}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = requests.request(
            method,
            self.server.url(path),
            headers=headers,
            allow_redirects=False,
            timeout=10,
            **kwargs,
        )
        self.set_cookie_headers += response.raw.headers.getlist("Set-Cookie")
        self.cookies.update(response.cookies.get_dict())
        return response

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def log_in(
        self,
        login_path: str,
        next_path: str = "/",
        username: str = "ops_admin",
        password: str = ADMIN_PASSWORD,
    ) -> requests.Response:
        page = self.get(login_path)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        return self.request(
            "POST",
            login_path,
            data={
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": token,
                "next": next_path,
            },
            headers={"Referer": self.server.url(login_path, scheme="https")},
        )


def test_login_over_https_sets_a_secure_http_only_session_cookie(server):
    browser = BehindTheProxy(server)
    response = browser.log_in("/accounts/login/")
    assert response.status_code == 302, response.text
    session_cookie = next(c for c in browser.set_cookie_headers if c.startswith("sessionid="))
    for flag in ("Secure", "HttpOnly", "SameSite=Lax"):
        assert flag in session_cookie
    overview = browser.get("/")
    assert overview.status_code == 200
    assert "ops_admin" in overview.text


def test_a_login_lockout_outlives_the_server_that_counted_it(site, server, tmp_path):
    """GIVEN five failed logins against one gunicorn (two worker processes) WHEN a
    different gunicorn serves the next attempt, with the right password THEN it is
    locked out: the count is in the database, not in any process."""
    for _ in range(5):
        failed = BehindTheProxy(server).log_in(
            "/accounts/login/", username="throttled_admin", password="nope"
        )
        assert failed.status_code == 200
        assert "Please enter a correct username and password" in failed.text
    env = production_env(site["database_url"], site["static_root"])
    with Gunicorn(env, tmp_path / "second.log") as second:
        refused = BehindTheProxy(second).log_in("/accounts/login/", username="throttled_admin")
    assert refused.status_code == 200
    assert "Too many failed logins for this username from your address" in refused.text


def fetch_assets(browser: BehindTheProxy, page_path: str, hashed: bool = True) -> list[str]:
    """Every asset the page names is served by gunicorn (whitenoise), gzipped on
    request; those named through {% static %} carry a content hash and are cached
    for a year."""
    page = browser.get(page_path)
    assert page.status_code == 200, page_path
    urls = [url for url in assets_of(page.text) if url.startswith("/static/")]
    assert urls, f"{page_path} names no static assets"
    for url in urls:
        asset = browser.get(url, headers={"Accept-Encoding": "gzip"})
        assert asset.status_code == 200, url
        if hashed:
            assert re.search(r"\.[0-9a-f]{12}\.(js|css|svg|png)$", url), url
            assert "immutable" in asset.headers["Cache-Control"], url
            assert "max-age=315360000" in asset.headers["Cache-Control"], url
        if url.endswith((".js", ".css")) and len(asset.content) > 1000:
            assert asset.headers.get("Content-Encoding") == "gzip", url
    return urls


def test_static_files_for_the_admin_dashboards_chart_and_swagger_are_served(site, server):
    browser = BehindTheProxy(server)
    assert browser.log_in("/admin/login/", "/admin/").status_code == 302
    admin_assets = fetch_assets(browser, "/admin/")
    assert any(url.startswith("/static/admin/css/base.") for url in admin_assets)
    overview_assets = fetch_assets(browser, "/")
    assert any(url.startswith("/static/css/app.") for url in overview_assets)
    # An empty org draws no charts, so ask for chart.js and overview.js by their collected names.
    manifest = json.loads((site["static_root"] / "staticfiles.json").read_text())["paths"]
    for source in ("vendor/chart.js/chart.umd.min.js", "js/overview.js"):
        asset = browser.get(f"/static/{manifest[source]}")
        assert asset.status_code == 200, source
        assert "immutable" in asset.headers["Cache-Control"]
    # drf-spectacular names Swagger UI's files by SWAGGER_UI_DIST, not {% static %}.
    docs_assets = fetch_assets(browser, "/api/docs/", hashed=False)
    assert any("swagger-ui-bundle." in url for url in docs_assets)


def test_logs_are_json_lines_with_the_request_id(server):
    requests.get(server.url("/health/"), headers={"X-Request-ID": "lb-check-42"}, timeout=10)
    forged = requests.get(
        server.url("/health/"), headers={"X-Request-ID": 'x" "level": "bad'}, timeout=10
    )
    assert re.fullmatch(r"[0-9a-f]{32}", forged.headers["X-Request-ID"])
    lines = [json.loads(line) for line in server.log().splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= set(entry) for entry in lines)
    access = [
        entry
        for entry in lines
        if entry["logger"] == "gunicorn.access" and entry.get("request_id") == "lb-check-42"
    ]
    assert len(access) == 1
    (entry,) = access
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/health/", 200)
    assert isinstance(entry["duration_ms"], float)


# --------------------------------------------------------------------------- make serve


def processes_in_group(group: int) -> list[str]:
    """Command lines of the live processes in a process group (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError):
            continue
        # fields: state, ppid, pgrp, ...; zombies (Z) have already exited.
        if int(fields[2]) == group and fields[0] != "Z":
            found.append(cmdline)
    return found


def test_make_serve_runs_the_stack_and_ctrl_c_stops_all_of_it(tmp_path):
    """`make serve` migrates, collects static files and starts gunicorn, a worker
    and the scheduler; Ctrl-C (SIGINT to the terminal's process group) stops them all."""
    port = free_port()
    env = production_env(
        f"sqlite:///{tmp_path / 'db.sqlite3'}",
        tmp_path / "static",
        SECURE_SSL_REDIRECT="false",
        WEB_CONCURRENCY="1",
    )
    log = (tmp_path / "serve.log").open("w")
    make = subprocess.Popen(
        ["make", "serve", f"PORT={port}"],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, like a terminal's job
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/health/", timeout=2).ok:
                    break
            except requests.RequestException:  # not up yet, or slow to answer its first
                time.sleep(0.5)
        else:
            pytest.fail(
                "make serve never answered /health/:\n" + (tmp_path / "serve.log").read_text()
            )
        manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())["paths"]
        asset = requests.get(
            f"http://127.0.0.1:{port}/static/{manifest['css/app.css']}", timeout=10
        )
        assert asset.status_code == 200
        running = " ".join(processes_in_group(make.pid))
        for part in ("gunicorn", "manage.py cadence_worker", "manage.py cadence_scheduler"):
            assert part in running, running

        os.killpg(make.pid, signal.SIGINT)
        deadline = time.monotonic() + 40
        while processes_in_group(make.pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert processes_in_group(make.pid) == []
    finally:
        if make.poll() is None or processes_in_group(make.pid):
            os.killpg(make.pid, signal.SIGKILL)
        make.wait()
        log.close()


# --------------------------------------------------------------------------- database down


@pytest.mark.parametrize(
    "database_url",
    [
        "sqlite:////nonexistent-folder/cadence.sqlite3",
        "postgres://postgres@127.0.0.1:9/cadence",  # port 9 (discard): nothing listens
    ],
    ids=["sqlite-missing-file", "postgres-closed-port"],
)
def test_an_unreachable_database_is_a_clean_503_everywhere(site, tmp_path, database_url):
    """GIVEN the database can't be reached THEN health says 503 and every surface
    answers 503 in its own shape (Salesforce errors, DRF errors, a page) with
    Retry-After, never a 500 or a traceback."""
    env = production_env(database_url, site["static_root"], SECURE_SSL_REDIRECT="false")
    with Gunicorn(env, tmp_path / "gunicorn.log") as server:
        health = requests.get(server.url("/health/"), timeout=20)
        assert health.status_code == 503
        assert health.json() == {"status": "unavailable", "database": "unreachable"}

        bearer = {"Authorization": "Bearer cdo_some-token"}
        salesforce = requests.get(
            server.url("/services/data/v62.0/sobjects/"), headers=bearer, timeout=20
        )
        assert salesforce.status_code == 503
        assert salesforce.json() == [
            {
                "message": DATABASE_UNAVAILABLE,
                "errorCode": "SERVER_UNAVAILABLE",
            }
        ]
        assert salesforce.headers["Retry-After"] == "30"

        drf = requests.get(server.url("/api/trackers/"), headers=bearer, timeout=20)
        assert drf.status_code == 503
        assert drf.json() == {"detail": DATABASE_UNAVAILABLE}
        assert drf.headers["Retry-After"] == "30"

        # A signed-in browser: loading its session needs the database.
        session_cookie = {"sessionid": "a" * 32}
        page = requests.get(
            server.url("/"), cookies=session_cookie, allow_redirects=False, timeout=20
        )
        assert page.status_code == 503
        assert "text/html" in page.headers["Content-Type"]
        assert "We can't reach the database right now" in page.text
        assert "Traceback" not in page.text
    assert '"level": "ERROR"' in server.log()


def test_a_database_error_outside_any_view_is_still_a_503():
    """handler500 sees the exception Django is handling: a database error raised by a
    middleware (no view's process_exception ran) is a 503 too; anything else stays 500."""
    request = RequestFactory().get("/services/data/v62.0/sobjects/")
    try:
        raise OperationalError("server closed the connection unexpectedly")
    except OperationalError:
        response = server_error(request)
    assert response.status_code == 503
    assert json.loads(response.content)[0]["errorCode"] == "SERVER_UNAVAILABLE"
    try:
        raise ValueError("a bug")
    except ValueError:
        response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500


@pytest.mark.parametrize(
    "message",
    ["database is locked", "deadlock detected", "canceling statement due to lock timeout"],
)
@pytest.mark.parametrize(
    "path, shape",
    [("/services/data/v62.0/sobjects/", "salesforce"), ("/api/trackers/", "api"), ("/", "page")],
)
def test_contention_is_a_503_that_says_retry_soon(message, path, shape):
    """A deadlock, a lock timeout (PostgreSQL, told by SQLSTATE) or SQLite's "database is
    locked" is not an unreachable database: a 503 saying so, to retry in seconds."""
    import sqlite3

    from cadence_site.middleware import DATABASE_BUSY, DatabaseUnavailableMiddleware

    if message == "database is locked":
        cause: Exception = sqlite3.OperationalError(message)
    elif message == "deadlock detected":
        cause = psycopg.errors.DeadlockDetected(message)
    else:
        cause = psycopg.errors.LockNotAvailable(message)
    error = OperationalError(message)
    error.__cause__ = cause
    request = RequestFactory().get(path)
    response = DatabaseUnavailableMiddleware(lambda r: None).process_exception(request, error)
    assert response.status_code == 503 and response["Retry-After"] == "2"
    if shape == "salesforce":
        assert json.loads(response.content) == [
            {"message": DATABASE_BUSY, "errorCode": "UNABLE_TO_LOCK_ROW"}
        ]
    elif shape == "api":
        assert json.loads(response.content) == {"detail": DATABASE_BUSY}
    else:
        assert "Someone else was changing the same records" in response.content.decode()
    # An unreachable database, or a statement timeout, keeps the "unavailable" answer.
    gone = OperationalError("connection refused")
    timed_out = OperationalError("canceling statement due to statement timeout")
    timed_out.__cause__ = psycopg.errors.QueryCanceled("statement timeout")
    for error in (gone, timed_out):
        response = DatabaseUnavailableMiddleware(lambda r: None).process_exception(request, error)
        assert_503(response, shape, "30", "SERVER_UNAVAILABLE", "We can't reach the database")


# --------------------------------------------------------------------------- killed mid-request


def second_connection_params() -> dict:
    """psycopg.connect() arguments for another connection to the test database."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return params


def owner_removing(client, username: str):
    """An owner logged in (and with an API token) about to remove their Running tracker,
    and the tracker's row and the change-event count before: (tracker, token, before,
    events_before)."""
    owner = UserFactory(username=username)
    tracker = running_tracker(owner=owner)
    _token, raw = ApiToken.issue(owner)
    client.force_login(owner)
    before = ActionCadenceTracker.objects.values().get(pk=tracker.pk)
    return tracker, raw, before, ActionCadenceTrackerChangeEvent.objects.count()


def terminate_own_backend_after_tracker_update():
    """An execute wrapper: once the tracker row is updated, another connection
    terminates this connection's PostgreSQL backend, so the request's transaction
    dies after its first write and before it commits."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    params = second_connection_params()
    killed = []

    def wrapper(execute, sql, params_, many, context):
        result = execute(sql, params_, many, context)
        table = ActionCadenceTracker._meta.db_table
        if not killed and sql.lstrip().upper().startswith("UPDATE") and f'"{table}"' in sql:
            with psycopg.connect(**params, autocommit=True) as killer:
                killer.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
            killed.append(pid)
        return result

    return wrapper, killed


def remove_through(surface: str, client, tracker, token: str):
    if surface == "dashboard":
        return client.post(f"/trackers/{tracker.sf_id}/remove/", {"disposition": "Success"})
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    if surface == "api":
        return client.post(
            f"/api/trackers/{tracker.sf_id}/remove/",
            {"completion_disposition": "Success"},
            content_type="application/json",
            **headers,
        )
    return client.post(
        "/services/data/v62.0/actions/standard/removeTargetFromSalesCadence",
        {"inputs": [{"actionCadenceTrackerId": tracker.sf_id, "completionDisposition": "Success"}]},
        content_type="application/json",
        **headers,
    )


def assert_503(response, surface: str, retry_after: str, error_code: str, page_text: str):
    """A 503 in the surface's shape: Salesforce's errorCode, DRF's detail, or a page."""
    from cadence_site.middleware import DATABASE_BUSY

    assert response.status_code == 503
    assert response["Retry-After"] == retry_after
    message = DATABASE_BUSY if error_code == "UNABLE_TO_LOCK_ROW" else DATABASE_UNAVAILABLE
    if surface == "salesforce":
        assert json.loads(response.content) == [{"message": message, "errorCode": error_code}]
    elif surface == "api":
        assert json.loads(response.content) == {"detail": message}
    else:
        assert page_text in response.content.decode()


@pytest.mark.postgres
@pytest.mark.parametrize("surface", ["dashboard", "api", "salesforce"])
def test_a_connection_killed_mid_request_is_a_503_and_writes_nothing(
    transactional_db, client, surface
):
    """GIVEN a Running tracker WHEN its owner removes it and the database connection
    is terminated right after the tracker row is updated THEN the answer is a 503
    in the surface's shape, and the tracker, its steps and its change events are
    exactly as before: the transition was one transaction, and it never committed."""
    tracker, raw, before, events_before = owner_removing(client, "killed_mid_request")

    wrapper, killed = terminate_own_backend_after_tracker_update()
    with connection.execute_wrapper(wrapper):
        response = remove_through(surface, client, tracker, raw)
    connection.close()  # the test's own connection died with the request's

    assert killed, "the request never updated the tracker, so nothing was killed"
    assert_503(response, surface, "30", "SERVER_UNAVAILABLE", "We can't reach the database")
    assert ActionCadenceTracker.objects.values().get(pk=tracker.pk) == before
    assert ActionCadenceTrackerChangeEvent.objects.count() == events_before


@pytest.mark.postgres
@pytest.mark.parametrize("surface", ["dashboard", "api", "salesforce"])
def test_a_removal_that_times_out_on_a_locked_row_is_a_busy_503_and_writes_nothing(
    transactional_db, client, surface
):
    """GIVEN another transaction holds the tracker's row lock and the request's lock_timeout
    is short WHEN the owner removes the tracker THEN a 503 saying to retry soon (Salesforce:
    UNABLE_TO_LOCK_ROW), and nothing was written."""
    tracker, raw, before, events_before = owner_removing(client, "locked_out")
    table = ActionCadenceTracker._meta.db_table
    with psycopg.connect(**second_connection_params()) as holder:
        holder.execute(f'SELECT 1 FROM "{table}" WHERE id = %s FOR UPDATE', [tracker.pk])
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '300ms'")
        try:
            response = remove_through(surface, client, tracker, raw)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
        holder.rollback()

    assert_503(response, surface, "2", "UNABLE_TO_LOCK_ROW", "Someone else was changing")
    assert ActionCadenceTracker.objects.values().get(pk=tracker.pk) == before
    assert ActionCadenceTrackerChangeEvent.objects.count() == events_before
