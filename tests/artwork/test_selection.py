"""Serving's view of the variants: changes noticed at the next check, one frame per title."""

import datetime as dt
import threading
import time

import numpy as np
import pytest
from django.db import connections, transaction
from django.utils import timezone

from artwork import selection
from artwork.models import ArtworkVariant
from artwork.selection import (
    CHANGE_LOOK_BACK,
    artwork_choose,
    artwork_reasons,
    artwork_serving,
)
from artwork.services import artwork_variants_set_active
from tests.factories import ArtworkVariantFactory, TitleFactory


def _usable(variant_id: int) -> bool:
    arms = artwork_serving.get().arms
    return bool(np.isin(variant_id, arms.variant[arms.usable]))


def _wait_for_reloads() -> None:
    deadline = time.monotonic() + 10
    while artwork_serving._reloading and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not artwork_serving._reloading


@pytest.mark.django_db(transaction=True)
def test_a_deactivation_committed_after_a_later_stamped_edit_is_noticed_at_the_next_check(
    settings,
):
    # given: a warm serving process checking every 50 ms, with two frames of one title
    settings.TONIGHT = {**settings.TONIGHT, "ARTWORK_CHECK_SECONDS": 0.05}
    title = TitleFactory()
    late, other = ArtworkVariantFactory(title=title), ArtworkVariantFactory(title=title)
    assert _usable(late.pk)
    stamped, commit = threading.Event(), threading.Event()

    def deactivate_slowly() -> None:
        """Another connection: stamps the deactivation, then commits only when told."""
        try:
            with transaction.atomic():
                artwork_variants_set_active(
                    variants=ArtworkVariant.objects.filter(pk=late.pk), active=False
                )
                stamped.set()
                assert commit.wait(10)
        finally:
            connections.close_all()

    writer = threading.Thread(target=deactivate_slowly)
    writer.start()
    assert stamped.wait(10)
    time.sleep(0.01)
    # when: an edit stamped after the deactivation commits first, and a check sees it
    other.label = "retitled"
    other.save()
    time.sleep(0.06)
    artwork_serving.get()
    _wait_for_reloads()
    assert _usable(other.pk)  # re-read with its new label
    # ... and only then does the deactivation commit, its stamp older than what was seen
    commit.set()
    writer.join(10)
    assert ArtworkVariant.objects.get(pk=late.pk).updated_at < other.updated_at
    time.sleep(0.06)

    # then: the next check takes it out of the choices, and the re-read drops it
    assert not _usable(late.pk)
    _wait_for_reloads()
    assert late.pk not in artwork_serving.get().arms.variant.tolist()
    assert _usable(other.pk)


@pytest.mark.django_db(transaction=True)
def test_changes_older_than_the_look_back_are_not_listed_by_every_check(settings):
    # given: a catalogue's frames stamped together, longer ago than the look-back (an
    # import); a process checking often
    settings.TONIGHT = {**settings.TONIGHT, "ARTWORK_CHECK_SECONDS": 0.01}
    title = TitleFactory()
    frames = ArtworkVariantFactory.create_batch(5, title=title)
    ArtworkVariant.objects.update(
        updated_at=timezone.now() - CHANGE_LOOK_BACK - dt.timedelta(seconds=5)
    )

    # when: it checks, again and again
    for _ in range(3):
        artwork_serving.get()
        time.sleep(0.02)

    # then: the checks ran, and none of them is a change to look at any more (anchored on
    # the newest change, every check listed all of them until the next edit)
    assert artwork_serving._checked_through is not None
    assert artwork_serving._handled == {}
    # ... while an edit now is one (an empty list of changes is not merely a blind check)
    edited = frames[0]
    edited.label = "retitled"
    edited.save()
    time.sleep(0.02)
    artwork_serving.get()
    _wait_for_reloads()
    assert set(artwork_serving._handled) == {edited.pk}


@pytest.mark.django_db
def test_a_title_repeated_on_a_page_shows_one_frame_with_one_propensity():
    # given: three titles with three frames each, asked for with repeats (later rows)
    titles = [TitleFactory() for _ in range(3)]
    for title in titles:
        ArtworkVariantFactory.create_batch(3, title=title)
    a, b, c = (t.pk for t in titles)
    page = [a, b, c, a, b, a]

    for seed in range(20):
        # when
        picks = artwork_choose(
            title_ids=page, device="tv", maturity_limit=18, taste={}, hour=20, seed=seed
        )

        # then: every showing of a title has the frame and propensity of its first
        first = {title: page.index(title) for title in page}
        at_first = [first[title] for title in page]
        assert picks.variant.tolist() == picks.variant[at_first].tolist()
        assert picks.propensity.tolist() == picks.propensity[at_first].tolist()
        assert picks.url == [picks.url[k] for k in at_first]
        # ... which is the choice made for the distinct titles, in page order
        once = artwork_choose(
            title_ids=[a, b, c], device="tv", maturity_limit=18, taste={}, hour=20, seed=seed
        )
        assert picks.variant.tolist() == once.variant[[0, 1, 2, 0, 1, 0]].tolist()
        assert picks.propensity.tolist() == once.propensity[[0, 1, 2, 0, 1, 0]].tolist()
        assert picks.groups.tolist() == [0, 1, 2]
        assert sorted(artwork_reasons(picks)) == [0, 1, 2]


@pytest.mark.django_db
def test_artwork_is_chosen_at_midnight_and_refused_for_an_hour_no_day_has():
    # given: a title with two frames
    title = TitleFactory()
    ArtworkVariantFactory.create_batch(2, title=title)

    # when: at local hour 0 (midnight), and at 3 (the same night bucket)
    midnight = artwork_choose(
        title_ids=[title.pk], device="tv", maturity_limit=18, taste={}, hour=0, seed=7
    )
    three = artwork_choose(
        title_ids=[title.pk], device="tv", maturity_limit=18, taste={}, hour=3, seed=7
    )

    # then: midnight is an hour like any other, chosen for as the night; 24 is no hour
    assert midnight.variant.tolist() == three.variant.tolist()
    assert midnight.variant[0] in set(title.artwork_variants.values_list("pk", flat=True))
    assert midnight.propensity.tolist() == three.propensity.tolist()
    with pytest.raises(ValueError, match="hour must be in"):
        artwork_choose(
            title_ids=[title.pk], device="tv", maturity_limit=18, taste={}, hour=24, seed=7
        )


@pytest.mark.parametrize("skew", [-300.0, -30.0, 30.0, 300.0], ids=["-5min", "-30s", "30s", "5min"])
@pytest.mark.django_db(transaction=True)
def test_the_look_back_lists_the_changes_it_should_whatever_the_app_and_database_clocks_say(
    settings, monkeypatch, skew
):
    """``updated_at`` is stamped by the app's clock; the check's anchor was the database's.
    With the app behind, a deactivation stamped under the newest ``updated_at`` fell before
    the look-back and kept serving until the full reload; with the app ahead, an import
    stayed listed by every check for as long as the skew."""
    # given: the app's clock off the database's; every page checks; three frames of a title,
    # stamped together longer ago than the look-back (on the app's clock), one edited since
    settings.TONIGHT = {**settings.TONIGHT, "ARTWORK_CHECK_SECONDS": 0}
    machine = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: machine() + dt.timedelta(seconds=skew))
    title = TitleFactory()
    switched, edited, _ = ArtworkVariantFactory.create_batch(3, title=title)
    ArtworkVariant.objects.update(
        updated_at=timezone.now() - CHANGE_LOOK_BACK - dt.timedelta(seconds=5)
    )
    edit_stamp = timezone.now() + dt.timedelta(seconds=5)  # a later-stamped edit, seen first
    ArtworkVariant.objects.filter(pk=edited.pk).update(updated_at=edit_stamp)
    artwork_serving.get()

    # when: the checks come
    artwork_serving.get()

    # then: the old stamps are not listed, only the edit within the look-back
    assert set(artwork_serving._handled) == {edited.pk}

    # when: a frame is switched off, stamped before the edit (which keeps the newest stamp)
    artwork_variants_set_active(
        variants=ArtworkVariant.objects.filter(pk=switched.pk), active=False
    )
    assert ArtworkVariant.objects.get(pk=switched.pk).updated_at < edit_stamp

    # then: the next check takes it out of the choices
    assert not _usable(switched.pk)


@pytest.mark.django_db(transaction=True)
def test_a_change_found_during_a_long_reload_stays_out_after_it_leaves_the_look_back(
    settings, monkeypatch
):
    # given: a warm process checking often, with two frames of one title
    settings.TONIGHT = {**settings.TONIGHT, "ARTWORK_CHECK_SECONDS": 0.01}
    title = TitleFactory()
    off, edited = ArtworkVariantFactory(title=title), ArtworkVariantFactory(title=title)
    assert _usable(off.pk)
    read, release = threading.Event(), threading.Event()
    load = selection._load

    def slow_load(*args, **kwargs):
        """The background re-read: reads the arrays, then takes long to finish (URLs asked
        of a slow object store, a large policy file)."""
        state = load(*args, **kwargs)
        if threading.current_thread() is not threading.main_thread():
            read.set()
            assert release.wait(10)
        return state

    monkeypatch.setattr(selection, "_load", slow_load)
    # ... a re-read begins (an edit), and has read the arrays
    edited.label = "retitled"
    edited.save()
    time.sleep(0.02)
    artwork_serving.get()
    assert read.wait(10)

    # when: a frame is deactivated meanwhile; a check takes it out of the choices
    artwork_variants_set_active(variants=ArtworkVariant.objects.filter(pk=off.pk), active=False)
    time.sleep(0.02)
    assert not _usable(off.pk)
    # ... the re-read outlasts the look-back, so the checks no longer list the change
    ArtworkVariant.objects.update(
        updated_at=timezone.now() - CHANGE_LOOK_BACK - dt.timedelta(seconds=5)
    )
    time.sleep(0.02)
    artwork_serving.get()
    assert off.pk not in artwork_serving._handled
    # ... and the re-read, with the arrays it read before the deactivation, is installed
    release.set()
    _wait_for_reloads()

    # then: the deactivated frame is still out of the state it installed, not served again
    # until the next re-read (it was: the re-read's arrays had it active)
    arms = artwork_serving._state.arms
    assert not np.isin(off.pk, arms.variant[arms.usable])
