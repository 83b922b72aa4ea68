"""Standard invocable actions: remove a target from its cadence, pause and resume.

``POST actions/standard/{name}`` with ``{"inputs": [...]}`` answers one result per
input, each on its own: a refused input (unknown disposition, tracker already
Complete, a tracker the user cannot see) is a failed result next to the others,
never an error for the whole request. Every state change is the lifecycle's,
acting as the token's user.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Case, IntegerField, Value, When

from cadence_site import sfid
from cadence_site.sfapi import records
from cadence_site.sfapi.errors import SalesforceError

MAX_INPUTS = 200


class InputError(Exception):
    def __init__(self, code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields or []


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    description: str
    required: bool = False


@dataclass(frozen=True)
class Action:
    name: str
    label: str
    description: str
    inputs: tuple[Parameter, ...]
    run: Callable[[Any, dict[str, Any], Any], Any]

    def describe(self) -> dict[str, Any]:
        def parameters(items: tuple[Parameter, ...]) -> list[dict[str, Any]]:
            return [
                {
                    "name": item.name,
                    "type": item.type.upper(),
                    "required": item.required,
                    "description": item.description,
                }
                for item in items
            ]

        return {
            "name": self.name,
            "label": self.label,
            "description": self.description,
            "type": "SALES_CADENCE",
            "standard": True,
            "inputs": parameters(self.inputs),
            "outputs": parameters(OUTPUTS),
        }


TRACKER_INPUTS = (
    Parameter("targetId", "reference", "The Lead or Contact whose cadence tracker to act on."),
    Parameter(
        "actionCadenceTrackerId", "reference", "The tracker to act on (instead of targetId)."
    ),
)
OUTPUTS = (
    Parameter("actionCadenceTrackerId", "reference", "The tracker the action changed."),
    Parameter("state", "string", "The tracker's State afterwards."),
)


def _tracker(user: Any, values: dict[str, Any]) -> Any:
    """The tracker an input names, among those the user can read."""
    from trackers.choices import ACTIVE_STATES, TrackerState
    from trackers.models import ActionCadenceTracker

    trackers = ActionCadenceTracker.objects.visible_to(user, "read")
    tracker_id, target_id = values.get("actionCadenceTrackerId"), values.get("targetId")
    if tracker_id in (None, "") and target_id in (None, ""):
        raise InputError(
            "REQUIRED_FIELD_MISSING",
            "Give a targetId or an actionCadenceTrackerId.",
            ["targetId", "actionCadenceTrackerId"],
        )
    try:
        if tracker_id not in (None, ""):
            tracker = trackers.filter(
                sf_id=sfid.normalize(tracker_id, ActionCadenceTracker.KEY_PREFIX)
            ).first()
            if tracker is not None and target_id not in (None, ""):
                target = tracker.target
                if target is None or target.sf_id != sfid.normalize(target_id):
                    raise InputError(
                        "INVALID_FIELD",
                        "targetId is not the target of that tracker.",
                        ["targetId"],
                    )
        else:
            target_id = sfid.normalize(target_id)
            column = {"00Q": "target_lead__sf_id", "003": "target_contact__sf_id"}.get(
                target_id[:3]
            )
            if column is None:
                raise InputError(
                    "INVALID_FIELD", "targetId must be a Lead or a Contact id.", ["targetId"]
                )
            # The target's active tracker; else its broken one; else its latest, which
            # the lifecycle then refuses with the reason (already Complete...).
            tracker = (
                trackers.filter(**{column: target_id})
                .annotate(
                    rank=Case(
                        When(state__in=ACTIVE_STATES, then=Value(0)),
                        When(state=TrackerState.ERROR, then=Value(1)),
                        default=Value(2),
                        output_field=IntegerField(),
                    )
                )
                .order_by("rank", "-created_date", "-pk")
                .first()
            )
    except sfid.InvalidId as error:
        raise InputError("MALFORMED_ID", str(error)) from None
    if tracker is None:
        raise InputError("NOT_FOUND", "No such tracker.")
    return tracker


def _remove(user: Any, values: dict[str, Any], tracker: Any) -> Any:
    from trackers import lifecycle
    from trackers.choices import CompletionReason

    reason = values.get("completionReasonCode") or CompletionReason.MANUALLY_REMOVED
    if reason != CompletionReason.MANUALLY_REMOVED:
        raise InputError(
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"completionReasonCode {reason!r} cannot be chosen; a person removes a target "
            "with ManuallyRemoved.",
            ["completionReasonCode"],
        )
    return lifecycle.remove_target(
        tracker, actor=user, disposition=values.get("completionDisposition"), origin="api"
    )


def _pause(user: Any, values: dict[str, Any], tracker: Any) -> Any:
    from trackers import lifecycle

    resume_at = values.get("scheduledResumeDateTime")
    if resume_at not in (None, ""):
        try:
            resume_at = records.parse_datetime(resume_at)
        except ValueError:
            raise InputError(
                "INVALID_FIELD",
                "scheduledResumeDateTime must be an ISO 8601 date-time.",
                ["scheduledResumeDateTime"],
            ) from None
    return lifecycle.pause(tracker, actor=user, resume_at=resume_at or None, origin="api")


def _resume(user: Any, values: dict[str, Any], tracker: Any) -> Any:
    from trackers import lifecycle

    return lifecycle.resume(tracker, actor=user, origin="api")


ACTIONS = {
    action.name: action
    for action in (
        Action(
            "removeTargetFromSalesCadence",
            "Remove Target From Cadence",
            "Complete the target's tracker as ManuallyRemoved, with a CompletionDisposition.",
            (
                *TRACKER_INPUTS,
                Parameter(
                    "completionReasonCode",
                    "string",
                    "ManuallyRemoved (the only reason people set).",
                ),
                Parameter(
                    "completionDisposition",
                    "string",
                    "One of the CompletionDisposition picklist values.",
                ),
            ),
            _remove,
        ),
        Action(
            "pauseSalesCadenceTracker",
            "Pause Cadence Tracker",
            "Pause a Running tracker, optionally until scheduledResumeDateTime.",
            (
                *TRACKER_INPUTS,
                Parameter("scheduledResumeDateTime", "datetime", "When to resume by itself."),
            ),
            _pause,
        ),
        Action(
            "resumeSalesCadenceTracker",
            "Resume Cadence Tracker",
            "Resume a Paused tracker.",
            TRACKER_INPUTS,
            _resume,
        ),
    )
}


def get_action(name: str) -> Action:
    action = ACTIONS.get(name)
    if action is None:
        raise SalesforceError("NOT_FOUND", f"Action {name!r} does not exist.", 404)
    return action


def list_actions() -> dict[str, Any]:
    return {
        "actions": [
            {"name": action.name, "label": action.label, "type": "SALES_CADENCE"}
            for action in ACTIONS.values()
        ]
    }


def _result(action: Action, errors: list[dict] | None, outputs: dict | None) -> dict[str, Any]:
    return {
        "actionName": action.name,
        "errors": errors,
        "isSuccess": errors is None,
        "outputValues": outputs,
    }


def _run_one(action: Action, user: Any, values: Any) -> dict[str, Any]:
    from trackers.lifecycle import LifecycleError

    try:
        if not isinstance(values, dict):
            raise InputError("INVALID_INPUT", "Each input must be a JSON object.")
        known = {parameter.name for parameter in action.inputs}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(
                "INVALID_INPUT",
                f"Unknown input {', '.join(unknown)}; {action.name} takes "
                f"{', '.join(sorted(known))}.",
                unknown,
            )
        tracker = action.run(user, values, _tracker(user, values))
    except InputError as error:
        failure = {"statusCode": error.code, "message": error.message, "fields": error.fields}
        return _result(action, [failure], None)
    except LifecycleError as error:
        return _result(
            action, [{"statusCode": error.code, "message": error.message, "fields": []}], None
        )
    return _result(
        action, None, {"actionCadenceTrackerId": tracker.sf_id, "state": str(tracker.state)}
    )


def invoke(action: Action, user: Any, body: Any) -> list[dict[str, Any]]:
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list) or not inputs:
        raise SalesforceError(
            "INVALID_INPUT", 'The request body must be {"inputs": [ ... ]} with at least one input.'
        )
    if len(inputs) > MAX_INPUTS:
        raise SalesforceError(
            "LIMIT_EXCEEDED", f"At most {MAX_INPUTS} inputs can be sent in one request."
        )
    return [_run_one(action, user, values) for values in inputs]
