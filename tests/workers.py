"""Real worker processes for tests: ``manage.py db_worker`` (and ``rqworker``) started as
subprocesses against the test database, the way production runs them.

The subprocesses see only committed data, so the tests that use these helpers are
transactional; and only a database other processes can open will do (PostgreSQL: the
in-memory SQLite test database lives inside the pytest process).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def shared_database_url() -> str:
    """The URL of the database pytest-django made (test_<name>), for other processes."""
    db = connection.settings_dict
    assert connection.vendor == "postgresql", "worker subprocesses need PostgreSQL"
    user = db["USER"] or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


def worker_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": shared_database_url(), "PYTHONUNBUFFERED": "1"}
    env.update(extra)
    return env


class Worker:
    """One ``manage.py db_worker`` process; its output goes to a file under ``log_dir``."""

    def __init__(self, worker_id: str, log_dir: Path, *args: str, **env: str) -> None:
        self.worker_id = worker_id
        self.log = log_dir / f"{worker_id}.log"
        command = [
            sys.executable,
            "manage.py",
            "db_worker",
            "--no-startup-delay",
            "--no-reload",
            "--interval",
            "0.1",
            "--worker-id",
            worker_id,
            *args,
        ]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=worker_env(**env), stdout=out, stderr=subprocess.STDOUT
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_started(self, timeout: float = 60) -> None:
        wait_until(
            lambda: "Starting worker" in self.output() or self.process.poll() is not None,
            timeout,
            f"worker {self.worker_id} to start",
        )
        assert self.process.poll() is None, self.output()

    def kill(self) -> None:
        """SIGKILL: no cleanup, no restore, as when a machine dies."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM: the worker finishes its current task, then exits."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    def wait(self, timeout: float = 120) -> int:
        code = self.process.wait(timeout)
        assert code == 0, f"worker {self.worker_id} exited {code}:\n{self.output()}"
        return code


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)
