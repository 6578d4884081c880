"""The admin's delete confirmations count the log tables' rows rather than reading each one.

A profile's signals and logged pages (tens of thousands), a title's signals
and states (millions), a variant's daily figures: Django reads every one into
the web process, checks and renders each, on the confirmation page and again on
the POST that confirms (``config/admin_deletion.py``).
"""

import datetime as dt
import uuid

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from accounts.models import Account
from artwork.models import ArtworkVariantDaily
from catalog.models import Language, Title
from config import admin_deletion
from profiles.models import MAX_PROFILES_PER_ACCOUNT, Profile
from profiles.services import profile_create
from recommendations.models import PageLog, ProfileTitleState, Signal, SignalKind
from regions.models import Region
from tests.factories import (
    AccountFactory,
    ArtworkVariantFactory,
    AvailabilityFactory,
    LanguageFactory,
    TitleFactory,
)

LOGS = (
    "recommendations_signal",
    "recommendations_pagelog",
    "recommendations_profiletitlestate",
    "artwork_artworkvariantdaily",
)


@pytest.fixture
def superuser(db, client: Client) -> Client:
    LanguageFactory(code="en", name="English", native_name="English")
    client.force_login(get_user_model().objects.create_superuser("staff", "s@example.com", None))
    return client


def _history(profile: Profile, title: Title, *, signals: int, pages: int) -> None:
    now = timezone.now()
    Signal.objects.bulk_create(
        Signal(
            profile=profile,
            title=title,
            kind=SignalKind.IMPRESSION,
            device="tv",
            occurred_at=now,
            client_event_id=uuid.uuid4(),
        )
        for _ in range(signals)
    )
    PageLog.objects.bulk_create(
        PageLog(
            id=uuid.uuid4(),
            profile=profile,
            generated_at=now,
            device="tv",
            region="IN",
            hour=20,
            weekday=4,
            items=[[title.pk, 0, 0, None, 1.0]],
        )
        for _ in range(pages)
    )
    ProfileTitleState.objects.create(profile=profile, title=title, last_event_at=now)


def _log_rows_read(queries: CaptureQueriesContext) -> list[str]:
    """Statements that read rows of the log tables (their counts and deletes are not reads)."""
    return [
        q["sql"]
        for q in queries.captured_queries
        if any(q["sql"].startswith(f'SELECT "{table}".') for table in LOGS)
    ]


def _url(obj: object, view: str = "delete") -> str:
    opts = obj._meta  # type: ignore[attr-defined]
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=[obj.pk])  # type: ignore[attr-defined]


@pytest.fixture
def household() -> tuple[Account, Profile, Title]:
    account = AccountFactory()
    title = TitleFactory()
    profile = profile_create(account=account, name="Asha")
    _history(profile, title, signals=30, pages=4)
    other = profile_create(account=account, name="Ravi")
    _history(other, title, signals=5, pages=1)
    return account, profile, title


def test_a_profiles_confirmation_counts_its_signals_and_pages(superuser, household):
    # given
    _, profile, _ = household

    # when
    with CaptureQueriesContext(connection) as queries:
        response = superuser.get(_url(profile))

    # then: one line per log table, no row of them read
    assert response.status_code == 200
    assert _log_rows_read(queries) == []
    page = response.content.decode()
    assert "Signals: 30, not listed one by one" in page
    assert "Page logs: 4, not listed one by one" in page
    assert "Profile title states: 1, not listed one by one" in page
    assert dict(response.context["model_count"])["signals"] == 30
    assert not response.context["perms_lacking"]


def test_confirming_a_profiles_deletion_reads_none_of_its_signals(superuser, household):
    # given
    _, profile, _ = household

    # when
    with CaptureQueriesContext(connection) as queries:
        response = superuser.post(_url(profile), {"post": "yes"})

    # then
    assert response.status_code == 302
    assert _log_rows_read(queries) == []
    assert not Signal.objects.filter(profile_id=profile.pk).exists()
    assert not PageLog.objects.filter(profile_id=profile.pk).exists()
    assert Signal.objects.count() == 5


def test_a_households_confirmation_and_the_delete_action_count_every_profiles_logs(
    superuser, household
):
    # given
    account, _, _ = household

    # when
    with CaptureQueriesContext(connection) as queries:
        page = superuser.get(_url(account))
        done = superuser.post(
            reverse("admin:accounts_account_changelist"),
            {"action": "delete_selected", "_selected_action": [account.pk], "post": "yes"},
        )

    # then
    assert "Signals: 35, not listed one by one" in page.content.decode()
    assert _log_rows_read(queries) == []
    assert done.status_code == 302
    assert not Account.objects.exists()
    assert not Signal.objects.exists()


def test_a_titles_confirmation_counts_every_profiles_signals_and_states_of_it(superuser, household):
    # given
    _, _, title = household

    # when
    with CaptureQueriesContext(connection) as queries:
        response = superuser.get(_url(title))

    # then
    assert _log_rows_read(queries) == []
    page = response.content.decode()
    assert "Signals: 35, not listed one by one" in page
    assert "Profile title states: 2, not listed one by one" in page


def test_a_variants_confirmation_counts_its_daily_figures(superuser):
    # given
    variant = ArtworkVariantFactory()
    day = dt.date(2026, 11, 1)
    ArtworkVariantDaily.objects.bulk_create(
        ArtworkVariantDaily(variant=variant, device="tv", day=day + dt.timedelta(days=i))
        for i in range(3)
    )

    # when
    with CaptureQueriesContext(connection) as queries:
        response = superuser.get(_url(variant))

    # then
    assert (
        "Daily figures of artwork variants: 3, not listed one by one" in response.content.decode()
    )
    assert _log_rows_read(queries) == []


def test_staff_who_may_not_delete_signals_may_not_delete_a_profile_that_has_some(
    db, client, household
):
    # given: may delete profiles, not signals (the admin checks each table once now)
    _, profile, _ = household
    user = get_user_model().objects.create_user("ops", "o@example.com", "x", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=[
                "view_profile",
                "delete_profile",
                "delete_pagelog",
                "delete_profiletitlestate",
            ]
        )
    )
    client.force_login(user)

    # when
    page = client.get(_url(profile))
    confirm = client.post(_url(profile), {"post": "yes"})

    # then
    assert page.context["perms_lacking"] == {"signal"}
    assert confirm.status_code == 403
    assert Signal.objects.filter(profile_id=profile.pk).count() == 30


# --- Every confirmation lists a bounded number of objects of each model -------------------


def _profiles_shown(language, accounts: int) -> None:
    """Five profiles a household, each shown ``language`` (which the profiles protect)."""
    for _ in range(accounts):
        account = AccountFactory()
        for n in range(MAX_PROFILES_PER_ACCOUNT):
            profile_create(account=account, name=f"P{n}", display_language=language)


def test_a_languages_confirmation_lists_a_few_of_the_profiles_it_is_shown_to(
    superuser, monkeypatch
):
    # given: a language shown to ten profiles, which protect it
    monkeypatch.setattr(admin_deletion, "LISTED_PER_MODEL", 3)
    tamil = LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்")
    _profiles_shown(tamil, accounts=2)

    # when
    response = superuser.get(_url(tamil))

    # then: three listed by name, the others counted; the page still refuses the deletion
    protected = [str(line) for line in response.context["protected"]]
    assert len(protected) == 4
    assert protected[-1] == "Profiles: 7 more, not listed one by one"
    assert "Profiles: 7 more, not listed one by one" in response.content.decode()


def test_a_confirmation_costs_the_same_for_few_objects_past_the_bound_and_many(
    superuser, monkeypatch
):
    # given: each protecting profile's name shows its household, a query each when listed
    monkeypatch.setattr(admin_deletion, "LISTED_PER_MODEL", 3)
    tamil = LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்")
    telugu = LanguageFactory(code="te", name="Telugu", native_name="తెలుగు")
    _profiles_shown(tamil, accounts=1)
    _profiles_shown(telugu, accounts=4)

    # when
    with CaptureQueriesContext(connection) as few:
        superuser.get(_url(tamil))
    with CaptureQueriesContext(connection) as many:
        superuser.get(_url(telugu))

    # then
    assert len(many.captured_queries) == len(few.captured_queries)


def test_a_regions_confirmation_lists_a_few_of_the_windows_it_takes_with_it(superuser, monkeypatch):
    # given: a region with no household, and six licensing windows (deleted with it)
    monkeypatch.setattr(admin_deletion, "LISTED_PER_MODEL", 2)
    english = Language.objects.get(code="en")
    britain = Region.objects.create(
        code="GB", name="United Kingdom", default_language=english, time_zone="Europe/London"
    )
    for _ in range(6):
        AvailabilityFactory(region=britain, title=TitleFactory(original_language=english))

    # when
    response = superuser.get(_url(britain))

    # then: the region, two of its windows under it, then the count of the rest
    deleted = response.context["deleted_objects"]
    assert len(deleted[1]) == 2
    assert deleted[-1] == "Availabilities: 4 more, not listed one by one"
    assert dict(response.context["model_count"])["availabilities"] == 6
    assert not response.context["perms_lacking"]


def test_an_object_left_unlisted_is_still_checked_for_its_delete_permission(
    db, client, monkeypatch
):
    # given: a crontab two schedules run on, the second the reaper's, which staff without
    # change permission on training runs may not stop (recommendations.admin.TaskGate);
    # only the first schedule is listed
    monkeypatch.setattr(admin_deletion, "LISTED_PER_MODEL", 1)
    crontab = CrontabSchedule.objects.create(minute="0", hour="4")
    PeriodicTask.objects.create(name="cleanup", task="celery.backend_cleanup", crontab=crontab)
    PeriodicTask.objects.create(
        name="reaper", task="recommendations.reap_training_runs", crontab=crontab
    )
    user = get_user_model().objects.create_user("ops", "o@example.com", "x", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_crontabschedule", "delete_crontabschedule", "delete_periodictask"]
        )
    )
    client.force_login(user)

    # when
    page = client.get(_url(crontab))
    confirm = client.post(_url(crontab), {"post": "yes"})

    # then
    assert page.context["deleted_objects"][-1] == "Periodic tasks: 1 more, not listed one by one"
    assert page.context["perms_lacking"] == {"periodic task"}
    assert confirm.status_code == 403
    assert PeriodicTask.objects.count() == 2


def test_every_admin_registered_has_the_bounded_confirmation() -> None:
    # Ours with their own mixins, ours without (languages), and the installed apps'.
    for model_admin in admin.site._registry.values():
        assert isinstance(model_admin, admin_deletion.CountedDeletionAdminMixin), model_admin


def test_a_languages_confirmation_counts_the_preferences_naming_it_without_reading_them(
    superuser,
):
    # given: a language three profiles prefer (rows of a many-to-many table)
    tamil = LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்")
    account = AccountFactory()
    for n in range(3):
        profile_create(account=account, name=f"P{n}", preferred_languages=[tamil])
    through = Profile.preferred_languages.through._meta.db_table

    # when
    with CaptureQueriesContext(connection) as queries:
        response = superuser.get(_url(tamil))

    # then
    assert "Profile-language relationships: 3, not listed one by one" in (response.content.decode())
    assert not [q for q in queries.captured_queries if q["sql"].startswith(f'SELECT "{through}".')]


def test_a_languages_confirmation_reads_only_the_protecting_profiles_it_lists(
    superuser, monkeypatch
):
    # given: a language shown to ten profiles, three of which the page lists
    monkeypatch.setattr(admin_deletion, "LISTED_PER_MODEL", 3)
    tamil = LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்")
    _profiles_shown(tamil, accounts=2)
    rows_read = []

    def count_rows(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith(f'SELECT "{Profile._meta.db_table}".'):
            rows_read.append(context["cursor"].rowcount)
        return result

    # when
    with connection.execute_wrapper(count_rows):
        response = superuser.get(_url(tamil))

    # then: the other seven counted, not read (50,000 of them for English)
    assert sum(rows_read) == 3
    assert [str(line) for line in response.context["protected"]][-1] == (
        "Profiles: 7 more, not listed one by one"
    )


# --- What a confirmation names of objects the deleter may not view --------------------------


def test_a_confirmation_names_objects_the_deleter_may_not_view_by_kind_and_id_only(db, client):
    # given: a catalogue editor who may delete languages, and view nothing of households
    tamil = LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்")
    account = AccountFactory(name="The Quietly-Named family")
    profile = profile_create(account=account, name="Quietly-Named Priya", display_language=tamil)
    user = get_user_model().objects.create_user("editor", "e@example.com", "x", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_language", "delete_language"])
    )
    client.force_login(user)

    # when
    response = client.get(_url(tamil))

    # then: the profile that protects the language is named by its kind and id, unlinked
    page = response.content.decode()
    assert [str(line) for line in response.context["protected"]] == [f"Profile: #{profile.pk}"]
    assert "Quietly-Named" not in page


def test_a_confirmation_names_objects_the_deleter_may_view(superuser):
    tamil = LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்")
    account = AccountFactory(name="The Quietly-Named family")
    profile_create(account=account, name="Quietly-Named Priya", display_language=tamil)

    response = superuser.get(_url(tamil))

    assert "Quietly-Named Priya (The Quietly-Named family)" in response.content.decode()
