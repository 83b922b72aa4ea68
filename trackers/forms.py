"""Forms behind the admin's intermediate action pages.

They only collect what a lifecycle call needs; the lifecycle validates again
and stays the one place that decides whether a change is allowed.
"""

from __future__ import annotations

from django import forms
from django.contrib.admin.sites import AdminSite
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.contrib.auth import get_user_model

from trackers import lifecycle
from trackers.choices import CadenceState, CompletionDisposition
from trackers.models import ActionCadence, ActionCadenceTracker


class RemoveFromCadenceForm(forms.Form):
    """The CompletionDisposition a rep records when removing targets from their cadence."""

    # A select of the seed's values, validated by the lifecycle so its message is the one shown.
    disposition = forms.CharField(
        label="CompletionDisposition",
        widget=forms.Select(choices=[("", "(no disposition)"), *CompletionDisposition.choices]),
        required=False,
    )

    def clean_disposition(self) -> str | None:
        try:
            return lifecycle.validate_disposition(self.cleaned_data["disposition"])
        except lifecycle.LifecycleError as error:
            raise forms.ValidationError(error.message) from error


class AddToCadenceForm(forms.Form):
    """Which Active cadence the chosen leads or contacts join, and who works them."""

    cadence = forms.ModelChoiceField(
        label="ActionCadenceId",
        # Cadences are few, so a select is fine; only Active ones accept targets.
        queryset=ActionCadence.objects.filter(state=CadenceState.ACTIVE).order_by("name"),
        empty_label=None,
    )
    owner = forms.ModelChoiceField(
        label="OwnerId",
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
        help_text="Leave empty to own the new trackers yourself.",
    )

    def __init__(self, *args, admin_site: AdminSite, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Users can be many: a raw id input with the admin's lookup popup, never a full <select>.
        self.fields["owner"].widget = ForeignKeyRawIdWidget(
            ActionCadenceTracker._meta.get_field("owner_user").remote_field, admin_site
        )
