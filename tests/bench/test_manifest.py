"""``python -m bench manifest`` end to end through :func:`bench.cli.main`."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from _dataset_trees import session_tree, touch_all, ucf101_listed

import bench.data.datasets as datasets
from bench.cli import main
from bench.data.datasets import load_dataset
from bench.data.manifest import Manifest


@pytest.fixture
def folder_tree(tmp_path: Path) -> Path:
    root = tmp_path / "videos"
    touch_all(root, [f"{c}/s{a}_{c}_{k}.avi" for c in ("clap", "wave") for a in range(6)
                     for k in range(3)])
    return root


def test_folder_kfold_csv_and_printout(folder_tree, tmp_path, capsys):
    out = tmp_path / "m.csv"
    rc = main(["manifest", "--dataset", "folder", "--root", str(folder_tree), "--protocol",
               "kfold", "--option", "n_splits=3", "--seed", "4", "--fold", "2", "--out", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ["video_id", "path", "label", "label_name", "group", "subset"]
    assert len(table) == 36
    counts = table["subset"].value_counts()
    assert f"fold 2: train {counts['train']}  test {counts['test']}  unused 0" in printed
    expected = load_dataset("folder", str(folder_tree), protocol="kfold", n_splits=3, seed=4)
    assert f"fingerprint fold 2: {expected.fingerprint(2)}" in printed
    assert not set(table.loc[table.subset == "train", "group"]) & \
        set(table.loc[table.subset == "test", "group"])


def test_group_pattern_and_logo(folder_tree, tmp_path, capsys):
    out = tmp_path / "m.csv"
    rc = main(["manifest", "--dataset", "folder", "--root", str(folder_tree), "--protocol",
               "logo", "--group-pattern", r"^s(\d)", "--out", str(out)])
    assert rc == 0
    assert "folds [1, 2, 3, 4, 5, 6]" in capsys.readouterr().out
    table = pd.read_csv(out, dtype={"group": str})
    assert set(table.loc[table.subset == "test", "group"]) == {"0"}


def test_ucf101_fold2(shared_real, tmp_path, tmp_path_factory, capsys):
    splits = shared_real / "splits" / "ucf101"
    root = session_tree(tmp_path_factory, "ucf101", ucf101_listed(splits))
    out = tmp_path / "ucf2.csv"
    rc = main(["manifest", "--dataset", "ucf101", "--root", str(root),
               "--annotations", str(splits), "--fold", "2", "--out", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0
    assert "13320 videos, 101 classes, folds [1, 2, 3]" in printed
    assert "fold 2: train 9586  test 3734  unused 0" in printed
    assert pd.read_csv(out)["subset"].value_counts().to_dict() == {"train": 9586, "test": 3734}


def test_missing_videos_and_allow_missing(tmp_path, capsys):
    names = [f"person{p:02d}_{a}_d{d}_uncomp.avi" for p in range(1, 26)
             for a in ("boxing", "handclapping", "handwaving", "jogging", "running", "walking")
             for d in range(1, 5)]
    touch_all(tmp_path / "kth", [n for n in names if n != "person13_handclapping_d3_uncomp.avi"])
    os.remove(tmp_path / "kth" / "person02_boxing_d1_uncomp.avi")
    out = tmp_path / "kth.csv"
    rc = main(["manifest", "--dataset", "kth", "--root", str(tmp_path / "kth"), "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 2 and not out.exists()
    assert "person02_boxing_d1_uncomp.avi" in captured.err and "--allow-missing" in captured.err
    rc = main(["manifest", "--dataset", "kth", "--root", str(tmp_path / "kth"),
               "--allow-missing", "--out", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0
    assert "fold 1: train 383  test 215  unused 0" in printed
    assert "missing videos excluded: 1, e.g. person02_boxing_d1_uncomp.avi" in printed


def test_bad_dataset_and_fold(folder_tree, tmp_path, capsys):
    assert main(["manifest", "--dataset", "nope", "--root", ".", "--out",
                 str(tmp_path / "x.csv")]) == 2
    assert "unknown dataset 'nope'" in capsys.readouterr().err
    assert main(["manifest", "--dataset", "folder", "--root", str(folder_tree), "--fold", "3",
                 "--out", str(tmp_path / "x.csv")]) == 2
    assert "fold 3 does not exist" in capsys.readouterr().err


def test_generated_dataset_gets_only_the_options_given(tmp_path, capsys, monkeypatch):
    received = {}

    def fake_builder(root=None, annotations=None, **options):
        received.update(root=root, annotations=annotations, options=options)
        table = pd.DataFrame({"video_id": ["a", "b"], "path": ["a.avi", "b.avi"],
                              "label": [0, 1], "label_name": ["x", "y"], "group": ["g", "h"],
                              "fold1": ["train", "test"]})
        return Manifest(table, tmp_path, ["x", "y"], "generated")

    monkeypatch.setitem(datasets._DATASETS, "generated_test",
                        datasets.DatasetInfo("generated_test", "test", fake_builder, False))
    rc = main(["manifest", "--dataset", "generated_test", "--seed", "3", "--option",
               "preset=quick", "--out", str(tmp_path / "g.csv")])
    assert rc == 0
    assert received == {"root": None, "annotations": None,
                        "options": {"preset": "quick", "seed": 3}}
    assert "fold 1: train 1  test 1  unused 0" in capsys.readouterr().out
