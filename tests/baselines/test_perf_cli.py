"""``python -m bench perf``: rows, table, JSON, --only and a missing track module."""

from __future__ import annotations

import json
import sys

import pytest

from bench.cli import main
from bench.cli import perf as perf_command

ROW_KEYS = {"case", "ours_s", "reference", "reference_s", "speedup", "max_abs_diff", "target",
            "met", "notes"}


def test_perf_quick_chi2_writes_json_and_table(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "deep.perf", None)  # import of deep.perf -> ImportError
    out = tmp_path / "perf.json"
    status = main(["perf", "--quick", "--only", "chi2", "--json", str(out)])
    assert status == 0
    captured = capsys.readouterr()
    assert "| case" in captured.out and "chi2 kernel 200x200x500" in captured.out
    assert "deep.perf not available" in captured.err
    rows = json.loads(out.read_text())
    assert len(rows) == 1
    row = rows[0]
    assert ROW_KEYS <= set(row)
    assert row["max_abs_diff"] <= 1e-10  # the oracle agreement is checked, not the speed
    assert row["ours_s"] > 0 and row["reference_s"] > 0
    assert row["speedup"] == pytest.approx(row["reference_s"] / row["ours_s"])
    assert isinstance(row["met"], bool)


def test_unknown_pattern_exits_with_message(capsys):
    assert main(["perf", "--quick", "--track", "classical", "--only", "no-such-case"]) == 2
    assert "no perf case matches" in capsys.readouterr().err


def test_strict_fails_on_missed_target(monkeypatch, capsys):
    fake = [{"case": "a", "ours_s": 2.0, "reference": "r", "reference_s": 1.0, "speedup": 0.5,
             "max_abs_diff": None, "target": ">= 10x", "met": False, "notes": "n"}]
    monkeypatch.setattr(perf_command, "collect_rows", lambda quick, only, modules, **_: (fake, []))
    assert main(["perf", "--strict"]) == 1
    assert main(["perf"]) == 0
    assert "1 target(s) missed" in capsys.readouterr().err


def test_table_lists_notes():
    text = perf_command.format_table([{"case": "x", "ours_s": 0.5, "met": True, "notes": "why"}])
    assert "| x " in text and "1. x: why" in text


def test_perf_quick_harris3d_agrees_with_scipy(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "deep.perf", None)
    from baselines.perf import run_perf

    (row,) = run_perf(quick=True, only="harris3d")
    assert ROW_KEYS <= set(row)
    assert row["reference"].startswith("scipy.ndimage")
    assert row["max_abs_diff"] <= 1e-12  # the oracle agreement is checked, not the speed
