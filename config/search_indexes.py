"""The admin searches' indexes: PostgreSQL's alone, and kept out of the models' state.

An admin search matches ``UPPER(column::text) LIKE UPPER('%term%')`` (and
``= UPPER('id')`` for an exact id), which no B-tree on the column answers. A
trigram GIN index on that very expression does (``pg_trgm``), and a B-tree on
``UPPER(column)`` answers the exact ids. Neither exists on the demo's SQLite
(no GIN, no operator classes; its ``LIKE`` is a scan whatever the indexes), so
the migrations add them on PostgreSQL only. They stay out of the models' state
too: SQLite rebuilds a table with every index the state lists whenever a column
of it changes, and would try to build these. ``makemigrations`` therefore never
sees them; ``manage.py sqlmigrate`` prints them.
"""

from __future__ import annotations

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import ProjectState
from django.db.models.functions import Upper


def trigram_index(field: str, name: str) -> GinIndex:
    """A trigram index on ``UPPER(field)``: what ``icontains`` and ``istartswith`` match."""
    return GinIndex(OpClass(Upper(field), name="gin_trgm_ops"), name=name)


def upper_index(field: str, name: str) -> models.Index:
    """A B-tree on ``UPPER(field)``: what an exact (``=``) search field matches."""
    return models.Index(Upper(field), name=name)


class KeepTrigramExtension(TrigramExtension):
    """``CREATE EXTENSION pg_trgm`` on PostgreSQL, left installed when migrated back.

    Django's own operation drops it going back, on any database: SQLite has no
    ``pg_extension`` and failed there, and on PostgreSQL it may be the operator's
    (created beforehand) or serve other indexes. An installed extension costs nothing.
    """

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        pass


class AddPostgresSearchIndex(migrations.AddIndex):
    """``AddIndex`` on PostgreSQL only, leaving the model's state as it was.

    ``IF NOT EXISTS``: an index an operator built beforehand (``CREATE INDEX
    CONCURRENTLY``, README's deployment notes) is kept, and the migration goes on.
    """

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        pass

    def _applies(self, schema_editor: BaseDatabaseSchemaEditor, model: type[models.Model]) -> bool:
        """PostgreSQL only, and only where the router lets the model's table be migrated."""
        return schema_editor.connection.vendor == "postgresql" and self.allow_migrate_model(
            schema_editor.connection.alias, model
        )

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self._applies(schema_editor, model):
            return
        sql = str(self.index.create_sql(model, schema_editor))
        schema_editor.execute(sql.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1), None)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        model = from_state.apps.get_model(app_label, self.model_name)
        if self._applies(schema_editor, model):
            name = schema_editor.quote_name(self.index.name)
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")

    def describe(self) -> str:
        return f"{super().describe()} (PostgreSQL only, not in the model's state)"
