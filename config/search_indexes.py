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

The names are matched without their accents (``config.lookups.Unaccented``), so since
``catalog 0007`` their trigram indexes are on ``UPPER(tonight_unaccent(column))``: the
wrapper is ``IMMUTABLE``, as an index's expression must be, where ``unaccent()`` itself
is only ``STABLE``.
"""

from __future__ import annotations

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.operations import TrigramExtension, UnaccentExtension
from django.db import migrations, models, router
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState
from django.db.models.functions import Upper

from config.lookups import UNACCENTED_FUNCTION, Unaccented


def trigram_index(field: str, name: str) -> GinIndex:
    """A trigram index on ``UPPER(field)``: what ``icontains`` and ``istartswith`` match."""
    return GinIndex(OpClass(Upper(field), name="gin_trgm_ops"), name=name)


def unaccented_trigram_index(field: str, name: str) -> GinIndex:
    """A trigram index on ``UPPER(tonight_unaccent(field))``: what ``unaccented__icontains``
    matches."""
    return GinIndex(OpClass(Upper(Unaccented(field)), name="gin_trgm_ops"), name=name)


def unaccented_prefix_index(field: str, name: str) -> models.Index:
    """A B-tree on ``UPPER(tonight_unaccent(field))`` in ``text_pattern_ops`` order: what
    ``unaccented__istartswith`` matches (``LIKE 'LA%'``, a range of the index), for a term
    too short for the trigram index, whatever the database's collation."""
    return models.Index(OpClass(Upper(Unaccented(field)), name="text_pattern_ops"), name=name)


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


class KeepUnaccentExtension(UnaccentExtension):
    """``CREATE EXTENSION unaccent`` on PostgreSQL, left installed when migrated back,
    as :class:`KeepTrigramExtension` is."""

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        pass


class CreateUnaccentedFunction(Operation):
    """``tonight_unaccent(text)``, ``unaccent`` declared ``IMMUTABLE``, on PostgreSQL only.

    Immutable is a promise that the ``unaccent`` dictionary's rules do not change while
    indexes hold its output: after editing its rules file, ``REINDEX`` the
    ``*_search`` indexes. The body is SQL-standard (``RETURN``), bound to the extension's
    function and dictionary when created, so neither is looked up on the ``search_path``
    of whoever runs it later (a restore, and from PostgreSQL 17 ``VACUUM`` and
    ``ANALYZE``, run it with a ``search_path`` of their own).
    """

    reversible = True

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        pass

    def _applies(self, app_label: str, schema_editor: BaseDatabaseSchemaEditor) -> bool:
        connection = schema_editor.connection
        return connection.vendor == "postgresql" and router.allow_migrate(
            connection.alias, app_label
        )

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if self._applies(app_label, schema_editor):
            schema_editor.execute(
                f"CREATE OR REPLACE FUNCTION {UNACCENTED_FUNCTION}(text) RETURNS text "
                "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE "
                "RETURN unaccent('unaccent'::regdictionary, $1)"
            )

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if self._applies(app_label, schema_editor):
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {UNACCENTED_FUNCTION}(text)")

    def describe(self) -> str:
        return f"Create function {UNACCENTED_FUNCTION}(text) (PostgreSQL only)"


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
        self._drop(schema_editor, from_state.apps.get_model(app_label, self.model_name))

    def _drop(self, schema_editor: BaseDatabaseSchemaEditor, model: type[models.Model]) -> None:
        """``DROP INDEX IF EXISTS``, ``CONCURRENTLY`` in a migration outside a transaction
        (``atomic = False``): a plain drop takes its table's exclusive lock, and queued
        behind a transaction holding the table (a signal import, a retrain) it would hold
        up every read of the table (every request reads its profile) until that one ended.
        """
        if self._applies(schema_editor, model):
            name = schema_editor.quote_name(self.index.name)
            concurrently = "" if schema_editor.atomic_migration else " CONCURRENTLY"
            schema_editor.execute(f"DROP INDEX{concurrently} IF EXISTS {name}")

    def describe(self) -> str:
        return f"{super().describe()} (PostgreSQL only, not in the model's state)"


class RemovePostgresSearchIndex(AddPostgresSearchIndex):
    """:class:`AddPostgresSearchIndex` the other way round: an index another replaces,
    dropped (``IF EXISTS``; ``CONCURRENTLY`` outside a transaction, as ``_drop`` says),
    and built again when migrated back.
    """

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        self._drop(schema_editor, from_state.apps.get_model(app_label, self.model_name))

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        super().database_forwards(app_label, schema_editor, to_state, from_state)

    def describe(self) -> str:
        return (
            f"Remove index {self.index.name} on {self.model_name} "
            "(PostgreSQL only, not in the model's state)"
        )
