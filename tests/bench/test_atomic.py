"""bench.atomic: files appear complete or not at all."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from bench.atomic import atomic_path, write_csv, write_json, write_text


def test_writers_round_trip(tmp_path):
    write_text(tmp_path / "a" / "t.txt", "héllo")
    assert (tmp_path / "a" / "t.txt").read_text(encoding="utf-8") == "héllo"
    write_json(tmp_path / "j.json", {"b": 1, "a": [1, 2]})
    assert json.loads((tmp_path / "j.json").read_text()) == {"a": [1, 2], "b": 1}
    frame = pd.DataFrame({"x": [1, 2], "y": ["u", "v"]})
    write_csv(tmp_path / "f.csv", frame)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "f.csv"), frame)


def test_failed_write_leaves_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "keep.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
