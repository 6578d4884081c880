"""demo_info prints where to see the showcase household, and whether its two adults differ."""

from io import StringIO
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.management import call_command

from recommendations.management.commands.demo_info import SHOWCASE_ACCOUNT

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
