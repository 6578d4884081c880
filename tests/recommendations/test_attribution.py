"""Attribution's edge cases on hand-written page logs and plays (no trained world needed).

The pages are written as the page log stores them (``items``: title, row index,
position, variant, propensity), so each test states exactly what was shown where.
"""

import datetime as dt
import uuid

import numpy as np
import pytest
from django.core import checks

from recommendations.models import PageLog, SignalKind
from recommendations.selectors.attribution import (
    AttributedImpressions,
    closed_before,
    page_impressions_attributed,
)
from tests.factories import ProfileFactory, SignalFactory, TitleFactory

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 3, 2, 20, 0, tzinfo=dt.UTC)


def page_log(profile, at, rows, items, *, page_id=None) -> PageLog:
    return PageLog.objects.create(
        id=page_id or uuid.uuid4(),
        profile=profile,
        generated_at=at,
        device="tv",
        region="IN",
        hour=at.hour,
        weekday=at.weekday(),
        rows=[[row_id, row_id.split(":")[0], 0.1] for row_id in rows],
        items=items,
    )


def play(profile, title, at, **fields):
    return SignalFactory(
        profile=profile, title=title, kind=SignalKind.PLAY_START, occurred_at=at, **fields
    )


def read() -> AttributedImpressions:
    return page_impressions_attributed(
        since=AT - dt.timedelta(hours=1), until=AT + dt.timedelta(hours=1)
    )


def test_a_play_is_never_credited_to_another_profiles_page_whatever_the_ids():
    # given two profiles whose ids are consecutive, and two titles whose ids differ by 2**24
    # (ids are bigints: a catalogue's sequence can pass sixteen million)
    first = ProfileFactory()
    second = ProfileFactory(pk=first.pk + 1, account=first.account, slot=2)
    small = TitleFactory()
    large = TitleFactory(pk=small.pk + (1 << 24))
    # the first profile's page shows only the large title; the second's page nothing of it
    page_log(first, AT, ["top_picks"], [[large.pk, 0, 0, None, 1.0]])

    # when the second profile plays the small title, from nowhere the first's page shows
    play(second, small, AT + dt.timedelta(minutes=5))

    # then the first profile's page is not credited with the other's play of another title
    labelled = read()
    assert not labelled.played.any()


@pytest.mark.parametrize(
    ("names_page", "named_row", "engaged_row"),
    [
        pytest.param(False, "", 0, id="session-no-row"),
        pytest.param(True, "genre:2", 2, id="exact-second-row"),
        # The session rule credits the showing in the row the client played from, as the
        # exact rule does, so the row ranker's label is the row its features count the
        # play for; a row that did not show the title leaves the first showing credited.
        pytest.param(False, "genre:2", 2, id="session-second-row"),
        pytest.param(False, "genre:1", 0, id="session-row-without-the-title"),
    ],
)
def test_a_title_shown_twice_on_a_page_is_one_example_with_its_play(
    names_page, named_row, engaged_row
):
    # given a page that shows a title twice (rows after the first screen may repeat one),
    # with the one frame chosen for it, and another title once
    from artwork.selectors import artwork_impressions
    from tests.factories import ArtworkVariantFactory

    profile = ProfileFactory()
    twice, once = ArtworkVariantFactory(), ArtworkVariantFactory()
    page = page_log(
        profile,
        AT,
        ["top_picks", "genre:1", "genre:2"],
        [
            [twice.title_id, 0, 0, twice.pk, 0.4],
            [once.title_id, 0, 1, once.pk, 0.5],
            [twice.title_id, 2, 3, twice.pk, 0.4],
        ],
    )

    # when the profile plays it (by the session rule, or naming the page), from a row
    play(
        profile,
        twice.title,
        AT + dt.timedelta(minutes=5),
        page_id=page.pk if names_page else None,
        row=named_row,
    )

    # then the title ranker and the bandit see one example of it, played: the repeat is
    # neither a second draw of the artwork policy nor a second, unplayed, showing
    labelled = read()
    counted = ~labelled.repeat
    assert labelled.title_id[counted].tolist().count(twice.title_id) == 1
    assert labelled.played[counted & (labelled.title_id == twice.title_id)].all()
    shown = artwork_impressions(
        since=AT - dt.timedelta(hours=1), until=AT + dt.timedelta(hours=1), genres=()
    )
    assert sorted(zip(shown.variant.tolist(), shown.played.tolist(), strict=True)) == sorted(
        [(twice.pk, True), (once.pk, False)]
    )
    # and the row the play is credited to is the one row engaged
    engaged = labelled.row_index[labelled.row_played].tolist()
    assert engaged == [engaged_row]
    credited = ~labelled.repeat & (labelled.title_id == twice.title_id)
    assert labelled.row[credited].tolist() == [engaged_row]


def test_a_resumed_titles_frame_is_no_artwork_impression():
    # given a page whose Continue Watching row and Top Picks row each show a title, each
    # with a frame the policy drew
    from artwork.selectors import artwork_impressions
    from tests.factories import ArtworkVariantFactory

    profile = ProfileFactory()
    resumed, picked = ArtworkVariantFactory(), ArtworkVariantFactory()
    page_log(
        profile,
        AT,
        ["continue_watching", "top_picks"],
        [[resumed.title_id, 0, 0, resumed.pk, 0.5], [picked.title_id, 1, 0, picked.pk, 0.5]],
    )

    # when the profile resumes the title it was watching
    play(profile, resumed.title, AT + dt.timedelta(minutes=5))

    # then the bandit (and the take rates, and the evaluation, which read the same
    # impressions) learns nothing from the resume: the frame did not win it
    shown = artwork_impressions(
        since=AT - dt.timedelta(hours=1), until=AT + dt.timedelta(hours=1), genres=()
    )
    assert shown.variant.tolist() == [picked.pk]
    # while the title ranker and the row ranker still see the resumed row engaged
    labelled = read()
    assert labelled.played[labelled.title_id == resumed.title_id].all()


def _title_shown_twice(profile):
    """A page at ``AT`` showing one title in its first row and again in its third."""
    title = TitleFactory()
    page = page_log(
        profile,
        AT,
        ["top_picks", "genre:1", "genre:2"],
        [[title.pk, 0, 0, None, 1.0], [title.pk, 2, 0, None, 1.0]],
    )
    return title, page


@pytest.mark.parametrize("names_page", [False, True], ids=["session", "exact"])
def test_a_title_shown_twice_is_credited_once_whatever_plays_follow(names_page):
    # given a page that shows a title in its first row and again in its third
    profile = ProfileFactory()
    title, page = _title_shown_twice(profile)

    # when the profile plays it from the third row, then again naming no row
    play(
        profile,
        title,
        AT + dt.timedelta(minutes=5),
        page_id=page.pk if names_page else None,
        row="genre:2",
    )
    play(profile, title, AT + dt.timedelta(minutes=20))

    # then the page had one outcome for the title: the third row's showing, played once;
    # the later play does not make the first showing a second play of the same draw
    labelled = read()
    assert labelled.row[labelled.played].tolist() == [2]
    assert labelled.row[~labelled.repeat].tolist() == [2]
    assert labelled.row_index[labelled.row_played].tolist() == [2]


@pytest.mark.parametrize("names_page", [False, True], ids=["session", "exact"])
@pytest.mark.parametrize(
    ("after", "credited"), [(1800, True), (1801, False)], ids=["at_the_window", "past_it"]
)
def test_the_session_window_holds_a_play_at_its_very_end_and_not_a_second_later(
    settings, names_page, after, credited
):
    # given a 30-minute session window and a page that shows a title
    settings.TONIGHT = {**settings.TONIGHT, "ATTRIBUTION_WINDOW_SECONDS": 1800}
    profile = ProfileFactory()
    title = TitleFactory()
    page = page_log(profile, AT, ["top_picks"], [[title.pk, 0, 0, None, 1.0]])

    # when the profile plays it exactly the window after the page, or a second later
    play(
        profile,
        title,
        AT + dt.timedelta(seconds=after),
        page_id=page.pk if names_page else None,
    )

    # then the window is "at most" its length, by a page named or by the session alike
    assert read().played.tolist() == [credited]


def _attribution_errors() -> list[checks.CheckMessage]:
    return [m for m in checks.run_checks(tags=["attribution"]) if m.id == "tonight.E009"]


def test_the_default_session_window_and_clock_skew_pass_the_checks():
    assert _attribution_errors() == []


@pytest.mark.parametrize(
    ("name", "variable", "value"),
    [
        # no window: a play can follow no page, so every shown tile is a miss
        ("ATTRIBUTION_WINDOW_SECONDS", "TONIGHT_ATTRIBUTION_WINDOW_SECONDS", 0),
        # a negative one also puts closed_before after now: the artwork policy's watermark
        # passes pages not yet logged, which no update then folds
        ("ATTRIBUTION_WINDOW_SECONDS", "TONIGHT_ATTRIBUTION_WINDOW_SECONDS", -600),
        # a negative skew refuses every signal stamped now ("Is in the future") and
        # believes no play naming its page
        ("SIGNAL_MAX_FUTURE_SKEW_SECONDS", "TONIGHT_SIGNAL_MAX_FUTURE_SKEW", -1),
    ],
)
def test_a_window_or_skew_that_credits_no_play_is_an_error_naming_the_variable(
    settings, name, variable, value
):
    # given a session window of no length, or a clock skew below none
    settings.TONIGHT = {**settings.TONIGHT, name: value}

    # when the system checks run (manage.py check, migrate)
    (error,) = _attribution_errors()

    # then they refuse it, naming the environment variable that set it
    assert error.level == checks.ERROR
    assert f"{variable} is {value}" in error.msg


def test_a_title_shown_twice_and_not_played_is_one_miss():
    from artwork.selectors import artwork_impressions
    from tests.factories import ArtworkVariantFactory

    profile = ProfileFactory()
    twice = ArtworkVariantFactory()
    page_log(
        profile,
        AT,
        ["top_picks", "genre:1"],
        [[twice.title_id, 0, 0, twice.pk, 0.4], [twice.title_id, 1, 0, twice.pk, 0.4]],
    )

    shown = artwork_impressions(
        since=AT - dt.timedelta(hours=1), until=AT + dt.timedelta(hours=1), genres=()
    )

    assert shown.variant.tolist() == [twice.pk]
    assert shown.played.tolist() == [False]


def test_a_play_goes_to_the_page_before_it_not_one_later_in_the_same_second():
    # given a page that shows a title, and another page that shows it again, logged
    # seven tenths of a second into a second
    profile = ProfileFactory()
    title = TitleFactory()
    before = page_log(
        profile, AT - dt.timedelta(minutes=10), ["top_picks"], [[title.pk, 0, 0, None, 1.0]]
    )
    later = AT.replace(microsecond=700_000)
    page_log(profile, later, ["top_picks"], [[title.pk, 0, 0, None, 1.0]])

    # when the profile plays the title two tenths into that second, before the later page
    play(profile, title, AT.replace(microsecond=200_000))

    # then the play is the earlier page's, as a page named by a play must not be later than it
    labelled = read()
    assert [labelled.page_ids[p] for p in labelled.page[labelled.played]] == [before.pk]


def test_a_play_seconds_before_the_page_it_names_is_that_pages():
    # given a page that shows a title, and ten minutes later another page that shows it again
    profile = ProfileFactory()
    title = TitleFactory()
    page_log(profile, AT - dt.timedelta(minutes=10), ["top_picks"], [[title.pk, 0, 0, None, 1.0]])
    named = page_log(profile, AT, ["top_picks"], [[title.pk, 0, 0, None, 1.0]])

    # when a client whose clock is three seconds behind the server's plays it from the later
    # page, naming it: its play is stamped before the page it could only follow
    play(profile, title, AT - dt.timedelta(seconds=3), page_id=named.pk)

    # then the page it names is credited, exactly, and the earlier page keeps its miss
    labelled = read()
    assert [labelled.page_ids[p] for p in labelled.page[labelled.played]] == [named.pk]
    assert labelled.exact[labelled.played].tolist() == [True]


def test_a_play_stamped_before_the_range_of_the_page_it_names_is_still_that_pages():
    # given a page a second into a range, and a play naming it stamped two seconds earlier
    profile = ProfileFactory()
    title = TitleFactory()
    named = page_log(
        profile, AT + dt.timedelta(seconds=1), ["top_picks"], [[title.pk, 0, 0, None, 1.0]]
    )
    play(profile, title, AT - dt.timedelta(seconds=1), page_id=named.pk)

    # when the range that starts at AT is read, and one that holds the play too
    cut = page_impressions_attributed(since=AT, until=AT + dt.timedelta(hours=1))
    whole = read()

    # then both credit the page with it: a page's labels do not depend on where ranges are cut
    assert cut.page_ids == whole.page_ids == [named.pk]
    assert cut.played.tolist() == whole.played.tolist() == [True]


def shown(profile, title_id, at, **fields):
    """The client's report that a tile was on screen."""
    return SignalFactory(
        profile=profile, title_id=title_id, kind=SignalKind.IMPRESSION, occurred_at=at, **fields
    )


def three_rows(profile):
    """A page of three rows of two tiles, each with a frame of its own: (page, variants by row)."""
    from tests.factories import ArtworkVariantFactory

    rows = ["top_picks", "genre:1", "genre:2"]
    variants = [[ArtworkVariantFactory(), ArtworkVariantFactory()] for _ in rows]
    items = [
        [v.title_id, r, position, v.pk, 0.5]
        for r, pair in enumerate(variants)
        for position, v in enumerate(pair)
    ]
    return page_log(profile, AT, rows, items), variants


def first_row_on_screen(profile):
    """:func:`three_rows`, of which the client reports the first row's tiles on screen, naming
    the page and the row."""
    page, variants = three_rows(profile)
    for position, v in enumerate(variants[0]):
        shown(
            profile,
            v.title_id,
            AT + dt.timedelta(seconds=2),
            page_id=page.pk,
            row="top_picks",
            position=position,
        )
    return page, variants


def artwork_read():
    from artwork.selectors import artwork_impressions

    return artwork_impressions(
        since=AT - dt.timedelta(hours=1), until=AT + dt.timedelta(hours=1), genres=()
    )


def test_tiles_the_client_never_reported_on_screen_are_not_misses():
    # given a page of three rows, of which the viewer's client reports the first row's
    # tiles on screen (naming the page and the row), and nothing is played
    profile = ProfileFactory()
    _, variants = first_row_on_screen(profile)

    # when the page is labelled
    labelled = read()

    # then only the first row's titles are misses for the title ranker, only the first row is
    # a row ranker sample, and only its frames gained an impression
    exposed = labelled.exposed() & ~labelled.repeat
    assert sorted(labelled.title_id[exposed].tolist()) == sorted(v.title_id for v in variants[0])
    assert not labelled.played.any()
    assert labelled.row_index[labelled.row_exposed()].tolist() == [0]
    assert sorted(artwork_read().variant.tolist()) == sorted(v.pk for v in variants[0])


def test_a_play_of_a_tile_never_reported_on_screen_is_still_learned_from():
    # given a page of which the client reports only the first row on screen
    profile = ProfileFactory()
    page, variants = first_row_on_screen(profile)

    # when the viewer plays a title of the third row, naming the page (a play is evidence
    # enough that the tile was seen)
    played = variants[2][1]
    play(profile, played.title, AT + dt.timedelta(minutes=5), page_id=page.pk, row="genre:2")

    # then the play is a positive of all three learners, beside the first row's misses
    labelled = read()
    exposed = labelled.exposed() & ~labelled.repeat
    assert sorted(labelled.title_id[exposed].tolist()) == sorted(
        [*(v.title_id for v in variants[0]), played.title_id]
    )
    assert labelled.row_index[labelled.row_exposed()].tolist() == [0, 2]
    assert labelled.row_played[labelled.row_exposed()].tolist() == [False, True]
    artwork = artwork_read()
    assert sorted(zip(artwork.variant.tolist(), artwork.played.tolist(), strict=True)) == sorted(
        [(variants[0][0].pk, False), (variants[0][1].pk, False), (played.pk, True)]
    )


def test_a_page_whose_client_reports_no_tile_on_screen_keeps_every_tile_as_shown():
    # given a page whose client sends no impressions at all (it does not report exposure),
    # and another profile's impression that names the page by mistake
    profile = ProfileFactory()
    page, variants = three_rows(profile)
    stranger = ProfileFactory(account=profile.account, slot=2)
    shown(stranger, variants[0][0].title_id, AT + dt.timedelta(seconds=2), page_id=page.pk)

    # when it is labelled
    labelled = read()

    # then every tile and every row counts as today: there is nothing to tell them apart by
    assert labelled.exposed().all()
    assert labelled.row_exposed().all()
    assert len(artwork_read()) == 6


def test_a_row_scrolled_past_is_a_row_ranker_miss_but_its_tiles_are_not_seen():
    # given a page whose client reports the first row's tiles on screen and the second row
    # rapidly scrolled past (it was on screen, briefly)
    profile = ProfileFactory()
    page, variants = first_row_on_screen(profile)
    SignalFactory(
        profile=profile,
        title=None,
        kind=SignalKind.ROW_SCROLL_PAST,
        occurred_at=AT + dt.timedelta(seconds=4),
        page_id=page.pk,
        row="genre:1",
    )

    # when it is labelled
    labelled = read()

    # then the skipped row is a row ranker sample (a miss), the third is not, and the skipped
    # row's tiles, which the client did not report, are no title's misses
    assert labelled.row_index[labelled.row_exposed()].tolist() == [0, 1]
    exposed = labelled.exposed() & ~labelled.repeat
    assert sorted(labelled.title_id[exposed].tolist()) == sorted(v.title_id for v in variants[0])


def test_an_impression_without_a_row_marks_the_row_of_the_titles_first_showing():
    # given a page of which the client reports one tile on screen naming the page only
    profile = ProfileFactory()
    page, variants = three_rows(profile)
    shown(profile, variants[1][0].title_id, AT + dt.timedelta(seconds=2), page_id=page.pk)

    # when it is labelled
    labelled = read()

    # then that title is a miss and its row a row ranker sample; nothing else is
    exposed = labelled.exposed() & ~labelled.repeat
    assert labelled.title_id[exposed].tolist() == [variants[1][0].title_id]
    assert labelled.row_index[labelled.row_exposed()].tolist() == [1]


def test_an_impression_long_after_its_page_does_not_make_a_page_reporting():
    # given a page, and an impression naming it stamped after the page's attribution window
    # (a page's labels must not depend on the range it is read in, which ends a window after it)
    profile = ProfileFactory()
    page, variants = three_rows(profile)
    shown(profile, variants[0][0].title_id, AT + dt.timedelta(hours=4), page_id=page.pk)

    # when it is labelled over a range that holds the impression too
    labelled = page_impressions_attributed(
        since=AT - dt.timedelta(hours=1), until=AT + dt.timedelta(hours=5)
    )

    # then the page is one whose client reported nothing: every tile counts
    assert labelled.exposed().all()


def test_a_play_matched_by_session_to_a_tile_never_reported_on_screen_is_no_sample():
    # given a page whose client reports its first row on screen, and a later play, naming no
    # page, of a title the page held in its third row, which the client never reported (the
    # viewer found it by search: the session rule credits the page, which did show it)
    profile = ProfileFactory()
    _, variants = first_row_on_screen(profile)
    searched = variants[2][1]
    play(profile, searched.title, AT + dt.timedelta(minutes=5))

    # when the page is labelled
    labelled = read()

    # then the page keeps the credit (no earlier page takes it), but the unseen tile is no
    # learner's sample: neither a play of the third row, nor of its frame, nor of the title
    # at that position; only the first row's tiles, which the viewer saw, are (misses)
    assert labelled.played[labelled.title_id == searched.title_id].tolist() == [True]
    exposed = labelled.exposed() & ~labelled.repeat
    assert sorted(labelled.title_id[exposed].tolist()) == sorted(v.title_id for v in variants[0])
    assert labelled.row_index[labelled.row_exposed()].tolist() == [0]
    assert sorted(artwork_read().variant.tolist()) == sorted(v.pk for v in variants[0])


def test_a_play_matched_by_session_to_a_tile_reported_on_screen_is_a_play():
    # given a page whose client reports its first row on screen, and a later play, naming no
    # page, of one of those titles
    profile = ProfileFactory()
    _, variants = first_row_on_screen(profile)
    play(profile, variants[0][1].title, AT + dt.timedelta(minutes=5))

    # when the page is labelled, then the seen tile is a play of its row and frame
    labelled = read()
    exposed = labelled.exposed() & ~labelled.repeat
    assert labelled.played[exposed].sum() == 1
    assert labelled.row_played[labelled.row_exposed()].tolist() == [True]
    artwork = artwork_read()
    assert sorted(zip(artwork.variant.tolist(), artwork.played.tolist(), strict=True)) == sorted(
        [(variants[0][0].pk, False), (variants[0][1].pk, True)]
    )


@pytest.mark.parametrize("names_page", [False, True], ids=["session", "exact"])
def test_a_title_seen_in_one_of_its_rows_is_credited_there_when_the_play_names_no_row(
    names_page,
):
    # given a page showing one title in its first and third rows, of which the client
    # reports only the third row's showing on screen, and a later play of it naming no row
    # (a client that sends no page id, or one that sends the page but not the row)
    profile = ProfileFactory()
    twice, other = TitleFactory(), TitleFactory()
    rows = ["top_picks", "genre:1", "genre:2"]
    items = [
        [twice.pk, 0, 5, None, 1.0],
        [other.pk, 1, 0, None, 1.0],
        [twice.pk, 2, 1, None, 1.0],
    ]
    page = page_log(profile, AT, rows, items)
    shown(profile, twice.pk, AT + dt.timedelta(seconds=2), page_id=page.pk, row="genre:2")
    play(profile, twice, AT + dt.timedelta(minutes=5), page_id=page.pk if names_page else None)

    # when the page is labelled
    labelled = read()

    # then the play is the showing the viewer saw: the third row is the played sample, at its
    # row and slot, and the first row, which the client never reported, is no sample at all
    # (credited to the first showing, the unseen row was a play and the seen one a miss)
    exposed = labelled.exposed() & ~labelled.repeat
    assert labelled.title_id[exposed].tolist() == [twice.pk]
    assert labelled.played[exposed].tolist() == [True]
    assert labelled.row[exposed].tolist() == [2]
    assert labelled.position[exposed].tolist() == [1]
    assert labelled.row_index[labelled.row_exposed()].tolist() == [2]
    assert labelled.row_played[labelled.row_exposed()].tolist() == [True]


def test_a_title_seen_in_one_of_its_rows_and_not_played_is_a_miss_where_it_was_seen():
    # given the same page, seen in its third row only, and no play
    profile = ProfileFactory()
    twice, other = TitleFactory(), TitleFactory()
    items = [
        [twice.pk, 0, 5, None, 1.0],
        [other.pk, 1, 0, None, 1.0],
        [twice.pk, 2, 1, None, 1.0],
    ]
    page = page_log(profile, AT, ["top_picks", "genre:1", "genre:2"], items)
    shown(profile, twice.pk, AT + dt.timedelta(seconds=2), page_id=page.pk, row="genre:2")

    # when the page is labelled, then the title ranker's miss is at the row and slot it was
    # seen at, not at the first showing's, which was never on screen
    labelled = read()
    exposed = labelled.exposed() & ~labelled.repeat
    assert labelled.title_id[exposed].tolist() == [twice.pk]
    assert labelled.row[exposed].tolist() == [2]
    assert labelled.position[exposed].tolist() == [1]


def test_a_row_seen_is_not_played_by_a_play_of_its_tile_never_on_screen():
    # given a page whose client reports the first row's first tile on screen only, and a
    # later play, naming no page, of the first row's second tile, never reported (the
    # viewer found it by search: the session rule credits the page, which did show it)
    profile = ProfileFactory()
    page, variants = three_rows(profile)
    shown(
        profile,
        variants[0][0].title_id,
        AT + dt.timedelta(seconds=2),
        page_id=page.pk,
        row="top_picks",
    )
    play(profile, variants[0][1].title, AT + dt.timedelta(minutes=5))

    # when the page is labelled
    labelled = read()

    # then the first row, which the viewer reached, is a row ranker miss: the play is no
    # sample of the title ranker nor of the artwork policy, and no more of the row's label
    assert labelled.row_index[labelled.row_exposed()].tolist() == [0]
    assert labelled.row_played[labelled.row_exposed()].tolist() == [False]
    exposed = labelled.exposed() & ~labelled.repeat
    assert labelled.title_id[exposed].tolist() == [variants[0][0].title_id]
    assert not labelled.played[exposed].any()


def _title_on_two_pages(profile, *, second_after: dt.timedelta):
    """A title on a page at ``AT`` and again, after ``second_after``, on the profile's next
    page, below its first tile: (title, other title, first page, second page)."""
    title, other = TitleFactory(), TitleFactory()
    first = page_log(
        profile, AT, ["top_picks"], [[title.pk, 0, 0, None, 1.0], [other.pk, 0, 1, None, 1.0]]
    )
    second = page_log(
        profile,
        AT + second_after,
        ["top_picks", "genre:1"],
        [[other.pk, 0, 0, None, 1.0], [title.pk, 1, 7, None, 1.0]],
    )
    return title, other, first, second


def seen_on_one_page_shown_unseen_on_the_next(profile):
    """A page whose client reports a title on screen, then, two minutes later, another page
    that shows it again below what its client reports, and a play of it naming no page
    (found by search, or a client that sends no page id): (title, first page, second)."""
    title, other, first, second = _title_on_two_pages(profile, second_after=dt.timedelta(minutes=2))
    shown(profile, title.pk, AT + dt.timedelta(seconds=5), page_id=first.pk, row="top_picks")
    shown(
        profile,
        other.pk,
        AT + dt.timedelta(minutes=2, seconds=5),
        page_id=second.pk,
        row="top_picks",
    )
    play(profile, title, AT + dt.timedelta(minutes=4))
    return title, first, second


def test_a_play_goes_to_the_page_the_title_was_seen_on_not_a_later_one_it_was_never_seen_on():
    # given a title seen on one page and shown, never on screen, on the next, then played
    profile = ProfileFactory()
    title, first, _ = seen_on_one_page_shown_unseen_on_the_next(profile)

    # when the pages are labelled
    labelled = read()

    # then the page the viewer saw it on has the play (credited to the later page, the play
    # was no sample there, its tile never seen, and the seen tile was a miss: the play was
    # lost to every learner and the page that led to it taught the opposite)
    exposed = labelled.exposed() & ~labelled.repeat
    seen = [
        (labelled.page_ids[labelled.page[i]], bool(labelled.played[i]))
        for i in np.flatnonzero(exposed & (labelled.title_id == title.pk)).tolist()
    ]
    assert seen == [(first.pk, True)]
    assert [labelled.page_ids[p] for p in labelled.page[labelled.played]] == [first.pk]


def test_a_play_goes_to_the_page_it_was_seen_on_whichever_range_or_sample_reads_it():
    # given the same two pages and play
    profile = ProfileFactory()
    title, first, second = seen_on_one_page_shown_unseen_on_the_next(profile)
    cut = AT + dt.timedelta(minutes=1)

    # when the pages are read in two consecutive ranges (the artwork policy's incremental
    # updates), and the later page alone as a sample (the rankers' training)
    before = page_impressions_attributed(since=AT - dt.timedelta(hours=1), until=cut)
    after = page_impressions_attributed(since=cut, until=AT + dt.timedelta(hours=1))
    sample = page_impressions_attributed(
        since=AT - dt.timedelta(hours=1),
        until=AT + dt.timedelta(hours=1),
        profile_ids=[profile.pk],
        page_ids=[second.pk],
    )

    # then the play is credited once, to the first page, by every read
    assert before.page_ids == [first.pk]
    assert before.played[before.title_id == title.pk].tolist() == [True]
    assert after.page_ids == sample.page_ids == [second.pk]
    assert not after.played.any()
    assert not sample.played.any()


@pytest.mark.parametrize(
    ("first_seen_after", "second_reports"),
    [
        pytest.param(5, True, id="seen-only-after-the-play"),
        pytest.param(0, False, id="later-client-reports-nothing"),
    ],
)
def test_a_play_stays_with_the_latest_page_when_no_earlier_one_was_seen_first(
    first_seen_after, second_reports
):
    # given a title on a page and again on one two minutes later, and a play of it naming
    # no page four minutes in; either the first page's client reports another tile at
    # once and the title on screen only after the play, or the later page's client reports
    # nothing at all
    profile = ProfileFactory()
    title, other = TitleFactory(), TitleFactory()
    first = page_log(
        profile, AT, ["top_picks"], [[other.pk, 0, 0, None, 1.0], [title.pk, 0, 1, None, 1.0]]
    )
    shown(profile, other.pk, AT + dt.timedelta(seconds=5), page_id=first.pk)
    second = page_log(
        profile,
        AT + dt.timedelta(minutes=2),
        ["top_picks", "genre:1"],
        [[other.pk, 0, 0, None, 1.0], [title.pk, 1, 7, None, 1.0]],
    )
    seen_at = AT + dt.timedelta(seconds=5, minutes=first_seen_after)
    shown(profile, title.pk, seen_at, page_id=first.pk, row="top_picks")
    if second_reports:
        shown(profile, other.pk, AT + dt.timedelta(minutes=2, seconds=5), page_id=second.pk)
    play(profile, title, AT + dt.timedelta(minutes=4))

    # when the pages are labelled, then the later page has the play, as the latest page
    # the viewer could have played it from (nothing said otherwise before the play)
    labelled = read()
    assert [labelled.page_ids[p] for p in labelled.page[labelled.played]] == [second.pk]


@pytest.mark.parametrize(
    ("before", "exact"), [(60, True), (61, False)], ids=["at_the_skew", "past_it"]
)
def test_a_play_naming_a_page_is_its_up_to_the_clock_skew_before_it_and_not_a_second_more(
    settings, before, exact
):
    # given a tolerated clock skew of a minute and a page that shows a title
    settings.TONIGHT = {**settings.TONIGHT, "SIGNAL_MAX_FUTURE_SKEW_SECONDS": 60}
    profile = ProfileFactory()
    title = TitleFactory()
    page = page_log(profile, AT, ["top_picks"], [[title.pk, 0, 0, None, 1.0]])

    # when a play naming it is stamped exactly the skew before it, or a second more
    play(profile, title, AT - dt.timedelta(seconds=before), page_id=page.pk)

    # then the skew is "at most", as the window is; past it the play followed no page
    labelled = read()
    assert labelled.played.tolist() == [exact]
    assert labelled.exact.tolist() == [exact]


def test_a_second_play_naming_the_page_credits_no_second_showing_of_its_title():
    # given a page that shows a title in its first row and again in its third
    profile = ProfileFactory()
    title, page = _title_shown_twice(profile)

    # when the profile plays it from the third row, and later from the first, both
    # naming the page
    first_play = AT + dt.timedelta(minutes=5)
    play(profile, title, first_play, page_id=page.pk, row="genre:2")
    play(profile, title, AT + dt.timedelta(minutes=20), page_id=page.pk, row="top_picks")

    # then the page had one outcome for the title, the first play's, in the third row
    labelled = read()
    assert labelled.row[labelled.played].tolist() == [2]
    assert labelled.played_at[labelled.played].tolist() == [first_play.timestamp()]
    assert labelled.row_index[labelled.row_played].tolist() == [2]


def test_a_play_at_the_very_end_of_the_window_goes_to_the_page_the_title_was_seen_on(settings):
    # given a 30-minute window, a title seen on a page, and shown again, never on screen,
    # on a page two minutes later whose client reported another tile
    settings.TONIGHT = {**settings.TONIGHT, "ATTRIBUTION_WINDOW_SECONDS": 1800}
    profile = ProfileFactory()
    title, other, first, second = _title_on_two_pages(profile, second_after=dt.timedelta(minutes=2))
    shown(profile, title.pk, AT + dt.timedelta(seconds=5), page_id=first.pk, row="top_picks")
    shown(profile, other.pk, second.generated_at + dt.timedelta(seconds=5), page_id=second.pk)

    # when the title is played, naming no page, exactly the window after the first page
    play(profile, title, AT + dt.timedelta(seconds=1800))

    # then the page it was seen on, its window still open ("at most"), has the play
    labelled = read()
    assert [labelled.page_ids[p] for p in labelled.page[labelled.played]] == [first.pk]


@pytest.mark.parametrize("reported", ["title_on_the_first", "other_tile_on_the_second"])
def test_a_report_stamped_at_the_plays_very_instant_is_a_report_by_then(reported):
    """A client may stamp the tile it reports and the play of it in one millisecond: the
    report is "by then", as the documented rule reads, on either page."""
    # given a title on a page and, two minutes later, again on the next, below the tile the
    # second page's client reports
    profile = ProfileFactory()
    title, other, first, second = _title_on_two_pages(profile, second_after=dt.timedelta(minutes=2))
    played_at = AT + dt.timedelta(minutes=4)
    if reported == "title_on_the_first":  # seen on the first at the play's instant
        shown(profile, title.pk, played_at, page_id=first.pk, row="top_picks")
        shown(profile, other.pk, second.generated_at + dt.timedelta(seconds=5), page_id=second.pk)
    else:  # seen on the first; the second's first report is at the play's instant
        shown(profile, title.pk, AT + dt.timedelta(seconds=5), page_id=first.pk, row="top_picks")
        shown(profile, other.pk, played_at, page_id=second.pk)

    # when it is played, naming no page
    play(profile, title, played_at)

    # then the page it was seen on has the play, not the later one where it never was
    labelled = read()
    assert [labelled.page_ids[p] for p in labelled.page[labelled.played]] == [first.pk]


def test_a_page_exactly_the_window_after_a_range_still_takes_the_credit_it_is_due(settings):
    # given a 30-minute window, a title on a page and again on the profile's page exactly
    # the window later, and a play of it naming no page at that later page's moment
    settings.TONIGHT = {**settings.TONIGHT, "ATTRIBUTION_WINDOW_SECONDS": 1800}
    profile = ProfileFactory()
    title, _, first, second = _title_on_two_pages(profile, second_after=dt.timedelta(minutes=30))
    play(profile, title, second.generated_at)

    # when a range holding only the first page is read, and one holding only the second
    early = page_impressions_attributed(since=AT, until=AT + dt.timedelta(minutes=1))
    late = page_impressions_attributed(
        since=AT + dt.timedelta(minutes=1), until=AT + dt.timedelta(hours=1)
    )

    # then the play is the later page's (the latest that showed it), in either read
    assert early.page_ids == [first.pk]
    assert not early.played.any()
    assert late.page_ids == [second.pk]
    assert late.played.sum() == 1


@pytest.mark.parametrize(
    "range_start", [dt.timedelta(0), dt.timedelta(minutes=1)], ids=["at_it", "before_it"]
)
def test_a_page_exactly_the_window_before_a_range_still_takes_the_credit_it_is_due(
    settings, range_start
):
    # given a 30-minute window, a title seen on a page, shown again exactly the window later
    # on a page whose client reported another tile, and a play of it naming no page then
    settings.TONIGHT = {**settings.TONIGHT, "ATTRIBUTION_WINDOW_SECONDS": 1800}
    profile = ProfileFactory()
    title, other, first, second = _title_on_two_pages(
        profile, second_after=dt.timedelta(minutes=30)
    )
    shown(profile, title.pk, AT + dt.timedelta(seconds=5), page_id=first.pk, row="top_picks")
    shown(profile, other.pk, second.generated_at - dt.timedelta(seconds=1), page_id=second.pk)
    play(profile, title, second.generated_at)

    # when a range holding only the second page is read, starting at it (the first page is
    # then exactly the window before the range) or a minute before it
    late = page_impressions_attributed(
        since=second.generated_at - range_start, until=AT + dt.timedelta(hours=1)
    )

    # then the play is not the second page's: it went to the first, where it was seen
    assert late.page_ids == [second.pk]
    assert not late.played.any()


def test_a_page_generated_at_a_ranges_end_is_the_next_ranges_only():
    # given a page generated exactly where two consecutive ranges meet, and a play of it
    profile = ProfileFactory()
    title = TitleFactory()
    page = page_log(profile, AT, ["top_picks"], [[title.pk, 0, 0, None, 1.0]])
    play(profile, title, AT + dt.timedelta(minutes=5), page_id=page.pk)

    # when the ranges are read one after the other (the artwork policy's incremental updates)
    before = page_impressions_attributed(since=AT - dt.timedelta(hours=1), until=AT)
    after = page_impressions_attributed(since=AT, until=AT + dt.timedelta(hours=1))

    # then the page, and its play, are learned from once: ranges are half-open
    assert before.page_ids == []
    assert after.page_ids == [page.pk]
    assert after.played.tolist() == [True]


def test_a_page_closes_once_a_play_stamped_by_a_clock_behind_can_no_longer_credit_it(settings):
    # given a 30-minute window and a minute's tolerated skew
    settings.TONIGHT = {
        **settings.TONIGHT,
        "ATTRIBUTION_WINDOW_SECONDS": 1800,
        "SIGNAL_MAX_FUTURE_SKEW_SECONDS": 60,
    }
    # when the moment before which pages are closed at AT is asked
    closed = closed_before(AT)

    # then a page a second later is still open: a client a minute behind the server may
    # yet send a play stamped at its window's end, and that play is the page's
    assert closed == AT - dt.timedelta(seconds=1800 + 60)
    profile = ProfileFactory()
    title = TitleFactory()
    page_at = closed + dt.timedelta(seconds=1)
    page = page_log(profile, page_at, ["top_picks"], [[title.pk, 0, 0, None, 1.0]])
    stamped = page_at + dt.timedelta(seconds=1800)
    assert stamped > AT - dt.timedelta(seconds=60)  # sent after AT by a clock a minute behind
    play(profile, title, stamped, page_id=page.pk)
    assert read().played.tolist() == [True]


def test_a_pages_admin_page_says_which_tile_a_play_was_credited_to_and_how(admin_client):
    # given: a page of two rows, a tile on screen, and a play naming the page
    profile = ProfileFactory()
    titles = [TitleFactory(original_name=name) for name in ("Sacred Games", "Kota Factory")]
    page = page_log(
        profile,
        AT,
        ["top_picks", "trending:IN"],
        [[titles[0].pk, 0, 0, 7, 0.5], [titles[1].pk, 1, 2, 9, 0.25]],
    )
    shown(profile, titles[1].pk, AT + dt.timedelta(seconds=5), page_id=page.pk, row="trending:IN")
    play(profile, titles[1], AT + dt.timedelta(minutes=3), page_id=page.pk, row="trending:IN")

    # when
    html = admin_client.get(f"/admin/recommendations/pagelog/{page.pk}/change/").content.decode()

    # then: the one credited tile, where it was, its artwork and how it was credited, its
    # row and position counted from 0 as the page's items, the signals and the API count
    # them (position 2 was "position 3" here and 2 on the play's signal), the row named by
    # the id a signal's `row` carries
    assert "2 tiles; 1 reported on screen by the client; 1 credited with a play" in html
    assert "Rows and positions count from 0" in html
    assert (
        f"row 1 trending:IN (trending), position 2: Kota Factory (#{titles[1].pk}), "
        "artwork #9 at propensity 0.250; played 2026-03-02 20:03:00 UTC (the play named "
        "this page)"
    ) in html
    credited = html.split("Plays credited")[1].split("</div>")[0]
    assert "Kota Factory" in credited
    assert "Sacred Games" not in credited
