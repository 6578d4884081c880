"""``manage.py import_interactions``: ratings as signals, households and derived per-title state."""

import contextlib
import datetime as dt
import gzip
import io
import os
import tarfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account
from catalog.models import Title
from profiles.models import Profile
from recommendations.models import ProfileTitleState, Signal, SignalKind
from recommendations.services import dataset_import
from recommendations.services.dataset_import import (
    IMPORT_EVENT_NAMESPACE,
    import_event_id,
    rating_signals,
    weight_signals,
)
from recommendations.services.signals import title_states_fold
from recommendations.signal_events import SignalEvent
from tests.conftest import token_client
from tests.db_plans import generic_plan_nodes
from tests.factories import LanguageFactory, RegionFactory
from tests.processes import run_python

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent.parent

MOVIES = """movieId,title,genres
1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy
2,Jumanji (1995),Adventure|Children|Fantasy
3,Grumpier Old Men (1995),Comedy|Romance
4,Waiting to Exhale (1995),Comedy|Drama|Romance
5,Father of the Bride Part II (1995),Comedy
"""
# user 1 rates across the whole scale; users 2..7 one film each, to fill households.
RATINGS = """userId,movieId,rating,timestamp
1,1,5.0,964982703
1,2,4.0,964981247
1,3,3.0,964982224
1,4,2.0,964983815
1,5,0.5,964982931
2,1,4.5,1445714835
3,2,3.5,1306463578
10,1,1.0,1260759144
4,3,5,1260759179
5,1,4,1260759185
6,2,3,1260759205
"""
T0 = 964982703  # 2000-07-30 18:45:03 UTC


@pytest.fixture
def catalogue(tmp_path, db):
    LanguageFactory()
    RegionFactory(code="IN")
    path = tmp_path / "movies.csv"
    path.write_text(MOVIES)
    call_command("import_catalogue", str(path), "--region", "IN", stdout=io.StringIO(), verbosity=0)
    return {t.external_id: t for t in Title.objects.all()}


def write(tmp_path, text: str, name: str = "ratings.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(path, *args: str, verbosity: int = 0) -> str:
    out = io.StringIO()
    options = ("--region", "IN", *args) if "--region" not in args else args
    call_command("import_interactions", str(path), *options, stdout=out, verbosity=verbosity)
    return out.getvalue()


def snapshot() -> tuple[int, ...]:
    return (
        Account.objects.count(),
        Profile.objects.count(),
        Signal.objects.count(),
        ProfileTitleState.objects.count(),
    )


def kinds_of(profile: Profile, title: Title) -> list[tuple[str, float | None]]:
    return sorted(
        Signal.objects.filter(profile=profile, title=title).values_list("kind", "value"),
        key=lambda kv: kv[0],
    )


def test_users_become_profiles_in_households_of_n(tmp_path, catalogue):
    # when 7 source users are imported, 3 to a household
    output = run(write(tmp_path, RATINGS), "--profiles-per-household", "3")

    # then households are filled in natural user id order, 3, 3 and 1
    households = {
        account.external_id: [(p.slot, p.external_id) for p in account.profiles.order_by("slot")]
        for account in Account.objects.filter(external_id__startswith="import:")
    }
    assert households == {
        "import:1": [(1, "1"), (2, "2"), (3, "3")],
        "import:2": [(1, "4"), (2, "5"), (3, "6")],
        "import:3": [(1, "10")],
    }
    assert set(Account.objects.values_list("home_region_id", flat=True)) == {"IN"}
    assert Profile.objects.get(external_id="10").name == "User 10"
    assert "11 ratings of 7 users read." in output
    assert "Households created: 3 in IN; profiles created: 7, already imported: 0." in output


def test_ratings_map_to_signals_by_the_documented_rules(tmp_path, catalogue):
    run(write(tmp_path, RATINGS))

    asha = Profile.objects.get(external_id="1")
    toy_story, jumanji, grumpier, waiting, father = (catalogue[str(n)] for n in range(1, 6))
    assert kinds_of(asha, toy_story) == [
        ("complete", None),
        ("play_start", None),
        ("thumbs_up", None),
    ]
    assert kinds_of(asha, jumanji) == [("complete", None), ("play_start", None)]
    assert kinds_of(asha, grumpier) == [("play_start", None), ("progress", 60.0)]
    assert kinds_of(asha, waiting) == [("play_start", None), ("thumbs_down", None)]
    assert kinds_of(asha, father) == [("play_start", None), ("thumbs_down", None)]
    # half stars: 4.5 is a completion without a thumb, 3.5 a longer partial watch
    assert kinds_of(Profile.objects.get(external_id="2"), toy_story) == [
        ("complete", None),
        ("play_start", None),
    ]
    assert kinds_of(Profile.objects.get(external_id="3"), jumanji) == [
        ("play_start", None),
        ("progress", 70.0),
    ]

    signal = Signal.objects.get(profile=asha, title=toy_story, kind="thumbs_up")
    assert signal.occurred_at == dt.datetime.fromtimestamp(T0, tz=dt.UTC)
    assert signal.device == "web"
    assert signal.client_event_id == import_event_id(
        user="1", item="1", kind="thumbs_up", time=float(T0)
    )
    assert signal.client_event_id.version == 5
    assert not Signal.objects.filter(is_rewatch=True).exists()


@pytest.mark.parametrize(
    ("rating", "scale", "kinds"),
    [
        (5, 5, ["play_start", "complete", "thumbs_up"]),
        (4.5, 5, ["play_start", "complete"]),
        (4, 5, ["play_start", "complete"]),
        (3.5, 5, ["play_start", "progress"]),
        (3, 5, ["play_start", "progress"]),
        (2.5, 5, ["play_start", "thumbs_down"]),
        (0, 5, ["play_start", "thumbs_down"]),
        (10, 10, ["play_start", "complete", "thumbs_up"]),
        (8, 10, ["play_start", "complete"]),
        (6, 10, ["play_start", "progress"]),
        (5, 10, ["play_start", "thumbs_down"]),
        (1, 1, ["play_start", "complete", "thumbs_up"]),
    ],
)
def test_rating_signals_scale_with_the_rating_scale(rating, scale, kinds):
    assert [kind for kind, _ in rating_signals(rating, scale=scale)] == kinds


def test_progress_grows_with_a_middling_rating():
    values = [dict(rating_signals(r, scale=5))[SignalKind.PROGRESS] for r in (3, 3.5, 3.9)]
    assert values == [60.0, 70.0, 78.0]


def test_derived_state_shows_completions_thumbs_and_progress(tmp_path, catalogue):
    run(write(tmp_path, RATINGS))

    asha = Profile.objects.get(external_id="1")
    states = {s.title.external_id: s for s in ProfileTitleState.objects.filter(profile=asha)}
    assert set(states) == {"1", "2", "3", "4", "5"}
    summary = {
        external_id: (s.is_completed, s.thumbs, s.progress, s.play_count)
        for external_id, s in states.items()
    }
    assert summary == {
        "1": (True, "up", 100.0, 1),
        "2": (True, "", 100.0, 1),
        "3": (False, "", 60.0, 1),
        "4": (False, "down", 0.0, 1),
        "5": (False, "down", 0.0, 1),
    }
    assert states["1"].completed_at == dt.datetime.fromtimestamp(T0, tz=dt.UTC)
    assert states["1"].thumbs_at == dt.datetime.fromtimestamp(T0, tz=dt.UTC)
    assert all(s.rewatch_count == 0 for s in states.values())


def test_derived_state_is_what_the_live_rules_make_of_the_stored_signals(tmp_path, catalogue):
    # given an import, then a second file with newer ratings for a known user
    run(write(tmp_path, RATINGS))
    later = T0 + 86_400
    run(
        write(
            tmp_path,
            f"userId,movieId,rating,timestamp\n1,3,5,{later}\n1,4,4,{later}\n",
            name="more.csv",
        )
    )

    # then every stored state equals a fresh fold of that profile's stored signals
    kinds = dict(Title.objects.values_list("pk", "kind"))
    fields = ("play_count", "progress", "completed_at", "thumbs", "thumbs_at", "rewatch_count")
    for profile in Profile.objects.all():
        signals = Signal.objects.filter(profile=profile).order_by("occurred_at", "pk")
        events = [
            SignalEvent(
                index=i,
                kind=s.kind,
                title_id=s.title_id,
                episode_id=None,
                value=s.value,
                device=s.device,
                occurred_at=s.occurred_at,
                client_event_id=s.client_event_id,
                page_id=None,
                row="",
                position=None,
                artwork_variant_id=None,
            )
            for i, s in enumerate(signals)
        ]
        expected: dict[int, ProfileTitleState] = {}
        title_states_fold(
            profile_id=profile.pk,
            states=expected,
            events=events,
            title_kinds=kinds,
            season_episodes={},
        )
        stored = {s.title_id: s for s in ProfileTitleState.objects.filter(profile=profile)}
        assert set(stored) == set(expected)
        for title_id, state in stored.items():
            want = expected[title_id]
            assert [getattr(state, f) for f in fields] == [getattr(want, f) for f in fields]

    # and the later ratings were folded into the earlier state: 3 -> 5 is now done and liked
    grumpier = ProfileTitleState.objects.get(profile__external_id="1", title__external_id="3")
    assert (grumpier.is_completed, grumpier.thumbs) == (True, ProfileTitleState.Thumbs.UP)
    # a later rating is a later interaction: its play start is kept beside the first
    assert grumpier.play_count == 2


@pytest.mark.parametrize("files", ["one file", "a file each"])
def test_a_title_rated_top_and_bottom_in_one_second_is_disliked_whatever_the_order(
    tmp_path, catalogue, files
):
    # given: user 1 rates Toy Story 5 then 1 within one second (the file's resolution), user
    # 2 rates it 1 then 5
    first = f"1,1,5.0,{T0}\n2,1,1.0,{T0}\n"
    second = f"1,1,1.0,{T0}\n2,1,5.0,{T0}\n"
    header = "userId,movieId,rating,timestamp\n"

    # when: imported in one file, or the second ratings in a later file
    if files == "one file":
        run(write(tmp_path, header + first + second))
    else:
        run(write(tmp_path, header + first))
        run(write(tmp_path, header + second, name="more.csv"))

    # then: both are disliked, as confidence and the live state read ratings at one instant
    states = ProfileTitleState.objects.filter(title__external_id="1")
    assert sorted(states.values_list("profile__external_id", "thumbs")) == [
        ("1", ProfileTitleState.Thumbs.DOWN),
        ("2", ProfileTitleState.Thumbs.DOWN),
    ]


def test_rerunning_an_import_stores_nothing_twice(tmp_path, catalogue):
    # given
    path = write(tmp_path, RATINGS)
    first = run(path, "--profiles-per-household", "2")
    states_before = list(
        ProfileTitleState.objects.order_by("pk").values_list("pk", "play_count", "progress")
    )
    before = snapshot()

    # when
    second = run(path, "--profiles-per-household", "2")

    # then
    assert "Signals stored: 24 (" in first
    assert "profiles created: 0, already imported: 7." in second
    assert "Signals stored: 0; duplicates (already stored): 24." in second
    assert snapshot() == before
    assert (
        list(ProfileTitleState.objects.order_by("pk").values_list("pk", "play_count", "progress"))
        == states_before
    )


def test_a_rerun_finds_the_stored_pairs_not_their_combinations(tmp_path, catalogue):
    # given: user 1 rated films 1 and 2, user 2 film 3
    header = "userId,movieId,rating,timestamp\n"
    run(write(tmp_path, f"{header}1,1,4,{T0}\n1,2,4,{T0 + 1}\n2,3,4,{T0 + 2}\n"))

    # when: a later file has user 1's first rating again, and each user rating a film the
    # other one has a state of
    output = run(write(tmp_path, f"{header}1,1,4,{T0}\n1,3,4,{T0 + 3}\n2,1,4,{T0 + 4}\n", "2.csv"))

    # then: only the new ratings' states are written, as new states
    assert "Signals stored: 4 (complete 2, play_start 2); duplicates (already stored): 2." in output
    assert "Per-title states written: 2." in output
    assert set(
        ProfileTitleState.objects.values_list("profile__external_id", "title__external_id")
    ) == {
        ("1", "1"),
        ("1", "2"),
        ("1", "3"),
        ("2", "1"),
        ("2", "3"),
    }


def _list_conditions(nodes: list[dict]) -> list[str]:
    """Conditions that test a row against a whole array parameter.

    In a generic plan the array's length is unknown and it is not hashed: a filter
    walks it for every row read, an index condition probes the index with each of
    its values, and with two (one per column of the index) with every value of
    the one for every value of the other.
    """
    return [
        node[key]
        for node in nodes
        for key in ("Index Cond", "Recheck Cond", "Filter")
        if "ANY (" in node.get(key, "")
    ]


def test_a_rerun_looks_up_each_stored_pair_however_its_statements_are_planned(tmp_path, db):
    # given: 20 users who rated 100 films each, imported once, with the tables' statistics
    LanguageFactory()
    RegionFactory(code="IN")
    films = "".join(f"{t},Film {t} (1999),Drama\n" for t in range(1, 101))
    movies = write(tmp_path, "movieId,title,genres\n" + films, name="movies.csv")
    call_command(
        "import_catalogue", str(movies), "--region", "IN", stdout=io.StringIO(), verbosity=0
    )
    rows = "".join(
        f"{u},{t},{1 + (u + t) % 5},{T0 + u * 1000 + t}\n"
        for u in range(1, 21)
        for t in range(1, 101)
    )
    path = write(tmp_path, "userId,movieId,rating,timestamp\n" + rows)
    run(path)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE recommendations_signal, recommendations_profiletitlestate")
    statements: list[str] = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    # when: the file is imported again
    with connection.execute_wrapper(record):
        output = run(path)

    # then: the stored signals and states it looks up are read pair by pair in the generic
    # plan too, the one the import's statements run with from its eighth chunk on (with
    # a list of profiles and one of events, 120 million index page visits a chunk)
    assert "Signals stored: 0; duplicates (already stored): " in output
    lookups = {
        table: next(s for s in statements if s.startswith("SELECT") and f'FROM "{table}"' in s)
        for table in ("recommendations_signal", "recommendations_profiletitlestate")
    }
    assert {table: _list_conditions(generic_plan_nodes(sql)) for table, sql in lookups.items()} == {
        "recommendations_signal": [],
        "recommendations_profiletitlestate": [],
    }


def test_new_users_in_a_later_file_get_new_households(tmp_path, catalogue):
    run(write(tmp_path, RATINGS), "--profiles-per-household", "5")

    run(
        write(tmp_path, "userId,movieId,rating,timestamp\n1,5,4,964990000\n99,1,4,964990000\n"),
        "--profiles-per-household",
        "5",
    )

    assert Profile.objects.filter(external_id="1").count() == 1
    newcomer = Profile.objects.get(external_id="99")
    assert newcomer.account.external_id == "import:3"
    assert newcomer.slot == 1


def test_a_generic_layout_with_its_own_columns_scale_and_times(tmp_path, catalogue):
    path = write(
        tmp_path,
        "when;stars;item;member\n"
        "2024-03-01T20:00:00+05:30;10;1;m-7\n"
        "2024-03-02T21:00:00Z;6;2;m-7\n",
        name="events.txt",
    )

    output = run(
        path,
        "--delimiter",
        ";",
        "--user-column",
        "member",
        "--item-column",
        "item",
        "--rating-column",
        "stars",
        "--time-column",
        "when",
        "--rating-scale",
        "10",
        "--device",
        "tv",
    )

    assert "2 ratings of 1 users read." in output
    member = Profile.objects.get(external_id="m-7")
    thumbs = Signal.objects.get(profile=member, kind="thumbs_up")
    assert thumbs.occurred_at == dt.datetime(2024, 3, 1, 14, 30, tzinfo=dt.UTC)
    assert thumbs.device == "tv"
    assert Signal.objects.get(profile=member, kind="progress").value == 60.0


def test_ids_a_spreadsheet_wrote_as_decimals_are_the_same_ids(tmp_path, catalogue):
    # given ratings saved from a spreadsheet: user and item ids written as decimals
    path = write(tmp_path, "userId,movieId,rating,timestamp\n1.0,2.0,4,964982703\n")

    # when they are imported, and the clean file's row for another title after them
    run(path)
    run(write(tmp_path, "userId,movieId,rating,timestamp\n1,3,4,964982703\n", name="b.csv"))

    # then they are the catalogue's items and one user's profile
    asha = Profile.objects.get()
    assert asha.external_id == "1"
    rated = Signal.objects.filter(profile=asha).values_list("title__external_id", flat=True)
    assert sorted(set(rated)) == ["2", "3"]


def test_a_utf_8_file_read_as_latin_1_is_refused_unless_forced(tmp_path, catalogue):
    path = write(tmp_path, "userId,movieId,rating,timestamp\n1,1,4,964982703\nJosé,2,4,964982703\n")

    with pytest.raises(CommandError, match=r"ratings.csv:3: the file is UTF-8, not latin-1"):
        run(path, "--encoding", "latin-1")
    assert snapshot() == (0, 0, 0, 0)

    run(path, "--encoding", "latin-1", "--force-encoding")
    assert Profile.objects.filter(external_id="JosÃ©").exists()


def test_a_headerless_movielens_1m_file(tmp_path, catalogue):
    path = write(tmp_path, "1::1::5::978300760\n1::2::3::978302109\n", name="ratings.dat")

    run(path, "--delimiter", "::", "--no-header")

    assert Signal.objects.filter(profile__external_id="1").count() == 5


GOOD = "1,1,4,964982703\n"


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("1,2,4", "expected 4 fields, found 3"),
        ("1,2,4,964982703,extra", "expected 4 fields, found 5"),
        (",2,4,964982703", "empty userId"),
        ("1,,4,964982703", "empty movieId"),
        ("1,2,good,964982703", "rating 'good' is not a number"),
        ("1,2,,964982703", "rating '' is not a number"),
        ("1,2,5.5,964982703", "rating 5.5 is outside 0-5 (see --rating-scale)"),
        ("1,2,-1,964982703", "rating -1 is outside 0-5"),
        ("1,2,nan,964982703", "rating nan is outside 0-5"),
        ("1,2,4,yesterday", "timestamp 'yesterday' is neither unix seconds nor an ISO 8601"),
        ("1,2,4,2024-03-01T20:00:00", "timestamp '2024-03-01T20:00:00' has no time zone offset"),
        (
            "1,2,4,2024-03-01",
            "timestamp '2024-03-01' has no time zone offset (for UTC write '2024-03-01T00:00:00Z')",
        ),
        # an exporter's placeholder for no time, and a 1970 time in ISO 8601 alike
        ("1,2,4,0", "timestamp '0' is before 1990-01-01 (a placeholder for no time?)"),
        ("1,2,4,1", "timestamp '1' is before 1990-01-01 (a placeholder for no time?)"),
        ("1,2,4,1970-01-01T00:00:00Z", "timestamp '1970-01-01T00:00:00Z' is before 1990-01-01"),
        ("1,2,4,631151999", "timestamp '631151999' is before 1990-01-01"),
        ("1,2,4,-5", "timestamp '-5' is before 1990-01-01"),
        ("1,2,4,-inf", "timestamp '-inf' is before 1990-01-01"),
        ("1,2,4,nan", "timestamp 'nan' is not a time"),
        (
            "1,2,4,964982703000",
            "timestamp '964982703000' is in the future (milliseconds? give unix seconds)",
        ),
        ("1,2,4,99999999999", "timestamp '99999999999' is in the future"),
        ("1,999,4,964982703", "unknown item movieId '999' (not in the catalogue; run import_"),
        ("1\x00,2,4,964982703", "userId contains a NUL character"),
        ("1,2\x00,4,964982703", "movieId contains a NUL character"),
        ("1,2,4\x00,964982703", "rating contains a NUL character"),
        ("1,2,4,964982703\x00", "timestamp contains a NUL character"),
    ],
)
def test_each_bad_row_is_named_by_line_and_nothing_is_imported(tmp_path, catalogue, row, reason):
    path = write(tmp_path, f"userId,movieId,rating,timestamp\n{GOOD}2,1,5,964982703\n{row}\n")

    with pytest.raises(CommandError) as error:
        run(path)

    lines = str(error.value).splitlines()
    assert lines[0] == f"{path}: 1 bad line; nothing was imported."
    assert lines[1].startswith(f"{path}:4: {reason}"), lines[1]
    assert snapshot() == (0, 0, 0, 0)


def test_rows_of_titles_deleted_since_are_skipped_and_named_when_asked(tmp_path, catalogue):
    # given a history whose line 5 rates a title staff have deleted since the catalogue import
    catalogue["4"].delete()
    path = write(tmp_path, RATINGS)

    # when it is imported, then it is refused, naming the line and the way to import the rest
    with pytest.raises(CommandError) as error:
        run(path)
    assert f"{path}:5: unknown item movieId '4'" in str(error.value)
    assert "--skip-unknown-items" in str(error.value)
    assert snapshot() == (0, 0, 0, 0)

    # when the rest is asked for
    output = run(path, "--skip-unknown-items")

    # then every other row is stored, and the skipped one is named by line
    assert "10 ratings of 7 users read." in output
    assert "1 line skipped: its item is not in the catalogue" in output
    assert f"{path}:5: unknown item movieId '4'" in output
    assert Signal.objects.filter(profile__external_id="1").values("title").distinct().count() == 4

    # but a skipped item does not hide a line's other problems
    bad = write(tmp_path, RATINGS + "1,4,x,964982703\n", name="bad.csv")
    with pytest.raises(CommandError, match=r"bad.csv:13: unknown item .*rating 'x' is not"):
        run(bad, "--skip-unknown-items")


def test_a_file_whose_every_row_would_be_skipped_is_refused_as_the_wrong_file(tmp_path, catalogue):
    # given ratings of another data set's items (the wrong file, or the right file on the
    # wrong environment's catalogue): every line names an item this catalogue lacks, and
    # until December 2026 --skip-unknown-items skipped them all, stored nothing and exited 0
    rows = "".join(f"{n},{900 + n},4.0,{T0 + n}\n" for n in range(1, 26))
    path = write(tmp_path, "userId,movieId,rating,timestamp\n" + rows, name="other.csv")

    # when it is imported skipping unknown items, then it is refused, naming the file, the
    # count and what to check, and the first skipped lines
    with pytest.raises(CommandError) as error:
        run(path, "--skip-unknown-items")
    assert error.value.returncode == 1
    lines = str(error.value).splitlines()
    assert lines[0] == (
        f"{path}: all 25 of its rows name items not in the catalogue; nothing was imported."
    )
    assert "wrong file" in lines[1]
    assert "--item-column" in lines[1]
    assert lines[2] == f"{path}:2: unknown item movieId '901' (not in the catalogue; " + (
        "run import_catalogue first)"
    )
    assert lines[-1] == "... and 5 more skipped lines"
    assert snapshot() == (0, 0, 0, 0)

    # but one row of a known item is enough: it is imported, and the rest listed as skipped
    mixed = write(tmp_path, "userId,movieId,rating,timestamp\n" + rows + "1,1,5.0,964982703\n")
    output = run(mixed, "--skip-unknown-items")
    assert "1 ratings of 1 users read." in output
    assert "25 lines skipped: their items are not in the catalogue." in output
    assert snapshot() == (1, 1, 3, 1)

    # and a file of one row is told so in the singular
    with pytest.raises(CommandError, match=r"its one row names an item not in the catalogue"):
        run(
            write(tmp_path, "userId,movieId,rating,timestamp\n" + rows.splitlines()[0] + "\n"),
            "--skip-unknown-items",
        )


def test_every_problem_of_a_line_is_reported_and_the_first_twenty_lines_listed(tmp_path, catalogue):
    rows = "".join(f"{n},999,x,{T0 + n}\n" for n in range(1, 26))
    path = write(tmp_path, "userId,movieId,rating,timestamp\n" + rows)

    with pytest.raises(CommandError) as error:
        run(path)

    lines = str(error.value).splitlines()
    assert lines[0] == f"{path}: 25 bad lines; nothing was imported."
    assert lines[1] == (
        f"{path}:2: unknown item movieId '999' (not in the catalogue; run import_catalogue "
        "first); rating 'x' is not a number"
    )
    assert len(lines) == 22
    assert lines[-1] == "... and 5 more bad lines"


def test_a_header_without_the_expected_columns_names_them(tmp_path, catalogue):
    path = write(tmp_path, "user,item,score,ts\n1,1,4,964982703\n")

    with pytest.raises(CommandError) as error:
        run(path)

    message = str(error.value)
    assert f"{path}:1: the header has no column 'userId', 'movieId', 'rating', 'timestamp'" in (
        message
    )
    assert "It names 'user', 'item', 'score', 'ts'" in message
    assert "--user-column, --item-column, --rating-column, --time-column" in message
    assert snapshot() == (0, 0, 0, 0)


def test_options_are_checked_before_the_file(tmp_path, catalogue):
    path = write(tmp_path, RATINGS)

    with pytest.raises(CommandError, match="No region 'XX'"):
        run(path, "--region", "XX")
    with pytest.raises(CommandError, match="rating scale must be positive"):
        run(path, "--rating-scale", "0")
    with pytest.raises(CommandError, match="'rot13' is not a text encoding"):
        run(path, "--encoding", "rot13")
    with pytest.raises(CommandError, match=r"Cannot read .*missing.csv: No such file"):
        run(tmp_path / "missing.csv")
    assert snapshot() == (0, 0, 0, 0)


def test_dry_run_reports_what_would_be_stored_and_writes_nothing(tmp_path, catalogue):
    output = run(write(tmp_path, RATINGS), "--dry-run", "--profiles-per-household", "3")

    assert output.startswith("Dry run, nothing kept.")
    assert "Households created: 3 in IN; profiles created: 7" in output
    assert "Signals stored: 24 (" in output
    assert snapshot() == (0, 0, 0, 0)


def test_progress_goes_to_stderr_and_the_summary_to_stdout(tmp_path, catalogue, capsys):
    # the command's stderr, as its other commands' bars: what a caller hands call_command
    # (or a Celery task's log, a test's buffer) gets them, not the process's stderr
    out, stderr = io.StringIO(), io.StringIO()
    call_command(
        "import_interactions", str(write(tmp_path, RATINGS)), "--region", "IN",
        stdout=out, stderr=stderr, verbosity=1,
    )  # fmt: skip
    output = out.getvalue()

    err = stderr.getvalue()
    assert "Reading ratings.csv" not in capsys.readouterr().err
    assert "Reading ratings.csv" in err
    assert "Storing signals" in err
    assert "Storing signals" not in output
    assert "Per-title states written: 11." in output


def test_titles_not_available_in_the_households_region_are_flagged(tmp_path, catalogue):
    RegionFactory(code="US", name="United States", time_zone="America/New_York")

    output = run(write(tmp_path, RATINGS), "--region", "US")

    assert "5 rated titles are not available in US now" in output


def test_the_number_of_queries_does_not_grow_with_the_rows(tmp_path, catalogue):
    def queries_for(users: int) -> int:
        rows = "".join(
            f"{u},{t},{1 + (u + t) % 5},{T0 + u * 10 + t}\n"
            for u in range(1, users + 1)
            for t in range(1, 6)
        )
        path = write(tmp_path, "userId,movieId,rating,timestamp\n" + rows, name=f"{users}.csv")
        with CaptureQueriesContext(connection) as queries:
            run(path, "--dry-run", "--profiles-per-household", "5")
        return len(queries)

    assert queries_for(4) == queries_for(200)


def test_event_ids_are_stable_across_runs_and_machines():
    event = {"user": "1", "item": "31", "kind": "complete", "time": 964982703.0}
    assert import_event_id(**event) == import_event_id(**event)
    assert str(IMPORT_EVENT_NAMESPACE) == "4f1c2d8e-6b0a-5d47-9a3e-2f6c8b1e7d50"
    assert import_event_id(**event) == uuid.uuid5(
        IMPORT_EVENT_NAMESPACE, "1\x1f31\x1fcomplete\x1f964982703.000000"
    )
    assert import_event_id(**event, repeat=2) == uuid.uuid5(
        IMPORT_EVENT_NAMESPACE, "1\x1f31\x1fcomplete\x1f964982703.000000\x1f2"
    )
    assert import_event_id(**event) != import_event_id(**(event | {"user": "13", "item": "1"}))
    assert import_event_id(**event) != import_event_id(**(event | {"time": 964982704.0}))


def test_imported_history_is_not_bound_by_the_live_horizon(tmp_path, catalogue):
    run(write(tmp_path, RATINGS))

    oldest = Signal.objects.order_by("occurred_at").first().occurred_at
    assert oldest < timezone.now() - dt.timedelta(days=365 * 10)


@pytest.mark.parametrize(
    "text", ["userId,movieId,rating,timestamp\n", "userId,movieId,rating,timestamp\n\n  \n"]
)
def test_a_file_with_only_a_header_is_refused(tmp_path, catalogue, text):
    # given the wrong file exported, or an export of a query that found nothing
    path = write(tmp_path, text)

    # when it is imported, then it fails, naming the file: until December 2026 it said
    # "0 ratings of 0 users read." and exited 0, which an operator's script read as done
    with pytest.raises(CommandError, match=rf"^{path} has a header but no rows"):
        run(path)
    assert snapshot() == (0, 0, 0, 0)


@pytest.mark.parametrize("args", [(), ("--no-header",)])
def test_an_empty_file_is_refused(tmp_path, catalogue, args):
    path = write(tmp_path, "")

    with pytest.raises(CommandError, match=rf"^{path} is empty"):
        run(path, *args)
    assert snapshot() == (0, 0, 0, 0)


def test_chunks_of_whole_users_give_the_same_result_as_one_chunk(tmp_path, catalogue, monkeypatch):
    # given chunks far smaller than the file, and a second run that finds everything stored
    monkeypatch.setattr("recommendations.services.dataset_import.signal_store.CHUNK_ROWS", 3)
    path = write(tmp_path, RATINGS)

    first = run(path, "--profiles-per-household", "2")
    second = run(path, "--profiles-per-household", "2")

    assert "Signals stored: 24 (" in first
    assert "Per-title states written: 11." in first
    assert "duplicates (already stored): 24." in second
    assert Signal.objects.count() == 24
    assert ProfileTitleState.objects.count() == 11


def test_live_signals_carry_on_from_imported_history(tmp_path, catalogue):
    # given a profile whose imported history finished Toy Story
    run(write(tmp_path, RATINGS))
    profile = Profile.objects.get(external_id="1")
    toy_story = catalogue["1"]

    # when the client app reports a new play of it
    response = token_client(profile.account).post(
        reverse("v1:signals", args=[profile.pk]),
        {
            "events": [
                {
                    "kind": "play_start",
                    "title": toy_story.pk,
                    "device": "tv",
                    "occurred_at": timezone.now().isoformat(),
                    "client_event_id": str(uuid.uuid4()),
                }
            ]
        },
        format="json",
    )

    # then the live path sees the imported completion: it is a rewatch
    assert response.status_code == 200, response.json()
    state = ProfileTitleState.objects.get(profile=profile, title=toy_story)
    assert (state.play_count, state.rewatch_count) == (2, 1)
    assert Signal.objects.get(profile=profile, title=toy_story, device="tv").is_rewatch


PLAYS = """user,item,plays,when
1,1,3,964982703
1,2,0.25,964982704
1,3,0,964982705
2,1,1,964982706
1,1,2,964990000
1,1,2,964990000
"""


@pytest.mark.parametrize(
    ("weight", "scale", "plan"),
    [
        (1, 1.0, (("play_start", None), ("complete", None))),
        (500, 1.0, (("play_start", None), ("complete", None))),
        (3, 500.0, (("play_start", None), ("progress", 0.6))),
        (250, 500.0, (("play_start", None), ("progress", 50.0))),
        (0.0001, 1.0, (("play_start", None), ("progress", 0.1))),
        (0, 1.0, ()),
    ],
)
def test_weights_map_to_play_and_completion_never_to_a_thumbs_down(weight, scale, plan):
    assert weight_signals(weight, scale=scale) == plan


def test_a_weight_file_imports_plays_and_keeps_repeated_pairs(tmp_path, catalogue):
    # given: play counts, user 1 playing item 1 on two days, twice in the same second the
    # second time, and a zero weight
    path = write(tmp_path, PLAYS, name="plays.csv")
    args = ["--user-column", "user", "--item-column", "item", "--time-column", "when"]

    # when
    output = run(path, *args, "--weight-column", "plays")

    # then: every repeated row is its own play; nothing is a thumbs down
    user = Profile.objects.get(external_id="1")
    assert "6 weights of 2 users read." in output
    assert Signal.objects.filter(kind=SignalKind.THUMBS_DOWN).count() == 0
    assert Signal.objects.filter(profile=user, title=catalogue["1"], kind="play_start").count() == 3
    assert Signal.objects.get(profile=user, title=catalogue["2"], kind="progress").value == 25.0
    assert not Signal.objects.filter(profile=user, title=catalogue["3"]).exists()
    toy_story = ProfileTitleState.objects.get(profile=user, title=catalogue["1"])
    assert toy_story.is_completed
    assert (toy_story.play_count, toy_story.rewatch_count) == (3, 2)  # two after completing

    # and importing the same file again stores nothing twice
    before = snapshot()
    again = run(path, *args, "--weight-column", "plays")
    assert "Signals stored: 0; duplicates (already stored): 10." in again
    assert snapshot() == before


def test_a_weight_scale_says_what_one_whole_viewing_weighs(tmp_path, catalogue):
    path = write(
        tmp_path, "userId,movieId,minutes,timestamp\n1,1,45,964982703\n1,2,120,964982703\n"
    )

    run(path, "--weight-column", "minutes", "--weight-scale", "90")

    assert kinds_of(Profile.objects.get(external_id="1"), catalogue["1"]) == [
        ("play_start", None),
        ("progress", 50.0),
    ]
    assert ("complete", None) in kinds_of(Profile.objects.get(external_id="1"), catalogue["2"])


def test_weight_options_are_checked(tmp_path, catalogue):
    path = write(tmp_path, "userId,movieId,plays,timestamp\n1,1,-2,964982703\n")

    with pytest.raises(CommandError, match=r":2: plays -2 is not a weight of 0 or more"):
        run(path, "--weight-column", "plays")
    with pytest.raises(CommandError, match="--weight-scale needs --weight-column"):
        run(path, "--weight-scale", "90")
    with pytest.raises(CommandError, match="weight scale must be positive"):
        run(path, "--weight-column", "plays", "--weight-scale", "0")
    assert snapshot() == (0, 0, 0, 0)


def test_a_rating_file_with_repeated_pairs_keeps_each_rating(tmp_path, catalogue):
    # given: user 1 rates item 1 twice, at different times (this refused the whole file)
    path = write(tmp_path, f"userId,movieId,rating,timestamp\n{GOOD}1,1,2,964990000\n")

    # when
    output = run(path)

    # then: both ratings are stored, the later one's thumbs down last
    user = Profile.objects.get(external_id="1")
    assert "2 ratings of 1 users read." in output
    assert Signal.objects.filter(profile=user, title=catalogue["1"], kind="play_start").count() == 2
    state = ProfileTitleState.objects.get(profile=user, title=catalogue["1"])
    assert state.thumbs == ProfileTitleState.Thumbs.DOWN


#: The demo's first run, in a process of its own on a fresh SQLite file: the suite's
#: database is PostgreSQL, and its settings are read once per process.
_ON_SQLITE = """
import io, sys
import django
django.setup()
from django.core.management import call_command
from catalog.models import Language
from regions.models import Region
call_command("migrate", verbosity=0)
Region.objects.create(
    code="US",
    name="US",
    time_zone="America/New_York",
    default_language=Language.objects.create(code="en"),
)
movies, ratings, later = sys.argv[1:]
call_command("import_catalogue", movies, "--region", "US", verbosity=0, stdout=io.StringIO())
for options in ([], ["--dry-run"], []):
    call_command("import_interactions", ratings, "--region", "US", *options, verbosity=0)
call_command("import_interactions", later, "--region", "US", verbosity=0)
"""


@pytest.mark.slow
def test_rerunning_an_import_on_sqlite_stores_nothing_twice(tmp_path):
    # given: the first local run's database, SQLite (which has no UUID type)
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env |= {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'tonight.sqlite3'}",
        "SECRET_KEY": "test-only-secret-key",
        "CELERY_BROKER_URL": "",
        "REDIS_URL": "",
        "OPENBLAS_NUM_THREADS": "1",
    }

    # when: the same file is imported, checked again with --dry-run, and imported again
    # (then a later file: a rating again, user 1's second of film 3, user 2's first of film 2)
    movies, ratings = write(tmp_path, MOVIES, "movies.csv"), write(tmp_path, RATINGS)
    later = write(
        tmp_path,
        "userId,movieId,rating,timestamp\n1,1,5.0,964982703\n1,3,4,964990000\n2,2,4,964990000\n",
        "later.csv",
    )
    result = run_python("-c", _ON_SQLITE, str(movies), str(ratings), str(later), env=env)

    # then: the reruns find every signal already stored (they failed to bind the event ids),
    # and the later file's new ratings alone are stored, with states of their own
    assert result.returncode == 0, result.stderr[-3000:]
    first, dry_run, second, third = result.stdout.split("Households created:")[1:]
    assert "Signals stored: 24 (" in first
    for rerun in (dry_run, second):
        assert "Signals stored: 0; duplicates (already stored): 24." in rerun
    assert "Signals stored: 4 (complete 2, play_start 2); duplicates (already stored): 3." in third
    assert "Per-title states written: 2." in third


def test_a_byte_order_mark_is_not_part_of_the_first_user_id(tmp_path, catalogue):
    # given a headerless UTF-8 file with a byte-order mark, read as plain utf-8
    path = tmp_path / "ratings.csv"
    path.write_bytes(b"\xef\xbb\xbf" + f"7,1,4.0,{T0}\n".encode())

    run(path, "--no-header", "--encoding", "utf-8")

    assert list(Profile.objects.values_list("external_id", flat=True)) == ["7"]


def test_times_from_the_earliest_a_signal_can_have_are_imported(tmp_path, catalogue):
    # 1990-01-01T00:00:00Z is 631152000: the floor itself is a time, the second before is not
    run(write(tmp_path, "userId,movieId,rating,timestamp\n1,1,4,631152000\n"))

    assert {s.occurred_at for s in Signal.objects.all()} == {dt.datetime(1990, 1, 1, tzinfo=dt.UTC)}


def test_a_timestamp_before_the_floor_is_a_bad_line_even_when_skipping_unknown_items(
    tmp_path, catalogue
):
    # given a placeholder time on a line whose item is also unknown: not only its item is wrong
    path = write(tmp_path, f"userId,movieId,rating,timestamp\n{GOOD}1,999,4,0\n")

    with pytest.raises(CommandError, match=rf"{path}:3: unknown item .*; timestamp '0' is before"):
        run(path, "--skip-unknown-items")
    assert snapshot() == (0, 0, 0, 0)


def test_a_date_time_far_in_the_future_is_not_asked_whether_it_is_milliseconds(tmp_path, catalogue):
    # given an ISO time past the year 5000, where a number would be milliseconds
    path = write(tmp_path, f"userId,movieId,rating,timestamp\n{GOOD}2,1,5,5200-01-01T00:00:00Z\n")

    with pytest.raises(CommandError) as error:
        run(path)

    # then it is only in the future: its digits are a date's, not a count of milliseconds
    reason = str(error.value).splitlines()[1]
    assert reason == f"{path}:3: timestamp '5200-01-01T00:00:00Z' is in the future"


def test_ratings_piped_in_are_refused_rather_than_read_in_part(tmp_path, catalogue):
    # given ratings piped in (``zcat ratings.csv.gz | import_interactions /dev/stdin``): the
    # import reads its file more than once, and a pipe's rows are gone after one reading
    reader, writer = os.pipe()
    os.write(writer, RATINGS.encode())
    os.close(writer)
    try:
        # when it is imported, then it is refused before anything is read
        with pytest.raises(CommandError, match=r"/dev/fd/\d+ is not a regular file"):
            run(f"/dev/fd/{reader}")
    finally:
        os.close(reader)
    assert snapshot() == (0, 0, 0, 0)


def test_a_dash_for_standard_input_is_refused_with_what_to_do(tmp_path, catalogue):
    with pytest.raises(CommandError) as error:
        run("-")
    assert str(error.value).startswith("'-' (standard input) cannot be imported: the import")
    assert "Save the data to a file first and give its path" in str(error.value)
    assert snapshot() == (0, 0, 0, 0)


def gzipped(tmp_path, text: str, name: str = "ratings.csv.gz", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(gzip.compress(text.encode(encoding)))
    return path


def test_gzip_compressed_ratings_are_read_as_they_are(tmp_path, catalogue):
    # given ratings exported as .csv.gz, as exports usually are: until December 2026 the
    # import refused them ("gunzip it first"), and a pipe from zcat is refused still
    path = gzipped(tmp_path, RATINGS)

    # when they are imported, then they are the plain file's ratings, signals and states
    output = run(path)
    assert "11 ratings of 7 users read." in output
    assert "Signals stored: 24 (" in output
    gzipped_import = snapshot()
    assert "Signals stored: 0 (" not in run(write(tmp_path, RATINGS), "--dry-run")
    assert "duplicates (already stored): 24." in run(write(tmp_path, RATINGS), "--dry-run")
    assert snapshot() == gzipped_import


def test_the_reading_bar_of_a_gzip_file_counts_its_uncompressed_lines(tmp_path, catalogue):
    # the total is the rows' lines, found by a first pass over the decompressed stream
    # (a compressed size would advance by bytes the rows do not count in)
    bar = _BarRecorder()
    path = gzipped(tmp_path, RATINGS + "\n")
    dataset_import.interactions_import(path=path, region="IN", progress=bar, dry_run=True)

    assert bar.phases["Reading ratings.csv.gz"] == [12, 12]


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        # a download cut short: the stream stops before its end marker
        (lambda data: data[: len(data) // 2], "is cut short: its gzip stream stops"),
        # its checksum is stored at the end, after the rows
        (lambda data: data[:-8] + bytes([data[-8] ^ 1]) + data[-7:], "is a damaged gzip file"),
    ],
    ids=["cut", "checksum"],
)
def test_a_damaged_gzip_file_is_refused_whole(tmp_path, catalogue, damage, reason):
    path = tmp_path / "ratings.csv.gz"
    path.write_bytes(damage(gzip.compress((RATINGS * 50).encode())))

    with pytest.raises(CommandError) as error:
        run(path)

    assert str(error.value).startswith(f"{path} {reason}")
    assert str(error.value).endswith("Nothing was imported.")
    assert snapshot() == (0, 0, 0, 0)


def test_ratings_in_a_gzip_compressed_tar_archive_are_refused_as_an_archive(tmp_path, catalogue):
    # given ratings.csv shipped in a .tar.gz: read through gzip as the import reads a
    # .csv.gz, its text was the tar header, refused as a header with no userId column
    data = RATINGS.encode()
    member = tarfile.TarInfo("ml-latest-small/ratings.csv")
    member.size = len(data)
    path = tmp_path / "ml-latest-small.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        archive.addfile(member, io.BytesIO(data))

    # when it is imported, then the refusal names the file and what to do with it
    with pytest.raises(CommandError) as error:
        run(path)
    assert str(error.value) == (
        f"{path} is a gzip-compressed tar archive: the import reads one delimited text "
        "file, plain or gzip-compressed. Extract the file to import from it (tar -xf) and "
        "give its path (a .csv, or a .csv.gz as it is). Nothing was imported."
    )
    assert snapshot() == (0, 0, 0, 0)


def test_a_gzip_file_is_checked_as_a_plain_one_is(tmp_path, catalogue):
    # its encoding, on the decompressed text
    latin = gzipped(
        tmp_path, "userId,movieId,rating,timestamp\n1,1,4,964982703\nJosé,2,4,964982703\n"
    )
    with pytest.raises(CommandError, match=r"ratings.csv.gz:3: the file is UTF-8, not latin-1"):
        run(latin, "--encoding", "latin-1")
    # a header without rows
    header = gzipped(tmp_path, "userId,movieId,rating,timestamp\n", name="header.csv.gz")
    with pytest.raises(CommandError, match=r"header.csv.gz has a header but no rows"):
        run(header)
    assert snapshot() == (0, 0, 0, 0)
    # and a last line without a line break
    cut = gzipped(tmp_path, RATINGS.rstrip("\n"), name="cut.csv.gz")
    assert f"{cut}:12: the file ends without a line break" in run(cut)


class _BarRecorder:
    """A progress reporter that keeps each phase's total and the sum of its advances."""

    def __init__(self) -> None:
        self.phases: dict[str, list[int | None]] = {}

    @contextlib.contextmanager
    def __call__(self, desc: str, total: int | None) -> Iterator[Callable[[int], None]]:
        phase = self.phases[desc] = [total, 0]

        def advance(n: int) -> None:
            phase[1] += n

        yield advance


@pytest.mark.parametrize(
    ("name", "text"),
    [
        # a quoted title over two lines, then a blank line at the end (as editors leave)
        ("movies.csv", 'movieId,title,genres\n6,"Heat\nThe Director\'s Cut (1995)",Crime\n\n'),
        # no line break after the last row, as a hand-made file or a cut-off download
        ("movies.csv", "movieId,title,genres\n6,Heat (1995),Crime\n7,Sabrina (1995),Comedy"),
        ("ratings.csv", RATINGS + "\n\n"),
        ("ratings.csv", RATINGS.rstrip("\n")),
    ],
)
def test_the_reading_bar_ends_full_whatever_the_lines_hold(tmp_path, catalogue, name, text):
    # when a file whose rows are not one line each is read
    bar = _BarRecorder()
    path = write(tmp_path, text, name=name)
    if name == "movies.csv":
        dataset_import.catalogue_import(path=path, progress=bar, dry_run=True)
    else:
        dataset_import.interactions_import(path=path, region="IN", progress=bar, dry_run=True)

    # then the bar reading it ends at its total: until December 2026 the total was the
    # file's line breaks and the bar advanced by rows, so it stopped short (91% on a
    # catalogue whose titles span lines) or ran past it
    total, done = bar.phases[f"Reading {name}"]
    assert total is not None
    assert done == total


def test_creating_the_households_of_new_users_has_a_bar(tmp_path, catalogue):
    # given a file of 7 users, 2 of them imported before
    run(write(tmp_path, "userId,movieId,rating,timestamp\n1,1,4,964982703\n2,1,4,964982703\n"))

    # when it is imported, then creating the new users' households and profiles has a bar
    # of its own, ending at the new users: on a data set of 110,000 users it took 38 s,
    # shown until December 2026 as the reading bar standing at 100%
    bar = _BarRecorder()
    dataset_import.interactions_import(
        path=write(tmp_path, RATINGS), region="IN", progress=bar, profiles_per_household=2
    )
    assert bar.phases["Creating profiles"] == [5, 5]
    # and a re-run, which creates none, has an empty one
    bar = _BarRecorder()
    dataset_import.interactions_import(path=write(tmp_path, RATINGS), region="IN", progress=bar)
    assert bar.phases["Creating profiles"] == [0, 0]


def test_the_reading_bar_counts_the_lines_of_a_file_of_carriage_returns(tmp_path, catalogue):
    # given a file whose lines end in a carriage return alone ("CSV (Macintosh)")
    bar = _BarRecorder()
    path = write(tmp_path, RATINGS.replace("\n", "\r"))

    # when it is read, then its total is its rows, as a file of line feeds counts them:
    # until December 2026 it was 0, the file holding no line feed
    dataset_import.interactions_import(path=path, region="IN", progress=bar, dry_run=True)
    assert bar.phases["Reading ratings.csv"] == [11, 11]


def test_a_file_without_a_line_break_at_its_end_names_its_last_line(tmp_path, catalogue):
    # when a ratings file ends without a line break, as a download cut short does
    cut = write(tmp_path, RATINGS.rstrip("\n"), name="cut.csv")
    output = run(cut)

    # then the row is imported, and the summary names the line to check
    assert "11 ratings of 7 users read." in output
    assert f"{cut}:12: the file ends without a line break" in output
    # and a unix time cut by a digit or more ("1260759205" as "12607", in 1970) is before
    # the earliest a signal can have: the line is refused, not imported as 1970
    with pytest.raises(CommandError, match=r"cut.csv:12: timestamp '12607' is before 1990"):
        run(write(tmp_path, RATINGS.rstrip("\n")[:-5], name="cut.csv"))
    # and a file that ends with one says nothing of it, nor does a blank line after it
    assert "line break" not in run(write(tmp_path, RATINGS + "\n  \n", name="whole.csv"))


def _interrupted_while(phase: str):
    """A terminal bar whose phase ``phase`` is Ctrl-C'd after its first step is done."""

    def terminal_progress(*, enabled: bool = True, file=None):
        @contextlib.contextmanager
        def progress(desc: str, total: int | None) -> Iterator[Callable[[int], None]]:
            def advance(n: int) -> None:
                if desc == phase and n:
                    raise KeyboardInterrupt

            yield advance

        return progress

    return terminal_progress


def test_ctrl_c_while_storing_says_nothing_was_imported(tmp_path, catalogue, monkeypatch):
    before = snapshot()
    monkeypatch.setattr(
        "recommendations.management.commands.import_interactions.terminal_progress",
        _interrupted_while("Storing signals"),
    )

    # when the operator presses Ctrl-C with the first signals written
    with pytest.raises(CommandError) as interrupted:
        run(write(tmp_path, RATINGS), verbosity=1)

    # then the command says so in a line, not a traceback from inside the import, with
    # where it was and the shell's exit status for Ctrl-C; and it is true: nothing was kept
    assert str(interrupted.value) == (
        "Interrupted after storing signals (11 of 11 rows): nothing was imported (the import "
        "writes in one transaction, rolled back). Run it again to import the file."
    )
    assert interrupted.value.returncode == 130
    assert snapshot() == before
    # and a re-run imports the whole file
    monkeypatch.undo()
    assert "Signals stored: 24 (" in run(write(tmp_path, RATINGS))


def test_ctrl_c_once_the_import_is_committed_says_it_was_all_kept(tmp_path, catalogue, monkeypatch):
    # given: Ctrl-C comes once the transaction has committed (as the file's end is looked at
    # for the summary)
    def interrupted(path):
        raise KeyboardInterrupt

    monkeypatch.setattr(
        "recommendations.services.dataset_import.interactions._unterminated_warning", interrupted
    )
    path = write(tmp_path, RATINGS)

    # when
    with pytest.raises(CommandError) as stopped:
        run(path)

    # then it does not claim that nothing was kept: everything was
    assert (
        str(stopped.value)
        == f"Interrupted after the import was stored: all of {path} was imported."
    )
    assert Signal.objects.count() == 24


@pytest.mark.parametrize(
    ("state", "dry_run", "says"),
    [
        # the commit was sent: whether it was done, the interruption cannot tell
        ("committing", False, "Interrupted as the import was committing: it may have been"),
        # a dry run keeps nothing, wherever it stopped
        ("committing", True, "Interrupted as the dry run ended: nothing was kept"),
        (
            "writing",
            True,
            "Interrupted while storing signals (2 of 5 rows): nothing was "
            "imported (a dry run keeps nothing)",
        ),
    ],
)
def test_an_interruption_says_only_what_is_known_of_what_was_kept(state, dry_run, says):
    where = dataset_import.ImportWhereabouts(
        Path("ratings.csv"), phase="Storing signals", done=2, total=5, state=state
    )

    assert where.interrupted(dry_run=dry_run).startswith(says)


def test_ctrl_c_while_reading_names_the_line_and_says_nothing_was_written(
    tmp_path, catalogue, monkeypatch
):
    before = snapshot()
    monkeypatch.setattr(
        "recommendations.management.commands.import_interactions.terminal_progress",
        _interrupted_while("Reading ratings.csv"),
    )
    path = write(tmp_path, RATINGS)

    # when the operator presses Ctrl-C as the last row is read
    with pytest.raises(CommandError) as interrupted:
        run(path, verbosity=1)

    # then it names the line, as a bad line is named, and says why nothing was kept
    assert str(interrupted.value) == (
        f"Interrupted at {path}:12, reading the file: nothing was imported (nothing is "
        "written before the whole file is read and checked). Run it again to import the file."
    )
    assert interrupted.value.returncode == 130
    assert snapshot() == before


def test_linking_genres_and_opening_licence_windows_have_bars_of_their_own(tmp_path, db):
    # given: a language and a region, and a catalogue of five titles with genres
    LanguageFactory()
    RegionFactory(code="IN")
    bar = _BarRecorder()

    # when it is imported into the region
    dataset_import.catalogue_import(
        path=write(tmp_path, MOVIES, name="movies.csv"), regions=["IN"], progress=bar
    )

    # then: after the titles' bar, the genre links and the licence windows each have one,
    # ending at their totals: until December 2026 the titles' bar stood at 100% while the
    # genre links were written (18 s at 87,000 titles), then nothing showed while the
    # windows were (59 s)
    assert list(bar.phases) == [
        "Reading movies.csv",
        "Storing titles",
        "Linking genres",
        "Opening licence windows",
    ]
    assert bar.phases["Storing titles"] == [5, 5]
    assert bar.phases["Linking genres"] == [5, 5]
    assert bar.phases["Opening licence windows"] == [5, 5]
    # and a re-run, which changes nothing, walks the same bars to their ends
    bar = _BarRecorder()
    dataset_import.catalogue_import(
        path=write(tmp_path, MOVIES, name="movies.csv"), regions=["IN"], progress=bar
    )
    assert bar.phases["Linking genres"] == [5, 5]
    assert bar.phases["Opening licence windows"] == [0, 0]
