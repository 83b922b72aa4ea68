"""Load test: simulated users against gunicorn and a worker on a million trackers.

    make loadtest                          # or: .venv/bin/python -m tests.load.run_load
    .venv/bin/python -m tests.load.run_load --users 50 --seconds 60 --web-workers 3

What it does, in order:

1. The dataset: PostgreSQL database ``load1m`` (``--database-url``) with 1,000,000
   trackers (140,000 active) from ``manage.py generate_trackers``. Made (about two
   minutes) if the database is missing or empty, reused otherwise; migrated either way.
2. ``gunicorn cadence_site.wsgi`` (with ``cadence_site/gunicorn.conf.py`` when it exists,
   plain flags otherwise) and one ``manage.py db_worker``.
3. ``--users`` simulated users (threads, each with its own ``requests.Session``), for
   ``--seconds``: the overview, tracker list pages (first, filtered, deep through the
   keyset "Next" links), tracker detail, SOQL through ``/services/data/v62.0/query`` with
   a bearer token from ``manage.py create_api_token``, DRF ``/api/trackers/`` pages, and
   removals through the API's remove action by a few users of trackers they own (plus an
   occasional second removal of the same tracker, which must be a 409 that says why).
   Each user waits ``--think`` seconds (on average) between requests.
4. A report: p50/p95/max latency and status codes per request type, and throughput.
5. Checks, exit status 1 if any fails: no 5xx and no failed connection; every removal
   answered 200 is in the data (Complete, ManuallyRemoved, the disposition sent); the
   change-event count grew by exactly the number of those removals; nothing is left in
   Processing.

Dashboard users are signed in with a session made in the database (the login form and
its throttling are not what this measures); the API uses bearer tokens. Not part of CI.
"""

from __future__ import annotations

import argparse
import html
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
DATASET_TRACKERS = 1_000_000
DATASET_ACTIVE = 140_000
DISPOSITIONS = ["Success", "No Response", "Not Interested", "Contact Later", "Duplicate"]
NEXT_LINK = re.compile(r'rel="next" href="([^"]+)"')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("LOAD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/load1m"),
    )
    parser.add_argument("--users", type=int, default=50, help="simulated users (50)")
    parser.add_argument("--removers", type=int, default=5, help="of whom remove trackers (5)")
    parser.add_argument("--seconds", type=float, default=60, help="how long they work (60)")
    parser.add_argument("--think", type=float, default=1.0, help="mean pause, seconds (1.0)")
    parser.add_argument("--web-workers", type=int, default=3, help="gunicorn workers (3)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("LOAD_PORT", "8642")))
    parser.add_argument("--seed", type=int, default=2026)
    return parser.parse_args()


# --------------------------------------------------------------------------- the dataset


def manage(database_url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        check=check,
    )


def ensure_dataset(database_url: str) -> None:
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    server = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            print(f"Creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')
    manage(database_url, "migrate", "--noinput", "-v0")
    with psycopg.connect(database_url) as conn:
        (count,) = conn.execute("SELECT count(*) FROM trackers_actioncadencetracker").fetchone()
    if count == 0:
        print(f"Generating {DATASET_TRACKERS:,} trackers into {name} (a couple of minutes)")
        manage(
            database_url,
            "generate_trackers",
            f"--trackers={DATASET_TRACKERS}",
            f"--active={DATASET_ACTIVE}",
            "--groups=10",
            "--rules=10",
            "--seed=7",
        )
    elif count < DATASET_TRACKERS:
        sys.exit(
            f"{name} holds {count:,} trackers, fewer than {DATASET_TRACKERS:,}: drop it "
            f"(dropdb {name}) and run again to rebuild it."
        )
    # Whatever the generator (or an earlier run) queued, e.g. a sharing recalculation,
    # is done before the clock starts.
    manage(database_url, "db_worker", "--batch", "--no-startup-delay", "--no-reload", "-v0")
    # Fresh statistics: a recalculation may just have written hundreds of thousands of
    # share rows the planner has never seen.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("ANALYZE")


# --------------------------------------------------------------------------- the cast


@dataclass
class Actor:
    username: str
    cookies: dict[str, str]
    token: str
    trackers: list[str]  # sf ids this user owns, for detail pages
    removable: list[str] = field(default_factory=list)  # Running trackers it may remove
    removed: list[str] = field(default_factory=list)


@dataclass
class Fixture:
    actors: list[Actor]
    cadences: list[str]
    events_before: int


def prepare(args: argparse.Namespace) -> Fixture:
    """Sessions, tokens and the ids each simulated user works with, straight from the
    database through the project's own code."""
    import io

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.core.management import call_command

    from sharing.models import User
    from trackers.models import ActionCadence, ActionCadenceTracker, ActionCadenceTrackerChangeEvent

    session_store = import_module(settings.SESSION_ENGINE).SessionStore
    rng = random.Random(args.seed)
    users = list(User.objects.filter(username__startswith="bench_user_").order_by("username"))
    if len(users) < args.users:
        sys.exit(f"The dataset has {len(users)} benchmark users; --users {args.users} is more.")
    actors = []
    for index, user in enumerate(users[: args.users]):
        session = session_store()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        out = io.StringIO()
        call_command("create_api_token", user.username, "--name", "load test", stdout=out)
        token = out.getvalue().split()[-1]
        owned = ActionCadenceTracker.objects.filter(owner_user=user).order_by("pk")
        start = rng.randrange(0, 10_000)
        actor = Actor(
            username=user.username,
            cookies={settings.SESSION_COOKIE_NAME: session.session_key},
            token=token,
            trackers=list(owned.values_list("sf_id", flat=True)[start : start + 100]),
        )
        if index < args.removers:
            actor.removable = list(
                owned.filter(state="Running").values_list("sf_id", flat=True)[:500]
            )
            rng.shuffle(actor.removable)
        actors.append(actor)
    return Fixture(
        actors=actors,
        cadences=list(ActionCadence.objects.values_list("sf_id", flat=True)),
        events_before=ActionCadenceTrackerChangeEvent.objects.count(),
    )


# --------------------------------------------------------------------------- the servers


def start_servers(args: argparse.Namespace, log_dir: Path) -> list[subprocess.Popen]:
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DB_CONN_MAX_AGE": "60",
        "BIND": f"127.0.0.1:{args.port}",
        "WEB_CONCURRENCY": str(args.web_workers),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    conf = ROOT / "cadence_site" / "gunicorn.conf.py"
    gunicorn = [str(Path(PYTHON).parent / "gunicorn")]
    if conf.exists():
        gunicorn += ["-c", str(conf)]
    else:
        gunicorn += [
            "cadence_site.wsgi:application",
            f"--bind=127.0.0.1:{args.port}",
            f"--workers={args.web_workers}",
            "--timeout=60",
        ]
    commands = {
        "gunicorn": gunicorn,
        "db_worker": [PYTHON, "manage.py", "db_worker", "--no-startup-delay", "--no-reload"],
    }
    processes = []
    for name, command in commands.items():
        with (log_dir / f"{name}.log").open("wb") as out:
            processes.append(
                subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
            )
    return processes


def wait_ready(base: str, processes: list[subprocess.Popen], log_dir: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if requests.get(f"{base}/accounts/login/", timeout=30).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
            sys.exit(f"gunicorn did not come up on {base}; see {log_dir}/gunicorn.log")
        time.sleep(0.5)


def stop_servers(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(40)
        except subprocess.TimeoutExpired:
            process.kill()


# --------------------------------------------------------------------------- the users


@dataclass
class Sample:
    kind: str
    status: str
    seconds: float


class User(threading.Thread):
    """One simulated user: a browser session and an API client, picking what to do next."""

    BROWSE = {
        "overview": 10,
        "list_first": 12,
        "list_filtered": 10,
        "list_deep": 10,
        "detail": 20,
        "soql_usage": 8,
        "soql_count": 5,
        "api_list": 10,
    }

    def __init__(self, base: str, actor: Actor, fixture: Fixture, args, stop_at: float, seed):
        super().__init__(name=actor.username, daemon=True)
        self.base = base
        self.actor = actor
        self.fixture = fixture
        self.think = args.think
        self.stop_at = stop_at
        self.rng = random.Random(seed)
        self.samples: list[Sample] = []
        self.removals: list[tuple[str, str]] = []  # (sf id, disposition) answered 200
        self.problems: list[str] = []
        self.browser = requests.Session()
        self.browser.cookies.update(actor.cookies)
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"Bearer {actor.token}"

    def run(self) -> None:
        choices = dict(self.BROWSE)
        if self.actor.removable:
            choices.update(remove=60, remove_again=4)
        kinds, weights = list(choices), list(choices.values())
        time.sleep(self.rng.uniform(0, self.think))  # users do not all arrive at once
        while time.monotonic() < self.stop_at:
            kind = self.rng.choices(kinds, weights)[0]
            getattr(self, kind)()
            time.sleep(self.rng.expovariate(1 / self.think) if self.think else 0)

    def request(self, kind: str, session: requests.Session, method: str, url: str, **kw):
        started = time.perf_counter()
        try:
            response = session.request(
                method, urljoin(self.base, url), timeout=60, allow_redirects=False, **kw
            )
        except requests.RequestException as error:
            self.samples.append(Sample(kind, type(error).__name__, time.perf_counter() - started))
            return None
        self.samples.append(Sample(kind, str(response.status_code), time.perf_counter() - started))
        return response

    # Dashboards

    def overview(self) -> None:
        self.request("overview", self.browser, "GET", "/")

    def list_first(self) -> None:
        self.request("list_first", self.browser, "GET", "/trackers/")

    def list_filtered(self) -> None:
        cadence = self.rng.choice(self.fixture.cadences)
        state = self.rng.choice(["Running", "Paused", "Complete"])
        self.request(
            "list_filtered", self.browser, "GET", f"/trackers/?state={state}&cadence={cadence}"
        )

    def list_deep(self) -> None:
        """The first page, then up to five pages further through the keyset "Next" links."""
        url = "/trackers/"
        response = self.request("list_first", self.browser, "GET", url)
        for _ in range(self.rng.randint(2, 5)):
            found = NEXT_LINK.search(response.text) if response is not None else None
            if found is None or time.monotonic() > self.stop_at:
                return
            url = urljoin(response.url, html.unescape(found.group(1)))
            response = self.request("list_deep", self.browser, "GET", url)

    def detail(self) -> None:
        tracker = self.rng.choice(self.actor.trackers)
        self.request("detail", self.browser, "GET", f"/trackers/{tracker}/")

    # APIs

    def soql_usage(self) -> None:
        cadence = self.rng.choice(self.fixture.cadences)
        query = (
            "select TargetId from ActionCadenceTracker where "
            f'ActionCadenceId={cadence} and State= "Running"'
        )
        self.request(
            "soql_usage", self.api, "GET", "/services/data/v62.0/query", params={"q": query}
        )

    def soql_count(self) -> None:
        query = "SELECT State, COUNT(Id) FROM ActionCadenceTracker GROUP BY State"
        self.request(
            "soql_count", self.api, "GET", "/services/data/v62.0/query", params={"q": query}
        )

    def api_list(self) -> None:
        response = self.request("api_list", self.api, "GET", "/api/trackers/")
        if response is not None and response.ok and response.json().get("next"):
            self.request("api_next", self.api, "GET", response.json()["next"])

    def remove(self) -> None:
        if not self.actor.removable:
            return self.detail()
        tracker = self.actor.removable.pop()
        disposition = self.rng.choice(DISPOSITIONS)
        response = self.request(
            "remove",
            self.api,
            "POST",
            f"/api/trackers/{tracker}/remove/",
            json={"completion_disposition": disposition},
        )
        if response is not None and response.status_code == 200:
            self.removals.append((tracker, disposition))
            self.actor.removed.append(tracker)

    def remove_again(self) -> None:
        """A double click: the tracker is already Complete, so 409 with the reason."""
        if not self.actor.removed:
            return self.remove()
        tracker = self.rng.choice(self.actor.removed)
        response = self.request(
            "remove_again", self.api, "POST", f"/api/trackers/{tracker}/remove/", json={}
        )
        if response is not None and "already Complete" not in response.text:
            self.problems.append(f"a second removal of {tracker}: {response.text[:200]}")


# --------------------------------------------------------------------------- report and checks


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def report(samples: list[Sample], seconds: float) -> None:
    by_kind: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_kind[sample.kind].append(sample)
    print(f"\n{'request':<14}{'count':>7}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}  statuses")
    for kind in sorted(by_kind):
        rows = by_kind[kind]
        times = [s.seconds * 1000 for s in rows]
        statuses = ", ".join(
            f"{k}: {v}" for k, v in sorted(Counter(s.status for s in rows).items())
        )
        print(
            f"{kind:<14}{len(rows):>7}{percentile(times, 0.5):>9.0f}"
            f"{percentile(times, 0.95):>9.0f}{max(times):>9.0f}  {statuses}"
        )
    times = [s.seconds * 1000 for s in samples]
    print(
        f"{'all':<14}{len(samples):>7}{percentile(times, 0.5):>9.0f}"
        f"{percentile(times, 0.95):>9.0f}{max(times):>9.0f}  "
        + ", ".join(f"{k}: {v}" for k, v in sorted(Counter(s.status for s in samples).items()))
    )
    print(f"\n{len(samples) / seconds:.1f} requests/s over {seconds:.0f} s")


def check(users: list[User], fixture: Fixture) -> list[str]:
    from trackers.models import ActionCadenceTracker, ActionCadenceTrackerChangeEvent

    samples = [sample for user in users for sample in user.samples]
    removals = [removal for user in users for removal in user.removals]
    failures = [problem for user in users for problem in user.problems]
    server_errors = Counter(s.kind for s in samples if s.status.startswith("5"))
    if server_errors:
        failures.append(f"5xx answers: {dict(server_errors)}")
    redirected = Counter(s.kind for s in samples if s.status.startswith("3"))
    if redirected:
        failures.append(f"redirects (a lost session?): {dict(redirected)}")
    broken = Counter(s.status for s in samples if not s.status.isdigit())
    if broken:
        failures.append(f"requests that got no answer: {dict(broken)}")
    sent = dict(removals)
    stored = {
        sf_id: (state, reason, disposition)
        for sf_id, state, reason, disposition in ActionCadenceTracker.objects.filter(
            sf_id__in=list(sent)
        ).values_list("sf_id", "state", "completion_reason", "completion_disposition")
    }
    wrong = {
        sf_id: stored.get(sf_id)
        for sf_id, disposition in sent.items()
        if stored.get(sf_id) != ("Complete", "ManuallyRemoved", disposition)
    }
    if wrong:
        failures.append(f"{len(wrong)} removals answered 200 are not in the data: {wrong}")
    grew = ActionCadenceTrackerChangeEvent.objects.count() - fixture.events_before
    if grew != len(removals):
        failures.append(f"change events grew by {grew}, removals succeeded {len(removals)}")
    processing = ActionCadenceTracker.objects.filter(state="Processing").count()
    if processing:
        failures.append(f"{processing} trackers left in Processing")
    print(
        f"\n{len(removals)} removals answered 200; all in the data with their disposition: "
        f"{not wrong}; change events +{grew}"
    )
    return failures


def main() -> None:
    args = parse_args()
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = args.database_url
    # The sessions made here are signed with this key; gunicorn must check them with it.
    os.environ.setdefault("SECRET_KEY", "load-test-only-" + "x" * 40)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cadence_site.settings")
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        sys.exit("The load test runs on PostgreSQL: --database-url postgres://...")
    ensure_dataset(args.database_url)
    fixture = prepare(args)
    log_dir = Path(tempfile.mkdtemp(prefix="cadence-load-"))
    print(
        f"{len(fixture.actors)} users ({args.removers} removing), {args.seconds:.0f} s, "
        f"{args.web_workers} gunicorn workers, {os.cpu_count()} cores; logs in {log_dir}"
    )
    processes = start_servers(args, log_dir)
    base = f"http://127.0.0.1:{args.port}"
    try:
        wait_ready(base, processes, log_dir)
        started = time.monotonic()
        stop_at = started + args.seconds
        users = [
            User(base, actor, fixture, args, stop_at, seed=args.seed + index)
            for index, actor in enumerate(fixture.actors)
        ]
        for user in users:
            user.start()
        for user in users:
            user.join(args.seconds + 120)
        elapsed = time.monotonic() - started
    finally:
        stop_servers(processes)
    report([sample for user in users for sample in user.samples], elapsed)
    failures = check(users, fixture)
    for failure in failures:
        print(f"FAIL: {failure}")
    if failures:
        sys.exit(1)
    print("OK: no 5xx, every removal in the data, one change event each.")


if __name__ == "__main__":
    main()
