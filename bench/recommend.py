"""Candidates + ranking for one profile, beside a bare numpy dot-product and top-500.

    python bench/recommend.py [--titles 15000] [--profiles 100000] [--sample 1000] [--fresh]

Seeds a scratch PostgreSQL database with the demo world at benchmark size
(once; ``--fresh`` reseeds), trains the global model, then for ``--sample``
random profiles with history times the request path's numeric part,
:func:`recommendations.serving.scoring.rank_profile`: filters, the fold-in of
the profile's current history, every candidate generator, features and the
ranker over the whole catalogue. Each profile's history is read from the
database first, outside the timing; a second table adds the database reads
(``recommend_for_profile`` end to end, without HTTP).

The baseline is what any recommender pays at the least: scoring every title
with one 64-factor dot product and selecting the top 500, in the same process
on the same catalogue.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import ROOT, bench_database_url, ensure_database, print_table, setup_django

POOL = 500


def seed(args: argparse.Namespace) -> None:
    from django.conf import settings
    from django.core.management import call_command

    from catalog.models import Title

    if Title.objects.exists():
        return
    # The demo's hidden-tastes file goes to a scratch folder, not the developer's var/.
    settings.VAR_DIR = Path(tempfile.mkdtemp(prefix="bench-recommend-"))
    print(f"Seeding {args.titles} titles and {args.profiles} profiles (once)...", flush=True)
    started = time.perf_counter()
    call_command(
        "seed_demo",
        f"--titles={args.titles}",
        f"--profiles={args.profiles}",
        f"--history={args.history}",
        "--artwork-images=shared",
        "--seed=7",
        verbosity=0,
    )
    print(f"  seeded in {time.perf_counter() - started:.0f}s", flush=True)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--titles", type=int, default=15_000)
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--history", type=int, default=30)
    parser.add_argument("--sample", type=int, default=1_000)
    parser.add_argument("--fresh", action="store_true", help="Drop and reseed the database.")
    args = parser.parse_args()

    url = bench_database_url("tonight_bench_recommend")
    ensure_database(url, fresh=args.fresh)
    setup_django(url)
    from django.conf import settings
    from django.core.management import call_command
    from django.utils import timezone

    # Artefacts of the versions trained here live beside the scratch database's other runs.
    settings.MEDIA_ROOT = ROOT / "var" / "bench-recommend-media"
    call_command("migrate", verbosity=0)
    seed(args)

    from profiles.models import Profile
    from recommendations.models import Signal
    from recommendations.selectors.training import signal_weights
    from recommendations.services.training import model_train
    from recommendations.serving.cache import serving_bundle
    from recommendations.serving.recommend import (
        profile_history,
        profile_ranked_pool,
    )
    from recommendations.serving.scoring import ScoringContext, rank_profile

    started = time.perf_counter()
    version = model_train(region_code=None)
    print(
        f"Trained version #{version.pk} in {time.perf_counter() - started:.1f}s: "
        f"{version.n_profiles} profiles, {version.n_titles} titles, {version.n_signals} signals."
    )

    rng = np.random.default_rng(0)
    with_history = np.fromiter(
        Signal.objects.order_by().values_list("profile_id", flat=True).distinct(), dtype=np.int64
    )
    chosen = rng.choice(with_history, size=min(args.sample, with_history.shape[0]), replace=False)
    profiles = list(Profile.objects.filter(pk__in=chosen.tolist()).select_related("account"))
    first = profiles[0]
    bundle = serving_bundle(first.account.home_region_id)
    bundle, catalogue = bundle.served(3600.0)
    weights = signal_weights()
    inputs = []
    for profile in profiles:
        history = profile_history(profile=profile, bundle=bundle, catalogue=catalogue, at=None)
        codes = set(profile.preferred_languages.values_list("code", flat=True))
        context = ScoringContext(
            region_code=profile.account.home_region_id,
            cluster_id=profile.taste_cluster_id,
            maturity_limit=profile.maturity_limit,
            language_index=np.array(
                [i for i, c in enumerate(catalogue.facts.language_codes) if c in codes], np.int16
            ),
            device="tv",
            at=timezone.now(),
            pool_size=POOL,
        )
        inputs.append((history, context))

    # Warm up both paths (first-touch page faults, lazily built region arrays).
    for history, context in inputs[:20]:
        rank_profile(
            bundle=bundle, catalogue=catalogue, history=history, context=context, weights=weights
        )
    items = bundle.als.item_factors
    factors = rng.standard_normal((len(inputs), items.shape[1])).astype(np.float32)

    tonight, bare = [], []
    sizes = []
    for row, (history, context) in enumerate(inputs):
        started = time.perf_counter()
        pool = rank_profile(
            bundle=bundle, catalogue=catalogue, history=history, context=context, weights=weights
        )
        tonight.append(time.perf_counter() - started)
        sizes.append(len(pool))

        started = time.perf_counter()
        scores = items @ factors[row]
        top = np.argpartition(scores, scores.shape[0] - POOL)[-POOL:]
        top[np.argsort(-scores[top])]
        bare.append(time.perf_counter() - started)

    end_to_end = []
    for profile in profiles[:200]:
        started = time.perf_counter()
        profile_ranked_pool(profile=profile, device="tv")
        end_to_end.append(time.perf_counter() - started)

    ms = 1000.0
    t50, t99 = statistics.median(tonight) * ms, percentile(tonight, 99) * ms
    b50, b99 = statistics.median(bare) * ms, percentile(bare, 99) * ms
    print(
        f"\n{len(inputs)} profiles, {bundle.n_titles} titles, {items.shape[1]} factors, "
        f"pool of {POOL} (median pool {int(statistics.median(sizes))}); "
        f"median history {int(statistics.median(len(h.signals) for h, _ in inputs))} signals."
    )
    print_table(
        "Candidates + ranking for one profile (rank_profile) vs bare dot-product + top-500",
        [
            ("median", f"{t50:.2f} ms", f"{b50:.3f} ms", f"{t50 / b50:.0f}x"),
            ("p99", f"{t99:.2f} ms", f"{b99:.3f} ms", f"{t99 / b99:.0f}x"),
        ],
    )
    e50, e99 = statistics.median(end_to_end) * ms, percentile(end_to_end, 99) * ms
    print_table(
        "With the profile's database reads (profile_ranked_pool, 200 profiles)",
        [
            ("median", f"{e50:.2f} ms", f"{t50:.2f} ms", f"{e50 / t50:.1f}x"),
            ("p99", f"{e99:.2f} ms", f"{t99:.2f} ms", f"{e99 / t99:.1f}x"),
        ],
    )
    print("\nGoal (issue 4): candidates + ranking median under 5 ms, p99 under 15 ms.")


if __name__ == "__main__":
    main()
