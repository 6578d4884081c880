"""A stream that says it is a terminal, for the tests of what a command draws there.

Commands draw a progress bar redrawn in place only on a terminal (``isatty()``), and
write a few plain lines anywhere else (``recommendations.progress``): a test
that reads the bar hands the command one of these as its stderr.
"""

import io


class FakeTerminal(io.StringIO):
    """A ``StringIO`` that answers ``isatty()`` as a terminal does."""

    def isatty(self) -> bool:
        return True
