"""The progress bar of a command whose work reports a fraction done (0 to 1)."""

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
