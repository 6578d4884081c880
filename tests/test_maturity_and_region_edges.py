"""The hard rule at its edges, endpoint by endpoint, where the area's own tests stop.

An account's token reaches only its own profiles; a profile with a maturity limit never
gets a title or artwork above it; everything comes from titles available in the account's
region now. These are the cases the homepage's, title page's, signals' and continue
watching's own tests leave out: a title re-rated after it was watched, windows that end
or start within the hour, another household's profile named in a query, and one profile's
unlock sent for its sibling.
"""

import datetime as dt
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from catalog.models import MaturityLevel, Title
from profiles.models import Profile
from tests.conftest import token_client
from tests.factories import (
    AccountFactory,
    ArtworkVariantFactory,
    AvailabilityFactory,
    LanguageFactory,
    ProfileFactory,
    TitleFactory,
)

pytestmark = pytest.mark.django_db
HOUR = dt.timedelta(hours=1)


def played(client, profile, title, *, percent: float = 40) -> None:
    occurred = timezone.now() - dt.timedelta(minutes=5)
    events = [
        {"kind": kind, "title": title.pk, "device": "tv", "occurred_at": occurred.isoformat()}
        | ({"value": percent} if kind == "progress" else {})
        | {"client_event_id": str(uuid.uuid4())}
        for kind in ("play_start", "progress")
    ]
    response = client.post(
        reverse("v1:signals", args=[profile.pk]), {"events": events}, format="json"
    )
    assert response.status_code == 200, response.json()


def detail(client, title, profile, **headers):
    return client.get(f"/api/v1/titles/{title.pk}/", {"profile": profile.pk}, **headers)


def locked_profile(account, name: str, **fields):
    profile = ProfileFactory(account=account, name=name, **fields)
    profile.set_pin("2468")
    profile.save()
    return profile


def unlock(client, profile) -> str:
    response = client.post(
        reverse("v1:profile-unlock", args=[profile.pk]), {"pin": "2468"}, format="json"
    )
    assert response.status_code == 200, response.json()
    return response.json()["token"]


def test_a_title_re_rated_after_it_was_watched_leaves_history_resumes_and_its_page(
    api_client, account
):
    # given: a kids profile played two all-ages films; one is since re-rated 13+
    kid = ProfileFactory(account=account, name="Kid", is_kids=True, maturity_limit=7)
    rerated, kept = TitleFactory(kind="film"), TitleFactory(kind="film")
    for title in (rerated, kept):
        AvailabilityFactory(title=title, region=account.home_region)
        played(api_client, kid, title)
    Title.objects.filter(pk=rerated.pk).update(maturity=MaturityLevel.THIRTEEN)

    # when
    history = api_client.get(reverse("v1:signals", args=[kid.pk])).json()
    asked = api_client.get(reverse("v1:signals", args=[kid.pk]), {"title": rerated.pk}).json()
    resumes = api_client.get(
        reverse("v1:continue-watching", args=[kid.pk]), {"device": "tv"}
    ).json()
    page = detail(api_client, rerated, kid)

    # then
    assert {s["title"] for s in history["results"]} == {kept.pk}
    assert history["count"] == 2
    assert asked["count"] == 0
    assert [item["title_id"] for item in resumes["results"]] == [kept.pk]
    assert page.status_code == 404
    assert rerated.original_name not in page.content.decode()


def test_a_teens_history_and_resumes_keep_what_is_at_its_limit_and_drop_what_was_re_rated(
    api_client, account
):
    # given: a 13+ profile played a title rated exactly 13, one rated 7 since re-rated 16,
    # and a 7 title from a frame since re-rated 16 (the Kids case above leaves out a limit
    # below the top but above 7, the limit itself, and frames)
    teen = ProfileFactory(account=account, name="Teen", maturity_limit=MaturityLevel.THIRTEEN)
    at_limit = TitleFactory(kind="film", maturity=MaturityLevel.THIRTEEN)
    rerated = TitleFactory(kind="film", maturity=MaturityLevel.SEVEN)
    framed = TitleFactory(kind="film", maturity=MaturityLevel.SEVEN)
    frame = ArtworkVariantFactory(title=framed, maturity=MaturityLevel.SEVEN)
    for title in (at_limit, rerated, framed):
        AvailabilityFactory(title=title, region=account.home_region)
    for title in (at_limit, rerated):
        played(api_client, teen, title)
    shown = {
        "kind": "impression",
        "title": framed.pk,
        "artwork_variant": frame.pk,
        "device": "tv",
        "occurred_at": (timezone.now() - dt.timedelta(minutes=5)).isoformat(),
        "client_event_id": str(uuid.uuid4()),
    }
    sent = api_client.post(
        reverse("v1:signals", args=[teen.pk]), {"events": [shown]}, format="json"
    )
    assert sent.json()["new"] == 1, sent.json()
    Title.objects.filter(pk=rerated.pk).update(maturity=MaturityLevel.SIXTEEN)
    type(frame).objects.filter(pk=frame.pk).update(maturity=MaturityLevel.SIXTEEN)

    # when
    history = api_client.get(reverse("v1:signals", args=[teen.pk])).json()
    resumes = api_client.get(
        reverse("v1:continue-watching", args=[teen.pk]), {"device": "tv"}
    ).json()

    # then: the title at the limit stays in both; the re-rated title and frame are gone
    assert history["count"] == 2
    assert {s["title"] for s in history["results"]} == {at_limit.pk}
    assert [item["title_id"] for item in resumes["results"]] == [at_limit.pk]


def test_windows_that_ended_or_start_within_the_hour_are_closed_everywhere(api_client, account):
    # given: three films started in the region; one's licence ended an hour ago, one's
    # present window ended and its next starts in an hour, one's never ended
    profile = ProfileFactory(account=account, name="Asha")
    now = timezone.now()
    ended, between, open_ = (TitleFactory(kind="film") for _ in range(3))
    windows = {
        t: AvailabilityFactory(title=t, region=account.home_region, starts_at=now - 3 * HOUR)
        for t in (ended, between, open_)
    }
    for title in (ended, between, open_):
        played(api_client, profile, title)
    type(windows[ended]).objects.filter(pk=windows[ended].pk).update(ends_at=now - HOUR)
    type(windows[between]).objects.filter(pk=windows[between].pk).update(ends_at=now - HOUR)
    AvailabilityFactory(title=between, region=account.home_region, starts_at=now + HOUR)

    # then: neither is resumable nor has a page; the open one has both
    resumes = api_client.get(
        reverse("v1:continue-watching", args=[profile.pk]), {"device": "tv"}
    ).json()
    assert [item["title_id"] for item in resumes["results"]] == [open_.pk]
    assert detail(api_client, ended, profile).status_code == 404
    assert detail(api_client, between, profile).status_code == 404
    assert detail(api_client, open_, profile).status_code == 200


def test_an_allowed_titles_page_lists_only_artwork_within_the_limit_and_active(api_client, account):
    teen = ProfileFactory(account=account, name="Teen", maturity_limit=MaturityLevel.THIRTEEN)
    title = TitleFactory(maturity=MaturityLevel.SEVEN)
    AvailabilityFactory(title=title, region=account.home_region)
    at_limit = ArtworkVariantFactory(title=title, maturity=MaturityLevel.THIRTEEN)
    ArtworkVariantFactory(title=title, maturity=MaturityLevel.SIXTEEN)
    ArtworkVariantFactory(title=title, maturity=MaturityLevel.ALL, is_active=False)

    body = detail(api_client, title, teen).json()

    assert [art["id"] for art in body["artwork"]] == [at_limit.pk]


def test_another_households_profile_in_the_title_pages_query_is_a_404_of_the_profile(
    api_client, account
):
    title = TitleFactory()
    AvailabilityFactory(title=title, region=account.home_region)
    stranger = ProfileFactory(account=AccountFactory(home_region=account.home_region))

    response = detail(api_client, title, stranger)
    unknown = api_client.get(f"/api/v1/titles/{title.pk}/", {"profile": stranger.pk + 1000})

    assert response.status_code == 404
    assert response.json() == unknown.json()
    assert title.original_name not in response.content.decode()


def test_a_profiles_unlock_opens_none_of_its_siblings_anywhere(account):
    # given: a locked kids profile and a locked adult sibling of the same household
    client = token_client(account)
    kid = locked_profile(account, "Kid", is_kids=True, maturity_limit=7)
    parent = locked_profile(account, "Parent")
    title = TitleFactory()
    AvailabilityFactory(title=title, region=account.home_region)
    kids_token = unlock(client, kid)
    header = {"HTTP_X_PROFILE_UNLOCK": kids_token}

    # then: the kid's token opens the kid's data, and none of the parent's
    assert detail(client, title, kid, **header).status_code == 200
    for name in ("signals", "continue-watching", "recommendations", "homepage"):
        response = client.get(reverse(f"v1:{name}", args=[parent.pk]), **header)
        assert response.status_code == 403, name
        assert response.json()["code"] == "profile_locked", name
    assert detail(client, title, parent, **header).status_code == 403
    event = {
        "kind": "play_start",
        "title": title.pk,
        "device": "tv",
        "occurred_at": timezone.now().isoformat(),
        "client_event_id": str(uuid.uuid4()),
    }
    written = client.post(
        reverse("v1:signals", args=[parent.pk]), {"events": [event]}, format="json", **header
    )
    assert written.status_code == 403
    changed = client.patch(
        reverse("v1:profile-detail", args=[parent.pk]), {"pin": None}, format="json", **header
    )
    assert changed.status_code == 403
    assert Profile.objects.get(pk=parent.pk).has_pin


def test_another_households_unlock_opens_nothing_here(account):
    # given: two households, each with a locked profile; ours has a token of theirs
    client = token_client(account)
    ours = locked_profile(account, "Ours")
    other = AccountFactory(home_region=account.home_region)
    theirs = locked_profile(other, "Theirs")
    their_token = unlock(token_client(other), theirs)

    response = client.get(
        reverse("v1:continue-watching", args=[ours.pk]),
        {"device": "tv"},
        HTTP_X_PROFILE_UNLOCK=their_token,
    )
    foreign = client.get(
        reverse("v1:continue-watching", args=[theirs.pk]),
        {"device": "tv"},
        HTTP_X_PROFILE_UNLOCK=their_token,
    )

    assert response.status_code == 403
    assert foreign.status_code == 404


def test_a_title_added_without_a_rating_reaches_no_kids_profile(api_client, account, client):
    # given: staff add a film and its window, leaving the rating the admin form offers,
    # as the catalogue import leaves a title nobody has rated
    staff = get_user_model().objects.create_superuser("staff", "staff@example.com", None)
    client.force_login(staff)
    form = client.get(reverse("admin:catalog_title_add")).content.decode()
    kid = ProfileFactory(account=account, name="Kid", is_kids=True, maturity_limit=7)
    adult = ProfileFactory(account=account, name="Parent")
    unrated = Title.objects.create(
        kind=Title.Kind.FILM,
        original_name="Unrated",
        original_language=LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்"),
        release_date=dt.date(2020, 1, 1),
        runtime_minutes=100,
    )
    AvailabilityFactory(title=unrated, region=account.home_region)

    # then: the kid's page of the title is a 404 (the adult's is not): the form offers 18+
    assert detail(api_client, unrated, kid).status_code == 404
    assert detail(api_client, unrated, adult).status_code == 200
    assert f'<option value="{MaturityLevel.EIGHTEEN}" selected>' in form
