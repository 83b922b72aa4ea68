"""Benchmark datasets: built once per schema and loader version, then reused.

A dataset is a database holding ``size`` trackers made by ``generate_trackers``
with the sharing data of issue 3 (1,000 owners, 200 groups, 50 rules), its rule
shares recalculated, and the three benchmark logins (a superuser, a manager above
every rep, and a rep). Its cache key is the set of migration file names, a hash
of the loader's source and the size: change any of them and the next run builds
a fresh one. A ``bench_dataset`` table inside the database marks a finished build
(and keeps its load rate), so an interrupted build is never reused.

SQLite files live in ``.bench/`` (git-ignored); PostgreSQL gets one database per
size named ``bench_<size>_<key>``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = ROOT / ".bench"
# Where the loader runs from: this tree, or (BENCH_BUILD_FROM) a copy of another commit,
# e.g. `git archive HEAD | tar -x -C /tmp/src`, while this tree's loader is being changed.
BUILD_FROM = Path(os.environ.get("BENCH_BUILD_FROM") or ROOT)
PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432")
LOADER_SOURCES = (
    ROOT / "trackers" / "bulkload.py",
    ROOT / "trackers" / "management" / "commands" / "generate_trackers.py",
    Path(__file__),
)
USERS, GROUPS, RULES, ACTIVE, CADENCES, SEED = 1000, 200, 50, 150_000, 10, 2026


def cache_key() -> str:
    """Migration file names + the loader's source; ``BENCH_DATASET_KEY`` pins a key (to keep
    measuring one build while the loader is being changed)."""
    if os.environ.get("BENCH_DATASET_KEY"):
        return os.environ["BENCH_DATASET_KEY"]
    digest = hashlib.sha256()
    migrations = sorted(str(path.relative_to(ROOT)) for path in ROOT.glob("*/migrations/[0-9]*.py"))
    digest.update("\n".join(migrations).encode())
    for source in LOADER_SOURCES:
        digest.update((BUILD_FROM / source.relative_to(ROOT)).read_bytes())
    return digest.hexdigest()[:10]


@dataclass
class Dataset:
    database: str  # "sqlite" or "postgres"
    size: int
    key: str

    @property
    def name(self) -> str:
        return f"bench_{self.size}_{self.key}"

    @property
    def url(self) -> str:
        if self.database == "sqlite":
            return f"sqlite:///{BENCH_DIR / (self.name + '.sqlite3')}"
        return f"{PG_SERVER}/{self.name}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.url,
            "DJANGO_SETTINGS_MODULE": "cadence_site.settings",
        }

    # ---- the marker

    def marker(self) -> dict | None:
        """The finished build's record, or None if there is no finished build."""
        try:
            if self.database == "sqlite":
                path = BENCH_DIR / (self.name + ".sqlite3")
                if not path.exists():
                    return None
                with sqlite3.connect(path) as db:
                    row = db.execute("SELECT info FROM bench_dataset").fetchone()
            else:
                import psycopg

                with psycopg.connect(self.url, connect_timeout=5) as db:
                    row = db.execute("SELECT info FROM bench_dataset").fetchone()
        except Exception:  # no database, no table: not built
            return None
        return json.loads(row[0]) if row else None

    def _sql(self, statements: list[str]) -> None:
        if self.database == "sqlite":
            with sqlite3.connect(BENCH_DIR / (self.name + ".sqlite3")) as db:
                for statement in statements:
                    db.execute(statement)
        else:
            import psycopg

            with psycopg.connect(self.url, autocommit=True) as db:
                for statement in statements:
                    db.execute(statement)

    # ---- building

    def drop(self) -> None:
        if self.database == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                (BENCH_DIR / f"{self.name}.sqlite3{suffix}").unlink(missing_ok=True)
            return
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def drop_stale(self) -> None:
        """Older builds of this size (another key) only take disk space."""
        pattern = re.compile(rf"^bench_{self.size}_[0-9a-f]{{10}}$")
        if self.database == "sqlite":
            for path in BENCH_DIR.glob(f"bench_{self.size}_*.sqlite3*"):
                if pattern.match(path.name.split(".")[0]) and not path.name.startswith(self.name):
                    path.unlink()
            return
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as db:
            names = [row[0] for row in db.execute("SELECT datname FROM pg_database")]
            for name in names:
                if pattern.match(name) and name != self.name:
                    db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _manage(self, *args: str, cwd: Path = BUILD_FROM) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=cwd,
            env=self.env(),
            capture_output=True,
            text=True,
        )
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def build(self, log) -> dict:
        self.drop()
        self.drop_stale()
        BENCH_DIR.mkdir(exist_ok=True)
        if self.database == "postgres":
            import psycopg

            with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as db:
                db.execute(f'CREATE DATABASE "{self.name}"')
        log(f"  migrating {self.name} ({self.database})")
        self._manage("migrate", "--noinput", "-v", "0")
        log(f"  generate_trackers --trackers {self.size:,}")
        started = time.perf_counter()
        output = self._manage(
            "generate_trackers",
            f"--trackers={self.size}",
            f"--active={min(ACTIVE, self.size // 2)}",
            f"--users={USERS}",
            f"--cadences={CADENCES}",
            f"--groups={GROUPS}",
            f"--rules={RULES}",
            f"--seed={SEED}",
        )
        load_seconds = time.perf_counter() - started
        # The command prints its own rate over the trackers it wrote.
        match = re.search(r"\(([\d,]+) trackers/s\)", output)
        own_rate = int(match.group(1).replace(",", "")) if match else None
        log(f"  {output.strip().splitlines()[0] if output.strip() else ''}")
        log("  recalculating sharing rules (db_worker --batch)")
        started = time.perf_counter()
        self._manage("db_worker", "--batch", "--no-startup-delay", "--no-reload")
        sharing_seconds = time.perf_counter() - started
        self._manage(
            "shell", "-c", "from tests.bench.scenarios import prepare_logins; prepare_logins()"
        )
        info = {
            "size": self.size,
            "key": self.key,
            "load_seconds": round(load_seconds, 1),
            "load_rate": round(self.size / load_seconds),
            "command_rate": own_rate,
            "sharing_seconds": round(sharing_seconds, 1),
            "built_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "loadavg": os.getloadavg()[0],
        }
        self._built_now = info["built_at"]
        self._sql(
            [
                "CREATE TABLE bench_dataset (info TEXT NOT NULL)",
                "INSERT INTO bench_dataset (info) VALUES ('" + json.dumps(info) + "')",
            ]
        )
        return info

    def ensure(self, log, rebuild: bool = False) -> tuple[dict, bool]:
        """(the build's record, whether it was built now), migrated to this tree's schema."""
        info = None if rebuild else self.marker()
        if info is not None:
            log(f"  reusing {self.name} ({self.database}), built {info['built_at']}")
        else:
            info = self.build(log)
        self._manage("migrate", "--noinput", "-v", "0", cwd=ROOT)
        return info, info["built_at"] == self._built_now

    _built_now = ""
