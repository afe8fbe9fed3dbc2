"""The .ipynb file: lossless round trips, nbformat's exact layout, validation, atomic writes."""

from __future__ import annotations

import copy
import json
import os
import random
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from adrastea.documents import (
    CellCache,
    FileStamp,
    LazyTexts,
    atomic_write,
    dump_notebook,
    encode_notebook,
    load_notebook,
    new_ynotebook,
    parse_notebook,
    read_notebook,
    validate_notebook,
    write_notebook,
)
from adrastea.documents._ipynb import _json_lines
from adrastea.errors import FileNotFound, InvalidNotebook

from .notebooks import as_text, rich_notebook


def through_y(nb: dict[str, Any]) -> dict[str, Any]:
    notebook = new_ynotebook()
    load_notebook(notebook, nb)
    return dump_notebook(notebook)


@pytest.mark.parametrize("minor", [4, 5])
def test_round_trip_through_y_equals_nbformat_reading(minor: int) -> None:
    text = as_text(rich_notebook(minor))
    expected = nbformat.reads(text, as_version=4)

    result = through_y(parse_notebook(text))

    assert result == expected
    nbformat.validate(result)


@pytest.mark.parametrize("minor", [4, 5])
def test_written_file_is_byte_identical_to_nbformat(tmp_path: Path, minor: int) -> None:
    text = as_text(rich_notebook(minor))
    expected = nbformat.writes(nbformat.reads(text, as_version=4)) + "\n"

    path = tmp_path / "out.ipynb"
    stamp = write_notebook(path, through_y(parse_notebook(text)))

    written = path.read_text(encoding="utf-8")
    assert written == expected
    assert stamp == FileStamp.of(path)
    nbformat.validate(nbformat.reads(written, as_version=4))


def test_v44_notebook_stays_v44_without_ids_but_cells_have_ids_live() -> None:
    notebook = new_ynotebook()
    load_notebook(notebook, parse_notebook(as_text(rich_notebook(4))))

    live_ids = [cell.get("id") for cell in notebook.ycells]
    dumped = dump_notebook(notebook)

    assert all(isinstance(cell_id, str) and cell_id for cell_id in live_ids)
    assert len(set(live_ids)) == len(live_ids)
    assert dumped["nbformat_minor"] == 4
    assert all("id" not in cell for cell in dumped["cells"])


def test_unknown_metadata_numbers_and_unicode_survive() -> None:
    result = through_y(parse_notebook(as_text(rich_notebook())))

    assert result["metadata"]["x-tool"] == {"setting": [1, "two", {"three": 3.25}]}
    custom = result["cells"][2]["metadata"]["custom"]
    assert custom == {"float": 1.5, "int": 7, "big": 9007199254740991}
    assert type(custom["int"]) is int
    assert result["cells"][0]["source"].startswith("# Title ünïcödé 😀")
    assert result["cells"][4]["attachments"] == {}


def test_missing_and_duplicate_ids_of_v45_are_repaired() -> None:
    nb = rich_notebook()
    del nb["cells"][0]["id"]
    nb["cells"][2]["id"] = nb["cells"][1]["id"]

    parsed = parse_notebook(json.dumps(nb))

    ids = [cell["id"] for cell in parsed["cells"]]
    assert len(set(ids)) == len(ids)
    assert ids[1] == "raw-1"


def test_transient_keys_are_dropped_like_nbformat() -> None:
    nb = rich_notebook()
    nb["metadata"]["signature"] = "sha256:abc"
    nb["cells"][2]["metadata"]["trusted"] = True

    parsed = parse_notebook(json.dumps(nb))

    assert parsed == nbformat.reads(json.dumps(nb), as_version=4)
    assert "signature" not in parsed["metadata"]


def test_v3_notebook_is_converted_to_v4() -> None:
    v3 = {
        "nbformat": 3,
        "nbformat_minor": 0,
        "metadata": {"name": "old"},
        "worksheets": [
            {"cells": [{"cell_type": "code", "input": "1+1", "language": "python", "outputs": []}]}
        ],
    }

    parsed = parse_notebook(json.dumps(v3))

    assert parsed["nbformat"] == 4
    assert parsed["cells"][0]["source"] == "1+1"


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "not a notebook"),
        (b'{"nbformat": 4, "nbformat_minor": 5, "cells": []}', "metadata"),
        (b'{"nbformat": 9, "nbformat_minor": 0, "metadata": {}, "cells": []}', "unsupported"),
        (b"\xff\xfe garbage", "not valid JSON"),
    ],
)
def test_malformed_notebooks_are_refused(data: bytes, fragment: str) -> None:
    with pytest.raises(InvalidNotebook) as info:
        parse_notebook(data)

    assert fragment in info.value.detail


def test_schema_errors_say_where() -> None:
    nb = rich_notebook()
    nb["cells"][2]["outputs"][0]["bogus"] = 1

    with pytest.raises(InvalidNotebook) as info:
        parse_notebook(json.dumps(nb))

    assert "cells[2].outputs[0]" in info.value.detail
    assert "bogus" in info.value.detail


def test_validate_agrees_with_nbformat_on_a_bad_cell_type() -> None:
    nb = rich_notebook()
    nb["cells"][1]["cell_type"] = "heading"

    with pytest.raises(nbformat.ValidationError):
        nbformat.validate(copy.deepcopy(nb))
    with pytest.raises(InvalidNotebook, match="cell_type"):
        validate_notebook(nb)


def test_read_notebook_stamps_the_bytes_it_read(nb_path: Path) -> None:
    nb, stamp = read_notebook(nb_path)

    assert stamp == FileStamp.of(nb_path)
    assert nb["cells"][1]["id"] == "raw-1"


def test_read_missing_notebook(tmp_path: Path) -> None:
    with pytest.raises(FileNotFound):
        read_notebook(tmp_path / "nope.ipynb")


def test_atomic_write_keeps_mode_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "f.ipynb"
    path.write_bytes(b"old")
    path.chmod(0o640)

    atomic_write(path, b"new")

    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.ipynb"]


def test_atomic_write_follows_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "real.ipynb"
    target.write_bytes(b"old")
    link = tmp_path / "link.ipynb"
    link.symlink_to(target)

    atomic_write(link, b"new")

    assert link.is_symlink()
    assert target.read_bytes() == b"new"


def test_failed_write_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "f.ipynb"
    path.write_text(as_text(rich_notebook()), encoding="utf-8")
    before = path.read_bytes()
    lazy = LazyTexts()

    def broken() -> Iterator[str]:
        yield "x" * 1_000_000
        raise OSError("disk full")

    nb = parse_notebook(before)
    nb["cells"][3]["outputs"] = [
        {"output_type": "stream", "name": "stdout", "text": lazy.add(broken)}
    ]
    with pytest.raises(OSError, match="disk full"):
        write_notebook(path, nb, lazy)

    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.ipynb"]


def test_lazy_text_is_spliced_exactly_as_nbformat_would_write_it() -> None:
    text = "line 1\nline 2\r\nprogress\rdone\n\u2028tail é"
    nb = parse_notebook(as_text(rich_notebook()))
    full = copy.deepcopy(nb)
    full["cells"][3]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": text}]
    lazy = LazyTexts()
    chunks = [text[:5], text[5:13], text[13:14], text[14:]]  # splits "\r|\n" across chunks
    placeholder = lazy.add(lambda: iter(chunks))
    nb["cells"][3]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": placeholder}]

    assert "".join(encode_notebook(nb, lazy)) == nbformat.writes(nbformat.from_dict(full)) + "\n"


def test_json_lines_matches_splitlines_for_any_chunking() -> None:
    rnd = random.Random(7)
    alphabet = ["a", "é", "\n", "\r", "\r\n", "\x0b", "\u2028", "xyz", '"', "\\"]
    for _ in range(500):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 30)))
        cuts = sorted(rnd.sample(range(len(text) + 1), min(len(text) + 1, rnd.randint(0, 6))))
        chunks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]

        encoded = "[" + "".join(_json_lines(chunks, ", ")) + "]"

        assert json.loads(encoded) == (text.splitlines(True) or [""])


def test_atomic_write_of_new_file_respects_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        atomic_write(tmp_path / "new.ipynb", b"{}")
    finally:
        os.umask(old)

    assert stat.S_IMODE((tmp_path / "new.ipynb").stat().st_mode) == 0o640


def test_cell_cache_encodes_exactly_like_encode_notebook() -> None:
    # adrastea run saves after every cell through a CellCache: the file must be
    # byte-identical to a full encode after each kind of change.
    nb = nbformat.v4.new_notebook()
    nb.metadata["x"] = {"a": [1, "é\nz"]}
    nb.cells = [
        nbformat.v4.new_code_cell("a = 1\nprint(a)"),
        nbformat.v4.new_markdown_cell("# hi\n\nthere $x$"),
        nbformat.v4.new_raw_cell(""),
    ]
    nb.cells[0].outputs = [
        nbformat.v4.new_output("stream", text="l1\nl2\n"),
        nbformat.v4.new_output("display_data", data={"text/plain": "x\ny", "image/png": "AAA"}),
    ]
    plain = json.loads(json.dumps(nb))
    cache = CellCache()
    assert cache.encode(plain) == "".join(encode_notebook(plain))

    plain["cells"][0]["outputs"].append({"output_type": "stream", "name": "stderr", "text": "x"})
    cache.changed(plain["cells"][0]["id"])
    assert cache.encode(plain) == "".join(encode_notebook(plain))

    plain["cells"].insert(1, {"cell_type": "markdown", "id": "new", "metadata": {}, "source": "n"})
    del plain["cells"][3]
    plain["metadata"]["y"] = 2
    assert cache.encode(plain) == "".join(encode_notebook(plain))
    assert cache.encode({**plain, "cells": []}) == "".join(encode_notebook({**plain, "cells": []}))
