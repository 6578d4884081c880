"""``manage.py evaluate_recommendations`` on a small seeded demo."""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.recommendations.demo_world import seed_small_demo

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture
def seeded(settings, tmp_path) -> None:
    seed_small_demo(settings, tmp_path, titles=60, profiles=40, seed=3)


def test_the_table_compares_tonight_with_both_baselines(seeded):
    out = StringIO()
    call_command("evaluate_recommendations", "--seed=1", stdout=out, stderr=StringIO())
    text = out.getvalue()

    rows = {}
    for line in (line for line in text.splitlines() if line.startswith("  ")):
        cells = line.split()
        if cells and cells[0] in {"most-popular", "Tonight"}:
            rows[cells[0]] = [float(c) for c in cells[1:]]
        elif line.strip().startswith("plain ALS"):
            rows["plain ALS"] = [float(c) for c in cells[2:]]
    assert set(rows) == {"most-popular", "plain ALS", "Tonight"}
    for name, (ndcg, recall_10, recall_20, coverage, seconds) in rows.items():
        assert 0.0 <= ndcg <= 1.0, name
        assert 0.0 <= recall_10 <= recall_20 <= 1.0, name
        assert 0.0 < coverage <= 1.0, name
        assert seconds >= 0.0, name
    assert re.search(r"Tonight / plain ALS NDCG@10: [\d.]+x", text)
    assert re.search(r"Tonight / most-popular NDCG@10: [\d.]+x", text)
    # Tonight's pipeline should not lose to recommending the same hits to everyone.
    assert rows["Tonight"][0] >= rows["most-popular"][0]


def test_an_unknown_region_is_refused(db):
    with pytest.raises(CommandError, match="Unknown region"):
        call_command("evaluate_recommendations", "--region=ZZ", stdout=StringIO())


def test_by_cluster_prints_every_model_and_the_settings_each_scope_was_given(seeded):
    from recommendations.services.clusters import profile_clusters_assign

    profile_clusters_assign(region_code="IN")
    out = StringIO()
    call_command(
        "evaluate_recommendations", "--by-cluster", "--region=IN", stdout=out, stderr=StringIO()
    )
    text = out.getvalue()

    header = next(line for line in text.splitlines() if line.strip().startswith("cluster"))
    for model in ("cluster", "region", "global", "blend"):
        assert f"NDCG@10 {model}" in header
        assert f"R@20 {model}" in header
    settings_lines = re.findall(r"^  (\w+): cluster (\d+)/([\d.e+-]+)/([\d.]+), region", text, re.M)
    assert settings_lines, text
    for _, factors, regularization, alpha in settings_lines:
        assert int(factors) >= 4
        assert float(regularization) > 0
        assert float(alpha) > 0
    with pytest.raises(CommandError, match="needs --region"):
        call_command("evaluate_recommendations", "--by-cluster", stdout=StringIO())
