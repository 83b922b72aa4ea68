"""Structured logs: one JSON object per line, for whatever collects stdout.

``JsonFormatter`` writes time, level, logger, message and the id of the request
being served (``RequestIdFilter`` reads it from ``current_request_id``, which
``cadence_site.middleware.RequestIdMiddleware`` sets). Gunicorn's access log
goes through the same formatter (``gunicorn.conf.py``): its records carry the
request's atoms, which become method, path, status, duration and so on.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
}

# Gunicorn access-log atoms -> our field names (see gunicorn's glogging.Logger.atoms).
_ACCESS_FIELDS = {
    "m": "method",
    "U": "path",
    "q": "query",
    "s": "status",
    "B": "bytes",
    "h": "remote_addr",
    "a": "user_agent",
    "f": "referer",
    "H": "protocol",
}


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = current_request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            entry.update(self._access_fields(record.args))
        else:
            entry["message"] = record.getMessage()
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry.setdefault("request_id", request_id)
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)

    @staticmethod
    def _access_fields(atoms: dict[str, Any]) -> dict[str, Any]:
        fields: dict[str, Any] = {"message": "request"}
        for atom, name in _ACCESS_FIELDS.items():
            value = atoms.get(atom)
            if value not in (None, "", "-"):
                fields[name] = value
        if "status" in fields:
            fields["status"] = int(fields["status"])
        if isinstance(fields.get("bytes"), str) and fields["bytes"].isdigit():
            fields["bytes"] = int(fields["bytes"])
        # D is the request's duration in microseconds.
        if atoms.get("D") is not None:
            fields["duration_ms"] = round(int(atoms["D"]) / 1000, 1)
        request_id = atoms.get("{x-request-id}o")
        if request_id and request_id != "-":
            fields["request_id"] = request_id
        return fields
