"""State changes for the catalogue: bulk upserts of titles that come from a data set or feed."""

import datetime as dt
import functools
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Now
from django.utils.text import slugify

from config.fields import is_slug_character
from config.lookups import AnyOf

from .models import CatalogueRevision, Genre, MaturityLevel, Title, TitleLocalization

GENRE_SLUG_MAX_LENGTH = Genre._meta.get_field("slug").max_length
GENRE_NAME_MAX_LENGTH = Genre._meta.get_field("name").max_length
TITLE_NAME_MAX_LENGTH = Title._meta.get_field("original_name").max_length
EXTERNAL_ID_MAX_LENGTH = Title._meta.get_field("external_id").max_length
# A release date is required; a title whose year the source does not give is dated
# far in the past, so that it never poses as a new release.
UNKNOWN_RELEASE_DATE = dt.date(1900, 1, 1)
# Public rating data sets carry no runtimes; a typical feature length keeps the
# field's meaning ("how long is an evening with it") roughly right until staff fix it.
IMPORTED_RUNTIME_MINUTES = 100


@dataclass(frozen=True, slots=True)
class TitleRecord:
    """One title as a source describes it: its id there, name, year and genre names.

    ``genres`` is None when the source has no genres at all (a file without a
    genres column): that is not knowing them, unlike an empty tuple, which says
    the title has none.
    """

    external_id: str
    name: str
    release_year: int | None
    genres: tuple[str, ...] | None


@dataclass(frozen=True)
class TitleImportResult:
    title_ids: dict[str, int]  # external id -> title id, for every record
    created: int
    updated: int
    unchanged: int
    genres_created: int


@functools.lru_cache(maxsize=4096)  # a data set has a few dozen genres on every row
def genre_slug(name: str) -> str:
    """The slug a source's genre name is filed under ("Sci-Fi" -> "sci-fi"); "" if none.

    An ASCII slug first ("Comédie" -> "comedie"), so that every name filed before
    keeps its slug and re-imports find their genres; only a name with no ASCII
    slug at all (Korean "드라마", Cyrillic "Драма", Hindi "नाटक") is filed under its
    own script, with its combining marks: Django's Unicode slug drops them, which
    made "बाल" (children) and "बल" (strength) one genre.
    """
    slug = slugify(name) or _script_slug(name)
    return slug[:GENRE_SLUG_MAX_LENGTH].strip("-")


def _script_slug(name: str) -> str:
    """``slugify(name, allow_unicode=True)``, keeping letters' marks (config.fields)."""
    value = unicodedata.normalize("NFKC", name).lower()
    value = "".join(c if is_slug_character(c) or c.isspace() else "" for c in value)
    return re.sub(r"[-\s]+", "-", value).strip("-_")


def _slug_before_marks(name: str) -> str:
    """The slug a name with no ASCII slug was filed under before marks were kept."""
    return slugify(name, allow_unicode=True)[:GENRE_SLUG_MAX_LENGTH].strip("-")


def genres_ensure(*, names: Iterable[str]) -> tuple[dict[str, int], int]:
    """Map each genre name's slug to a genre id, creating the missing genres.

    Existing genres keep their names: staff may have renamed them. A genre filed
    before slugs kept marks ("नटक" for "नाटक") is found under that slug when its
    name is still the one the source gives, rather than created a second time.
    Such a genre may also sit on the slug another name is filed under now ("बाल",
    children, was filed as "बल", strength's slug): it moves to its own name's slug,
    so that the other name gets a genre of its own instead of joining it.
    Returns the map and how many genres were created.
    """
    wanted: dict[str, str] = {}
    for name in names:
        wanted.setdefault(genre_slug(name), name)
    ids: dict[str, int] = {}
    for slug, stored_name, pk in Genre.objects.filter(slug__in=list(wanted)).values_list(
        "slug", "name", "pk"
    ):
        own = genre_slug(stored_name)
        moved = (
            stored_name != wanted[slug]
            and own != slug
            and _slug_before_marks(stored_name) == slug
            and not Genre.objects.filter(slug=own).exists()
        )
        if moved:
            Genre.objects.filter(pk=pk).update(slug=own)
            if own in wanted:
                ids[own] = pk
        else:
            ids[slug] = pk
    before: dict[str, list[str]] = {}
    for slug, name in wanted.items():
        old = _slug_before_marks(name)
        if slug not in ids and old and old != slug:
            before.setdefault(old, []).append(slug)
    if before:
        filed = Genre.objects.filter(slug__in=list(before)).values_list("slug", "name", "pk")
        for old, stored_name, pk in filed:
            for slug in before[old]:
                if wanted[slug] == stored_name:
                    ids[slug] = pk
    missing = [Genre(slug=slug, name=name) for slug, name in wanted.items() if slug not in ids]
    for genre in Genre.objects.bulk_create(missing):
        ids[genre.slug] = genre.pk
    return ids, len(missing)


def catalogue_changed() -> None:
    """Tell serving processes that titles' facts changed, once the change is committed.

    Raised on commit, not inside the transaction: a process that saw the new
    revision before the change was visible would re-read the old facts and
    then keep them until its timer. Called by the model signal receivers
    (``catalog.receivers``) for every save and delete, and by bulk writes,
    which send no signals.

    One raise per transaction, however many rows it changed: a flush of the
    demo deletes tens of thousands of titles, seasons and episodes, and one
    raise per row meant as many single-row UPDATEs (each its own commit) after
    it, minutes at benchmark size. Every change still registers a hook, so a
    savepoint that rolls back takes only its own with it; the hooks share one
    raise, which the first of them to run makes and the others find done.
    """
    pending = getattr(_pending, "raise_", None)
    if pending is None or pending.done:
        pending = _pending.raise_ = _RevisionRaise()
    transaction.on_commit(pending)


_pending = threading.local()  # a thread's connections are its own


class _RevisionRaise:
    """The raise that one transaction's changes share."""

    def __init__(self) -> None:
        self.done = False

    def __call__(self) -> None:
        if not self.done:
            _revision_raise()
            self.done = True


def _revision_raise() -> None:
    raise_it = CatalogueRevision.objects.filter(pk=1)
    if raise_it.update(revision=F("revision") + 1, changed_at=Now()):
        return
    CatalogueRevision.objects.get_or_create(pk=1)  # the migration's row was deleted
    raise_it.update(revision=F("revision") + 1, changed_at=Now())


#: Opens a progress reporter for one phase of work (its name and total); the reporter is
#: given the count done since its last call. The import commands pass their bars.
PhaseProgress = Callable[[str, int], AbstractContextManager[Callable[[int], None]]]


@contextmanager
def _no_progress(desc: str, total: int) -> Iterator[Callable[[int], None]]:
    yield lambda n: None


@transaction.atomic
def titles_import(
    *,
    records: Sequence[TitleRecord],
    language_code: str,
    maturity: int = MaturityLevel.EIGHTEEN,
    batch_size: int = 2000,
    progress: PhaseProgress = _no_progress,
) -> TitleImportResult:
    """Create or update one title per record, keyed by ``external_id``; never duplicates.

    What the source says is brought up to date on every run: name, release year
    (when the source gives one) and the set of genres (when the source gives
    genres: ``None`` keeps a stored title's genres). What the source does not
    know is set only when a title is created and then left to staff: kind
    (film), original language, runtime and maturity. ``maturity`` defaults to
    18+ because a title nobody has rated must not reach kids' profiles.

    The names are in ``language_code``. A stored title whose original language
    is another one gets them as its localisation in that language: a second
    file of the same ids in Tamil must add the Tamil names, not replace the
    English originals (and the language) that serving falls back to.

    A fixed number of queries per ``batch_size`` titles, whatever the file size. The
    titles and their genre links are two phases of ``progress``: one bar over both stood
    at 100% while the links were written (18 s at 87,000 titles).
    """
    existing = {
        external_id: (pk, name, release_date, language)
        for pk, external_id, name, release_date, language in Title.objects.filter(
            AnyOf(F("external_id"), [r.external_id for r in records])
        ).values_list("pk", "external_id", "original_name", "release_date", "original_language_id")
    }

    to_create: list[Title] = []
    to_update: list[Title] = []
    changed: set[str] = set()
    translated: dict[int, tuple[str, str]] = {}  # title id -> (external id, name in the language)
    for record in records:
        release_date = (
            dt.date(record.release_year, 1, 1) if record.release_year else UNKNOWN_RELEASE_DATE
        )
        stored = existing.get(record.external_id)
        if stored is None:
            to_create.append(
                Title(
                    external_id=record.external_id,
                    kind=Title.Kind.FILM,
                    original_name=record.name,
                    original_language_id=language_code,
                    release_date=release_date,
                    runtime_minutes=IMPORTED_RUNTIME_MINUTES,
                    maturity=maturity,
                )
            )
            continue
        pk, name, stored_date, stored_language = stored
        if not record.release_year:
            release_date = stored_date  # the source does not know; keep what staff set
        new_name = record.name
        if stored_language != language_code:
            translated[pk] = record.external_id, record.name
            new_name = name  # a name in another language is not the original's
        if (name, stored_date) != (new_name, release_date):
            changed.add(record.external_id)
            to_update.append(Title(pk=pk, original_name=new_name, release_date=release_date))

    title_ids = {external_id: stored[0] for external_id, stored in existing.items()}
    with progress("Storing titles", len(records)) as advance:
        for start in range(0, len(to_create), batch_size):
            batch = Title.objects.bulk_create(to_create[start : start + batch_size])
            title_ids.update((t.external_id, t.pk) for t in batch)
            advance(len(batch))
        # In id order, as every other writer locks titles (the windows' admin, the import's
        # windows): batches in file order could take two titles in the opposite order.
        to_update.sort(key=lambda title: title.pk)
        for start in range(0, len(to_update), batch_size):
            batch = to_update[start : start + batch_size]
            Title.objects.bulk_update(
                batch, ["original_name", "release_date"], batch_size=batch_size
            )
            advance(len(batch))
        changed |= _localizations_sync(
            names=translated, language_code=language_code, batch_size=batch_size
        )
        advance(len(records) - len(to_create) - len(to_update))

    # A stored title named in another language keeps its genres: the file's are that
    # language's names (a translated export), which would file it under new genres.
    in_translation = {external_id for external_id, _ in translated.values()}
    genred = [r for r in records if r.external_id not in in_translation]
    genre_ids, genres_created = genres_ensure(names=(g for r in genred for g in r.genres or ()))
    with progress("Linking genres", sum(r.genres is not None for r in genred)) as advance:
        regenred = _genre_links_sync(
            records=genred,
            title_ids=title_ids,
            genre_ids=genre_ids,
            batch_size=batch_size,
            advance=advance,
        )
    changed |= regenred & existing.keys()  # a new title's first genres are not an update
    if changed:  # bulk writes send no model signals
        catalogue_changed()
    return TitleImportResult(
        title_ids=title_ids,
        created=len(to_create),
        updated=len(changed),
        unchanged=len(existing) - len(changed),
        genres_created=genres_created,
    )


def _localizations_sync(
    *, names: dict[int, tuple[str, str]], language_code: str, batch_size: int
) -> set[str]:
    """Store each title's name in ``language_code``; return the external ids that changed.

    ``names`` maps title id to (external id, name). A localisation's synopsis,
    which a catalogue file does not carry, is kept as staff wrote it.
    """
    stored = {
        title_id: (pk, name)
        for pk, title_id, name in TitleLocalization.objects.filter(
            AnyOf(F("title_id"), list(names)), language_id=language_code
        ).values_list("pk", "title_id", "name")
    }
    new: list[TitleLocalization] = []
    renamed: list[TitleLocalization] = []
    changed: set[str] = set()
    for title_id, (external_id, name) in names.items():
        localization = stored.get(title_id)
        if localization is None:
            new.append(TitleLocalization(title_id=title_id, language_id=language_code, name=name))
        elif localization[1] != name:
            renamed.append(TitleLocalization(pk=localization[0], name=name))
        else:
            continue
        changed.add(external_id)
    TitleLocalization.objects.bulk_create(new, batch_size=batch_size)
    TitleLocalization.objects.bulk_update(renamed, ["name"], batch_size=batch_size)
    return changed


def _genre_links_sync(
    *,
    records: Sequence[TitleRecord],
    title_ids: dict[str, int],
    genre_ids: dict[str, int],
    batch_size: int,
    advance: Callable[[int], None],
) -> set[str]:
    """Make each title's genres exactly the record's; return the external ids that changed.

    Records without genres (``None``) are left out: a source that does not know
    a title's genres must not wipe the ones staff or an earlier import set.
    ``advance`` is given the titles whose links are written, a batch of links at a time.
    """
    through = Title.genres.through
    wanted = {
        title_ids[r.external_id]: {genre_ids[genre_slug(g)] for g in r.genres}
        for r in records
        if r.genres is not None
    }
    stored: dict[int, dict[int, int]] = {}
    for link_id, title_id, genre_id in through.objects.filter(
        AnyOf(F("title_id"), list(wanted))
    ).values_list("pk", "title_id", "genre_id"):
        stored.setdefault(title_id, {})[genre_id] = link_id

    external_ids = {pk: external_id for external_id, pk in title_ids.items()}
    stale: list[int] = []
    missing = []
    changed: set[str] = set()
    for title_id, genres in wanted.items():
        links = stored.get(title_id, {})
        gone = [link_id for genre_id, link_id in links.items() if genre_id not in genres]
        new = [genre_id for genre_id in genres if genre_id not in links]
        if gone or new:
            stale += gone
            missing += [through(title_id=title_id, genre_id=genre_id) for genre_id in new]
            changed.add(external_ids[title_id])
    if stale:
        through.objects.filter(AnyOf(F("pk"), stale)).delete()
    done = set()
    for start in range(0, len(missing), batch_size):
        batch = missing[start : start + batch_size]
        through.objects.bulk_create(batch)
        written = {link.title_id for link in batch} - done
        done |= written
        advance(len(written))
    advance(len(wanted) - len(done))  # those whose links were already as the file says
    return changed
