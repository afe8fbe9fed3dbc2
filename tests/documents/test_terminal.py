"""Terminal semantics of stream text: carriage return, backspace, newline, wrapping."""

from __future__ import annotations

import random

import pytest

from adrastea.documents import TerminalText


def shown(*pieces: str, max_line: int = 1 << 16) -> str:
    term = TerminalText(max_line=max_line)
    committed = "".join(term.feed(piece) for piece in pieces)
    return committed + term.line


def reference(text: str) -> str:
    """A character-at-a-time terminal, the obvious way."""
    lines: list[str] = []
    line: list[str] = []
    cursor = 0
    for char in text:
        if char == "\n":
            lines.append("".join(line) + "\n")
            line, cursor = [], 0
        elif char == "\r":
            cursor = 0
        elif char == "\b":
            cursor = max(0, cursor - 1)
        else:
            if cursor == len(line):
                line.append(char)
            else:
                line[cursor] = char
            cursor += 1
    return "".join(lines) + "".join(line)


def test_ten_thousand_progress_updates_stay_one_line() -> None:
    term = TerminalText()
    committed = []
    for i in range(10_000):
        committed.append(term.feed(f"\r{i / 100:6.2f}% |{'#' * (i // 500):<20}|"))

    assert "".join(committed) == ""
    assert term.line.startswith(" 99.99% |")
    assert "\n" not in term.line
    assert len(term.line) == len(" 99.99% |") + 21


def test_progress_bar_then_newline_commits_only_the_last_state() -> None:
    pieces = [f"\r{i}%" for i in range(101)] + ["\ndone\n"]

    assert shown(*pieces) == "100%\ndone\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("abc\b\bX", "aXc"),
        ("long\rab", "abng"),
        ("abc\r\n", "abc\n"),
        ("\b\bx", "x"),
        ("a\nb\rc\n", "a\nc\n"),
        ("ab\r", "ab"),
        ("spin|\b/\b-\b\\", "spin\\"),
        ("\x1b[31mred\x1b[0m\n", "\x1b[31mred\x1b[0m\n"),
    ],
)
def test_control_characters(text: str, expected: str) -> None:
    assert shown(text) == expected


def test_a_carriage_return_split_across_messages() -> None:
    assert shown("50%", "\r", "75%", "\r", "100%\n") == "100%\n"


def test_a_long_line_is_wrapped_so_memory_stays_bounded() -> None:
    term = TerminalText(max_line=10)

    committed = term.feed("x" * 25)

    assert committed == "x" * 20
    assert term.line == "x" * 5
    assert term.feed("\ryy") == ""
    assert term.line == "yyxxx"


def test_any_text_in_any_pieces_matches_the_reference_terminal() -> None:
    rnd = random.Random(3)
    alphabet = ["a", "bc", "é😀", "\n", "\r", "\b", "\r\n", "xyz" * 3]
    for _ in range(800):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 25)))
        cuts = sorted(rnd.sample(range(len(text) + 1), min(len(text) + 1, rnd.randint(0, 5))))
        pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]

        assert shown(*pieces) == reference(text)
