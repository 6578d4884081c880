"""What the commands' progress bars share: a bar of a fraction done (0 to 1), and a clock
that keeps a bar's elapsed time running through a step that reports nothing."""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.core.management.base import BaseCommand
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm


@contextmanager
def fraction_bar(
    command: BaseCommand, desc: str, *, verbosity: int
) -> Iterator[Callable[[float], None]]:
    """A percent bar on the command's stderr, and the ``progress(fraction)`` that moves it.

    The services behind ``update_artwork_policy`` and ``prune_logs`` report how far
    they are as a fraction, not a count, so their bars are percentages. Log lines
    written meanwhile (a service's summary, a warning) go above the bar, not into it.
    The bar is gone when the work is done (``leave=False``): the command prints its
    own summary.
    """
    with (
        tqdm(
            total=100,
            desc=desc,
            unit="%",
            file=command.stderr._out,
            disable=verbosity < 1,
            leave=False,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}",
        ) as bar,
        logging_redirect_tqdm(),
    ):

        def progress(fraction: float) -> None:
            bar.update(round(fraction * 100) - bar.n)

        yield progress


#: How often :func:`running_clock` redraws its bar.
CLOCK_SECONDS = 0.5


@contextmanager
def running_clock(bar: tqdm, *, every: float | None = None) -> Iterator[None]:
    """Redraw ``bar`` every ``every`` seconds (:data:`CLOCK_SECONDS`) while inside.

    tqdm draws a bar only when it is updated or its description changes, so through a
    step that is one long call (an ALS fit, a query) its elapsed time stood still, as if
    the command had hung. A description set without a redraw (``refresh=False``, by a
    counter that moves often) shows at the next tick.
    """
    if bar.disable:
        yield
        return
    stopped = threading.Event()
    interval = CLOCK_SECONDS if every is None else every

    def tick() -> None:
        while not stopped.wait(interval):
            bar.refresh()

    ticker = threading.Thread(target=tick, name="progress-clock", daemon=True)
    ticker.start()
    try:
        yield
    finally:
        stopped.set()
        ticker.join(timeout=5)
