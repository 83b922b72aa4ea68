"""getUpdated and getDeleted (``sobjects/{Object}/updated|deleted/?start=&end=``).

Salesforce's rules: the API ignores the seconds of ``start`` and ``end``; ``start``
must come before ``end``; results go back no more than 30 days (updated) or 15 days
(deleted, the recycle bin's window) before the day of the call, and an older
``start`` is INVALID_REPLICATION_DATE; an ``end`` in the future is covered only up
to now, which ``latestDateCovered`` reports, so the next call starts there.

Trackers are read from their change events (the transactional outbox), filtered
by what the user can read: a tracker's events are visible exactly when the
tracker is. The other replicateable objects answer getUpdated from SystemModstamp
and getDeleted from soft-deleted rows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from cadence_site.registry import SObjectType, format_datetime
from cadence_site.sfapi import records
from cadence_site.sfapi.errors import SalesforceError

UPDATED_WINDOW_DAYS = 30
MAX_IDS = 600_000  # beyond this Salesforce answers EXCEEDED_ID_LIMIT


def _minute(value: dt.datetime) -> dt.datetime:
    return value.replace(second=0, microsecond=0)


def _parameter(params: Any, name: str) -> dt.datetime:
    raw = params.get(name)
    if not raw:
        raise SalesforceError("MISSING_ARGUMENT", f"Missing required query parameter: {name}", 400)
    try:
        return _minute(records.parse_datetime(raw))
    except ValueError:
        raise SalesforceError(
            "INVALID_REPLICATION_DATE",
            f"{name}: {raw!r} is not a valid ISO 8601 date-time (YYYY-MM-DDThh:mm:ss+hh:mm)",
        ) from None


def window(params: Any, days: int) -> tuple[dt.datetime, dt.datetime]:
    """(start, latest date covered), both whole minutes, after Salesforce's checks."""
    start, end = _parameter(params, "start"), _parameter(params, "end")
    if start >= end:
        raise SalesforceError(
            "INVALID_REPLICATION_DATE", "startDate must chronologically precede endDate"
        )
    now = timezone.now()
    earliest = dt.datetime.combine(now.date() - dt.timedelta(days=days), dt.time(tzinfo=dt.UTC))
    if start < earliest:
        raise SalesforceError(
            "INVALID_REPLICATION_DATE",
            f"startDate cannot be more than {days} days ago (earliest {format_datetime(earliest)})",
        )
    return start, min(end, _minute(now))


def _limited(ids: list[str]) -> list[str]:
    if len(ids) > MAX_IDS:
        raise SalesforceError(
            "EXCEEDED_ID_LIMIT",
            f"More than {MAX_IDS:,} ids in this timespan; choose start and end dates closer "
            "together.",
        )
    return ids


def get_updated(sobject: SObjectType, user: Any, params: Any) -> dict[str, Any]:
    from trackers.choices import ChangeType
    from trackers.models import ActionCadenceTracker, ActionCadenceTrackerChangeEvent

    start, covered = window(params, UPDATED_WINDOW_DAYS)
    if sobject.model is ActionCadenceTracker:
        events = ActionCadenceTrackerChangeEvent.objects.filter(
            created_at__gte=start,
            created_at__lt=covered,
            change_type__in=(ChangeType.CREATE, ChangeType.UPDATE, ChangeType.UNDELETE),
            tracker__in=records.readable(sobject, user, as_set=True).values("pk"),
        )
        ids = events.order_by("record_id").values_list("record_id", flat=True).distinct()
    else:
        ids = (
            records.readable(sobject, user)
            .filter(system_modstamp__gte=start, system_modstamp__lt=covered)
            .order_by("sf_id")
            .values_list("sf_id", flat=True)
        )
    return {
        "ids": _limited(list(ids[: MAX_IDS + 1])),
        "latestDateCovered": format_datetime(covered),
    }


def get_deleted(sobject: SObjectType, user: Any, params: Any) -> dict[str, Any]:
    from trackers.choices import ChangeType
    from trackers.models import ActionCadenceTracker, ActionCadenceTrackerChangeEvent

    days = settings.CADENCE_RECYCLE_BIN_DAYS
    start, covered = window(params, days)
    deleted = records.readable(sobject, user, include_deleted=True).filter(is_deleted=True)
    if sobject.model is ActionCadenceTracker:
        rows = (
            ActionCadenceTrackerChangeEvent.objects.filter(
                created_at__gte=start,
                created_at__lt=covered,
                change_type=ChangeType.DELETE,
                tracker__in=deleted.values("pk"),
            )
            .values("record_id")
            .annotate(deleted_at=Max("created_at"))
            .order_by("record_id")
        )
        found = [(row["record_id"], row["deleted_at"]) for row in rows[: MAX_IDS + 1]]
    else:
        found = list(
            deleted.filter(system_modstamp__gte=start, system_modstamp__lt=covered)
            .order_by("sf_id")
            .values_list("sf_id", "system_modstamp")[: MAX_IDS + 1]
        )
    _limited(found)
    earliest = _minute(timezone.now() - dt.timedelta(days=days))
    return {
        "deletedRecords": [
            {"id": record_id, "deletedDate": format_datetime(when)} for record_id, when in found
        ],
        "earliestDateAvailable": format_datetime(earliest),
        "latestDateCovered": format_datetime(covered),
    }
