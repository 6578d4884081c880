"""demo_info prints where to see the showcase household, and whether its two adults differ."""

import itertools
import shlex
from io import StringIO
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from recommendations.demo.households import DEMO_PIN
from recommendations.management.commands.demo_info import SHOWCASE_ACCOUNT, host_name

pytestmark = pytest.mark.django_db


def test_prints_preview_and_comparison_urls_that_open(world, staff_client):
    world.account.name = SHOWCASE_ACCOUNT
    world.account.save()
    out = StringIO()

    call_command("demo_info", "--port", "8123", stdout=out)

    text = out.getvalue()
    urls = {
        line.split()[0].rstrip(":"): line.split()[1]
        for line in text.splitlines()
        if line.strip().startswith(("Preview:", "Compare:"))
    }
    preview = urlparse(urls["Preview"])
    assert preview.netloc == "127.0.0.1:8123"
    assert parse_qs(preview.query)["profile"] == [str(world.action_fan.pk)]
    for url in urls.values():
        parsed = urlparse(url)
        assert staff_client.get(f"{parsed.path}?{parsed.query}").status_code == 200
    assert "Asha and Ravi share" in text
    assert "titles on their first screens then" in text


def test_previews_both_adults_and_says_where_the_storys_rows_are(world, staff_client):
    # The README's story is a comparison (one adult resumes, the other starts new things),
    # but only the first adult's page was printed, with nothing saying where its rows were.
    world.account.name = SHOWCASE_ACCOUNT
    world.account.save()
    out = StringIO()

    call_command("demo_info", "--port", "8123", stdout=out)

    lines = [line for line in out.getvalue().splitlines() if "Friday 21:00 on a TV:" in line]
    urls = [urlparse(next(w for w in line.split() if w.startswith("http://"))) for line in lines]
    assert [parse_qs(url.query)["profile"] for url in urls] == [
        [str(world.action_fan.pk)],
        [str(world.romance_fan.pk)],
    ]
    for url in urls:
        assert staff_client.get(f"{url.path}?{url.query}").status_code == 200
    for line, profile in zip(lines, (world.action_fan, world.romance_fan), strict=True):
        assert f"({profile.name}'s homepage" in line
        assert "Continue Watching" in line
        assert "New Releases" in line


def admin_line(world) -> str:
    world.account.name = SHOWCASE_ACCOUNT
    world.account.save()
    out = StringIO()
    call_command("demo_info", stdout=out)
    return next(line for line in out.getvalue().splitlines() if "Admin:" in line)


def test_prints_the_published_admin_login_only_when_it_works(
    world, django_user_model, settings
) -> None:
    assert "createsuperuser" in admin_line(world)  # seeded without DEBUG or --demo-admin

    admin = django_user_model.objects.create_superuser("admin", password="their-own-secret")
    assert "tonight-demo" not in admin_line(world)  # seed_demo kept their password

    admin.set_password("tonight-demo")
    admin.save()
    assert "user: admin, password: tonight-demo" in admin_line(world)


def demo_info_text(world) -> str:
    world.account.name = SHOWCASE_ACCOUNT
    world.account.save()
    out = StringIO()
    call_command("demo_info", "--port", "8123", stdout=out)
    return out.getvalue()


def test_names_a_profile_with_the_demo_pin_and_where_to_see_it(world, staff_client):
    # The demo seeds PINs (all the same) on a few profiles, but nothing said which or what
    # the PIN was, so nobody could try the API's unlock on the demo.
    profile = world.romance_fan
    profile.set_pin(DEMO_PIN)
    profile.save(update_fields=["pin_hash"])

    text = demo_info_text(world)

    line = next(line for line in text.splitlines() if line.strip().startswith("PIN:"))
    assert DEMO_PIN in line
    assert profile.name in line
    url = urlparse(next(word for word in line.split() if word.startswith("http://")))
    assert parse_qs(url.query)["profile"] == [str(profile.pk)]
    assert staff_client.get(f"{url.path}?{url.query}").status_code == 200


def test_no_pin_line_when_no_profile_has_the_demo_pin(world):
    world.romance_fan.set_pin("9876")
    world.romance_fan.save(update_fields=["pin_hash"])

    assert "PIN:" not in demo_info_text(world)


def test_each_profiles_line_names_it_and_says_which_is_a_kids_profile(world):
    world.kid.name = "Meera"
    world.kid.save(update_fields=["name"])

    lines = [line for line in demo_info_text(world).splitlines() if "Profiles:" in line]

    assert lines[-1].endswith(f"/api/v1/profiles/{world.kid.pk}/   (Meera, a kids profile)")
    assert lines[0].endswith("(Asha)")


def test_says_where_the_retrains_are_and_how_many_finished(world, admin_client):
    # make demo retrains every taste cluster, but nothing said where to see a run's stages
    from recommendations.models import TrainingRun
    from regions.models import TasteCluster

    def retrain_lines() -> str:
        lines = demo_info_text(world).splitlines()
        return "\n".join(line for line in lines if "Retrains:" in line or "Models:" in line)

    assert "none yet: `manage.py retrain --all --wait`" in retrain_lines()

    cluster = TasteCluster.objects.create(region=world.home.region, slug="hindi", name="Hindi")
    for status in (TrainingRun.Status.SUCCEEDED, TrainingRun.Status.RUNNING):
        TrainingRun.objects.create(region=cluster.region, taste_cluster=cluster, status=status)

    lines = retrain_lines()
    assert "(1 finished run, with its stages)" in lines
    urls = [word for word in lines.split() if word.startswith("http://")]
    assert [urlparse(url).path for url in urls] == [
        reverse("admin:recommendations_trainingrun_changelist"),
        reverse("console:models"),
    ]
    for url in urls:
        assert admin_client.get(urlparse(url).path).status_code == 200


@pytest.mark.parametrize("port", ["0", "65536", "-1"])
def test_a_port_no_server_can_listen_on_is_refused(port):
    # until December 2026 it printed URLs naming it (http://127.0.0.1:0/admin/), exit 0,
    # having replaced the showcase household's token
    with pytest.raises(CommandError, match=r"argument --port: .* is not a whole number from 1"):
        call_command("demo_info", f"--port={port}", stdout=StringIO())


def _curl(line: str) -> tuple[str, dict[str, str], str]:
    """The URL, headers and body of a printed curl command, as a shell would split them."""
    words = shlex.split(line.split("curl", 1)[1].split("   (", 1)[0])
    headers, body = {}, ""
    for flag, value in itertools.pairwise(words):
        if flag == "-H":
            name, _, text = value.partition(": ")
            headers[name] = text
        elif flag == "-d":
            body = value
    url = next(word for word in words if word.startswith("http://"))
    return url, headers, body


def test_a_pin_protected_adults_homepage_line_unlocks_it_first(world, client):
    # The homepage lines were plain token curls: for an adult with a PIN each answered 403
    # profile_locked, and nothing printed said how to unlock.
    profile = world.action_fan
    profile.set_pin(DEMO_PIN)
    profile.save(update_fields=["pin_hash"])

    lines = demo_info_text(world).splitlines()

    unlock_line = next(line for line in lines if line.strip().startswith("Unlock:"))
    url, headers, body = _curl(unlock_line)
    assert f"({profile.name}, PIN {DEMO_PIN})" in unlock_line
    answer = client.post(
        urlparse(url).path,
        data=body,
        content_type=headers["Content-Type"],
        HTTP_AUTHORIZATION=headers["Authorization"],
    )
    assert answer.status_code == 200
    homepage_line = next(
        line for line in lines if line.strip().startswith("Homepage:") and profile.name in line
    )
    url, headers, _ = _curl(homepage_line)
    assert headers["X-Profile-Unlock"] == "<token from Unlock>"
    page = client.get(
        f"{urlparse(url).path}?{urlparse(url).query}",
        HTTP_AUTHORIZATION=headers["Authorization"],
        HTTP_X_PROFILE_UNLOCK=answer.json()["token"],
    )
    assert page.status_code == 200
    other = next(line for line in lines if line.strip().startswith("Homepage:") and "Ravi" in line)
    assert "X-Profile-Unlock" not in other


def test_no_comparison_of_nobody(world):
    # A showcase household without profiles printed "Compare: ...   ( side by side)".
    world.account.profiles.all().delete()

    text = demo_info_text(world)

    assert "side by side" not in text


@pytest.mark.parametrize("host", ["", " ", "http://127.0.0.1", "demo.example/x"])
def test_a_host_that_makes_no_url_is_refused(host):
    # it printed http://:8000/admin/ (or http://http://...), exit 0, having replaced the
    # showcase household's token
    with pytest.raises(CommandError, match=r"argument --host: .* is not a host name or address"):
        call_command("demo_info", f"--host={host}", stdout=StringIO())


@pytest.mark.parametrize(
    ("host", "named"),
    [("127.0.0.1", "127.0.0.1"), ("demo.example.com", "demo.example.com"), ("::1", "[::1]")],
)
def test_a_host_is_named_as_a_url_names_it(host, named):
    assert host_name(host) == named
