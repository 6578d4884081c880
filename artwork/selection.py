"""Choosing every shown title's artwork on the request path, with the propensity of each choice.

For one page the arms of each title are its active variants within the
profile's maturity limit that are meant for the device class (or, when a
title has none for that device, its variants for any device within the
limit). A title with no such variant gets the neutral placeholder, so every
title always has artwork and a kids profile never gets a frame above its limit.

The context is the profile's genre taste (shares over genres, from its
history), the device class and the hour bucket; the bandit
(:class:`recommendations.engine.artwork_bandit.ArtworkBandit`) scores every
arm of every title in one vectorised call and returns the probability it
used for each choice, which the page log keeps.

Per process, this module holds the active variants as arrays and the newest
policy. One query every ``TONIGHT["ARTWORK_CHECK_SECONDS"]`` (default 1 s)
asks whether either changed (the newest variant ``updated_at`` and the newest
policy id) and which variants were stamped since ``CHANGE_LOOK_BACK`` before
the previous check (on the app's clock, which stamps them): a deactivated
variant leaves every web process's choices within that second, and a new
policy is picked up without a restart. The look-back is there because
``updated_at`` is stamped before the commit: a deactivation stamped before
another variant's edit but committed after it never raises the newest
``updated_at`` again, so the newest value alone would miss it until the full
reload. Deleting a variant outright is noticed at the next full reload
(``ARTWORK_RELOAD_SECONDS``); deactivation is the way to stop one at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection, connections
from django.utils import timezone

from recommendations.engine.artwork_bandit import ArtworkChoice, artwork_context
from recommendations.engine.ranking import DEVICE_CLASSES, hour_bucket

from .models import ArtworkPolicy, ArtworkTheme, ArtworkVariant
from .policy import PolicyParams, bandit_new, policy_read
from .renditions import rendition_urls

logger = logging.getLogger(__name__)

#: Full reload of the variant arrays at least this often (catches deleted variants).
ARTWORK_RELOAD_SECONDS = 300.0

#: How far before the previous check each check looks for changes. A change is stamped
#: (``updated_at``) inside its transaction, before it commits: one whose transaction lasts
#: less than this is found at the first check after its commit, even if a later-stamped
#: change committed first. Variant edits are single-statement transactions of
#: milliseconds; a longer one is caught by the full reload. Anchored on the previous
#: check's time, not the newest change, so a change drops out of the checks once that
#: much time has passed: anchored on the newest change, a bulk import (67,000 variants
#: stamped within seconds) was listed by every check until the next edit. The stamps come
#: from the app's clock (``auto_now``, ``timezone.now()``), and so does the anchor: taken
#: from the database's, an app behind it by more than this missed every change's listing
#: (a deactivation then kept serving until the full reload), and an app ahead of it kept a
#: change listed by every check for as long as the skew. App servers must agree with one
#: another, as every ``updated_at`` comparison assumes.
CHANGE_LOOK_BACK = dt.timedelta(seconds=10)


@dataclass(frozen=True)
class ArtworkArms:
    """Every active variant with an image, grouped by title.

    Attributes
    ----------
    titles : numpy.ndarray of int64, shape (n_titles,)
        Sorted ids of the titles that have at least one active variant.
    indptr : numpy.ndarray of int64, shape (n_titles + 1,)
        Variants of ``titles[t]`` are ``indptr[t]:indptr[t + 1]``, oldest first.
    variant : numpy.ndarray of int64, shape (n_arms,)
    maturity : numpy.ndarray of int16, shape (n_arms,)
    devices : numpy.ndarray of bool, shape (n_arms, len(DEVICE_CLASSES))
    themes : numpy.ndarray of bool, shape (n_arms, len(theme_slugs))
    theme_slugs : tuple of str
    images, labels : list of str, length n_arms
        Stored image names; their URLs are asked of storage once (:meth:`urls`), at
        warm-up and on background reloads (:meth:`fill_urls`), not on pages.
    widths : numpy.ndarray of int32, shape (n_arms,)
        The stored images' widths: whether a device class has a smaller copy.
    renditions : numpy.ndarray of bool, shape (n_arms,)
        The variant's ``renditions_made``: its copies per device class are stored, so
        each device class is sent its own (``artwork.renditions``), else the image.
    usable : numpy.ndarray of bool, shape (n_arms,)
        False for variants changed since these arrays were read (deactivated,
        re-rated, re-targeted): they leave the choices at once, and come back
        with their new attributes when the arrays are re-read.
    """

    titles: npt.NDArray[np.int64]
    indptr: npt.NDArray[np.int64]
    variant: npt.NDArray[np.int64]
    maturity: npt.NDArray[np.int16]
    devices: npt.NDArray[np.bool_]
    themes: npt.NDArray[np.bool_]
    theme_slugs: tuple[str, ...]
    images: list[str]
    labels: list[str]
    usable: npt.NDArray[np.bool_]
    widths: npt.NDArray[np.int32] | None = None
    renditions: npt.NDArray[np.bool_] | None = None
    #: Image URLs by arm, asked of storage on first use (None until then).
    _urls: npt.NDArray[np.object_] | None = field(default=None, repr=False, compare=False)
    #: The URL each device class is sent, (len(DEVICE_CLASSES), n_arms): its copy's, or the
    #: image's (the same string) where it has none. Rows are contiguous, so a page's URLs are
    #: one indexing of its device's row, as they were of ``_urls``.
    _device_urls: npt.NDArray[np.object_] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = len(self.images)
        if self.widths is None:
            object.__setattr__(self, "widths", np.zeros(n, dtype=np.int32))
        if self.renditions is None:
            object.__setattr__(self, "renditions", np.zeros(n, dtype=bool))
        if self._urls is None:
            object.__setattr__(self, "_urls", np.full(n, None, dtype=object))
        if self._device_urls is None:
            urls = np.full((len(DEVICE_CLASSES), n), None, dtype=object)
            object.__setattr__(self, "_device_urls", urls)

    def url(self, arm: int) -> str:
        """The arm's image URL, as stored (see :meth:`urls`)."""
        return self.urls(np.array([arm], dtype=np.intp))[0]

    def urls(self, arms: npt.NDArray[np.intp], device: int | None = None) -> list[str]:
        """The arms' URLs for ``device`` (an index of ``DEVICE_CLASSES``): its copies
        (``artwork.renditions``), or the images as stored (``device`` None, or an arm whose
        copies are not made yet, or no wider than the device class needs). Storage's
        ``url()`` can cost tens of microseconds (an object store may sign) and a page
        needs a few hundred of ~70,000, so each is asked once per loaded state and the
        page's are gathered in one indexing, of the device's row as of the images'."""
        row = self._urls if device is None else self._device_urls[device]
        found = row[arms]
        missing = np.flatnonzero(found == None)  # noqa: E711 - elementwise on an object array
        for i in missing.tolist():
            arm = int(arms[i])
            self._fill(arm)
            found[i] = row[arm]
        return found.tolist()

    def _fill(self, arm: int) -> None:
        """Ask for the arm's image URL, and set every device class's."""
        original = self._urls[arm]
        if original is None:
            original = self._urls[arm] = default_storage.url(self.images[arm])
        if not self.renditions[arm]:
            self._device_urls[:, arm] = original
            return
        served = rendition_urls(
            image=self.images[arm],
            width=int(self.widths[arm]),
            image_url=original,
            ask=default_storage.url,
        )
        for d, device in enumerate(DEVICE_CLASSES):
            self._device_urls[d, arm] = served[device]

    def reuse_urls(self, previous: ArtworkArms) -> None:
        """Take the URLs ``previous`` already asked of storage for the same images, with
        copies made or not as here (a variant whose copies were made since gets its own)."""
        known = {
            key: i
            for i, key in enumerate(zip(previous.images, previous.renditions.tolist(), strict=True))
        }
        source = np.array(
            [known.get(key, -1) for key in zip(self.images, self.renditions.tolist(), strict=True)],
            dtype=np.intp,
        ).reshape(-1)
        has = np.flatnonzero(source >= 0)
        self._urls[has] = previous._urls[source[has]]
        self._device_urls[:, has] = previous._device_urls[:, source[has]]

    def fill_urls(self) -> None:
        """Ask storage for every usable arm's URLs now (as stored, and per device class),
        off the request path (warm-up, background reloads), so no page waits on it."""
        usable = np.flatnonzero(self.usable)
        self.urls(usable)
        self.urls(usable, 0)  # an arm's every device class is set at once

    def without(self, variant_ids: npt.NDArray[np.int64]) -> ArtworkArms:
        """The same arrays with these variants unusable (the rest shared, not copied)."""
        usable = self.usable & ~np.isin(self.variant, variant_ids)
        return replace(self, usable=usable, _urls=self._urls, _device_urls=self._device_urls)


def artwork_arms_load() -> ArtworkArms:
    """The active variants as arrays: two queries (the variants; the themes and their tags)."""
    rows = list(
        ArtworkVariant.objects.filter(is_active=True)
        .exclude(image="")
        .order_by("title_id", "created_at", "pk")
        .values_list(
            "pk",
            "title_id",
            "maturity",
            "image",
            "label",
            "width",
            "renditions_made",
            "for_tv",
            "for_mobile",
            "for_tablet",
            "for_web",
        )
    )
    # Every theme with each variant it tags (none: NULL), in one statement, so the columns
    # and the tags are one snapshot: read apart, a theme created and given to a variant
    # between the two reads was a tag of no column (KeyError, a cold process's first page a
    # 500). Tags of variants not among ``rows`` (inactive, or activated since) are skipped.
    tags = list(ArtworkTheme.objects.order_by("slug").values_list("slug", "variants__id"))
    theme_slugs = tuple(dict.fromkeys(slug for slug, _ in tags))
    variant = np.array([r[0] for r in rows], dtype=np.int64)
    title = np.array([r[1] for r in rows], dtype=np.int64)
    titles, starts = np.unique(title, return_index=True)
    indptr = np.append(starts, title.shape[0]).astype(np.int64)
    themes = np.zeros((variant.shape[0], len(theme_slugs)), dtype=bool)
    column = {slug: c for c, slug in enumerate(theme_slugs)}
    order = np.argsort(variant)
    for slug, variant_id in tags:
        if variant_id is None or not variant.shape[0]:
            continue
        at = int(np.searchsorted(variant, variant_id, sorter=order))
        if at < variant.shape[0] and variant[order[at]] == variant_id:
            themes[order[at], column[slug]] = True
    return ArtworkArms(
        titles=titles.astype(np.int64),
        indptr=indptr,
        variant=variant,
        maturity=np.array([r[2] for r in rows], dtype=np.int16),
        devices=np.array([r[7:11] for r in rows], dtype=bool).reshape(-1, len(DEVICE_CLASSES)),
        themes=themes,
        theme_slugs=theme_slugs,
        images=[r[3] for r in rows],
        labels=[r[4] for r in rows],
        usable=np.ones(variant.shape[0], dtype=bool),
        widths=np.array([r[5] for r in rows], dtype=np.int32),
        renditions=np.array([r[6] for r in rows], dtype=bool),
    )


@dataclass(frozen=True)
class ArtworkState:
    """What one serving process decides with: the arms and the policy, on one theme basis."""

    arms: ArtworkArms
    policy: PolicyParams
    policy_id: int | None
    arm_themes: npt.NDArray[np.float32]  # (n_arms, len(policy.themes))


def project_themes(arms: ArtworkArms, policy: PolicyParams) -> npt.NDArray[np.float32]:
    projected = np.zeros((arms.variant.shape[0], len(policy.themes)), dtype=np.float32)
    column = {slug: c for c, slug in enumerate(arms.theme_slugs)}
    for c, slug in enumerate(policy.themes):
        if slug in column:
            projected[:, c] = arms.themes[:, column[slug]]
    return projected


def _prior_policy() -> PolicyParams:
    from catalog.models import Genre

    return bandit_new(
        genres=tuple(Genre.objects.order_by("slug").values_list("slug", flat=True)),
        themes=tuple(ArtworkTheme.objects.order_by("slug").values_list("slug", flat=True)),
    )


def _check_sql() -> str:
    quote = connection.ops.quote_name
    variants = quote(ArtworkVariant._meta.db_table)
    policies = quote(ArtworkPolicy._meta.db_table)
    # Only quoted identifiers are interpolated; the maxima and the range are index lookups.
    # The first row (id NULL) is the generation, the others the variants changed lately.
    return (
        f"SELECT NULL, (SELECT MAX(updated_at) FROM {variants}), "  # noqa: S608
        f"(SELECT MAX(id) FROM {policies}) "
        f"UNION ALL SELECT id, updated_at, NULL FROM {variants} WHERE updated_at > %s"
    )


class _ArtworkServing:
    """The process's :class:`ArtworkState`, kept current without making requests wait.

    Once a process has a state, a change found by the once-a-second check is
    handled in two steps: the variants the check found changed (deactivated
    ones above all; the check's one query lists them) are made unusable at
    once, and a background thread re-reads the arrays and the policy, swapped
    in with one assignment when ready. A change is handled once: the check
    remembers which (variant, ``updated_at``) of its look-back it has already
    dealt with, and one found while a re-read was under way stays unusable
    after the swap (the re-read may have missed its commit) until the next
    re-read. Only the first state of a process, and every check when
    ``ARTWORK_CHECK_SECONDS`` is 0 (tests), load on the request's thread.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: ArtworkState | None = None
        self._generation: tuple | None = None  # what the state's arrays and policy reflect
        self._checked_through: dt.datetime | None = None  # the previous check, app's clock
        # Changes within the look-back already made unusable or read into the arrays:
        # variant id -> (its updated_at, monotonic time the check that found it returned).
        self._handled: dict[int, tuple[dt.datetime, float]] = {}
        # Changes found since the start of a re-read that may not have seen them: variant
        # id -> monotonic time found. Unlike ``_handled``, kept past the look-back until a
        # re-read that began after they were found is installed.
        self._found: dict[int, float] = {}
        self._pending = False  # changes made unusable that no reload has read yet
        self._checked_at = 0.0
        self._loaded_at = 0.0
        self._reloading = False

    def clear(self) -> None:
        with self._lock:
            self._state = None
            self._generation = None
            self._checked_through = None
            self._handled = {}
            self._found = {}
            self._pending = False
            self._checked_at = 0.0

    def get(self) -> ArtworkState:
        now = time.monotonic()
        every = float(settings.TONIGHT.get("ARTWORK_CHECK_SECONDS", 1.0))
        state = self._state
        if state is not None and now - self._checked_at < every:
            return state
        anchor = self._checked_through
        generation, changes, checked = _check(None if anchor is None else anchor - CHANGE_LOOK_BACK)
        if anchor is None:  # first check: what is recent now is in what is about to be read
            generation, changes, checked = _check(checked - CHANGE_LOOK_BACK)
        found = time.monotonic()
        with self._lock:
            state = self._state
            fresh = self._note_changes(changes, found)
            self._checked_through = checked
            if fresh.shape[0]:
                self._pending = True
            stale = now - self._loaded_at > ARTWORK_RELOAD_SECONDS
            reload_arms = (
                state is None
                or stale
                or self._pending
                or self._generation is None
                or generation[0] != self._generation[0]
            )
            if state is None or every <= 0:
                if state is None or generation != self._generation or stale or self._pending:
                    started = time.monotonic()
                    self._pending = False
                    state = self._install(
                        _load(state, generation, reload_arms=reload_arms), generation, started
                    )
                self._checked_at = now
                return state
            if fresh.shape[0]:  # out of the choices now, back with their new rows on reload
                state = self._state = replace(state, arms=state.arms.without(fresh))
            if (generation != self._generation or stale or self._pending) and not self._reloading:
                self._reloading = True
                self._pending = False
                threading.Thread(
                    target=self._reload,
                    args=(state, generation, reload_arms),
                    name="artwork reload",
                    daemon=True,
                ).start()
            self._checked_at = now
        return state

    def _note_changes(self, changes: dict[int, dt.datetime], found: float) -> np.ndarray:
        """Ids among ``changes`` not handled yet; the handled set becomes the look-back's."""
        previous = self._handled
        fresh = {pk for pk, at in changes.items() if previous.get(pk, (None,))[0] != at}
        self._handled = {
            pk: (at, found if pk in fresh else previous[pk][1]) for pk, at in changes.items()
        }
        self._found.update(dict.fromkeys(fresh, found))
        return np.fromiter(fresh, dtype=np.int64, count=len(fresh))

    def _install(self, state: ArtworkState, generation: tuple, started: float) -> ArtworkState:
        # Changes found after the arrays began to be read may have committed after that
        # read: they stay unusable until the next one. Read from ``_found``, not from the
        # look-back's ``_handled``: a re-read that outlasted the look-back (a slow object
        # store asked for URLs, a large policy file) installed a change it never read, a
        # deactivated or re-rated frame usable again, until the re-read after it.
        self._found = {pk: found for pk, found in self._found.items() if found > started}
        unread = list(self._found)
        if unread:
            state = replace(state, arms=state.arms.without(np.array(unread, dtype=np.int64)))
            self._pending = True
        self._state = state
        self._generation = generation
        self._loaded_at = time.monotonic()
        return state

    def _reload(self, previous: ArtworkState, generation: tuple, reload_arms: bool) -> None:
        try:
            started = time.monotonic()
            state = _load(previous, generation, reload_arms=reload_arms)
            if state.arms is not previous.arms:
                state.arms.reuse_urls(previous.arms)
                state.arms.fill_urls()
            with self._lock:
                self._install(state, generation, started)
        except Exception:
            logger.exception("Re-reading the artwork state failed; the previous one keeps serving")
            self._pending = True
        finally:
            self._reloading = False
            connections.close_all()  # this thread's own connections, never a request's


def _aware(value: object) -> dt.datetime | None:
    """A timestamp read by raw SQL: SQLite gives naive UTC text, PostgreSQL a datetime."""
    if value is None:
        return None
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, dt.UTC)


def _check(after: dt.datetime | None) -> tuple[tuple, dict[int, dt.datetime], dt.datetime]:
    """The generation (newest variant change, newest policy id), the variants changed
    after ``after`` (none if None) and the time of the check: one round trip.

    The time is the app's, the clock ``updated_at`` is stamped with, read before the query:
    a change the query cannot see commits after it, so is stamped after it less its
    transaction's length."""
    checked = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_check_sql(), [connection.ops.adapt_datetimefield_value(after)])
        rows = cursor.fetchall()
    head = next(r for r in rows if r[0] is None)
    changes = {int(r[0]): _aware(r[1]) for r in rows if r[0] is not None}
    return (_aware(head[1]), head[2]), changes, checked


def _load(previous: ArtworkState | None, generation: tuple, *, reload_arms: bool) -> ArtworkState:
    """A state for ``generation``: the arrays re-read if asked, the policy if it changed."""
    arms = previous.arms if previous is not None and not reload_arms else artwork_arms_load()
    policy_id = generation[1]
    if previous is not None and previous.policy_id == policy_id:
        policy = previous.policy
    elif policy_id is not None:
        policy = policy_read(
            ArtworkPolicy.objects.values_list("artefact", flat=True).get(pk=policy_id)
        )
    else:
        policy = _prior_policy()
    return ArtworkState(
        arms=arms,
        policy=policy,
        policy_id=policy_id,
        arm_themes=project_themes(arms, policy),
    )


artwork_serving = _ArtworkServing()


# --- Taste -------------------------------------------------------------------------------


def taste_shares(
    *,
    genre_rows: npt.NDArray[np.bool_],
    weights: npt.NDArray[np.floating],
    genre_slugs: tuple[str, ...],
) -> dict[str, float]:
    """A profile's genre taste: each genre's share of the weight of the titles it engaged with.

    ``genre_rows`` (k, n_genres) are the genres of its k titles, ``weights`` (k,)
    what each title says about its taste. Shares are rounded so the page log
    stays small; an empty history gives ``{}`` (device and hour still count).
    """
    if genre_rows.shape[0] == 0:
        return {}
    mass = np.asarray(weights, dtype=np.float64) @ genre_rows
    total = float(mass.sum())
    if total <= 0:
        return {}
    shares = mass / total
    return {
        genre_slugs[g]: round(float(shares[g]), 4) for g in np.flatnonzero(shares >= 1e-4).tolist()
    }


def taste_vector(policy: PolicyParams, taste: dict[str, float]) -> npt.NDArray[np.float32]:
    return np.array([taste.get(g, 0.0) for g in policy.genres], dtype=np.float32)


# --- Choosing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ArtworkPicks:
    """The artwork of each requested title.

    ``variant`` (n,) is -1 where the title gets the placeholder (propensity 1);
    ``url`` is None there. ``groups`` are the titles that had arms (positions in
    the request; a repeated title's first), with the bandit's full choice (every
    arm's probability and estimate) for explanations.
    """

    variant: npt.NDArray[np.int64]
    propensity: npt.NDArray[np.float64]
    url: list[str | None]
    groups: npt.NDArray[np.intp]
    arms: npt.NDArray[np.intp]
    indptr: npt.NDArray[np.intp]
    choice: ArtworkChoice | None
    state: ArtworkState


def arms_for(
    arms: ArtworkArms,
    title_ids: npt.NDArray[np.int64],
    device: int,
    maturity_limit: int,
    *,
    available: npt.NDArray[np.float64] | None = None,
    page_time: npt.NDArray[np.float64] | None = None,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """(groups, arms, indptr): the titles that have arms, and their arms contiguous per title.

    ``groups`` index ``title_ids``; group g's arms (indices into ``arms``) are
    ``arm[indptr[g]:indptr[g + 1]]``. ``device`` indexes ``DEVICE_CLASSES``.
    With ``available`` (per arm) and ``page_time`` (per title id), an arm only counts for a
    title id from ``available`` on: off-policy evaluation rebuilds the arms a logged page could
    show (before the device fallback, as serving then would have).
    """
    n = title_ids.shape[0]
    if arms.titles.shape[0] == 0 or n == 0:
        empty = np.empty(0, dtype=np.intp)
        return empty, empty, np.zeros(1, dtype=np.intp)
    at = np.searchsorted(arms.titles, title_ids)
    clipped = np.minimum(at, arms.titles.shape[0] - 1)
    found = arms.titles[clipped] == title_ids
    starts = np.where(found, arms.indptr[clipped], 0)
    lengths = np.where(found, arms.indptr[clipped + 1] - arms.indptr[clipped], 0)
    owner = np.repeat(np.arange(n, dtype=np.intp), lengths)
    first = np.cumsum(lengths) - lengths
    arm = starts[owner] + (np.arange(owner.shape[0], dtype=np.intp) - first[owner])
    within = (arms.maturity[arm] <= maturity_limit) & arms.usable[arm]
    if available is not None and page_time is not None:
        within &= available[arm] <= page_time[owner]
    for_device = within & arms.devices[arm, device]
    # A title with nothing made for this device falls back to its frames for any device.
    has_device = np.bincount(owner[for_device], minlength=n) > 0
    keep = for_device | (within & ~has_device[owner])
    owner, arm = owner[keep], arm[keep]
    counts = np.bincount(owner, minlength=n)
    groups = np.flatnonzero(counts)
    indptr = np.zeros(groups.shape[0] + 1, dtype=np.intp)
    np.cumsum(counts[groups], out=indptr[1:])
    return groups, arm.astype(np.intp), indptr


def artwork_choose(
    *,
    title_ids: npt.ArrayLike,
    device: str,
    maturity_limit: int,
    taste: dict[str, float],
    hour: int,
    seed: int | None = None,
) -> ArtworkPicks:
    """Pick one variant per title for this profile, device and hour, with its propensity.

    ``seed`` makes the randomised choice reproducible (the page id's bits on
    the request path, a fixed number in tests). A title requested more than
    once (rows after the first screen may repeat one) is chosen for once, at
    its first position, and every showing of it gets that frame and its
    propensity: one page shows one picture of a title, and the repeat is not
    a second, independent draw of the policy.
    """
    state = artwork_serving.get()
    requested = np.asarray(title_ids, dtype=np.int64).reshape(-1)
    distinct, first, inverse = np.unique(requested, return_index=True, return_inverse=True)
    if distinct.shape[0] < requested.shape[0]:
        order = np.sort(first)  # the distinct titles' first positions, in page order
        rank = np.empty(order.shape[0], dtype=np.intp)
        rank[np.argsort(first)] = np.arange(order.shape[0])
        picks = _choose(state, requested[order], device, maturity_limit, taste, hour, seed)
        at = rank[inverse.reshape(-1)]  # each requested position's distinct title
        return replace(
            picks,
            variant=picks.variant[at],
            propensity=picks.propensity[at],
            url=np.array(picks.url, dtype=object)[at].tolist(),
            groups=order[picks.groups],
        )
    return _choose(state, requested, device, maturity_limit, taste, hour, seed)


def _choose(
    state: ArtworkState,
    ids: npt.NDArray[np.int64],
    device: str,
    maturity_limit: int,
    taste: dict[str, float],
    hour: int,
    seed: int | None,
) -> ArtworkPicks:
    """:func:`artwork_choose` for titles that are all different."""
    n = ids.shape[0]
    device_index = DEVICE_CLASSES.index(device)
    groups, arms, indptr = arms_for(state.arms, ids, device_index, maturity_limit)
    variant = np.full(n, -1, dtype=np.int64)
    propensity = np.ones(n, dtype=np.float64)
    url: list[str | None] = [None] * n
    choice = None
    if groups.shape[0]:
        bucket = int(hour_bucket(hour))
        vector = taste_vector(state.policy, taste)
        context = artwork_context(  # one row: every title of the page shares it
            taste=vector[None, :], device=[device_index], hour_bucket=[bucket]
        )
        choice = state.policy.bandit.choose(
            context=context,
            indptr=indptr,
            arm_themes=state.arm_themes[arms],
            arm_variant=state.arms.variant[arms],
            rng=np.random.default_rng(seed),
        )
        chosen = arms[choice.arm]
        variant[groups] = state.arms.variant[chosen]
        propensity[groups] = choice.propensity
        found = state.arms.urls(chosen, device_index)
        if groups.shape[0] == n:  # every title has artwork: the usual page
            url = found
        else:
            for g, path in zip(groups.tolist(), found, strict=True):
                url[g] = path
    return ArtworkPicks(
        variant=variant,
        propensity=propensity,
        url=url,
        groups=groups,
        arms=arms,
        indptr=indptr,
        choice=choice,
        state=state,
    )


def artwork_default(*, title_ids: npt.ArrayLike, device: str, maturity_limit: int) -> ArtworkPicks:
    """Each title's default frame for the device, with propensity 1: no draw, nothing to log.

    The first of the arms :func:`artwork_choose` would choose among (:func:`arms_for`:
    active, within ``maturity_limit``, made for ``device`` or, when the title has none
    for it, for any device), i.e. the oldest, as title detail lists them; the
    placeholder (variant -1, url None) for a title with none. For screens that show a
    title outside a logged page (``/continue-watching/``): a frame drawn from the policy
    there would be an impression the page log never holds, and its plays would be
    credited to whichever logged page showed the title, so the bandit would learn
    the draw's reward under another frame's propensity (docs/artwork.md).
    """
    state = artwork_serving.get()
    ids = np.asarray(title_ids, dtype=np.int64).reshape(-1)
    n = ids.shape[0]
    device_index = DEVICE_CLASSES.index(device)
    groups, arms, indptr = arms_for(state.arms, ids, device_index, maturity_limit)
    variant = np.full(n, -1, dtype=np.int64)
    url: list[str | None] = [None] * n
    if groups.shape[0]:
        first = arms[indptr[:-1]]
        variant[groups] = state.arms.variant[first]
        for g, path in zip(groups.tolist(), state.arms.urls(first, device_index), strict=True):
            url[g] = path
    return ArtworkPicks(
        variant=variant,
        propensity=np.ones(n, dtype=np.float64),
        url=url,
        groups=groups,
        arms=arms,
        indptr=indptr,
        choice=None,
        state=state,
    )


@dataclass(frozen=True)
class VariantReason:
    """One candidate frame of a title, as the policy saw it for one profile and moment."""

    variant_id: int
    label: str
    url: str
    themes: tuple[str, ...]
    estimate: float
    probability: float
    chosen: bool


def artwork_reasons(picks: ArtworkPicks) -> dict[int, list[VariantReason]]:
    """Per requested position with arms: every candidate variant, its estimate and probability.

    Staff pages show these next to a title ("why this artwork"); the request
    path never builds them.
    """
    if picks.choice is None:
        return {}
    arms = picks.state.arms
    reasons: dict[int, list[VariantReason]] = {}
    chosen = set(picks.arms[picks.choice.arm].tolist())
    for g, position in enumerate(picks.groups.tolist()):
        lo, hi = int(picks.indptr[g]), int(picks.indptr[g + 1])
        reasons[position] = [
            VariantReason(
                variant_id=int(arms.variant[a]),
                label=arms.labels[a],
                url=arms.url(a),
                themes=tuple(arms.theme_slugs[c] for c in np.flatnonzero(arms.themes[a]).tolist()),
                estimate=float(picks.choice.estimate[k]),
                probability=float(picks.choice.probability[k]),
                chosen=a in chosen and picks.variant[position] == arms.variant[a],
            )
            for k, a in zip(range(lo, hi), picks.arms[lo:hi].tolist(), strict=True)
        ]
    return reasons


def page_seed(page_id: uuid.UUID) -> int:
    """The choice's seed from a page id: reproducible per page, different across pages."""
    return page_id.int & ((1 << 63) - 1)


__all__ = [
    "ArtworkArms",
    "ArtworkPicks",
    "ArtworkState",
    "VariantReason",
    "arms_for",
    "artwork_arms_load",
    "artwork_choose",
    "artwork_default",
    "artwork_reasons",
    "artwork_serving",
    "page_seed",
    "project_themes",
    "taste_shares",
]
