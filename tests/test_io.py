"""The shared file-reading helpers: every problem is one DataError line naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolgym._io import MAX_DEPTH, check_depth, load_json, read_text
from toolgym.errors import DataError


def test_read_text_reports_missing_directories_and_bad_bytes(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.txt: system prompt file not found$"):
        read_text(tmp_path / "nope.txt", "system prompt file")
    with pytest.raises(DataError, match=r"system prompt file is a directory, not a file$"):
        read_text(tmp_path, "system prompt file")
    bad = tmp_path / "prompt.txt"
    bad.write_bytes("héllo".encode("latin-1"))
    with pytest.raises(DataError) as exc:
        read_text(bad, "system prompt file")
    assert str(exc.value) == (f"{bad}: system prompt file is not UTF-8 text "
                              "(byte 0xe9 at offset 1: invalid continuation byte)")


def test_read_text_drops_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "policy.md"
    path.write_bytes("\ufeff# Policy\n".encode())
    assert read_text(path) == "# Policy\n"
    path.write_bytes(b'\xef\xbb\xbf{"a": [1]}')
    assert load_json(path) == {"a": [1]}


def test_depth_limit_is_exact() -> None:
    value: object = 1
    for _ in range(MAX_DEPTH):
        value = [value]
    check_depth(value, "ok")  # exactly MAX_DEPTH levels
    with pytest.raises(DataError, match=rf"^x: nested too deeply \(more than {MAX_DEPTH}"):
        check_depth({"k": value}, "x")


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text('[\n  {"a": 1,}\n]')
    with pytest.raises(DataError, match=r"t\.json: invalid JSON at line 2 column 11: Expecting"):
        load_json(path)
