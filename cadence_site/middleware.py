"""Request ids for the logs, and a clean 503 when the database is gone mid-request."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader

from cadence_site.log import current_request_id

logger = logging.getLogger(__name__)

# A load balancer's or client's id is kept only if it is short and plain, so it
# can't forge log fields; otherwise the request gets a fresh one.
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

# Not "nothing was changed": a change may have committed just before the connection
# dropped. What always holds is that it is all or nothing.
DATABASE_UNAVAILABLE = (
    "The database is unavailable; try again in a moment. No change is ever half-made."
)
RETRY_AFTER_SECONDS = "30"


class RequestIdMiddleware:
    """Tag the request (and every log line written while serving it) with an id,
    echoed as ``X-Request-ID`` so a client's report can be matched to the logs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        offered = request.headers.get("X-Request-ID", "")
        request_id = offered if _CLIENT_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
        request.request_id = request_id
        token = current_request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response


def database_unavailable_response(request: HttpRequest) -> HttpResponse:
    """503 in the shape the caller speaks: Salesforce errors, DRF errors or a page.

    Renders without the request's context so nothing here touches the database
    (no session, no user, no messages).
    """
    if request.path.startswith("/services/data/"):
        body = [{"message": DATABASE_UNAVAILABLE, "errorCode": "SERVER_UNAVAILABLE"}]
        response: HttpResponse = JsonResponse(body, status=503, safe=False)
    elif request.path.startswith("/api/"):
        response = JsonResponse({"detail": DATABASE_UNAVAILABLE}, status=503)
    else:
        response = HttpResponse(loader.render_to_string("503.html"), status=503)
    response["Retry-After"] = RETRY_AFTER_SECONDS
    return response


class DatabaseUnavailableMiddleware:
    """Turn a lost or refused database connection into a 503, not a 500.

    Every change runs in a transaction (the lifecycle and sharing services use
    ``atomic()``), so a connection that dies half-way commits nothing: the
    database rolls the transaction back, and the client is told to retry.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.error(
            "Database unavailable while serving %s %s",
            request.method,
            request.path,
            exc_info=exception,
        )
        return database_unavailable_response(request)
