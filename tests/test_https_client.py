"""A Salesforce REST client against gunicorn over HTTPS (issue 5's "done when").

A throwaway CA (trustme) signs the server's certificate; gunicorn serves with our
config and that certificate on a free port, in production mode, over a fresh
SQLite file built by `manage.py migrate` and `seed_demo`. Tokens come from
`manage.py create_api_token`. Then `requests`, trusting only that CA, does what an
integration does: describe, the usage query, paging with nextRecordsUrl, retrieve,
remove with a disposition, delete, and getUpdated/getDeleted to find both changes;
and a rep's token sees only what sharing allows.

It builds its own database file, so it runs the same in the SQLite and the
PostgreSQL runs of CI (no ``postgres`` mark, no test database).
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
import trustme

from tests.live_gunicorn import Gunicorn, environment, manage

VERSION = "v62.0"
TRACKER = f"/services/data/{VERSION}/sobjects/ActionCadenceTracker"
REMOVE = f"/services/data/{VERSION}/actions/standard/removeTargetFromSalesCadence"
ALL_TRACKERS = "SELECT Id, State, ActionCadenceId, TargetId, OwnerId FROM ActionCadenceTracker"
# The usage query from the product brief, spacing and double quotes as written there.
USAGE_QUERY = (
    "select TargetId from ActionCadenceTracker where ActionCadenceId={cadence_id}\n"
    ' and State= "Running"'
)


class SalesforceClient:
    """What a REST integration holds: an instance URL, a bearer token, a CA bundle."""

    def __init__(self, base_url: str, token: str, ca_bundle: str) -> None:
        self.base_url = base_url
        self.ca_bundle = ca_bundle
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        # verify per request: a Session's verify loses to REQUESTS_CA_BUNDLE (requests#3829).
        return self.http.request(
            method, self.base_url + path, verify=self.ca_bundle, timeout=30, **kwargs
        )

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def query_all(self, soql: str, batch_size: int = 200) -> tuple[list[dict], int]:
        """Every record of a query, following nextRecordsUrl; (records, pages)."""
        headers = {"Sforce-Query-Options": f"batchSize={batch_size}"}
        page = self.get(f"/services/data/{VERSION}/query", params={"q": soql}, headers=headers)
        assert page.status_code == 200, page.text
        body = page.json()
        records, pages, total = list(body["records"]), 1, body["totalSize"]
        while not body["done"]:
            page = self.get(body["nextRecordsUrl"], headers=headers)
            assert page.status_code == 200, page.text
            body = page.json()
            assert body["totalSize"] == total
            records += body["records"]
            pages += 1
        assert len(records) == total
        return records, pages


def last_word(output: str) -> str:
    return output.split()[-1]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    folder = tmp_path_factory.mktemp("https")
    ca = trustme.CA()
    certificate = ca.issue_cert("localhost", "127.0.0.1")
    ca_bundle = folder / "ca.pem"
    cert_file, key_file = folder / "server.pem", folder / "server.key"
    ca.cert_pem.write_to_path(str(ca_bundle))
    certificate.private_key_pem.write_to_path(str(key_file))
    for index, blob in enumerate(certificate.cert_chain_pems):
        blob.write_to_path(str(cert_file), append=index > 0)

    env = environment(
        f"sqlite:///{folder / 'cadence.sqlite3'}",
        CADENCE_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="localhost",
        STATIC_ROOT=str(folder / "static"),
    )
    manage(env, "migrate", "--noinput")
    manage(env, "seed_demo", "--trackers", "500")
    tokens = {
        username: last_word(manage(env, "create_api_token", username, "--name", "https test"))
        for username in ("manager_east", "rep_east_1")
    }
    with Gunicorn(
        env, folder / "gunicorn.log", "--certfile", str(cert_file), "--keyfile", str(key_file)
    ) as server:
        base_url = f"https://localhost:{server.port}"
        yield {
            "server": server,
            "manager": SalesforceClient(base_url, tokens["manager_east"], str(ca_bundle)),
            "rep": SalesforceClient(base_url, tokens["rep_east_1"], str(ca_bundle)),
        }


def minute_floor(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def test_a_salesforce_client_works_over_https(deployment):
    manager, rep = deployment["manager"], deployment["rep"]

    # Only our CA vouches for this server: the system's trust store refuses it.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(manager.base_url + "/health/", timeout=10)

    # ---- the changes first, so getUpdated/getDeleted can cover their minute soonest.
    records, pages = manager.query_all(ALL_TRACKERS)
    assert pages > 1, "the manager's trackers should span several batches"
    manager_ids = {record["Id"] for record in records}
    assert len(manager_ids) == len(records)
    # Trackers of a rep below the manager in the role hierarchy: the manager has All.
    (report,), _pages = manager.query_all("SELECT Id FROM User WHERE Username = 'rep_east_2'")
    running = [record for record in records if record["State"] == "Running"]
    reports = [record for record in running if record["OwnerId"] == report["Id"]]
    removed_id, deleted_id = reports[0]["Id"], reports[1]["Id"]
    changed_at = datetime.now(UTC)

    result = manager.request(
        "POST",
        REMOVE,
        json={
            "inputs": [
                {"actionCadenceTrackerId": removed_id, "completionDisposition": "Not Interested"}
            ]
        },
    )
    assert result.status_code == 200, result.text
    assert result.json()[0]["isSuccess"] is True
    assert result.json()[0]["outputValues"]["state"] == "Complete"
    deleted = manager.request("DELETE", f"{TRACKER}/{deleted_id}")
    assert deleted.status_code == 204, deleted.text

    # ---- describe, retrieve, the usage query
    describe = manager.get(f"{TRACKER}/describe")
    assert describe.status_code == 200
    fields = {field["name"] for field in describe.json()["fields"]}
    assert {"Id", "State", "CompletionReason", "CompletionDisposition", "TargetId"} <= fields

    retrieved = manager.get(f"{TRACKER}/{removed_id}")
    assert retrieved.status_code == 200
    tracker = retrieved.json()
    assert tracker["Id"] == removed_id
    assert tracker["attributes"]["type"] == "ActionCadenceTracker"
    assert (tracker["State"], tracker["CompletionReason"], tracker["CompletionDisposition"]) == (
        "Complete",
        "ManuallyRemoved",
        "Not Interested",
    )
    assert manager.get(f"{TRACKER}/{deleted_id}").status_code == 404

    cadence_id = running[0]["ActionCadenceId"]
    usage, _pages = manager.query_all(USAGE_QUERY.format(cadence_id=cadence_id))
    expected = {
        record["TargetId"]
        for record in running
        if record["ActionCadenceId"] == cadence_id and record["Id"] not in {removed_id, deleted_id}
    }
    assert {record["TargetId"] for record in usage} == expected
    assert set(usage[0]) == {"attributes", "TargetId"}

    # ---- the rep sees only what sharing allows
    rep_records, _pages = rep.query_all(ALL_TRACKERS)
    rep_ids = {record["Id"] for record in rep_records}
    assert 0 < len(rep_ids) < len(manager_ids)
    hidden = sorted(manager_ids - rep_ids - {deleted_id})
    assert hidden, "the manager should see trackers the rep does not"
    refused = rep.get(f"{TRACKER}/{hidden[0]}")
    assert refused.status_code == 404
    assert refused.json()[0]["errorCode"] == "NOT_FOUND"
    visible = sorted(rep_ids)[0]
    assert rep.get(f"{TRACKER}/{visible}").status_code == 200

    # ---- getUpdated / getDeleted: Salesforce covers whole minutes up to the current
    # one, so wait for the minute of the changes to close.
    covered_from = minute_floor(changed_at) + timedelta(minutes=1)
    time.sleep(max(0.0, (covered_from - datetime.now(UTC)).total_seconds() + 0.5))
    window = {
        "start": iso(minute_floor(changed_at) - timedelta(minutes=1)),
        "end": iso(datetime.now(UTC) + timedelta(minutes=1)),
    }
    updated = manager.get(f"{TRACKER}/updated/", params=window)
    assert updated.status_code == 200, updated.text
    assert removed_id in updated.json()["ids"]
    gone = manager.get(f"{TRACKER}/deleted/", params=window)
    assert gone.status_code == 200, gone.text
    assert deleted_id in [entry["id"] for entry in gone.json()["deletedRecords"]]
    if removed_id not in rep_ids:
        assert removed_id not in rep.get(f"{TRACKER}/updated/", params=window).json()["ids"]
