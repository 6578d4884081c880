"""A retrain end to end, beside bare ``implicit`` ALS fits of the models it stores.

    python bench/retrain.py [--region IN] [--cluster tamil|all] [--template tonight_h2big]

Runs retrains the way a worker does
(:func:`~recommendations.services.retraining.training_runs_execute`: read the
signals from PostgreSQL, recompute the region's taste clusters, evaluate the
cluster, region, (global) and blended models on a time-based holdout, fit and
store each cluster's version with its winning recipe, gate against the active
version, activate), for one cluster (``--cluster tamil``, the default) or all
of the region's clusters in one batch (``--cluster all``, what a scheduled
region retrain does). Three retrains run one after the other on the same copy
of the data, each in its own process (so that each has its own peak memory):

1. **first**: nothing stored yet: every small scope searches its settings, the
   global comparator is fitted, the content model is fitted;
2. **steady**: the retrain of the next day (same data): the stored settings and
   blend weights are reused, the global comparator is not due, the content
   model's artefact is reused; the common case, and the one the 2x goal is about;
3. **search**: the same, with a search forced (``RETRAIN_TUNE_EVERY_DAYS=0``):
   the weekly retrain.

The baseline of each, in a fresh process: a bare
``implicit.cpu.als.AlternatingLeastSquares`` fit from scratch, with the same
factors, λ and alpha and as many sweeps as the served model got in all (10 on
the holdout's training part, then 5 warm on the whole window: 15), of each
matrix whose factors the run stores: a cluster's own model, a blend's two
components, the region model once however many clusters share it. That is the
least any retrain must do to produce the same models; everything else a retrain
does (reading, assigning clusters, the holdout and its comparators, the search,
the gate, storing) is counted against it. For a single cluster served by a
blend, the ratio to the bare fit of the cluster's own matrix alone is printed
too.

Each run starts from a fresh copy of the template database (the
100,000-profile / 15,000-title / 10M-signal demo, seeded once with
``manage.py seed_demo --titles 15000 --profiles 100000 --history 100``), so no
earlier benchmark's version gates the first retrain; the template is never
written. Figures move by tens of percent with the machine's load: the load
average is printed beside them.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from bench._harness import ROOT, bench_database_url, django_env, print_table, setup_django

PHASES = ("first", "steady", "search")
BASELINE = (
    "Baseline: implicit's AlternatingLeastSquares from scratch, same factors/λ/alpha, 15 sweeps "
    "(the served model's 10 + 5),\n  on each matrix whose factors the retrain stores (a blend: "
    "its cluster's and its region's; the region's once per batch).\n"
    "  'steady' is the next retrain on the same data: stored settings reused, global "
    "comparator not due, signals from the snapshot."
)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def fresh_copy(database: str, template: str) -> None:
    """``database`` anew as a copy of ``template`` (which nobody may be connected to)."""
    admin = bench_database_url("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{database}" TEMPLATE "{template}"')


def retrain(args: argparse.Namespace, scratch: Path) -> dict:
    """One retrain (``args.phase``) in this process; its final fits' matrices saved for the bare
    fits."""
    setup_django(bench_database_url(args.database))
    import numpy as np
    import scipy.sparse as sp
    from django.conf import settings
    from django.core.management import call_command

    from recommendations.engine import als
    from recommendations.models import TrainingRun
    from recommendations.services import retraining
    from recommendations.services.cluster_evaluation import EVAL_ITERATIONS
    from recommendations.services.retraining.batch import _FinalFits
    from regions.models import TasteCluster

    settings.MEDIA_ROOT = ROOT / "var" / "bench-retrain-media"
    if args.phase == "search":
        settings.TONIGHT = {**settings.TONIGHT, "RETRAIN_TUNE_EVERY_DAYS": 0.0}
    call_command("migrate", verbosity=0)
    clusters = TasteCluster.objects.filter(region_id=args.region).order_by("-is_default", "slug")
    if args.cluster != "all":
        clusters = clusters.filter(slug=args.cluster)
    fits: list[list] = []
    finals: list[dict] = []
    matrices: list = []  # written after the timed retrain: the bench's files are not its work
    scope: list[str] = [""]
    fit = als.CollaborativeModel.fit
    final_get = _FinalFits.get

    def recording_fit(self, confidence, **kwargs):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        result = fit(self, confidence, **kwargs)
        seconds = round(time.perf_counter() - started, 2)
        fits.append([int(confidence.shape[0]), int(confidence.nnz), seconds])
        if kwargs.get("initial") is not None:  # a final fit: warm-started from its holdout fit
            path = scratch / f"{args.phase}-final-{len(finals)}.npz"
            matrices.append((path, confidence))
            params = {**self.params.as_dict(), "iterations": EVAL_ITERATIONS + self.iterations}
            finals.append({"path": str(path), "params": params, "scope": scope[0]})
        return result

    def recording_get(self, key):  # type: ignore[no-untyped-def]
        scope[0] = str(key)
        return final_get(self, key)

    als.CollaborativeModel.fit = recording_fit
    _FinalFits.get = recording_get
    runs = [
        TrainingRun.objects.create(region_id=args.region, taste_cluster=cluster)
        for cluster in clusters
    ]
    load = os.getloadavg()[0]
    started = time.perf_counter()
    runs = retraining.training_runs_execute(run_ids=[run.pk for run in runs])
    seconds = time.perf_counter() - started
    for path, confidence in matrices:
        sp.save_npz(path, sp.csr_matrix(confidence, dtype=np.float32))
    (scratch / f"{args.phase}-finals.json").write_text(json.dumps(finals))
    return {
        "runs": [
            {
                "cluster": run.taste_cluster.slug,
                "cluster_pk": run.taste_cluster_id,
                "status": run.status,
                "error": run.error,
                "recipe": run.metrics.get("gate", {}).get("recipe"),
                "gate": run.metrics.get("gate", {}),
                "timings": run.timings,
                "row": run.metrics.get("clusters", {}).get(run.taste_cluster.slug, {}),
                "tuning": {
                    name: {k: entry.get(k) for k in ("searched", "reason", "params")}
                    for name, entry in run.metrics.get("hyperparameters", {})
                    .get("tuning", {})
                    .items()
                },
                "global": run.metrics.get("global_comparator", {}).get("reason"),
                "evaluation_seconds": run.metrics.get("evaluation_seconds", {}),
                "final_fit_seconds": run.metrics.get("final_fit_seconds", {}),
                "content_reused": run.model_version.metrics.get("content_reused")
                if run.model_version
                else None,
            }
            for run in runs
        ],
        "sizes": runs[0].data_sizes,
        "seconds": seconds,
        "peak_mb": peak_mb(),
        "fits": fits,
        "load": [load, os.getloadavg()[0]],
    }


def bare_fit(args: argparse.Namespace, scratch: Path) -> dict:
    """From-scratch ``implicit`` fits of the matrices ``args.phase``'s retrain stored models of."""
    import numpy as np
    import scipy.sparse as sp
    import threadpoolctl
    from implicit.cpu.als import AlternatingLeastSquares

    results = []
    for final in json.loads((scratch / f"{args.phase}-finals.json").read_text()):
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
                "scope": final["scope"],
            }
        )
    return {
        "seconds": sum(r["seconds"] for r in results),
        "peak_mb": peak_mb(),
        "fits": results,
    }


def _phase(args: argparse.Namespace, env: dict, scratch: str, phase: str, kind: str) -> dict:
    command = [
        sys.executable,
        __file__,
        f"--scratch={scratch}",
        f"--phase={phase}",
        f"--step={kind}",
        f"--region={args.region}",
        f"--cluster={args.cluster}",
        f"--database={args.database}",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _report(args: argparse.Namespace, phase: str, end_to_end: dict, bare: dict) -> None:
    sizes = end_to_end["sizes"]
    load = end_to_end["load"]
    print(
        f"\n== {phase}: {args.region}-{args.cluster}, {sizes.get('signals', 0):,} signals read "
        f"({sizes.get('profiles', 0):,} profiles, {sizes.get('titles', 0):,} titles); "
        f"load average {load[0]:.1f} before, {load[1]:.1f} after"
    )
    for run in end_to_end["runs"]:
        searched = [name for name, t in run["tuning"].items() if t.get("searched")]
        gate = run["gate"]
        print(
            f"  {run['cluster']}: {run['status']} {run['error'] or ''} recipe {run['recipe']}; "
            f"searched: {', '.join(searched) or 'none'}; "
            f"gate {gate.get('candidate_ndcg@10')} vs active {gate.get('active_ndcg@10')} "
            f"({gate.get('active_measured_as', 'no active version')}); "
            f"content reused: {run['content_reused']}"
        )
    print(f"  global comparator: {end_to_end['runs'][0]['global']}")
    print("  Bare fits [scope: rows x titles, nnz, factors/λ/alpha/sweeps, s]:")
    for fit in bare["fits"]:
        shape = " x ".join(f"{n:,}" for n in fit["shape"])
        p = fit["params"]
        print(
            f"    {fit['scope']}: {shape}, {fit['nnz']:,}, "
            f"{p['factors']}/{p['regularization']:g}/{p['alpha']:g}/{p['iterations']}, "
            f"{fit['seconds']:.2f}"
        )
    ratio = end_to_end["seconds"] / bare["seconds"]
    rows = [
        (
            "wall seconds",
            f"{end_to_end['seconds']:.1f}",
            f"{bare['seconds']:.1f}",
            f"{ratio:.2f}x",
        ),
        (
            "peak RSS MB",
            f"{end_to_end['peak_mb']:.0f}",
            f"{bare['peak_mb']:.0f}",
            f"{end_to_end['peak_mb'] / bare['peak_mb']:.2f}x",
        ),
    ]
    if len(end_to_end["runs"]) == 1:
        own = str(end_to_end["runs"][0]["cluster_pk"])
        alone = sum(f["seconds"] for f in bare["fits"] if f["scope"] == own)
        if alone and len(bare["fits"]) > 1:
            rows.append(
                (
                    "wall s vs the cluster's own matrix alone",
                    f"{end_to_end['seconds']:.1f}",
                    f"{alone:.1f}",
                    f"{end_to_end['seconds'] / alone:.2f}x",
                )
            )
    print_table(
        f"{phase}: retrain end to end vs bare implicit ALS fits of the models it stores", rows
    )
    first = end_to_end["runs"][0]
    stages = dict(first["timings"])
    print(f"  Stages of the batch (s; train and gate are {first['cluster']}'s):")
    for stage, value in stages.items():
        print(f"    {stage:<32} {value:7.2f}")
    for run in end_to_end["runs"][1:]:
        t = run["timings"]
        print(f"    train + gate {run['cluster']:<19} {t.get('train', 0) + t.get('gate', 0):7.2f}")
    print("  Inside evaluate (s):", json.dumps(first["evaluation_seconds"]))
    print("  Final fits, warm (s):", json.dumps(first["final_fit_seconds"]))
    print(f"  Goal, end to end at most 2x the bare fits: {'met' if ratio <= 2 else 'missed'}.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--region", default="IN")
    parser.add_argument("--cluster", default="tamil", help="A cluster's slug, or all.")
    parser.add_argument("--database", default="tonight_bench_retrain")
    parser.add_argument("--template", default="tonight_h2big")
    parser.add_argument("--phases", default=",".join(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--step", choices=["retrain", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--scratch", help=argparse.SUPPRESS)
    parser.add_argument("--tables", action="store_true", help="Print each cluster's table row.")
    args = parser.parse_args()
    if args.step == "retrain":
        print(json.dumps(retrain(args, Path(args.scratch))))
        return
    if args.step == "bare":
        print(json.dumps(bare_fit(args, Path(args.scratch))))
        return

    env = django_env(bench_database_url(args.database))
    print(BASELINE)
    print(f"Copying {args.template} to {args.database}...", flush=True)
    fresh_copy(args.database, args.template)
    summary = []
    with tempfile.TemporaryDirectory(prefix="bench-retrain-") as scratch:
        # The phases share one signal snapshot, kept with the scratch files (and gone with them).
        env["TONIGHT_RETRAIN_SIGNAL_CACHE_DIR"] = str(Path(scratch) / "cache")
        for phase in args.phases.split(","):
            print(f"Retraining {args.region}-{args.cluster} ({phase})...", flush=True)
            end_to_end = _phase(args, env, scratch, phase, "retrain")
            bare = _phase(args, env, scratch, phase, "bare")
            _report(args, phase, end_to_end, bare)
            if args.tables:
                for run in end_to_end["runs"]:
                    print(f"  Cluster table {run['cluster']}:", json.dumps(run["row"]))
            summary.append(
                (
                    phase,
                    f"{end_to_end['seconds']:.1f}",
                    f"{bare['seconds']:.1f}",
                    f"{end_to_end['seconds'] / bare['seconds']:.2f}x",
                    f"{end_to_end['peak_mb']:.0f} / {bare['peak_mb']:.0f}",
                    f"{end_to_end['load'][0]:.1f}",
                )
            )
    print(f"\nSummary, {args.region}-{args.cluster} (s; peak RSS MB, retrain / bare):")
    header = ("retrain", "end to end", "bare fits", "ratio", "peak RSS", "load")
    widths = [max(len(row[i]) for row in [header, *summary]) for i in range(len(header))]
    for row in [header, *summary]:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
