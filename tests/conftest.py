import os

import pytest
from django.db import connection

from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # PBKDF2 is deliberately slow; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_cache():
    """The Overview's cached figures (CADENCE_OVERVIEW_MAX_AGE) must not outlive a test."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def rep(db):
    return UserFactory(username="rep_owner")


@pytest.fixture
def teammate(db):
    return UserFactory(username="rep_teammate")


@pytest.fixture
def outsider(db):
    return UserFactory(username="rep_outsider")


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def workers(tmp_path):
    """Start real ``manage.py db_worker`` processes (tests.workers.Worker); whatever is left
    is stopped afterwards (before pytest-django flushes the database under them)."""
    from tests.workers import Worker

    started: list[Worker] = []

    def start(worker_id: str, *args: str, **env: str) -> Worker:
        worker = Worker(worker_id, tmp_path, *args, **env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait(10)


def pytest_collection_modifyitems(config, items):
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgresql"))
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://...")
    skip_sqlite = pytest.mark.skip(reason="SQLite-only code, not used on PostgreSQL")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip)
        if "sqlite" in item.keywords and on_postgres:
            item.add_marker(skip_sqlite)


@pytest.fixture
def is_postgres():
    return connection.vendor == "postgresql"
