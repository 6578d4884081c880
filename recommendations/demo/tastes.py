"""Hidden tastes: what each demo profile "really" likes, planted so that models can find it.

The seeded history and, later, ``simulate_traffic`` both act out these tastes;
the models only ever see the resulting signals, so a trained model that
recovers a taste (Tamil viewers get Tamil rows, an action fan's phone shows the
action frame) is evidence that the learning works.

A taste is a pure function of ``(seed, account index, profile index, slot)``
(see :func:`derive_hidden_taste`); the builder also writes every taste, keyed by
profile id, to ``VAR_DIR/demo/<database>/hidden_tastes.json`` so that later
commands read them back with :func:`load_hidden_tastes` without recomputing
anything. One file per database: the demo's and the benchmarks' databases
share a checkout, and seeding one must not take the other's tastes away. The
choice model both use lives here too (:func:`play_logit`), so that simulated
traffic behaves like the seeded history.
"""

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection

from .vocabulary import (
    DEVICES,
    GENRES,
    HOUR_BUCKET_NAMES,
    HOUR_BUCKETS,
    LAST_NAMES,
    REGION_BY_CODE,
    REGIONS,
    ROW_TYPES,
    THEME_SLUGS,
)

TASTES_FORMAT = 2

# Seed-sequence streams: each kind of draw has its own stream, so adding a draw
# to one generator never shifts what another generator produces.
STREAM_HOUSEHOLD = 11
STREAM_TASTE = 12
STREAM_HISTORY = 13

# --- The choice model ---------------------------------------------------------------------
# A shown title is played with probability softmax(logits + NO_PLAY) over the
# page; the terms below are log-preferences relative to an indifferent viewer.
LANGUAGE_EXPONENT = 2.0  # Tamil viewers watch Tamil titles: language dominates genre.
LANGUAGE_FLOOR = 0.02  # a language nobody in the profile speaks is rare, not impossible
GENRE_FLOOR = 0.05
POPULARITY_WEIGHT = 0.35
THEME_WEIGHT = 1.0  # the artwork bandit's planted effect
ROW_WEIGHT = 0.8  # the row ranker's planted effect
POSITION_DECAY = 0.08  # later positions in a row are seen less
NO_PLAY_LOGIT = 0.8  # the "close the app" option on every page


# Adult personas: genre emphasis and the artwork that draws them in.
PERSONAS: dict[str, tuple[dict[str, float], dict[str, float]]] = {
    "action": (
        {"action": 5, "thriller": 3, "crime": 3, "sci-fi": 2, "sports": 1},
        {"action": 3, "moody": 2},
    ),
    "romance": (
        {"romance": 5, "drama": 3, "comedy": 2, "musical": 2, "family": 1},
        {"romance": 3, "lead-face": 3},
    ),
    "comedy": (
        {"comedy": 5, "romance": 2, "family": 2, "animation": 1, "musical": 1},
        {"comedy": 3, "ensemble": 2},
    ),
    "dark": (
        {"thriller": 4, "crime": 4, "horror": 3, "mystery": 3},
        {"moody": 3, "lead-face": 1},
    ),
    "documentary": (
        {"documentary": 5, "sports": 3, "history": 2, "crime": 2},
        {"moody": 2, "lead-face": 2, "ensemble": 1},
    ),
    "family": (
        {"family": 4, "drama": 3, "comedy": 3, "animation": 2},
        {"ensemble": 3, "comedy": 2, "kids-friendly": 1},
    ),
    "sci-fi": (
        {"sci-fi": 5, "fantasy": 3, "action": 2, "animation": 2, "mystery": 1},
        {"moody": 2, "action": 2},
    ),
    "sports": (
        {"sports": 5, "documentary": 3, "action": 2, "drama": 1},
        {"action": 2, "ensemble": 2},
    ),
    "drama": (
        {"drama": 5, "romance": 2, "crime": 2, "history": 2},
        {"lead-face": 3, "moody": 1},
    ),
}
PERSONA_NAMES: tuple[str, ...] = tuple(PERSONAS)
KIDS_PERSONA: tuple[dict[str, float], dict[str, float]] = (
    {"animation": 5, "family": 5, "comedy": 3, "fantasy": 2},
    {"kids-friendly": 4, "comedy": 2},
)

# Row-type habits: which rows a viewer tends to start from.
ROW_HABITS: dict[str, dict[str, float]] = {
    "resumer": {"continue_watching": 5, "watch_again": 2, "because_you_watched": 1},
    "explorer": {"new_releases": 4, "trending": 3, "top_picks": 2},
    "critic": {"critically_acclaimed": 4, "because_you_watched": 2, "language": 1},
    "loyalist": {"because_you_watched": 3, "because_you_liked": 3, "top_picks": 3, "popular_in": 2},
    "browser": {"genre": 3, "language": 3, "trending": 2, "popular_in": 1},
}
ROW_HABIT_NAMES: tuple[str, ...] = tuple(ROW_HABITS)

# The same frame works differently on a phone and on a TV: close-ups read on
# a small screen, wide ensemble shots on a big one.
DEVICE_THEME_BOOST: dict[str, dict[str, float]] = {
    "mobile": {"lead-face": 2.0, "ensemble": 0.5, "moody": 0.8},
    "tv": {"ensemble": 1.6, "moody": 1.3, "action": 1.2, "lead-face": 0.7},
    "tablet": {"kids-friendly": 1.3, "comedy": 1.2},
    "web": {},
}
# When people watch: share of sessions per local hour bucket.
HOUR_PRIOR: dict[str, float] = {
    "morning": 0.12,
    "afternoon": 0.18,
    "evening": 0.5,
    "late_night": 0.2,
}
KIDS_HOUR_PRIOR: dict[str, float] = {
    "morning": 0.25,
    "afternoon": 0.45,
    "evening": 0.29,
    "late_night": 0.01,
}
# Time of day shifts every viewer's rows a little: resume on the morning
# commute, discover something new in the evening.
BUCKET_ROW_BOOST: dict[str, dict[str, float]] = {
    "morning": {"continue_watching": 1.6},
    "afternoon": {"trending": 1.2},
    "evening": {"new_releases": 1.4, "top_picks": 1.3},
    "late_night": {"continue_watching": 1.3, "watch_again": 1.4},
}


@dataclass(frozen=True, slots=True)
class HiddenTaste:
    """A profile's planted preferences. Every mapping's values sum to 1.

    ``row_types`` is keyed by hour bucket (:data:`HOUR_BUCKETS`) then row type;
    ``artwork_themes`` by device class then theme slug.
    """

    profile_index: int
    region: str
    is_kids: bool
    shared: bool
    persona: str
    genres: dict[str, float]
    disliked_genres: tuple[str, ...]
    languages: dict[str, float]
    devices: dict[str, float]
    hours: dict[str, float]
    row_types: dict[str, dict[str, float]]
    artwork_themes: dict[str, dict[str, float]]
    search_rate: float
    external_rate: float
    activity: float
    profile_id: int | None = None
    seed: int | None = field(default=None)

    @property
    def primary_language(self) -> str:
        return max(self.languages, key=self.languages.__getitem__)

    @property
    def top_genres(self) -> list[str]:
        return sorted(self.genres, key=self.genres.__getitem__, reverse=True)[:3]

    def genre_affinity(self, genre_slugs: Iterable[str]) -> float:
        """Log-preference for a title with these genres (0 for an indifferent viewer)."""
        slugs = list(genre_slugs)
        if not slugs:
            return 0.0
        mean = sum(self.genres.get(g, 0.0) for g in slugs) / len(slugs) * len(GENRES)
        return math.log(mean + GENRE_FLOOR)

    def language_affinity(self, language: str) -> float:
        """Log-preference for a title in ``language``; strongly negative for one not spoken."""
        return LANGUAGE_EXPONENT * math.log(self.languages.get(language, 0.0) + LANGUAGE_FLOOR)

    def theme_affinity(self, device: str, themes: Iterable[str]) -> float:
        """Log-preference for a frame with these themes on this device (0 = indifferent)."""
        prefs = self.artwork_themes[device]
        slugs = list(themes)
        if not slugs:
            return 0.0
        mean = sum(prefs.get(t, 0.0) for t in slugs) / len(slugs) * len(THEME_SLUGS)
        return math.log(mean + 0.02)

    def row_affinity(self, hour: int, row_type: str) -> float:
        """Log-preference for starting from a row of ``row_type`` at this local hour."""
        prefs = self.row_types[hour_bucket(hour)]
        return math.log(prefs.get(row_type, 0.0) * len(ROW_TYPES) + 0.02)

    def to_json(self) -> dict[str, Any]:
        """A compact JSON form: fixed-vocabulary weights as lists in :data:`JSON_KEYS` order."""
        return {
            "index": self.profile_index,
            "region": self.region,
            "kids": self.is_kids,
            "shared": self.shared,
            "persona": self.persona,
            "genres": _vector(self.genres, GENRES),
            "disliked_genres": list(self.disliked_genres),
            "languages": _rounded(self.languages),
            "devices": _rounded(self.devices),
            "hours": _rounded(self.hours),
            "row_types": {b: _vector(w, ROW_TYPES) for b, w in self.row_types.items()},
            "artwork_themes": {d: _vector(w, THEME_SLUGS) for d, w in self.artwork_themes.items()},
            "search_rate": round(self.search_rate, 4),
            "external_rate": round(self.external_rate, 4),
            "activity": round(self.activity, 4),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, profile_id: int, seed: int) -> "HiddenTaste":
        """The inverse of :meth:`to_json`."""
        return cls(
            profile_index=data["index"],
            region=data["region"],
            is_kids=data["kids"],
            shared=data["shared"],
            persona=data["persona"],
            genres=dict(zip(GENRES, data["genres"], strict=True)),
            disliked_genres=tuple(data["disliked_genres"]),
            languages=dict(data["languages"]),
            devices=dict(data["devices"]),
            hours=dict(data["hours"]),
            row_types={
                b: dict(zip(ROW_TYPES, w, strict=True)) for b, w in data["row_types"].items()
            },
            artwork_themes={
                d: dict(zip(THEME_SLUGS, w, strict=True)) for d, w in data["artwork_themes"].items()
            },
            search_rate=data["search_rate"],
            external_rate=data["external_rate"],
            activity=data["activity"],
            profile_id=profile_id,
            seed=seed,
        )


# The order of the lists in the JSON form; written into the file too, so that
# the file explains itself.
JSON_KEYS: dict[str, tuple[str, ...]] = {
    "genres": GENRES,
    "row_types": ROW_TYPES,
    "artwork_themes": THEME_SLUGS,
}


def _vector(weights: Mapping[str, float], keys: Iterable[str]) -> list[float]:
    return [round(float(weights.get(k, 0.0)), 4) for k in keys]


def _rounded(weights: Mapping[str, float]) -> dict[str, float]:
    return {k: round(float(v), 4) for k, v in weights.items()}


def hour_bucket(hour: int) -> str:
    """The bucket a local hour (0-23) falls in."""
    for name, (start, end) in HOUR_BUCKETS.items():
        if (start <= hour < end) if start < end else (hour >= start or hour < end):
            return name
    raise ValueError(f"hour {hour} is outside 0-23")


def play_logit(
    taste: HiddenTaste,
    *,
    genre_slugs: Iterable[str],
    language: str,
    popularity: float,
    device: str,
    themes: Iterable[str],
    row_type: str,
    hour: int,
    position: int,
) -> float:
    """How much this profile wants to play this shown item (compare with :data:`NO_PLAY_LOGIT`).

    ``popularity`` is the title's log-popularity centred on the catalogue (0 =
    typical). The seeded history uses the same terms, vectorised.
    """
    return (
        taste.genre_affinity(genre_slugs)
        + taste.language_affinity(language)
        + POPULARITY_WEIGHT * popularity
        + THEME_WEIGHT * taste.theme_affinity(device, themes)
        + ROW_WEIGHT * taste.row_affinity(hour, row_type)
        - POSITION_DECAY * position
    )


# --- Derivation -----------------------------------------------------------------------


@dataclass(frozen=True)
class HouseholdPlan:
    """What a household is, decided before any of its profiles: region, size, languages."""

    account_index: int
    region: str
    size: int
    primary_language: str
    secondary_language: str
    kids_slots: frozenset[int]
    shared_slots: frozenset[int]
    surname: str
    name_language: str


SHOWCASE_ACCOUNT_INDEX = 0
SHOWCASE_ACCOUNT_NAME = "The Sharmas (demo)"
SHOWCASE_PROFILES: tuple[tuple[str, bool], ...] = (
    ("Priya", False),
    ("Arjun", False),
    ("Kids", True),
)


def _normalised(weights: Mapping[str, float], keys: Iterable[str]) -> dict[str, float]:
    keys = list(keys)
    total = sum(max(weights.get(k, 0.0), 0.0) for k in keys)
    return {k: max(weights.get(k, 0.0), 0.0) / total for k in keys}


def _choice(rng: np.random.Generator, weights: Mapping[str, float]) -> str:
    keys = list(weights)
    p = np.fromiter((weights[k] for k in keys), dtype=float)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def plan_household(seed: int, account_index: int) -> HouseholdPlan:
    """Decide a household from the seed and its index alone (reproducible in isolation)."""
    if account_index == SHOWCASE_ACCOUNT_INDEX:
        return HouseholdPlan(
            account_index=0,
            region="IN",
            size=3,
            primary_language="hi",
            secondary_language="ta",
            kids_slots=frozenset({3}),
            shared_slots=frozenset(),
            surname="Sharma",
            name_language="hi",
        )
    rng = np.random.default_rng([seed, STREAM_HOUSEHOLD, account_index])
    region = _choice(rng, {r.code: r.account_share for r in REGIONS})
    spec = REGION_BY_CODE[region]
    primary = _choice(rng, spec.household_languages)
    if region == "IN":
        if primary in ("hi", "en"):
            secondary = "en" if primary == "hi" else "hi"
        else:
            secondary = "hi" if rng.random() < 0.5 else "en"
    elif primary == spec.default_language:
        secondary = _choice(rng, {"en": 0.5, "es": 0.2, "ko": 0.15, "ja": 0.15})
        if secondary == primary:
            secondary = "ko" if primary == "en" else "en"
    else:
        secondary = spec.default_language
    size = int(rng.choice([1, 2, 3, 4, 5], p=[0.2, 0.3, 0.25, 0.15, 0.1]))
    kids: set[int] = set()
    if size >= 3 and rng.random() < 0.55:
        kids.add(size)
        if size == 5 and rng.random() < 0.4:
            kids.add(4)
    elif size == 2 and rng.random() < 0.1:
        kids.add(2)
    shared = {s for s in range(1, size + 1) if s not in kids and rng.random() < 0.12}
    name_language = primary if primary in LAST_NAMES else "en"
    surnames = LAST_NAMES[name_language]
    return HouseholdPlan(
        account_index=account_index,
        region=region,
        size=size,
        primary_language=primary,
        secondary_language=secondary,
        kids_slots=frozenset(kids),
        shared_slots=frozenset(shared),
        surname=surnames[int(rng.integers(len(surnames)))],
        name_language=name_language,
    )


def derive_hidden_taste(
    *, seed: int, plan: HouseholdPlan, profile_index: int, slot: int
) -> HiddenTaste:
    """The taste of the profile in ``slot`` of the household ``plan``; pure and reproducible."""
    if plan.account_index == SHOWCASE_ACCOUNT_INDEX:
        return _showcase_taste(profile_index, slot)
    rng = np.random.default_rng([seed, STREAM_TASTE, profile_index])
    is_kids = slot in plan.kids_slots
    shared = slot in plan.shared_slots
    if is_kids:
        persona = "kids"
        genre_emphasis, theme_emphasis = KIDS_PERSONA
        genres = _genre_weights(rng, genre_emphasis)
        disliked: tuple[str, ...] = ("horror",)
        themes = _theme_weights(rng, theme_emphasis)
    else:
        persona = PERSONA_NAMES[int(rng.integers(len(PERSONA_NAMES)))]
        genre_emphasis, theme_emphasis = PERSONAS[persona]
        genres = _genre_weights(rng, genre_emphasis)
        themes = _theme_weights(rng, theme_emphasis)
        if shared:
            # Two people on one profile: the profile's history is a blend of both.
            other = PERSONA_NAMES[int(rng.integers(len(PERSONA_NAMES)))]
            if other == persona:
                other = PERSONA_NAMES[(PERSONA_NAMES.index(persona) + 3) % len(PERSONA_NAMES)]
            other_genres = _genre_weights(rng, PERSONAS[other][0])
            other_themes = _theme_weights(rng, PERSONAS[other][1])
            share = float(rng.uniform(0.35, 0.65))
            genres = {g: share * genres[g] + (1 - share) * other_genres[g] for g in GENRES}
            themes = {t: share * themes[t] + (1 - share) * other_themes[t] for t in THEME_SLUGS}
            persona = f"{persona}+{other}"
        candidates = [g for g in GENRES if genres[g] < 0.03]
        count = min(len(candidates), int(rng.integers(1, 3)))
        disliked = tuple(
            sorted(candidates[int(i)] for i in rng.choice(len(candidates), count, replace=False))
        )
    for g in disliked:
        genres[g] = 0.002
    genres = _normalised(genres, GENRES)

    languages = _language_weights(rng, plan, is_kids)
    region_devices = REGION_BY_CODE[plan.region].devices
    device_prior = {"tablet": 0.6, "tv": 0.4} if is_kids else region_devices
    devices = _dirichlet_around(rng, device_prior, DEVICES, concentration=8.0)
    hours = _dirichlet_around(
        rng, KIDS_HOUR_PRIOR if is_kids else HOUR_PRIOR, HOUR_BUCKET_NAMES, concentration=10.0
    )
    return HiddenTaste(
        profile_index=profile_index,
        region=plan.region,
        is_kids=is_kids,
        shared=shared,
        persona=persona,
        genres=genres,
        disliked_genres=disliked,
        languages=languages,
        devices=devices,
        hours=hours,
        row_types=_row_type_weights(rng, is_kids=is_kids),
        artwork_themes=_device_themes(rng, themes),
        search_rate=0.02 if is_kids else float(rng.uniform(0.04, 0.18)),
        external_rate=0.0 if is_kids else float(rng.uniform(0.0, 0.05)),
        activity=float(rng.lognormal(0.0, 0.5) / math.exp(0.125)),
        seed=seed,
    )


def _genre_weights(rng: np.random.Generator, emphasis: Mapping[str, float]) -> dict[str, float]:
    alpha = np.array([0.25 + 1.2 * emphasis.get(g, 0.0) for g in GENRES])
    return dict(zip(GENRES, rng.dirichlet(alpha).tolist(), strict=True))


def _theme_weights(rng: np.random.Generator, emphasis: Mapping[str, float]) -> dict[str, float]:
    alpha = np.array([0.6 + 1.5 * emphasis.get(t, 0.0) for t in THEME_SLUGS])
    return dict(zip(THEME_SLUGS, rng.dirichlet(alpha).tolist(), strict=True))


def _dirichlet_around(
    rng: np.random.Generator, prior: Mapping[str, float], keys: Iterable[str], concentration: float
) -> dict[str, float]:
    keys = list(keys)
    alpha = np.array([max(prior.get(k, 0.0), 0.001) * concentration for k in keys])
    draw = rng.dirichlet(alpha)
    return {k: float(v) for k, v in zip(keys, draw, strict=True) if prior.get(k, 0.0) > 0} or {
        keys[0]: 1.0
    }


def _language_weights(
    rng: np.random.Generator, plan: HouseholdPlan, is_kids: bool
) -> dict[str, float]:
    primary, secondary = plan.primary_language, plan.secondary_language
    if not is_kids and rng.random() < 0.12:
        primary, secondary = secondary, primary  # the household member who grew up elsewhere
    first = float(rng.uniform(0.6, 0.85))
    second = (1 - first) * float(rng.uniform(0.55, 0.8))
    weights = {primary: first, secondary: second}
    others = [c for c in ("en", "hi", "ko", "ja", "es") if c not in weights]
    weights[others[int(rng.integers(len(others)))]] = 1 - first - second
    return _normalised(weights, sorted(weights, key=weights.__getitem__, reverse=True))


def _row_type_weights(rng: np.random.Generator, *, is_kids: bool) -> dict[str, dict[str, float]]:
    habit = "resumer" if is_kids else ROW_HABIT_NAMES[int(rng.integers(len(ROW_HABIT_NAMES)))]
    alpha = np.array([0.4 + 1.5 * ROW_HABITS[habit].get(r, 0.0) for r in ROW_TYPES])
    base = rng.dirichlet(alpha)
    # One bucket follows a second habit: the resumer who explores on Friday nights.
    switch_bucket = HOUR_BUCKET_NAMES[int(rng.integers(len(HOUR_BUCKET_NAMES)))]
    second = ROW_HABIT_NAMES[int(rng.integers(len(ROW_HABIT_NAMES)))]
    second_w = np.array([0.2 + 1.5 * ROW_HABITS[second].get(r, 0.0) for r in ROW_TYPES])
    second_w /= second_w.sum()
    result = {}
    for bucket in HOUR_BUCKET_NAMES:
        w = base * np.exp(rng.normal(0.0, 0.3, len(ROW_TYPES)))
        w *= np.array([BUCKET_ROW_BOOST[bucket].get(r, 1.0) for r in ROW_TYPES])
        w /= w.sum()
        if bucket == switch_bucket:
            w = 0.35 * w + 0.65 * second_w
        result[bucket] = dict(zip(ROW_TYPES, (w / w.sum()).tolist(), strict=True))
    return result


def _device_themes(
    rng: np.random.Generator, themes: Mapping[str, float]
) -> dict[str, dict[str, float]]:
    result = {}
    for device in DEVICES:
        boost = DEVICE_THEME_BOOST[device]
        w = np.array([themes[t] * boost.get(t, 1.0) for t in THEME_SLUGS])
        w *= np.exp(rng.normal(0.0, 0.2, len(THEME_SLUGS)))
        result[device] = dict(zip(THEME_SLUGS, (w / w.sum()).tolist(), strict=True))
    return result


def _showcase_taste(profile_index: int, slot: int) -> HiddenTaste:
    """The Sharmas are written by hand: the demo's story must not depend on the seed."""
    name, is_kids = SHOWCASE_PROFILES[slot - 1]
    rng = np.random.default_rng([STREAM_TASTE, 7, slot])  # fixed jitter for device themes
    if name == "Priya":
        genres = {"romance": 6, "drama": 4, "comedy": 2, "musical": 1.5, "family": 1}
        themes = {"romance": 4, "lead-face": 4, "ensemble": 1}
        languages = {"hi": 0.8, "en": 0.15, "ta": 0.05}
        devices = {"mobile": 0.6, "tv": 0.25, "tablet": 0.1, "web": 0.05}
        rows = {"because_you_watched": 3, "top_picks": 2, "new_releases": 2, "language": 1}
        persona, disliked = "romance", ("horror", "sci-fi")
        hours = {"morning": 0.15, "afternoon": 0.15, "evening": 0.45, "late_night": 0.25}
    elif name == "Arjun":
        genres = {"action": 6, "thriller": 4, "crime": 4, "sci-fi": 1.5, "sports": 1}
        themes = {"action": 4, "moody": 4, "ensemble": 1}
        languages = {"ta": 0.7, "hi": 0.22, "en": 0.08}
        devices = {"tv": 0.6, "mobile": 0.3, "web": 0.1}
        rows = {"continue_watching": 3, "trending": 2, "genre": 2, "popular_in": 1}
        persona, disliked = "action", ("romance", "musical")
        hours = {"morning": 0.05, "afternoon": 0.1, "evening": 0.45, "late_night": 0.4}
    else:
        genres = {"animation": 6, "family": 5, "comedy": 3, "fantasy": 2}
        themes = {"kids-friendly": 5, "comedy": 3}
        languages = {"hi": 0.6, "en": 0.4}
        devices = {"tablet": 0.7, "tv": 0.3}
        rows = {"continue_watching": 4, "watch_again": 3, "genre": 1}
        persona, disliked = "kids", ("horror",)
        hours = dict(KIDS_HOUR_PRIOR)
    genre_w = {g: genres.get(g, 0.05) for g in GENRES}
    for g in disliked:
        genre_w[g] = 0.002
    theme_w = _normalised({t: themes.get(t, 0.2) for t in THEME_SLUGS}, THEME_SLUGS)
    row_w = _normalised({r: rows.get(r, 0.2) for r in ROW_TYPES}, ROW_TYPES)
    return HiddenTaste(
        profile_index=profile_index,
        region="IN",
        is_kids=is_kids,
        shared=False,
        persona=persona,
        genres=_normalised(genre_w, GENRES),
        disliked_genres=disliked,
        languages=languages,
        devices=devices,
        hours=hours,
        row_types={
            b: _normalised(
                {r: w * BUCKET_ROW_BOOST[b].get(r, 1.0) for r, w in row_w.items()}, ROW_TYPES
            )
            for b in HOUR_BUCKET_NAMES
        },
        artwork_themes=_device_themes(rng, theme_w),
        search_rate=0.02 if is_kids else 0.12,
        external_rate=0.0 if is_kids else 0.03,
        activity=1.0,
    )


# --- Persistence --------------------------------------------------------------------------


def _database_name() -> str:
    return str(connection.settings_dict["NAME"])


def hidden_tastes_path() -> Path:
    """Where ``seed_demo`` writes the tastes: ``VAR_DIR/demo/<database>/hidden_tastes.json``.

    Per database because the file holds what no database does (each title's
    latent popularity): with one file per checkout, seeding the benchmark's
    database replaced the demo's, and the demo's next simulation ran on
    rederived tastes without the popularity term, a different world from the
    same seed.
    """
    # SQLite's NAME is a file path: its file name is the database's name here.
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(_database_name()).name) or "default"
    return Path(settings.VAR_DIR) / "demo" / name / "hidden_tastes.json"


def write_hidden_tastes(
    tastes: Iterable[HiddenTaste],
    *,
    seed: int,
    title_popularity: Mapping[int, float] | None = None,
    path: Path | None = None,
) -> Path:
    """Write every taste keyed by profile id, and each title's latent popularity (the
    ``popularity`` term of :func:`play_logit`, which no model field holds); replaces
    the file atomically."""
    path = path or hidden_tastes_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "format": TASTES_FORMAT,
        "seed": seed,
        "database": _database_name(),
        "keys": {name: list(keys) for name, keys in JSON_KEYS.items()},
        "title_popularity": {str(k): round(v, 4) for k, v in (title_popularity or {}).items()},
        "profiles": {str(t.profile_id): t.to_json() for t in tastes},
    }
    tmp = path.with_suffix(".json.tmp")
    # json.dumps runs the C encoder; json.dump to a file would use the pure-Python one.
    tmp.write_text(json.dumps(document, ensure_ascii=False, separators=(",", ":")), "utf-8")
    tmp.replace(path)
    return path


def _read_document(path: Path | None) -> dict[str, Any]:
    path = path or hidden_tastes_path()
    with path.open(encoding="utf-8") as fh:
        document = json.load(fh)
    if document.get("format") != TASTES_FORMAT or document.get("keys") != {
        name: list(keys) for name, keys in JSON_KEYS.items()
    }:
        raise ValueError(f"{path} was written by another version of seed_demo: reseed.")
    if document.get("database") != _database_name():
        # One file per checkout, but profile ids belong to one database.
        raise ValueError(
            f"{path} was written for database {document.get('database')!r}, not "
            f"{_database_name()!r}: run seed_demo against this database, or use "
            "rederive_hidden_tastes()."
        )
    return document


def load_title_popularity(*, path: Path | None = None) -> dict[int, float]:
    """Title id -> latent log-popularity (centred on 0), as the seeded history used it."""
    document = _read_document(path)
    return {int(k): v for k, v in document["title_popularity"].items()}


def load_hidden_tastes(
    profile_ids: Iterable[int] | None = None, *, path: Path | None = None
) -> dict[int, HiddenTaste]:
    """The planted tastes written by the last ``seed_demo``, keyed by profile id.

    ``profile_ids`` restricts the result (a 100,000-profile file is large).
    Raises ``FileNotFoundError`` when no demo has been seeded on this machine;
    :func:`rederive_hidden_tastes` rebuilds them from the database instead.
    """
    document = _read_document(path)
    wanted = None if profile_ids is None else {str(i) for i in profile_ids}
    seed = document["seed"]
    return {
        int(pid): HiddenTaste.from_json(data, profile_id=int(pid), seed=seed)
        for pid, data in document["profiles"].items()
        if wanted is None or pid in wanted
    }


def rederive_hidden_tastes() -> dict[int, HiddenTaste]:
    """Recompute the tastes of the demo profiles in the database from their external ids.

    Demo accounts carry ``demo:<seed>:a<account index>`` and profiles
    ``demo:<seed>:p<profile index>``; with :func:`plan_household` and
    :func:`derive_hidden_taste` that is all a taste depends on.
    """
    # Imported here: models need the app registry, and households imports this module.
    from profiles.models import Profile

    from .households import parse_demo_external_id

    tastes = {}
    plans: dict[tuple[int, int], HouseholdPlan] = {}
    rows = Profile.objects.filter(external_id__startswith="demo:").values_list(
        "pk", "external_id", "slot", "account__external_id"
    )
    for pk, profile_ext, slot, account_ext in rows.iterator(chunk_size=5000):
        seed, profile_index = parse_demo_external_id(profile_ext)
        _, account_index = parse_demo_external_id(account_ext)
        key = (seed, account_index)
        if key not in plans:
            plans[key] = plan_household(seed, account_index)
        taste = derive_hidden_taste(
            seed=seed, plan=plans[key], profile_index=profile_index, slot=slot
        )
        tastes[pk] = replace(taste, profile_id=pk, seed=seed)
    return tastes
