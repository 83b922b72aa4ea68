"""Any change to who-belongs-where re-derives the Rule share rows.

Roles, groups and memberships are edited from the admin and the API; hooking
their saves here means no path can forget. Recalculation is idempotent, runs
in the same transaction when small and is queued for a worker when large.
"""

from django.db.models.signals import post_delete, post_save

from sharing.models import Group, GroupMember, User, UserRole


def _recalculate(sender, raw: bool = False, update_fields=None, **kwargs) -> None:
    from sharing.models import Organization
    from sharing.services import schedule_recalculation

    if raw:  # loading fixtures
        return
    # Logging in saves last_login only; only role and activity move a user between groups.
    if (
        sender is User
        and update_fields is not None
        and not {"role", "is_active"} & set(update_fields)
    ):
        return
    Organization.bump_sharing_version()
    schedule_recalculation()


for model in (Group, GroupMember, UserRole, User):
    post_save.connect(_recalculate, sender=model, dispatch_uid=f"recalc-save-{model.__name__}")
    post_delete.connect(_recalculate, sender=model, dispatch_uid=f"recalc-delete-{model.__name__}")
