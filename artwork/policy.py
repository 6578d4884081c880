"""The artwork policy's stored form: the bandit's parameters and the vocabularies they are on.

A policy is learned on a *basis*: the genre slugs its taste vector is made
of and the theme slugs its arms are described by. Both are stored with the
parameters, so a genre or theme added later does not shift the meaning of a
stored weight; serving maps today's genres and themes onto the policy's basis
(a slug the policy has never seen contributes nothing until the next full
refit, while the variant's own term still learns).

Files go through the recommendation models' artefact storage (``storages["artefacts"]``,
never the public artwork's), written whole before the
:class:`~artwork.models.ArtworkPolicy` row that names them exists, and loaded with
``allow_pickle=False``.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile

from recommendations.engine.artwork_bandit import ArtworkBandit, context_size
from recommendations.serving.artefacts import artefact_storage

POLICY_ROOT = "artwork-policies"


@dataclass(frozen=True)
class PolicyParams:
    """A loaded policy: the bandit and the genre and theme slugs its features are on."""

    bandit: ArtworkBandit
    genres: tuple[str, ...]
    themes: tuple[str, ...]


def bandit_new(*, genres: tuple[str, ...], themes: tuple[str, ...]) -> PolicyParams:
    """A policy at its prior: every variant is explored from its first page."""
    tonight = settings.TONIGHT
    bandit = ArtworkBandit(
        n_context=context_size(len(genres)),
        n_themes=len(themes),
        floor=float(tonight.get("ARTWORK_EXPLORATION_FLOOR", 0.1)),
        n_draws=int(tonight.get("ARTWORK_POSTERIOR_DRAWS", 16)),
        prior_precision=float(tonight.get("ARTWORK_PRIOR_PRECISION", 25.0)),
        variant_prior_precision=float(tonight.get("ARTWORK_VARIANT_PRIOR_PRECISION", 50.0)),
        random_state=0,
    )
    return PolicyParams(bandit=bandit, genres=genres, themes=themes)


def policy_write(params: PolicyParams) -> str:
    """Store the policy under a fresh name; returns its storage path."""
    buffer = io.BytesIO()
    np.savez(
        buffer,
        bandit=np.frombuffer(params.bandit.save(), dtype=np.uint8),
        genres=np.array(params.genres, dtype=np.str_),
        themes=np.array(params.themes, dtype=np.str_),
    )
    path = f"{POLICY_ROOT}/{uuid.uuid4().hex}.npz"
    stored = artefact_storage().save(path, ContentFile(buffer.getvalue()))
    if stored != path:
        raise RuntimeError(f"storage wrote {stored!r} instead of {path!r}")
    return stored


def policy_read(path: str) -> PolicyParams:
    with artefact_storage().open(path, "rb") as handle:
        data = np.load(io.BytesIO(handle.read()), allow_pickle=False)
        return PolicyParams(
            bandit=ArtworkBandit.load(data["bandit"].tobytes()),
            genres=tuple(str(g) for g in data["genres"]),
            themes=tuple(str(t) for t in data["themes"]),
        )


def policy_delete(path: str) -> None:
    storage = artefact_storage()
    if path and storage.exists(path):
        storage.delete(path)
