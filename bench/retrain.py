"""A cluster retrain end to end, beside a bare ``implicit`` ALS fit on the same matrix.

    python bench/retrain.py [--region IN] [--cluster hindi] [--database tonight_bench_retrain]

Runs one :class:`~recommendations.models.TrainingRun` the way a worker does
(:func:`~recommendations.services.retraining.training_run_execute`: read every
region's signals from PostgreSQL, recompute the region's taste clusters,
evaluate the cluster, region and global models on a time-based holdout, fit
and store the cluster's version with the winning recipe, gate, activate),
timing it and its peak memory. Then, in a fresh process, a bare
``implicit.cpu.als.AlternatingLeastSquares`` fit with the same parameters on
the very matrix the run's final fit used (saved by the first process): the
cost of the least any retrain must do.

The database is a copy of the 100,000-profile / 15,000-title / 10M-signal
demo (``createdb -T tonight_h2big tonight_bench_retrain``, then migrate);
seed one with ``manage.py seed_demo --titles 15000 --profiles 100000`` if
there is none to copy.
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

from bench._harness import ROOT, bench_database_url, django_env, print_table, setup_django


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def retrain(args: argparse.Namespace, matrix_path: Path) -> dict:
    setup_django(bench_database_url(args.database))
    import scipy.sparse as sp
    from django.conf import settings
    from django.core.management import call_command

    from recommendations.engine import als
    from recommendations.models import TrainingRun
    from recommendations.services.retraining import training_run_execute
    from regions.models import TasteCluster

    settings.MEDIA_ROOT = ROOT / "var" / "bench-retrain-media"
    call_command("migrate", verbosity=0)
    cluster = TasteCluster.objects.get(region_id=args.region, slug=args.cluster)
    last: dict = {}
    fit = als.CollaborativeModel.fit

    def recording_fit(self, confidence, **kwargs):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        result = fit(self, confidence, **kwargs)
        last.update(matrix=confidence, seconds=time.perf_counter() - started)
        last.setdefault("fits", []).append(
            [int(confidence.shape[0]), int(confidence.nnz), round(time.perf_counter() - started, 1)]
        )
        return result

    als.CollaborativeModel.fit = recording_fit
    baseline_mb = peak_mb()
    run = TrainingRun.objects.create(region=cluster.region, taste_cluster=cluster)
    started = time.perf_counter()
    run = training_run_execute(run_id=run.pk)
    seconds = time.perf_counter() - started
    sp.save_npz(matrix_path, sp.csr_matrix(last["matrix"]))
    from recommendations.services.training import ALS_PARAMS

    matrix_path.with_suffix(".json").write_text(json.dumps(ALS_PARAMS))
    return {
        "status": run.status,
        "error": run.error,
        "seconds": seconds,
        "peak_mb": peak_mb(),
        "baseline_mb": baseline_mb,
        "timings": run.timings,
        "sizes": run.data_sizes,
        "recipe": run.metrics.get("gate", {}).get("recipe"),
        "table": run.metrics.get("clusters", {}),
        "fits": last.get("fits", []),
        "final_fit_seconds": last["seconds"],
    }


def bare_fit(matrix_path: Path) -> dict:
    import numpy as np
    import scipy.sparse as sp
    import threadpoolctl
    from implicit.cpu.als import AlternatingLeastSquares

    params = json.loads(matrix_path.with_suffix(".json").read_text())
    matrix = sp.load_npz(matrix_path).tocsr().astype(np.float32)
    model = AlternatingLeastSquares(**params, random_state=0, dtype=np.float32)
    started = time.perf_counter()
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        model.fit(matrix, show_progress=False)
    return {
        "seconds": time.perf_counter() - started,
        "peak_mb": peak_mb(),
        "shape": list(matrix.shape),
        "nnz": int(matrix.nnz),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--region", default="IN")
    parser.add_argument("--cluster", default="tamil")
    parser.add_argument("--database", default="tonight_bench_retrain")
    parser.add_argument("--phase", choices=["retrain", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--matrix", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "retrain":
        print(json.dumps(retrain(args, Path(args.matrix))))
        return
    if args.phase == "bare":
        print(json.dumps(bare_fit(Path(args.matrix))))
        return

    env = django_env(bench_database_url(args.database))
    with tempfile.TemporaryDirectory(prefix="bench-retrain-") as scratch:
        matrix = Path(scratch) / "matrix.npz"
        common = [sys.executable, __file__, f"--matrix={matrix}"]
        options = [f"--region={args.region}", f"--cluster={args.cluster}"]
        options.append(f"--database={args.database}")
        print(f"Retraining {args.region}-{args.cluster} end to end...", flush=True)
        done = subprocess.run(
            [*common, "--phase=retrain", *options], env=env, capture_output=True, text=True
        )
        if done.returncode:
            sys.exit(done.stderr)
        end_to_end = json.loads(done.stdout.strip().splitlines()[-1])
        print("Bare implicit ALS fit on the same matrix...", flush=True)
        done = subprocess.run([*common, "--phase=bare"], env=env, capture_output=True, text=True)
        if done.returncode:
            sys.exit(done.stderr)
        bare = json.loads(done.stdout.strip().splitlines()[-1])

    sizes = end_to_end["sizes"]
    print(
        f"\n{args.region}-{args.cluster}: run {end_to_end['status']} "
        f"({end_to_end['error'] or 'ok'}); "
        f"recipe {end_to_end['recipe']}; {sizes.get('signals', 0):,} signals read, "
        f"{sizes.get('profiles', 0):,} profiles, {sizes.get('titles', 0):,} titles; final matrix "
        f"{bare['shape'][0]:,} x {bare['shape'][1]:,}, {bare['nnz']:,} non-zeros.\n"
    )
    ratio_seconds = end_to_end["seconds"] / bare["seconds"]
    print_table(
        "Retrain end to end vs bare implicit ALS fit (same matrix, same parameters)",
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
    print("\nStages (s):", ", ".join(f"{k} {v:.1f}" for k, v in end_to_end["timings"].items()))
    print("ALS fits in the run [rows, nnz, s]:", end_to_end["fits"])
    print("Cluster table:", json.dumps(end_to_end["table"]))
    verdict = "meets" if end_to_end["seconds"] <= 2 * bare["seconds"] else "misses"
    print(f"Goal: end to end at most 2x the bare fit: {verdict}.")


if __name__ == "__main__":
    main()
