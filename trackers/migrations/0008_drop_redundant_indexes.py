"""Drop three one-column indexes that another index's leading column covers.

Only the indexes go (``DROP INDEX``): Django's own operation for ``db_index=False`` on a
foreign key rebuilds both tables on SQLite (copying every row and losing their ANALYZE
statistics) and drops and re-checks the foreign keys on PostgreSQL. The indexes are
found by their one column, as their names differ by database (PostgreSQL's are cut to
63 characters, and it has a second, ``varchar_pattern_ops`` index for the text column).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# (model, field, column): each field's own index.
REDUNDANT = [
    # tracker_owner_state (owner_user_id, state) leads with it.
    ("actioncadencetracker", "owner_user", "owner_user_id"),
    # changeevent_tracker (tracker_id, replay_id) leads with it.
    ("actioncadencetrackerchangeevent", "tracker", "tracker_id"),
    # changeevent_sequence_unique (transaction_key, sequence_number) leads with it.
    ("actioncadencetrackerchangeevent", "transaction_key", "transaction_key"),
]


def drop_indexes(apps, schema_editor):
    connection = schema_editor.connection
    for model_name, _, column in REDUNDANT:
        table = apps.get_model("trackers", model_name)._meta.db_table
        with connection.cursor() as cursor:
            constraints = connection.introspection.get_constraints(cursor, table)
        for name, details in constraints.items():
            if (
                details["index"]
                and not details["unique"]
                and not details["primary_key"]
                and details["columns"] == [column]
            ):
                schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(name)}")


def create_indexes(apps, schema_editor):
    for model_name, field_name, _ in REDUNDANT:
        model = apps.get_model("trackers", model_name)
        field = model._meta.get_field(field_name)
        schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))
        like = getattr(schema_editor, "_create_like_index_sql", None)
        statement = like(model, field) if like is not None else None
        if statement is not None:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("trackers", "0007_live_cadence_state_in_list_order"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
            state_operations=[
                migrations.AlterField(
                    model_name="actioncadencetracker",
                    name="owner_user",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="owned_trackers",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="OwnerId (User)",
                    ),
                ),
                migrations.AlterField(
                    model_name="actioncadencetrackerchangeevent",
                    name="tracker",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="change_events",
                        to="trackers.actioncadencetracker",
                    ),
                ),
                migrations.AlterField(
                    model_name="actioncadencetrackerchangeevent",
                    name="transaction_key",
                    field=models.CharField(max_length=36),
                ),
            ],
        )
    ]
