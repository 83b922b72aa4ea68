"""Request ids for the logs, and a clean 503 when the database is gone or busy mid-request."""

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
# A deadlock, a lock timeout, a serialization failure (PostgreSQL) or "database is
# locked" (SQLite): the database is there but this request lost a race for the same
# rows; its transaction was rolled back, and trying again soon works. (A statement
# timeout is not one: a query too heavy for the database should not be retried at once.)
DATABASE_BUSY = (
    "The database was too busy with other changes to the same records to finish this "
    "request; try again. No change is ever half-made."
)
BUSY_RETRY_AFTER_SECONDS = "2"
BUSY_SQLSTATES = {"40001", "40P01", "55P03"}
_SQLITE_BUSY = ("database is locked", "database table is locked")


def is_busy(error: BaseException) -> bool:
    """Whether a database error means contention rather than an unreachable database."""
    cause = error.__cause__ or error
    if getattr(cause, "sqlstate", None) in BUSY_SQLSTATES:
        return True
    return any(text in str(error) for text in _SQLITE_BUSY)


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


def database_error_answer(busy: bool) -> tuple[str, str, str]:
    """(Salesforce errorCode, message, Retry-After) for a database that is busy or gone."""
    if busy:
        return "UNABLE_TO_LOCK_ROW", DATABASE_BUSY, BUSY_RETRY_AFTER_SECONDS
    return "SERVER_UNAVAILABLE", DATABASE_UNAVAILABLE, RETRY_AFTER_SECONDS


def database_unavailable_response(request: HttpRequest, *, busy: bool = False) -> HttpResponse:
    """503 in the shape the caller speaks: Salesforce errors, DRF errors or a page;
    ``busy`` for contention (Salesforce's UNABLE_TO_LOCK_ROW, retry in seconds).

    Renders without the request's context so nothing here touches the database
    (no session, no user, no messages).
    """
    code, message, retry_after = database_error_answer(busy)
    if request.path.startswith("/services/data/"):
        body = [{"message": message, "errorCode": code}]
        response: HttpResponse = JsonResponse(body, status=503, safe=False)
    elif request.path.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=503)
    else:
        page = loader.render_to_string("503.html", {"busy": busy})
        response = HttpResponse(page, status=503)
    response["Retry-After"] = retry_after
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
        busy = is_busy(exception)
        logger.log(
            logging.WARNING if busy else logging.ERROR,
            "Database %s while serving %s %s",
            "busy" if busy else "unavailable",
            request.method,
            request.path,
            exc_info=exception,
        )
        return database_unavailable_response(request, busy=busy)
