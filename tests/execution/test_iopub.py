"""Huge stream messages are decoded in slices that join to exactly the original text."""

from __future__ import annotations

import json
import random

import pytest

from adrastea.execution import _iopub
from adrastea.execution._iopub import StreamText, _big_stream_content

# Escapes, quotes, multi-byte characters, an astral one (a surrogate pair when
# escaped), a lone surrogate and a line separator: every way a cut can go wrong.
ALPHABET = ["a", '"', "\\", "\n", "\r", "\t", "é", "€", "😀", "\u2028", "\x01", "/", "u", "\ud800"]


@pytest.mark.parametrize("slice_bytes", [1, 2, 3, 5, 7, 13, 64])
def test_slices_join_to_the_text_whatever_the_cut(
    slice_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_iopub, "_SLICE", slice_bytes)
    rng = random.Random(slice_bytes)
    for _ in range(300):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 60)))
        for ascii_only in (True, False):
            try:
                body = json.dumps({"name": "stdout", "text": text}, ensure_ascii=ascii_only)
                raw = body.encode()
            except UnicodeEncodeError:
                continue  # a lone surrogate has no UTF-8 form; kernels escape it
            content = _big_stream_content(memoryview(raw))
            assert content is not None and content["name"] == "stdout"
            assert isinstance(content["text"], StreamText)
            assert "".join(content["text"].slices()) == text


def test_key_order_and_other_shapes() -> None:
    content = _big_stream_content(memoryview(json.dumps({"text": 'a"b', "name": "x"}).encode()))
    assert content is not None and content["name"] == "x"
    assert "".join(content["text"].slices()) == 'a"b'
    # Not a stream's shape: the caller decodes it whole instead.
    assert _big_stream_content(memoryview(b'{"name": "stdout"}')) is None
    assert _big_stream_content(memoryview(b'{"text": 5, "name": "stdout"}')) is None
