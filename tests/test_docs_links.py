"""Links between the README and docs/ land where they point.

The docs state a rule once and link to it from elsewhere (the attribution rule
lives in docs/signals.md, the rankers' and the artwork policy's docs point at
it); a renamed heading would leave those pointers dangling without anyone
noticing, since GitHub renders a missing anchor as the top of the page.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _anchors(text: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation but ``-`` and ``_`` dropped,
    spaces to hyphens, a repeated heading numbered from ``-1``."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    found: set[str] = set()
    counts: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6} (.+)$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        n = counts.get(slug, 0)
        counts[slug] = n + 1
        found.add(slug if n == 0 else f"{slug}-{n}")
    return found


def _links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return [
        link
        for link in re.findall(r"\]\(([^)\s]+)\)", text)
        if not link.startswith(("http://", "https://", "mailto:"))
    ]


def test_anchor_slugs_follow_github() -> None:
    text = "# Signals\n## Training (`manage.py train_models`, services/training.py)\n## Signals\n"
    assert _anchors(text) == {
        "signals",
        "training-managepy-train_models-servicestrainingpy",
        "signals-1",
    }


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_relative_link_resolves(doc: Path) -> None:
    broken = []
    for link in _links(doc):
        path, _, anchor = link.partition("#")
        target = (doc.parent / path).resolve() if path else doc
        if not target.exists():
            broken.append(f"{link}: no such file")
        elif anchor and target.suffix == ".md" and anchor not in _anchors(target.read_text()):
            broken.append(f"{link}: no heading with that anchor")
    assert not broken, f"{doc.name}: " + "; ".join(broken)
