"""Importing a catalogue: a title per row keyed by its item id, its genres filed by slug,
and an open licence window in each region where it has none.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from django.db.models import F
from django.utils import timezone

from catalog.models import Language, MaturityLevel, Title
from catalog.services import (
    EXTERNAL_ID_MAX_LENGTH,
    GENRE_NAME_MAX_LENGTH,
    TITLE_NAME_MAX_LENGTH,
    TitleRecord,
    catalogue_changed,
    genre_slug,
    titles_import,
)
from config.lookups import AnyOf
from recommendations.services.dataset_import.checks import (
    NUL,
    _BadLines,
    _nul_in,
    _quoted,
    _region_codes,
    _source_id,
)
from recommendations.services.dataset_import.exceptions import DatasetImportError
from recommendations.services.dataset_import.files import _file_path
from recommendations.services.dataset_import.progress import Progress, silent_progress
from recommendations.services.dataset_import.tables import (
    Layout,
    _data_lines,
    _fields_fitted,
    _LineProgress,
    _open_table,
    _unterminated_warning,
)
from recommendations.services.dataset_import.whereabouts import BATCH_SIZE, ImportWhereabouts
from regions.models import Availability

NO_GENRES = "(no genres listed)"  # MovieLens's marker for an empty genre list
_YEAR_SUFFIX = re.compile(r"^(?P<name>.*?)\s*\((?P<year>\d{4})(?:\s*[-\u2013]\s*\d{0,4})?\)\s*$")
EARLIEST_YEAR = 1870
# Line breaks and tabs (with the spaces around them) inside a name; a plain or no-break
# space is the name's own.
_NAME_BREAK = re.compile(r" *[\t\n\v\f\r\x1c-\x1e\x85\u2028\u2029]+[ \t\n\v\f\r]*")


@dataclass(frozen=True)
class CatalogueColumns:
    item: str = "movieId"
    title: str = "title"
    genres: str = "genres"  # "" when the file has no genres column (stored genres are kept)
    genre_separator: str = "|"


@dataclass(frozen=True)
class CatalogueImportResult:
    rows: int
    created: int
    updated: int
    unchanged: int
    genres_created: int
    windows_created: int
    regions: tuple[str, ...]
    dry_run: bool
    # path:LINE: ... when no line break ends the file (cut short?), else ""
    unterminated: str = ""


def title_name_and_year(text: str) -> tuple[str, int | None]:
    """Split MovieLens's "Heat (1995)" into ("Heat", 1995); a name without a year stays whole.

    A line break or tab inside the name (a spreadsheet cell's, quoted over two lines
    of the file) becomes a space: kept, it was stored in the name, which no admin
    form can write, and it hid the year, dating the title 1900.
    """
    text = _NAME_BREAK.sub(" ", text).strip()
    match = _YEAR_SUFFIX.match(text)
    if match and match["name"]:
        year = int(match["year"])
        if EARLIEST_YEAR <= year <= timezone.now().year + 10:
            return match["name"], year
    return text, None


def _read_catalogue(
    path: Path,
    *,
    layout: Layout,
    columns: CatalogueColumns,
    progress: Progress,
    where: ImportWhereabouts | None = None,
) -> list[TitleRecord]:
    bad = _BadLines(path)
    records: list[TitleRecord] = []
    seen: dict[str, int] = {}
    wanted = [("--id-column", columns.item), ("--title-column", columns.title)]
    if columns.genres:
        wanted.append(("--genres-column", columns.genres))
    total = _data_lines(path, layout)
    with (
        _open_table(path, layout=layout, columns=wanted) as table,
        progress(f"Reading {path.name}", total) as advance,
    ):
        bar = _LineProgress(advance, total=total, first=1 + layout.header, where=where)
        item_at, title_at, *genres_at = table.indexes
        for line, fields in table.rows:
            bar.at(line)
            if len(fields) != table.width:
                fields = _fields_fitted(fields, table)
                if len(fields) != table.width:
                    bad.add(line, f"expected {table.width} fields, found {len(fields)}")
                    continue
            problems = []
            external_id = _source_id(fields[item_at].strip())
            if NUL in external_id:
                problems.append(_nul_in(columns.item))
            elif not external_id:
                problems.append(f"empty {columns.item}")
            elif len(external_id) > EXTERNAL_ID_MAX_LENGTH:
                problems.append(
                    f"{columns.item} is longer than {EXTERNAL_ID_MAX_LENGTH} characters"
                )
            elif external_id in seen:
                problems.append(
                    f"{columns.item} '{external_id}' is already on line {seen[external_id]}"
                )
            else:
                seen[external_id] = line
            name, year = title_name_and_year(fields[title_at])
            if NUL in fields[title_at]:
                problems.append(_nul_in(columns.title))
            elif not name:
                problems.append(f"empty {columns.title}")
            elif len(name) > TITLE_NAME_MAX_LENGTH:
                problems.append(
                    f"{columns.title} is longer than {TITLE_NAME_MAX_LENGTH} characters"
                )
            genres: list[str] = []
            raw_genres = fields[genres_at[0]].strip() if genres_at else ""
            if NUL in raw_genres:
                problems.append(_nul_in(columns.genres))
            elif raw_genres and raw_genres != NO_GENRES:
                for genre in raw_genres.split(columns.genre_separator):
                    genre = genre.strip()
                    if not genre or genre in genres:
                        continue
                    if len(genre) > GENRE_NAME_MAX_LENGTH:
                        problems.append(
                            f"genre '{genre[:20]}...' is longer than {GENRE_NAME_MAX_LENGTH} "
                            "characters"
                        )
                    elif not genre_slug(genre):
                        problems.append(f"genre '{genre}' has no letters or digits to file it by")
                    genres.append(genre)
            if problems:
                bad.add(line, "; ".join(problems))
                continue
            # Without a genres column, or with the row's field naming no genre (empty, or
            # separators alone: "|"), the file does not know them: None keeps stored genres.
            # Only NO_GENRES says "none" and clears them.
            known = bool(genres_at) and (bool(genres) or raw_genres == NO_GENRES)
            records.append(TitleRecord(external_id, name, year, tuple(genres) if known else None))
        bar.finish()
    bad.raise_if_any()
    return records


def _open_windows_ensure(
    *, title_ids: list[int], regions: Sequence[str], progress: Progress = silent_progress
) -> int:
    """Give every title an open licence window in each region where it has no window at all.

    A title that has any window in a region keeps exactly the windows it has
    there: an open window next to a licence staff set to start next month, or
    one that has ended, would make the title live now, which is what staff's
    window says it must not be. A data set knows nothing of licences.

    That holds for a window staff are saving while the import runs, too: the
    titles about to get one are locked first, as every window's save in admin locks its
    title (``regions.services.title_windows_lock``), so a save under way is waited for and its
    window read, and one that comes after waits for the import. Without the lock,
    a window committed after the read got an open one beside it. Only those
    titles: a re-run, where every title has its windows, locks none. The windows are
    written under a bar of their own (a minute at 87,000 titles).
    """
    if not regions or not title_ids:
        return 0
    missing = _titles_without_window(title_ids, regions)
    if not missing:
        with progress("Opening licence windows", 0):
            return 0
    # FOR NO KEY UPDATE: ingest's inserts of states and signals naming these titles
    # (a foreign key's KEY SHARE) go on; a window's save waits.
    list(
        Title.objects.filter(AnyOf(F("pk"), sorted(missing)))
        .order_by("pk")
        .select_for_update(no_key=True)
        .values_list("pk", flat=True)
    )
    missing = _titles_without_window(sorted(missing), regions)
    new = [
        Availability(title_id=title_id, region_id=region)
        for title_id, regions_left in missing.items()
        for region in regions_left
    ]
    with progress("Opening licence windows", len(new)) as advance:
        for start in range(0, len(new), BATCH_SIZE):
            batch = new[start : start + BATCH_SIZE]
            Availability.objects.bulk_create(batch)
            advance(len(batch))
    if new:
        catalogue_changed()  # bulk writes send no model signals
    return len(new)


def _titles_without_window(title_ids: list[int], regions: Sequence[str]) -> dict[int, list[str]]:
    """Each of ``title_ids`` that has no window in some of ``regions``: those regions."""
    have = set(
        Availability.objects.filter(
            AnyOf(F("title_id"), title_ids), AnyOf(F("region_id"), regions)
        ).values_list("title_id", "region_id")
    )
    missing: dict[int, list[str]] = {}
    for title_id in title_ids:
        left = [region for region in regions if (title_id, region) not in have]
        if left:
            missing[title_id] = left
    return missing


def catalogue_import(
    *,
    path: Path | str,
    layout: Layout = Layout(),
    columns: CatalogueColumns = CatalogueColumns(),
    language: str = "en",
    regions: Sequence[str] = (),
    maturity: int = MaturityLevel.EIGHTEEN,
    dry_run: bool = False,
    progress: Progress = silent_progress,
) -> CatalogueImportResult:
    """Create or update a title per row, keyed by the item id (kept as ``external_id``).

    Genres are filed by slug and created as needed; a "Name (1995)" title gives
    the release year; titles are films in ``language``, available in each of
    ``regions`` through an open window unless they already have a window there
    (staff's licence dates stand). Re-running updates, never duplicates.
    """
    path = _file_path(path)
    if not columns.genre_separator:  # str.split("") raises ValueError on the first row
        raise DatasetImportError(
            "Cannot split genres on an empty --genre-separator; give one like '|' "
            "(or --genres-column '' for a file without genres)."
        )
    if not Language.objects.filter(code=language).exists():
        # Not seed_demo, which this once suggested: on a real database it would plant the
        # demo's households and history beside the imported ones.
        known = _quoted(Language.objects.order_by("code").values_list("code", flat=True))
        raise DatasetImportError(
            f"No language '{language}' (known languages: {known or 'none'}); add it in admin "
            "(Catalog, Languages) first, or name a known one with --language."
        )
    region_codes = _region_codes(regions)
    where = ImportWhereabouts(path)
    progress = where.tracking(progress)
    with where.interruptible(dry_run=dry_run):
        records = _read_catalogue(
            path, layout=layout, columns=columns, progress=progress, where=where
        )
        # A second import of the file meanwhile waits for the lock, then finds the first
        # one's titles and genres stored, rather than inserting them again into unique keys.
        with where.storing(dry_run=dry_run):
            result = titles_import(
                records=records,
                language_code=language,
                maturity=maturity,
                batch_size=BATCH_SIZE,
                progress=progress,
            )
            windows = _open_windows_ensure(
                title_ids=list(result.title_ids.values()), regions=region_codes, progress=progress
            )
        unterminated = _unterminated_warning(path)
        return CatalogueImportResult(
            rows=len(records),
            created=result.created,
            updated=result.updated,
            unchanged=result.unchanged,
            genres_created=result.genres_created,
            windows_created=windows,
            regions=tuple(region_codes),
            dry_run=dry_run,
            unterminated=unterminated,
        )
