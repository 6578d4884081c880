"""A retrain end to end, beside bare ``implicit`` ALS fits on the same matrices.

    python bench/retrain.py [--region IN] [--cluster tamil|all] [--template tonight_h2big]

Runs the retrain the way a worker does
(:func:`~recommendations.services.retraining.training_runs_execute`: read every
region's signals from PostgreSQL, recompute the region's taste clusters, tune
and evaluate the cluster, region, global and blended models on a time-based
holdout, fit and store each cluster's version with its winning recipe, gate,
activate), for one cluster (``--cluster tamil``) or all of the region's
clusters in one batch (``--cluster all``, what a scheduled region retrain
does), timing it and its peak memory. Then, in a fresh process, a bare
``implicit.cpu.als.AlternatingLeastSquares`` fit from scratch, with the same
parameters and as many sweeps as the served model got in all, on each matrix
whose model the run serves (saved by the first process): a blend's two
components, the region model once however many clusters share it. Their sum is
the cost of the least any retrain must do to produce the same models.

Each run starts from a fresh copy of the template database (the
100,000-profile / 15,000-title / 10M-signal demo, seeded once with
``manage.py seed_demo --titles 15000 --profiles 100000 --history 100``), so
no earlier run's active version gates this one; the template is never written.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from bench._harness import ROOT, bench_database_url, django_env, print_table, setup_django


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def fresh_copy(database: str, template: str) -> None:
    """``database`` anew as a copy of ``template`` (which nobody may be connected to)."""
    admin = bench_database_url("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{database}" TEMPLATE "{template}"')


def retrain(args: argparse.Namespace, scratch: Path) -> dict:
    setup_django(bench_database_url(args.database))
    import numpy as np
    import scipy.sparse as sp
    from django.conf import settings
    from django.core.management import call_command

    from recommendations.engine import als
    from recommendations.models import TrainingRun
    from recommendations.services.cluster_evaluation import EVAL_ITERATIONS
    from recommendations.services.retraining import WARM_ITERATIONS, training_runs_execute
    from regions.models import TasteCluster

    settings.MEDIA_ROOT = ROOT / "var" / "bench-retrain-media"
    call_command("migrate", verbosity=0)
    clusters = TasteCluster.objects.filter(region_id=args.region).order_by("-is_default", "slug")
    if args.cluster != "all":
        clusters = clusters.filter(slug=args.cluster)
    fits: list[list] = []
    finals: list[tuple] = []
    fit = als.CollaborativeModel.fit

    def recording_fit(self, confidence, **kwargs):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        result = fit(self, confidence, **kwargs)
        seconds = round(time.perf_counter() - started, 2)
        fits.append([int(confidence.shape[0]), int(confidence.nnz), seconds])
        if kwargs.get("initial") is not None:  # a final fit: warm-started from its holdout fit
            finals.append((confidence, self.params.as_dict(), seconds))
        return result

    als.CollaborativeModel.fit = recording_fit
    baseline_mb = peak_mb()
    runs = [
        TrainingRun.objects.create(region_id=args.region, taste_cluster=cluster)
        for cluster in clusters
    ]
    started = time.perf_counter()
    runs = training_runs_execute(run_ids=[run.pk for run in runs])
    seconds = time.perf_counter() - started
    bare = []
    for i, (matrix, params, warm_seconds) in enumerate(finals):
        path = scratch / f"final-{i}.npz"
        sp.save_npz(path, sp.csr_matrix(matrix, dtype=np.float32))
        bare.append(
            {
                "path": str(path),
                "params": {**params, "iterations": EVAL_ITERATIONS + WARM_ITERATIONS},
                "warm_seconds": warm_seconds,
            }
        )
    (scratch / "finals.json").write_text(json.dumps(bare))
    return {
        "runs": [
            {
                "cluster": run.taste_cluster.slug,
                "status": run.status,
                "error": run.error,
                "recipe": run.metrics.get("gate", {}).get("recipe"),
                "timings": run.timings,
                "row": run.metrics.get("clusters", {}).get(run.taste_cluster.slug, {}),
            }
            for run in runs
        ],
        "sizes": runs[0].data_sizes,
        "seconds": seconds,
        "peak_mb": peak_mb(),
        "baseline_mb": baseline_mb,
        "fits": fits,
    }


def bare_fit(scratch: Path) -> dict:
    import numpy as np
    import scipy.sparse as sp
    import threadpoolctl
    from implicit.cpu.als import AlternatingLeastSquares

    results = []
    for final in json.loads((scratch / "finals.json").read_text()):
        matrix = sp.load_npz(final["path"]).tocsr().astype(np.float32)
        model = AlternatingLeastSquares(**final["params"], random_state=0, dtype=np.float32)
        started = time.perf_counter()
        with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
            model.fit(matrix, show_progress=False)
        results.append(
            {
                "seconds": time.perf_counter() - started,
                "shape": list(matrix.shape),
                "nnz": int(matrix.nnz),
                "params": final["params"],
            }
        )
    return {
        "seconds": sum(r["seconds"] for r in results),
        "peak_mb": peak_mb(),
        "fits": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--region", default="IN")
    parser.add_argument("--cluster", default="tamil", help="A cluster's slug, or all.")
    parser.add_argument("--database", default="tonight_bench_retrain")
    parser.add_argument("--template", default="tonight_h2big")
    parser.add_argument("--phase", choices=["retrain", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--scratch", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "retrain":
        print(json.dumps(retrain(args, Path(args.scratch))))
        return
    if args.phase == "bare":
        print(json.dumps(bare_fit(Path(args.scratch))))
        return

    env = django_env(bench_database_url(args.database))
    print(f"Copying {args.template} to {args.database}...", flush=True)
    fresh_copy(args.database, args.template)
    with tempfile.TemporaryDirectory(prefix="bench-retrain-") as scratch:
        common = [sys.executable, __file__, f"--scratch={scratch}"]
        options = [f"--region={args.region}", f"--cluster={args.cluster}"]
        options.append(f"--database={args.database}")
        print(f"Retraining {args.region}-{args.cluster} end to end...", flush=True)
        done = subprocess.run(
            [*common, "--phase=retrain", *options], env=env, capture_output=True, text=True
        )
        if done.returncode:
            sys.exit(done.stderr)
        end_to_end = json.loads(done.stdout.strip().splitlines()[-1])
        print("Bare implicit ALS fits on the served models' matrices...", flush=True)
        done = subprocess.run([*common, "--phase=bare"], env=env, capture_output=True, text=True)
        if done.returncode:
            sys.exit(done.stderr)
        bare = json.loads(done.stdout.strip().splitlines()[-1])

    sizes = end_to_end["sizes"]
    print(
        f"\n{args.region}-{args.cluster}: {sizes.get('signals', 0):,} signals read, "
        f"{sizes.get('profiles', 0):,} profiles, {sizes.get('titles', 0):,} titles."
    )
    for run in end_to_end["runs"]:
        print(f"  {run['cluster']}: {run['status']} {run['error'] or ''} recipe {run['recipe']}")
    print("Bare fits [rows x titles, nnz, params, s]:")
    for fit in bare["fits"]:
        shape = " x ".join(f"{n:,}" for n in fit["shape"])
        print(f"  {shape}, {fit['nnz']:,}, {fit['params']}, {fit['seconds']:.1f}")
    ratio_seconds = end_to_end["seconds"] / bare["seconds"]
    print()
    print_table(
        "Retrain end to end vs bare implicit ALS fits (same matrices, same parameters)",
        [
            (
                "wall seconds",
                f"{end_to_end['seconds']:.1f}",
                f"{bare['seconds']:.1f}",
                f"{ratio_seconds:.2f}x",
            ),
            (
                "peak RSS MB",
                f"{end_to_end['peak_mb']:.0f}",
                f"{bare['peak_mb']:.0f}",
                f"{end_to_end['peak_mb'] / bare['peak_mb']:.2f}x",
            ),
        ],
    )
    timings = end_to_end["runs"][0]["timings"]
    print("\nStages (s):", ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    print("ALS fits in the run [rows, nnz, s]:", end_to_end["fits"])
    for run in end_to_end["runs"]:
        print(f"Cluster table {run['cluster']}:", json.dumps(run["row"]))
    verdict = "meets" if ratio_seconds <= 2 else "misses"
    print(f"Goal: end to end at most 2x the bare fits: {verdict}.")


if __name__ == "__main__":
    main()
