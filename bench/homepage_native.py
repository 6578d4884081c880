"""Where a homepage's CPU goes by native library (interpreter, numpy, BLAS), beside the floor's.

    python bench/homepage_native.py [--pages 500] [--symbols 25]

``bench/homepage_profile.py`` says which *Python* functions a page spends its
time in; it cannot say whether that time is the interpreter running Python,
numpy's per-call overhead, or arithmetic. This samples the process with Linux
``perf`` (software clock, no hardware counters needed, so it works in a VM)
while it serves ``--pages`` homepages through Django's full handler, then the
same number of floor-view requests with a body of the same size, and prints
each category's CPU per request for both.

The split of numpy's own library into "loops" (the element-wise, sorting,
partitioning and copying kernels, which scale with the data) and "call
overhead" (dispatch, type resolution, array creation, iterator set-up, which
scale with the number of numpy calls) is by symbol name and approximate; the
other categories are by library. It tells how much of a page is arithmetic
at all; it does not say why a stage is slower in a page than alone (a
compiled candidates stage was tried on its evidence and gained 7% of that
stage: docs/recommendations.md, Speed).

Needs ``perf`` on the PATH and the database ``bench/homepage.py`` prepares
(``tonight_bench_home``).
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import print_table
from bench.homepage_profile import warmed_homepage_requests

FREQUENCY = 1999  # samples per CPU second (prime, so it does not beat with periodic work)

#: Symbols of numpy's core library that are kernels over the data rather than per-call work.
_NUMPY_LOOP = re.compile(
    r"_X86_|_AVX|BOOL_|BYTE_|SHORT_|INT_|LONG_|FLOAT_|DOUBLE_|argpartition|sort|binsearch|"
    r"amerge|mapiter_get|mapiter_trivial|_strided|_contig|Where|Nonzero|CountNonzero|"
    r"take|arr_bincount|isfinite|pairwise"
)
CATEGORIES = (
    "Python interpreter (libpython)",
    "numpy: loops over the data",
    "numpy: per-call overhead",
    "BLAS (dense products)",
    "scipy.sparse kernels",
    "libc (malloc, memcpy, memset)",
    "database driver (psycopg, libpq)",
    "operating system kernel",
    "other libraries",
)


def category(library: str, symbol: str) -> str:
    """Which of :data:`CATEGORIES` a sample in ``symbol`` of ``library`` belongs to."""
    if library.startswith("libpython"):
        return CATEGORIES[0]
    if library.startswith("_multiarray_umath"):
        return CATEGORIES[1] if _NUMPY_LOOP.search(symbol) else CATEGORIES[2]
    if "openblas" in library:
        return CATEGORIES[3]
    if library.startswith("_sparsetools"):
        return CATEGORIES[4]
    if library.startswith(("libc.", "libm.")):
        return CATEGORIES[5]
    if "psycopg" in library or library.startswith(("libpq", "pq.")):
        return CATEGORIES[6]
    if library.startswith("[kernel"):
        return CATEGORIES[7]
    return CATEGORIES[8]


def sampled(work: Callable[[], None], scratch: Path) -> tuple[Counter[str], Counter[str]]:
    """Samples per category, and per library:symbol, of this process while ``work`` runs."""
    data = scratch / "perf.data"
    recorder = subprocess.Popen(
        [
            *("perf", "record", "-q", "-e", "cpu-clock", "-F", str(FREQUENCY)),
            *("-p", str(os.getpid()), "-o", str(data)),
        ],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # perf attaches asynchronously
    work()
    recorder.send_signal(signal.SIGINT)
    recorder.wait(timeout=60)
    report = subprocess.run(
        ["perf", "report", "-i", str(data), "--stdio", "-n", "--sort", "dso,symbol"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return report_samples(report)


#: ``  11.06%  1040  libpython3.11.so.1.0  [.] _PyEval_EvalFrameDefault`` ([k]: kernel symbols).
_REPORT_LINE = re.compile(r"\s*[\d.]+%\s+(\d+)\s+(\S+)\s+\[.\]\s+(\S.*?)\s*(?:-\s+-)?\s*$")


def report_samples(report: str) -> tuple[Counter[str], Counter[str]]:
    """Samples per category and per ``library: symbol`` of ``perf report -n --sort dso,symbol``."""
    by_category: Counter[str] = Counter()
    by_symbol: Counter[str] = Counter()
    for text in report.splitlines():
        match = _REPORT_LINE.match(text)
        if match:
            samples, library, symbol = int(match[1]), match[2], match[3]
            by_category[category(library, symbol)] += samples
            by_symbol[f"{library.split('.')[0]}: {symbol}"] += samples
    return by_category, by_symbol


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="tonight_bench_home")
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--symbols", type=int, default=25, help="top symbols of the homepage")
    args = parser.parse_args()
    if shutil.which("perf") is None:
        sys.exit("perf is not installed (Debian: apt install linux-perf)")

    get, pages, body = warmed_homepage_requests(args.database, args.pages, seed=11)
    for _ in range(20):
        get(f"/bench/floor/?bytes={body}")

    with tempfile.TemporaryDirectory() as scratch:
        page_samples, page_symbols = sampled(
            lambda: [get(path, auth) for path, auth in pages], Path(scratch)
        )
        floor_samples, _ = sampled(
            lambda: [get(f"/bench/floor/?bytes={body}") for _ in pages], Path(scratch)
        )

    def ms(samples: int) -> float:
        return 1000 * samples / FREQUENCY / len(pages)

    page_total, floor_total = sum(page_samples.values()), sum(floor_samples.values())
    rows = [
        (
            name,
            f"{ms(page_samples[name]):.2f}",
            f"{ms(floor_samples[name]):.2f}",
            f"{100 * page_samples[name] / page_total:.0f}%",
        )
        for name in CATEGORIES
    ]
    rows.append(("all", f"{ms(page_total):.2f}", f"{ms(floor_total):.2f}", "100%"))
    print_table(
        f"CPU per request by native library, ms (perf, {len(pages)} requests each, {body} B body; "
        "includes perf's sampling window around the loop)",
        rows,
        headers=("where", "homepage", "floor view", "homepage share"),
    )
    print_table(
        f"The homepage's top {args.symbols} symbols",
        [
            (symbol[:90], f"{ms(samples):.3f}", "", f"{100 * samples / page_total:.1f}%")
            for symbol, samples in page_symbols.most_common(args.symbols)
        ],
        headers=("library: symbol", "ms/page", "", "share"),
    )


if __name__ == "__main__":
    main()
