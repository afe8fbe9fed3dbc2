"""Terminal semantics for stream text: what a tty would show after ``\\r``, ``\\b`` and ``\\n``.

Text is split into *committed* text, which can no longer change (everything
up to the last newline), and the *current line*, which ``\\r`` and ``\\b`` can
still rewrite.  A tqdm bar that redraws itself ten thousand times with ``\\r``
therefore stays one line.

The rules, as in a terminal:

- ``\\n`` ends the current line, whatever the cursor position;
- ``\\r`` moves the cursor to the start of the current line;
- ``\\b`` moves the cursor one column left (never past the line start);
- any other character overwrites the character under the cursor, or extends
  the line at its end.  So ``"abc\\b\\bX"`` shows ``aXc`` (JupyterLab's renderer
  would show ``aX``: it deletes on backspace) and ``"long\\rab"`` shows ``abng``.

Other control sequences (ANSI colours, cursor-up) pass through as text.  A
line that grows past ``max_line`` characters is wrapped, as a terminal wraps:
its first ``max_line`` characters are committed and ``\\r`` then returns to
the start of the remainder.  This bounds the memory a line without newlines
can take.
"""

from __future__ import annotations

import re

__all__ = ["TerminalText"]

_CONTROL = re.compile(r"[\r\n\b]")


class TerminalText:
    """The line-editing state of one stream; feed it text, collect committed text."""

    __slots__ = ("_cursor", "_line", "max_line")

    def __init__(self, max_line: int = 1 << 16) -> None:
        if max_line < 1:
            raise ValueError("max_line must be positive")
        self.max_line = max_line
        self._line = ""
        self._cursor = 0

    @property
    def line(self) -> str:
        """The current, still editable line (no newline in it)."""
        return self._line

    def start_with(self, line: str) -> None:
        """Make ``line`` the current line with the cursor at its end (adopting old text)."""
        self._line = line
        self._cursor = len(line)

    def feed(self, text: str) -> str:
        """Apply ``text``; returns the text it committed (possibly empty)."""
        if self._cursor == len(self._line) and "\r" not in text and "\b" not in text:
            return self._feed_plain(text)
        committed: list[str] = []
        position = 0
        for match in _CONTROL.finditer(text):
            if match.start() > position:
                self._write(text[position : match.start()], committed)
            char = match.group()
            if char == "\n":
                committed.append(self._line + "\n")
                self._line, self._cursor = "", 0
            elif char == "\r":
                self._cursor = 0
            elif self._cursor > 0:
                self._cursor -= 1
            position = match.end()
        if position < len(text):
            self._write(text[position:], committed)
        return "".join(committed)

    def _feed_plain(self, text: str) -> str:
        # Fast path (no cursor movement): the common case of big outputs.
        last = text.rfind("\n")
        if last < 0:
            committed: list[str] = []
            self._write(text, committed)
            return "".join(committed)
        done = self._line + text[: last + 1]
        self._line = ""
        self._cursor = 0
        rest: list[str] = []
        self._write(text[last + 1 :], rest)
        return done + "".join(rest)

    def _write(self, chars: str, committed: list[str]) -> None:
        line, cursor = self._line, self._cursor
        if cursor == len(line):
            line += chars
        else:
            line = line[:cursor] + chars + line[cursor + len(chars) :]
        cursor += len(chars)
        while len(line) > self.max_line:
            committed.append(line[: self.max_line])
            line = line[self.max_line :]
            cursor = max(0, cursor - self.max_line)
        self._line, self._cursor = line, cursor
