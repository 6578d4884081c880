"""The commands' progress bars off a terminal: a few plain lines naming the stage, not a
bar redrawn hundreds of times on one line of a cron log (``command_bar``)."""

import re
from io import StringIO

from recommendations import progress
from recommendations.progress import LineBar, command_bar
from tests.terminals import FakeTerminal


def test_off_a_terminal_a_bar_hammered_through_a_long_stage_writes_a_line_per_stage():
    # given: a stream that is not a terminal (a pipe, a file, cron's mail)
    err = StringIO()

    # when: a stage moves ten thousand times, each move also redrawn by hand and by a
    # postfix (what a running clock and retrain's stage watch do), then a second stage
    with command_bar(err, desc="IN: read signals", total=20_000, unit=" rows") as bar:
        for n in range(10_000):
            bar.update(1)
            bar.refresh()
            bar.set_postfix_str(f"tick {n}")
        bar.set_description_str("IN: store")
        bar.update(10_000)

    # then: plain lines, no carriage returns, a handful of them, each naming its stage
    written = err.getvalue()
    assert "\r" not in written
    lines = written.splitlines()
    assert 2 <= len(lines) <= 4, lines
    assert all(re.match(r"IN: (read signals|store)", line) for line in lines), lines
    # and: the first says where it began, the last where it ended
    assert " 0/20000" in lines[0]
    assert lines[-1].startswith("IN: store")
    assert "20000/20000" in lines[-1]


def test_on_a_terminal_the_bar_is_redrawn_in_place():
    err = FakeTerminal()
    with command_bar(err, desc="title states", total=3) as bar:
        bar.update(3)
    assert not isinstance(bar, LineBar)
    assert "\rtitle states" in err.getvalue()


def test_off_a_terminal_the_running_clock_writes_a_line_each_interval_naming_the_stage(
    monkeypatch,
):
    # given: lines due every 10 ms instead of every 30 s, and a stage that reports nothing
    monkeypatch.setattr(progress, "LINE_SECONDS", 0.01)
    err = StringIO()
    bar = command_bar(err, desc="IN: als", bar_format="{desc} [{elapsed}]")

    # when: the step runs until the clock has written three lines (a failure, not a wait:
    # the loop gives up after 20 s)
    with progress.running_clock(bar):
        for _ in range(2000):
            if err.getvalue().count("IN: als [") >= 3:
                break
            progress.threading.Event().wait(0.01)
    bar.close()

    # then: the log is told the step goes on, each line naming it
    lines = err.getvalue().splitlines()
    assert len(lines) >= 3
    assert all(line.startswith("IN: als [") for line in lines)


def test_below_verbosity_1_nothing_is_written():
    err = StringIO()
    with command_bar(err, desc="page logs", total=10, verbosity=0) as bar:
        bar.update(10)
    assert err.getvalue() == ""
