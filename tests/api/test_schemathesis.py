"""Property-based API tests generated from our own OpenAPI schema (offline, in-process).

Schemathesis loads /api/schema/ through the WSGI app and sends a few generated
requests to every operation as a user with trackers, a Manual share and the
sharing-rule permission. Whatever it sends, the API must never answer 5xx, and
documented responses must match the schema.
"""

import pytest
from django.contrib.auth.models import Permission
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from cadence_site.wsgi import application
from sharing import services
from sharing.models import ApiToken
from tests.api.conftest import share_by_rule, varied_trackers
from trackers import lifecycle

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.config import SchemathesisConfig  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

pytestmark = pytest.mark.django_db


# Served by the app itself; reading it touches no database. The coverage phase (hundreds of
# boundary cases per operation) is left to a dedicated run; this one stays under a minute.
schema = schemathesis.openapi.from_wsgi(
    "/api/schema/?format=json",
    application,
    config=SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}}),
)


@pytest.fixture
def world(rep, teammate):
    """Django's WSGI handler closes the connection after each request, which would end
    the test's transaction; the test client avoids it the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield _make_world(rep, teammate)
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _make_world(rep, teammate):
    """A rep who may change sharing rules, with trackers, a share, a rule and a bulk job;
    returns their token and, per collection, an Id that exists."""
    rep.user_permissions.add(
        Permission.objects.get(codename="change_actioncadencetrackerownersharingrule")
    )
    rule = share_by_rule(teammate, rep)
    trackers = varied_trackers(rep, 2)
    share = services.share_tracker(trackers[0], teammate, "Read", actor=rep)
    job = lifecycle.start_bulk("remove", [trackers[1]], actor=rep)
    _row, raw = ApiToken.issue(rep)
    cadence = trackers[0].action_cadence
    return raw, {
        "trackers": trackers[0].sf_id,
        "shares": share.sf_id,
        "sharing-rules": rule.sf_id,
        "bulk-jobs": job.pk,
        "cadences": cadence.sf_id,
        "steps": cadence.steps.first().sf_id,
        "step-trackers": trackers[0].current_step.sf_id,
    }


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors(case, world):
    token, existing = world
    if "id" in (case.path_parameters or {}):
        # Random Ids only ever find nothing (404); aim at records that exist.
        case.path_parameters["id"] = existing[case.path.split("/")[2]]
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
