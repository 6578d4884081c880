"""The count behind "lock again" (``DELETE /profiles/{id}/unlock/``).

A constant default is stored in the catalog (PostgreSQL 11+): adding the column
rewrites nothing. An integer without a CHECK (not a PositiveIntegerField), so
no pass over the rows validates one. The default stays in the database for the
release still serving while this runs, whose inserts do not name the column.

The ``ALTER TABLE`` needs the table's exclusive lock for a moment, and every
request of the API reads a profile with its token. Queued behind a transaction
that holds the table (a signal import or a retrain moving profiles between
clusters locks profile rows), it would hold every homepage up for as long as
that transaction runs. So the lock is asked for with a short ``lock_timeout``,
a few times, and the migration fails, naming the reason, rather than wait (as
the signal log's indexes do: :mod:`config.migration_locks`).
"""

from django.db import migrations, models

from config.migration_locks import run_giving_way


class AddFieldGivingWay(migrations.AddField):
    """``AddField`` that gives up waiting for the table's lock on PostgreSQL, and says why."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        run_giving_way(
            schema_editor,
            lambda: super(AddFieldGivingWay, self).database_forwards(
                app_label, schema_editor, from_state, to_state
            ),
            locked="profiles_profile",
            holder=(
                "another transaction, most likely a signal import or a retrain moving "
                "profiles between clusters"
            ),
            held_up="every request that reads a profile",
        )


class Migration(migrations.Migration):
    dependencies = [
        ("profiles", "0002_search_indexes"),
    ]

    operations = [
        AddFieldGivingWay(
            model_name="profile",
            name="unlock_generation",
            field=models.IntegerField(
                db_default=0,
                default=0,
                editable=False,
                help_text=(
                    "Counts the times the profile was locked again: an unlock token names the "
                    "count it was issued under, so raising it ends every outstanding one "
                    "(profiles.unlock)."
                ),
            ),
        ),
    ]
