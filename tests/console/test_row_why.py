"""Why a row is where it is: its score, rank and terms, from the build that ordered the page."""

import datetime as dt
import re
import uuid
from html import unescape
from urllib.parse import urlencode

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from scipy.special import expit

from recommendations.services.signals import signal_batch_record
from recommendations.serving.homepage import RowTrace, homepage_build
from recommendations.serving.row_explain import row_explanations
from recommendations.signal_events import SignalEvent
from tests.console.test_views import FRIDAY_NIGHT, compare_url, friday_night, preview_url, tiles

pytestmark = pytest.mark.django_db


def row_why_url(profile, **params) -> str:
    return f"/console/why/row/?{urlencode({'profile': profile.pk, **FRIDAY_NIGHT, **params})}"


def plays_from_row(profile, row: str, titles, *, n: int) -> None:
    """``n`` play starts from ``row`` over the last days, as a client logs them."""
    now = timezone.now()
    events = [
        SignalEvent(
            index=k,
            kind="play_start",
            title_id=titles[k % len(titles)].pk,
            episode_id=None,
            value=None,
            device="tv",
            occurred_at=now - dt.timedelta(days=1 + 0.25 * k),
            client_event_id=uuid.uuid4(),
            page_id=None,
            row=row,
            position=0,
            artwork_variant_id=None,
        )
        for k in range(n)
    ]
    signal_batch_record(profile=profile, events=events)


def test_terms_sum_to_the_logit_the_page_was_ordered_by(world):
    # given: the action fan's page built with and without a trace
    profile, at = world.action_fan, friday_night(world.action_fan)
    plain = homepage_build(profile=profile, device="tv", at=at)
    trace = RowTrace()

    # when
    traced = homepage_build(profile=profile, device="tv", at=at, trace=trace)

    # then: tracing changes nothing on the page
    assert [r.id for r in traced.rows] == [r.id for r in plain.rows]
    assert [[i.title_id for i in r.items] for r in traced.rows] == [
        [i.title_id for i in r.items] for r in plain.rows
    ]
    assert [trace.row_ids[i] for i in trace.placed] == [r.id for r in plain.rows]
    # and the terms are those of the scores served, to rounding
    split = trace.ranker.terms(trace.features)
    np.testing.assert_allclose(split.terms.sum(axis=1) + split.intercept, split.logits, atol=1e-9)
    np.testing.assert_array_equal(expit(split.logits).astype(np.float32), trace.scores)
    assert np.array_equal(trace.ranker.predict_proba(trace.features), trace.scores)
    # and so are the explanation's, feature by feature
    for explanation in row_explanations(trace):
        total = explanation.intercept + sum(f.contribution for f in explanation.features)
        assert total == pytest.approx(explanation.logit, abs=1e-6)
        assert explanation.score == pytest.approx(float(expit(explanation.logit)), rel=1e-5)


def test_a_resume_habit_lifts_continue_watching_and_the_summary_says_so(world, staff_client):
    # given: the action fan, half-way through a film, started most things from Continue
    # Watching and a couple from Top Picks
    profile = world.action_fan
    plays_from_row(profile, "continue_watching", [world.resumed], n=18)
    plays_from_row(profile, "top_picks", world.home.titles["action"][:2], n=2)

    # when
    response = staff_client.get(row_why_url(profile, row="continue_watching"))

    # then
    assert response.status_code == 200
    explanation = response.context["selected"]
    affinity = next(f for f in explanation.features if f.name == "affinity")
    assert affinity.value > 0
    assert affinity.contribution > 0
    assert explanation.row_number == 1
    text = unescape(response.content.decode())
    assert "often starts things from Continue Watching rows: 18 plays of its 20 plays" in text
    assert f"(affinity +{affinity.contribution:.2f})" in explanation.summary
    assert re.search(r'<tr data-feature="affinity">', text)


def test_every_row_of_the_preview_links_to_its_explanation(world, staff_client):
    html = staff_client.get(preview_url(world.romance_fan)).content.decode()

    links = re.findall(r'<a href="([^"]+)" class="why-link row-why-link"', html)
    rows = re.findall(r'<section class="row" data-row="([^"]+)"', html)

    assert rows
    assert len(links) == len(rows)
    for link, row in zip(links, rows, strict=True):
        panel = staff_client.get(unescape(link) + "&fragment=1")
        assert panel.status_code == 200
        assert "<html" not in panel.content.decode()
        assert panel.context["selected"].row_id == row


def test_a_row_below_the_pages_rows_says_so(world, staff_client):
    # given: a page of two rows, so the other candidates fall below it
    profile = world.action_fan

    # when
    response = staff_client.get(row_why_url(profile, rows=2))

    # then: every candidate is listed, the two shown with their row, the others saying why not
    assert response.status_code == 200
    candidates = [c for c, _ in response.context["candidates"]]
    assert len(candidates) > 2
    assert sorted(c.row_number for c in candidates if c.row_number) == [1, 2]
    below = [c for c in candidates if not c.row_number]
    assert all(c.dropped for c in below)
    assert any(c.dropped == "below the page's 2 rows" for c in below)
    text = unescape(response.content.decode())
    assert "dropped: below the page's 2 rows" in text
    # and a dropped row's own explanation says why it is not on the page
    dropped = next(c for c in below if c.dropped == "below the page's 2 rows")
    panel = staff_client.get(row_why_url(profile, rows=2, row=dropped.row_id))
    assert "is not on the page (below the page's 2 rows)" in unescape(panel.content.decode())


def test_a_row_with_too_few_titles_says_so(world, staff_client):
    # given: the world's small catalogue, whose genre rows lose most of their eight films to
    # the rows above them, so some candidates have too few titles of their own to show
    profile = world.action_fan
    trace = RowTrace()
    page = homepage_build(profile=profile, device="tv", at=friday_night(profile), trace=trace)
    short = {trace.row_ids[i]: reason for i, reason in trace.dropped.items() if "too few" in reason}
    assert short, "no row of the world's page is too short any more: find another"

    # when
    response = staff_client.get(row_why_url(profile))

    # then: none of them is on the page, and each is listed with why
    assert not short.keys() & {row.id for row in page.rows}
    text = unescape(response.content.decode())
    for row_id, reason in short.items():
        row = re.search(rf'<tr data-row="{re.escape(row_id)}".*?</tr>', text, re.S).group(0)
        assert f"dropped: {reason}" in row
        assert re.search(r"too few (new )?titles: \d+", reason)


def test_an_unknown_row_is_a_404_and_a_bad_query_a_400(world, staff_client):
    missing = staff_client.get(row_why_url(world.action_fan, row="genre:nope"))
    bad = staff_client.get(row_why_url(world.action_fan, hour=25))

    assert missing.status_code == 404
    assert "No candidate row" in missing.content.decode()
    assert bad.status_code == 400


def test_the_row_why_costs_no_more_queries_than_the_preview(world, staff_client):
    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = staff_client.get(url)
        assert response.status_code == 200
        return len(captured.captured_queries)

    profile = world.action_fan
    queries(preview_url(profile))  # caches warm

    preview = queries(preview_url(profile))
    one_row = queries(row_why_url(profile, row="continue_watching"))
    every_row = queries(row_why_url(profile))

    assert one_row == every_row
    assert one_row <= preview


def test_every_row_of_each_column_of_the_comparison_links_to_its_explanation(world, staff_client):
    # given: the household side by side (fewer rows and titles than the preview's)
    html = staff_client.get(compare_url(world.account)).content.decode()
    columns = re.findall(
        r'<section class="column" data-profile="(\d+)">(.*?)(?=<section class="column"|$)',
        html,
        re.S,
    )
    assert {int(pk) for pk, _ in columns} == {
        p.pk for p in (world.action_fan, world.romance_fan, world.kid)
    }

    for pk, column in columns:
        rows = re.findall(r'<section class="row" data-row="([^"]+)"', column)
        links = re.findall(r'<a href="([^"]+)" class="why-link row-why-link"', column)
        assert rows
        assert len(links) == len(rows)
        for number, (row, link) in enumerate(zip(rows, links, strict=True), start=1):
            # when
            response = staff_client.get(unescape(link))

            # then: that profile's row, at the place the column shows it
            assert response.status_code == 200
            assert response.context["profile"].pk == int(pk)
            assert response.context["selected"].row_id == row
            assert response.context["selected"].row_number == number


def why_links(html: str) -> list[dict[str, str]]:
    """Every link that opens the "why" dialog: its classes and the dialog's name for it."""
    links = []
    for attributes in re.findall(r"<a ([^>]*\bclass=\"why-link[^\"]*\"[^>]*)>", html):
        label = re.search(r'data-why-label="([^"]*)"', attributes)
        links.append(
            {
                "class": re.search(r'class="([^"]+)"', attributes).group(1),
                "label": unescape(label.group(1)) if label else "",
            }
        )
    return links


def test_the_why_dialog_is_named_for_the_row_or_the_title_it_explains(world, staff_client):
    # The dialog was "Why this title" whatever it explained, a row's order included.
    html = staff_client.get(preview_url(world.action_fan)).content.decode()
    rows = re.findall(r'<section class="row" data-row="[^"]+">\s*<h3[^>]*>([^<]+)</h3>', html)
    panel = staff_client.get(row_why_url(world.action_fan, row="continue_watching")).content

    links = why_links(html)
    assert links
    assert all(link["label"] for link in links), links
    row_labels = [link["label"] for link in links if "row-why-link" in link["class"]]
    assert row_labels == [f"Why the row {unescape(title)} here?" for title in rows]
    title_labels = [link["label"] for link in links if link["class"] == "why-link"]
    names = [unescape(re.search(r'alt="([^"]*)"', t["html"]).group(1)) for t in tiles(html)]
    assert title_labels == [f"Why {name}?" for name in names]
    assert [link["label"] for link in links if "rows-why-link" in link["class"]] == [
        "Why these rows?"
    ]
    # and the row why's own links, which open in the same dialog, are named for rows
    assert all(
        link["label"].startswith("Why the row") or link["label"] == "Why these rows?"
        for link in why_links(panel.decode())
    )
    # and the dialog's fixed name no longer calls everything a title
    dialog = re.search(r"<dialog [^>]*>", html).group(0)
    assert "Why this title" not in dialog
