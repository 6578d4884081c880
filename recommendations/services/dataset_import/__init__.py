"""Importing a public-style data set: its catalogue (items) and its interactions.

The MovieLens layout is the default: ``movies.csv`` (``movieId,title,genres``,
genres separated by ``|``) and ``ratings.csv`` (``userId,movieId,rating,
timestamp``, unix seconds). Any other delimited layout works through
:class:`Layout` and the column names (the management commands' options).
Interactions are explicit ratings (:func:`rating_signals`) or implicit weights
such as play counts or minutes watched (:func:`weight_signals`).

Every import has two phases. The whole file is read and checked first, in
memory, with no query per row; if any line is bad nothing is written and
:class:`DatasetImportError` lists the first bad lines as ``path:LINE: reason``.
Only then is everything written, in batches, in one transaction, so a failure
half-way (a lost connection, a full disk) leaves nothing behind either. A dry
run does all of it and rolls the transaction back: it reports exactly what a
real run would store, database checks included, and keeps nothing.

Source ids stay on the rows they became (``Title.external_id`` is the item
id, ``Profile.external_id`` the user id), so results can be joined back to
the data set. Imports write directly, like seed data: the signals API's
horizon, availability and maturity checks are for live clients, not history.

The package's modules, in the order an import meets them:

- :mod:`.files`: what can be read as a file (plain or gzip; no pipe, no archive), and
  :mod:`.text_encodings`: its encoding checked before a row is read.
- :mod:`.tables`: the file read as a delimited table, with line numbers, and
  :mod:`.checks`: what makes a field bad and how bad lines are listed
  (:mod:`.exceptions`: the one error an import raises for them).
- :mod:`.catalogue`: the catalogue's import, whole.
- :mod:`.ratings`: an interactions file read and checked; :mod:`.signal_plans`: what a
  rating or a weight stands for; :mod:`.households`: the users' profiles;
  :mod:`.signal_store`: the signals and states written chunk by chunk; and
  :mod:`.interactions`: the interactions' import, whole.
- :mod:`.progress`: the phases' reporters; :mod:`.whereabouts`: how far an import got,
  its one transaction, and what an interruption says was kept.

Imports, one rule: code outside the package imports from the package
(``from recommendations.services.dataset_import import catalogue_import``), which
re-exports every public name, so that the modules stay free to move. A name a module
keeps private (leading underscore) is imported from that module, by its sibling
modules and by the tests that reach it; a test patches a name in the module that looks
it up. The modules import each other by their full names, never through this
``__init__``.
"""

from recommendations.services.dataset_import.catalogue import (
    EARLIEST_YEAR,
    NO_GENRES,
    CatalogueColumns,
    CatalogueImportResult,
    catalogue_import,
    title_name_and_year,
)
from recommendations.services.dataset_import.checks import MAX_REPORTED_LINES, NUL
from recommendations.services.dataset_import.exceptions import DatasetImportError
from recommendations.services.dataset_import.files import STANDARD_INPUT
from recommendations.services.dataset_import.households import (
    HOUSEHOLD_PREFIX,
    PROFILE_NAME_MAX_LENGTH,
)
from recommendations.services.dataset_import.interactions import (
    InteractionImportResult,
    interactions_import,
)
from recommendations.services.dataset_import.progress import (
    Advance,
    Progress,
    silent_progress,
    terminal_progress,
)
from recommendations.services.dataset_import.ratings import (
    EARLIEST_SECONDS,
    MILLISECONDS_FROM,
    InteractionColumns,
)
from recommendations.services.dataset_import.signal_plans import (
    IMPORT_EVENT_NAMESPACE,
    LIKED_FROM,
    WATCHED_SOME_FROM,
    SignalPlan,
    import_event_id,
    rating_signals,
    weight_signals,
)
from recommendations.services.dataset_import.signal_store import CHUNK_ROWS, NULL
from recommendations.services.dataset_import.tables import (
    PROGRESS_EVERY,
    Layout,
    layout_from_options,
)
from recommendations.services.dataset_import.whereabouts import (
    BATCH_SIZE,
    IMPORT_LOCK_KEY,
    ImportInterrupted,
    ImportWhereabouts,
)

__all__ = [
    "BATCH_SIZE",
    "CHUNK_ROWS",
    "EARLIEST_SECONDS",
    "EARLIEST_YEAR",
    "HOUSEHOLD_PREFIX",
    "IMPORT_EVENT_NAMESPACE",
    "IMPORT_LOCK_KEY",
    "LIKED_FROM",
    "MAX_REPORTED_LINES",
    "MILLISECONDS_FROM",
    "NO_GENRES",
    "NUL",
    "NULL",
    "PROFILE_NAME_MAX_LENGTH",
    "PROGRESS_EVERY",
    "STANDARD_INPUT",
    "WATCHED_SOME_FROM",
    "Advance",
    "CatalogueColumns",
    "CatalogueImportResult",
    "DatasetImportError",
    "ImportInterrupted",
    "ImportWhereabouts",
    "InteractionColumns",
    "InteractionImportResult",
    "Layout",
    "Progress",
    "SignalPlan",
    "catalogue_import",
    "import_event_id",
    "interactions_import",
    "layout_from_options",
    "rating_signals",
    "silent_progress",
    "terminal_progress",
    "title_name_and_year",
    "weight_signals",
]
