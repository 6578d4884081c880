"""What the commands' progress bars share: one way to make a bar (:func:`command_bar`)
that draws on a terminal and writes plain, spaced lines anywhere else; a bar of a fraction
done (0 to 1); and a clock that keeps a bar's elapsed time running through a step that
reports nothing.

Not under ``management/``: the import services draw the same bars for the commands that
call them (``recommendations.services.dataset_import``'s ``terminal_progress``), and a
service has no business importing from the commands' package."""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from django.core.management.base import BaseCommand, OutputWrapper
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

#: Off a terminal, the longest a bar stays silent while its stage is unchanged: a cron log
#: or ``docker compose logs`` gets a line per stage and one every so often through a long one.
LINE_SECONDS = 30.0


class LineBar(tqdm):
    """A bar for a log, not a terminal: each draw a line of its own, and few of them.

    tqdm redraws a bar in place with a carriage return, which off a terminal piles up on
    one line (``retrain --all --wait`` from cron wrote some 600 KB of it an hour, the
    running clock's twice a second). Here a draw is a whole line, written only when the
    stage (the description) changed, when :data:`LINE_SECONDS` have passed since the
    last line, or as the bar ends (its last figures); other draws are dropped.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._line_at: float | None = None
        self._line_desc: str | None = None
        self._line_n: float | None = None
        self._closing = False
        super().__init__(*args, **kwargs)

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        if msg is not None:
            return True  # tqdm wiping its line ("" or spaces): a log has nothing to wipe
        now = time.monotonic()
        same = self._line_desc == self.desc
        if self._closing:
            if same and self._line_n == self.n:
                return True  # its last line said it all
        elif same and self._line_at is not None and now - self._line_at < LINE_SECONDS:
            return True
        self._line_at, self._line_desc, self._line_n = now, self.desc, self.n
        self.fp.write(str(self).rstrip() + "\n")
        self.fp.flush()
        return True

    def close(self) -> None:
        self._closing = True
        super().close()


class _Lines:
    """The stream a :class:`LineBar` writes to: its lines pass, tqdm's bare newlines and
    carriage returns (what it writes around a redraw) do not."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, text: str) -> None:
        if text.strip():
            self.out.write(text)

    def flush(self) -> None:
        self.out.flush()


def on_terminal(stream: OutputWrapper | TextIO) -> bool:
    """Whether ``stream`` is a terminal (a bar redrawn in place reads well there)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # closed
        return False


def command_bar(
    stream: OutputWrapper | TextIO, *, verbosity: int = 1, leave: bool = False, **options: Any
) -> tqdm:
    """A progress bar for a command's ``stream`` (its stderr), as every command draws one.

    On a terminal, tqdm's bar, redrawn in place (``options`` are tqdm's). Anywhere else
    (a pipe, a file, cron, ``docker compose logs``), a :class:`LineBar`: plain lines, one
    per stage and at most one per :data:`LINE_SECONDS` within it, each naming the stage
    and its counts, and the last figures as it ends. Disabled below verbosity 1.
    A test that wants the terminal's bar passes a stream whose ``isatty()`` is true.
    """
    out = stream._out if isinstance(stream, OutputWrapper) else stream
    disable = verbosity < 1
    if on_terminal(out):
        return tqdm(file=out, disable=disable, leave=leave, **options)
    options.pop("dynamic_ncols", None)  # no terminal to measure
    return LineBar(
        file=_Lines(out),
        disable=disable,
        leave=True,  # its last line is the stage's result, not a redraw to wipe
        mininterval=LINE_SECONDS,  # update() need not format a line that is dropped
        ascii=True,
        **options,
    )


@contextmanager
def fraction_bar(
    command: BaseCommand, desc: str, *, verbosity: int
) -> Iterator[Callable[[float], None]]:
    """A percent bar on the command's stderr, and the ``progress(fraction)`` that moves it.

    The services behind ``update_artwork_policy`` and ``prune_logs`` report how far
    they are as a fraction, not a count, so their bars are percentages. Log lines
    written meanwhile (a service's summary, a warning) go above the bar, not into it.
    On a terminal the bar is gone when the work is done (``leave=False``): the command
    prints its own summary; in a log its last line stays, as every line does.
    """
    with (
        command_bar(
            command.stderr,
            total=100,
            desc=desc,
            unit="%",
            verbosity=verbosity,
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
    counter that moves often) shows at the next tick. Off a terminal (:class:`LineBar`)
    it ticks every :data:`LINE_SECONDS`: a log is told the step goes on, not the time.
    """
    if bar.disable:
        yield
        return
    stopped = threading.Event()
    interval = CLOCK_SECONDS if every is None else every
    if isinstance(bar, LineBar):
        interval = max(interval, LINE_SECONDS)  # it would drop the lines between

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
