"""``python -m bench preview``: the contact sheet is written, readable, one row per class."""

from __future__ import annotations

import argparse

import cv2
import numpy as np
import pytest

from bench.cli import main
from bench.cli._arguments import key_value


def test_preview_writes_a_contact_sheet(tmp_path, monkeypatch):
    monkeypatch.setenv("ACTBENCH_HOME", str(tmp_path / "home"))
    out = tmp_path / "sheet.png"
    options = ["n_actors=2", "n_folds=2", "clips_per_class=1", "width=48", "height=36",
               "n_frames=14"]
    argv = ["preview", "--dataset", "synthetic", "--preset", "quick", "--seed", "1",
            "--frames", "5", "--out", str(out)]
    assert main(argv + [x for o in options for x in ("--option", o)]) == 0
    sheet = cv2.imread(str(out))
    assert sheet is not None
    # 12 rows of (36 + 2 * 2) pixels; a label column plus 5 frames of (48 + 4) pixels
    assert sheet.shape[0] == 12 * 40
    assert sheet.shape[1] == 110 + 5 * 52
    # boxes are drawn: pure green pixels (the action) appear in the sheet
    green = (sheet[..., 1] == 230) & (sheet[..., 0] == 0) & (sheet[..., 2] == 0)
    assert green.any()
    assert not np.all(sheet == 255)


def test_preview_rejects_bad_options(tmp_path, capsys):
    assert main(["preview", "--option", "n_actorz=3", "--out", str(tmp_path / "x.png")]) == 2
    assert "n_actorz" in capsys.readouterr().err
    with pytest.raises(argparse.ArgumentTypeError, match="KEY=VALUE"):
        key_value("novalue")
    assert dict(map(key_value, ["a=1", "b=x", "c=[1, 2]", " n-boot =5"])) == {
        "a": 1, "b": "x", "c": [1, 2], "n_boot": 5}
    with pytest.raises(SystemExit):  # argparse's usage error (exit status 2)
        main(["preview", "--option", "novalue", "--out", str(tmp_path / "y.png")])
