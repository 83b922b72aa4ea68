"""Forms behind the dashboard's actions.

They collect what a lifecycle or sharing call needs; those services validate
again and stay the one place that decides whether a change is allowed.
"""

from __future__ import annotations

from django import forms

from cadence_site import sfid
from sharing.models import AccessLevel, Group, User
from trackers.choices import BulkAction
from trackers.forms import RemoveFromCadenceForm
from trackers.models import ActionCadenceTracker


class PauseForm(forms.Form):
    resume_at = forms.DateTimeField(
        label="Resume automatically at (UTC)",
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )


class TrackerIdsField(forms.Field):
    """Tracker Ids from checkboxes, normalised to 18 characters; bad ones are refused."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        if not value:
            return []
        try:
            return list(
                dict.fromkeys(
                    sfid.normalize(item, ActionCadenceTracker.KEY_PREFIX) for item in value
                )
            )
        except sfid.InvalidId as error:
            raise forms.ValidationError(str(error)) from None


class BulkActionForm(RemoveFromCadenceForm):
    """Remove, pause or resume the selected trackers, or every tracker matching a filter."""

    SELECTED = "selected"
    FILTER = "filter"

    action = forms.ChoiceField(choices=BulkAction.choices)
    scope = forms.ChoiceField(
        choices=[(SELECTED, "The selected trackers"), (FILTER, "All trackers matching the filter")]
    )
    ids = TrackerIdsField(required=False)
    # The list's query string, so "all matching" means the filter the user was looking at.
    query = forms.CharField(required=False, widget=forms.HiddenInput)
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        if data.get("scope") == self.SELECTED and not data.get("ids"):
            raise forms.ValidationError("Select at least one tracker, or choose all matching.")
        if data.get("action") != BulkAction.REMOVE:
            data["disposition"] = None
        return data


class ShareForm(forms.Form):
    grantee = forms.CharField(
        label="User or public group",
        max_length=150,
        help_text="A username, or a group's DeveloperName.",
    )
    access_level = forms.ChoiceField(
        label="Access",
        choices=[(AccessLevel.READ.value, "Read Only"), (AccessLevel.EDIT.value, "Read/Write")],
    )

    def clean_grantee(self) -> User | Group:
        name = self.cleaned_data["grantee"].strip()
        user = User.objects.filter(username=name, is_active=True).first()
        if user is not None:
            return user
        group = Group.objects.filter(developer_name=name).exclude(type=Group.Type.QUEUE).first()
        if group is not None:
            return group
        raise forms.ValidationError(f"No active user or group named {name!r}.")


class AccessCheckForm(forms.Form):
    username = forms.CharField(label="Check another user", max_length=150)

    def clean_username(self) -> User:
        name = self.cleaned_data["username"].strip()
        user = User.objects.filter(username=name).select_related("role").first()
        if user is None:
            raise forms.ValidationError(f"No user named {name!r}.")
        return user
