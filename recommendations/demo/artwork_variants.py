"""Artwork variants for every demo title: which frames exist, for which devices, with which image.

Two image modes (``--artwork-images``):

- ``full``: every variant gets its own JPEG with the title's name on it;
  about 2-3 ms per image, rendered in parallel worker processes.
- ``shared``: a fixed pool of untitled images per theme is rendered once and
  every variant of that theme points at one of them. Used for benchmark-sized
  catalogues (70,000 variants), where what matters is the rows, not the pixels.

``auto`` picks ``full`` up to :data:`FULL_IMAGES_MAX_TITLES` titles.
"""

import multiprocessing
import os
import random
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.text import slugify

from artwork.models import ArtworkVariant
from artwork.services import artwork_image_renditions_store
from catalog.models import MaturityLevel

from .artwork_images import HEIGHT, WIDTH, render_artwork, render_job
from .bulk_insert import insert_rows
from .catalogue import CatalogueIndex
from .progress import Progress
from .reference import ReferenceIds
from .vocabulary import GENRE_THEMES, THEME_LABELS, THEME_SLUGS

STREAM_ARTWORK = 31
FULL_IMAGES_MAX_TITLES = 2000
SHARED_IMAGES_PER_THEME = 12
SHARED_DIR = "artwork/demo-shared"
PARALLEL_MIN_IMAGES = 400

# Device flags as bits, for the history's quick "suitable for this device" test.
DEVICE_BITS: dict[str, int] = {"tv": 1, "mobile": 2, "tablet": 4, "web": 8}
ALL_DEVICES = 15
LEVELS = [int(level) for level in MaturityLevel.values]


@dataclass(frozen=True, slots=True)
class VariantInfo:
    """What the history needs to show a variant: which, what it depicts, where, for whom."""

    variant_id: int
    themes: tuple[str, ...]
    devices: int  # DEVICE_BITS mask
    maturity: int


@dataclass
class _VariantPlan:
    title_index: int
    label: str
    themes: tuple[str, ...]
    devices: int
    maturity: int
    seed: int


def _plan_variants(catalogue: CatalogueIndex, seed: int) -> list[_VariantPlan]:
    rng = np.random.default_rng([seed, STREAM_ARTWORK])
    rnd = random.Random(int(rng.integers(2**63)))
    plans = []
    for t, genres in enumerate(catalogue.genres):
        kids = catalogue.is_kids[t]
        title_maturity = int(catalogue.maturity[t])
        candidates: list[str] = ["kids-friendly"] if kids else []
        for g in genres:
            candidates += [th for th in GENRE_THEMES[g] if th not in candidates]
        if kids:
            candidates = [c for c in candidates if c in ("kids-friendly", "comedy", "ensemble")]
        else:  # "kids-friendly" frames are made for kids' titles only
            candidates = [c for c in candidates if c != "kids-friendly"]
        count = rnd.randint(3, 6)
        # Designers cover the title's own themes first, then try a stretch or two.
        primaries = candidates[:count]
        extras = [
            th
            for th in THEME_SLUGS
            if th not in primaries and th != ("moody" if kids else "kids-friendly")
        ]
        while len(primaries) < count:
            primaries.append(extras.pop(rnd.randrange(len(extras))))
        gory = not kids and title_maturity < MaturityLevel.EIGHTEEN and rnd.random() < 0.06
        used_labels: set[str] = set()
        for k, primary in enumerate(primaries):
            themes = [primary]
            if rnd.random() < 0.4:
                second = rnd.choice(candidates)
                if second != primary:
                    themes.append(second)
            devices = ALL_DEVICES
            if k > 0:  # the key art (k == 0) serves every device
                if primary == "lead-face" and rnd.random() < 0.4:
                    devices = DEVICE_BITS["mobile"] | DEVICE_BITS["tablet"]
                elif primary == "ensemble" and rnd.random() < 0.35:
                    devices = DEVICE_BITS["tv"] | DEVICE_BITS["web"]
                elif rnd.random() < 0.08:
                    devices = DEVICE_BITS["tv"]
            maturity = MaturityLevel.ALL if kids else title_maturity
            label = "Key art" if k == 0 else rnd.choice(THEME_LABELS[primary])
            if k == count - 1 and gory:
                maturity = LEVELS[LEVELS.index(title_maturity) + 1]
                label = "Intense frame"
            while label in used_labels:
                label = f"{label} {len(used_labels)}"
            used_labels.add(label)
            plans.append(
                _VariantPlan(
                    title_index=t,
                    label=label,
                    themes=tuple(themes),
                    devices=devices,
                    maturity=int(maturity),
                    seed=int(rnd.getrandbits(31)),
                )
            )
    return plans


def _rendered(jobs: list[tuple[str, str | None, int]]) -> Iterator[bytes]:
    """Render in worker processes when there are many images and more than one CPU.

    Workers are forked: they inherit the loaded fonts and never touch the
    database connection, and a forked worker leaves with ``os._exit`` so it
    cannot close the parent's connection behind its back.
    """
    workers = min(4, os.cpu_count() or 1)
    can_fork = "fork" in multiprocessing.get_all_start_methods()
    if len(jobs) < PARALLEL_MIN_IMAGES or workers < 2 or not can_fork:
        for job in jobs:
            yield render_job(job)
        return
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        yield from pool.map(render_job, jobs, chunksize=32)


def _stored_bytes_equal(name: str, data: bytes) -> bool:
    if not default_storage.exists(name):
        return False
    with default_storage.open(name, "rb") as fh:
        return fh.read() == data


def _shared_images(progress: Progress, saved: list[str]) -> dict[str, list[str]]:
    """Render the pool, reusing a file that already holds exactly an image's bytes.

    A pool image depends on its theme and number alone, so a demo replacing
    another would write the very files the previous one shows: they are kept
    as they are, never deleted and rewritten while the previous demo may yet be
    the one that stays. Other bytes (an older renderer's) go to a new name beside.
    """
    names: dict[str, list[str]] = {}
    with progress(
        "Artwork: shared images", len(THEME_SLUGS) * SHARED_IMAGES_PER_THEME, "img"
    ) as advance:
        for theme in THEME_SLUGS:
            names[theme] = []
            for k in range(SHARED_IMAGES_PER_THEME):
                name = f"{SHARED_DIR}/{theme}-{k:02d}.jpg"
                data = render_artwork(theme, None, k)
                if not _stored_bytes_equal(name, data):
                    name = default_storage.save(name, ContentFile(data))
                    saved.append(name)
                names[theme].append(name)
                advance(1)
    return names


def create_artwork(
    catalogue: CatalogueIndex,
    *,
    ref: ReferenceIds,
    seed: int,
    mode: str,
    progress: Progress,
    saved: list[str],
) -> list[list[VariantInfo]]:
    """Render and store the images, insert the variants; returns variants per title position.

    Files are written before the rows, so no row ever points at a missing file.
    The name of every file written is appended to ``saved`` as soon as it is
    stored, for the caller to delete if its transaction fails (even halfway
    through this function). Storage never overwrites: a new file never takes
    the name of one a previous demo still shows.
    """
    plans = _plan_variants(catalogue, seed)
    field = ArtworkVariant._meta.get_field("image")
    if mode == "auto":
        mode = "full" if len(catalogue.title_ids) <= FULL_IMAGES_MAX_TITLES else "shared"

    image_names: list[str] = []
    if mode == "shared":
        shared = _shared_images(progress, saved)
        image_names = [shared[p.themes[0]][p.seed % SHARED_IMAGES_PER_THEME] for p in plans]
    else:
        jobs = [(p.themes[0], catalogue.names[p.title_index], p.seed) for p in plans]
        with progress("Artwork: images", len(jobs), "img") as advance:
            for plan, data in zip(plans, _rendered(jobs), strict=True):
                holder = SimpleNamespace(title_id=catalogue.title_ids[plan.title_index])
                name = field.generate_filename(holder, f"{slugify(plan.label)}.jpg")
                image_names.append(default_storage.save(name, ContentFile(data)))
                saved.append(image_names[-1])
                advance(1)

    # Every image's copies per device class, before the rows that say they are made (at
    # the demo's 480x270 only the phone's: no class gets a copy wider than its image).
    distinct = list(dict.fromkeys(image_names))
    with progress("Artwork: renditions", len(distinct), "img") as advance:
        for name in distinct:
            saved.extend(artwork_image_renditions_store(image=name, width=WIDTH))
            advance(1)

    rows = [
        (
            catalogue.title_ids[p.title_index],
            p.label,
            name,
            WIDTH,
            HEIGHT,
            bool(p.devices & DEVICE_BITS["tv"]),
            bool(p.devices & DEVICE_BITS["mobile"]),
            bool(p.devices & DEVICE_BITS["tablet"]),
            bool(p.devices & DEVICE_BITS["web"]),
            p.maturity,
            True,
        )
        for p, name in zip(plans, image_names, strict=True)
    ]
    fields = (
        "title_id",
        "label",
        "image",
        "width",
        "height",
        "for_tv",
        "for_mobile",
        "for_tablet",
        "for_web",
        "maturity",
        "renditions_made",
    )
    with progress("Artwork: variants", len(rows), "variants") as advance:
        variant_ids = insert_rows(ArtworkVariant, fields, rows, return_ids=True, advance=advance)
        insert_rows(
            ArtworkVariant.themes.through,
            ("artworkvariant_id", "artworktheme_id"),
            [
                (vid, ref.themes[theme])
                for vid, p in zip(variant_ids, plans, strict=True)
                for theme in p.themes
            ],
        )

    by_title: list[list[VariantInfo]] = [[] for _ in catalogue.title_ids]
    for vid, p in zip(variant_ids, plans, strict=True):
        by_title[p.title_index].append(VariantInfo(vid, p.themes, p.devices, p.maturity))
    return by_title


def delete_artwork_files(names: Iterable[str]) -> None:
    """Remove the demo's image files, and the per-title folders they leave empty."""
    folders = set()
    for name in names:
        with suppress(OSError):
            default_storage.delete(name)
        folders.add(str(Path(name).parent))
    if not hasattr(default_storage, "path"):
        return
    for folder in sorted(folders, reverse=True):
        with suppress(OSError, NotImplementedError):
            os.rmdir(default_storage.path(folder))
