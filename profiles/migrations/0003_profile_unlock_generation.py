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
``recommendations.migration_support`` does for the signal log's indexes).
"""

import time

from django.db import OperationalError, migrations, models, transaction

#: How long each attempt may wait for the table's lock, queuing profile reads behind it.
LOCK_TIMEOUT_MS = 2000
ATTEMPTS = 5
PAUSE_SECONDS = 1.0
_LOCK_NOT_AVAILABLE = "55P03"


class AddFieldGivingWay(migrations.AddField):
    """``AddField`` that gives up waiting for the table's lock on PostgreSQL, and says why."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        connection = schema_editor.connection
        if connection.vendor != "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
            return
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with transaction.atomic(using=connection.alias):
                    schema_editor.execute(
                        "SELECT set_config('lock_timeout', %s, true)", [f"{LOCK_TIMEOUT_MS}ms"]
                    )
                    super().database_forwards(app_label, schema_editor, from_state, to_state)
                    schema_editor.execute("SET LOCAL lock_timeout TO DEFAULT")
                return
            except OperationalError as error:
                if getattr(error.__cause__, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
                    raise
                if attempt == ATTEMPTS:
                    raise OperationalError(
                        f"profiles_profile stayed locked ({ATTEMPTS} waits of "
                        f"{LOCK_TIMEOUT_MS} ms) by another transaction, most likely a signal "
                        "import or a retrain moving profiles between clusters; run the "
                        "migration again when it has finished. Waiting longer would hold up "
                        "every request that reads a profile behind this statement."
                    ) from error
                time.sleep(PAUSE_SECONDS)


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
