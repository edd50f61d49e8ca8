"""Weizmann adapter: 93 videos, leave-one-actor-out, wave1/wave2 kept apart."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _dataset_trees import touch_all

from bench.data.datasets import load_dataset
from bench.data.datasets._common import MissingVideosError
from bench.data.datasets.weizmann import WEIZMANN_ACTIONS, weizmann_action

ACTORS = ("daria", "denis", "eli", "ido", "ira", "lena", "lyova", "moshe", "shahar")


def _official_names() -> list[str]:
    names = []
    for actor in ACTORS:
        for action in WEIZMANN_ACTIONS:
            if actor == "lena" and action in ("run", "skip", "walk"):
                names += [f"{actor}_{action}1.avi", f"{actor}_{action}2.avi"]
            else:
                names.append(f"{actor}_{action}.avi")
    return names


@pytest.fixture
def weizmann_tree(tmp_path: Path) -> Path:
    touch_all(tmp_path, _official_names())
    return tmp_path


def test_93_videos_9_folds(weizmann_tree):
    manifest = load_dataset("weizmann", str(weizmann_tree))
    assert len(manifest.table) == 93
    assert manifest.folds == list(range(1, 10))
    assert manifest.classes == list(WEIZMANN_ACTIONS)
    per_class = manifest.table["label_name"].value_counts()
    assert per_class["wave1"] == per_class["wave2"] == 9
    assert per_class["run"] == per_class["skip"] == per_class["walk"] == 10
    for fold, actor in enumerate(ACTORS, start=1):
        test = manifest.subset(fold, "test")
        assert set(test["group"]) == {actor}
        assert len(test) == (13 if actor == "lena" else 10)
        assert manifest.counts(fold)["train"] == 93 - len(test)
    assert len({manifest.fingerprint(k) for k in manifest.folds}) == 9


def test_action_names():
    assert weizmann_action("wave1") == "wave1"
    assert weizmann_action("wave2") == "wave2"
    assert weizmann_action("run2") == "run"
    assert weizmann_action("wave3") is None
    assert weizmann_action("dance") is None


def test_subfolders_and_ignored_files(tmp_path):
    touch_all(tmp_path, [f"{n.split('_')[1].removesuffix('.avi')}/{n}" for n in _official_names()]
              + ["bob_run.avi", "daria_dance.avi"])
    manifest = load_dataset("weizmann", str(tmp_path))
    assert len(manifest.table) == 93
    assert manifest.meta["ignored"] == ["bob_run.avi", "daria_dance.avi"]


def test_missing(weizmann_tree):
    os.remove(weizmann_tree / "lena_skip2.avi")
    with pytest.raises(MissingVideosError, match="lena_skip2.avi"):
        load_dataset("weizmann", str(weizmann_tree))
    manifest = load_dataset("weizmann", str(weizmann_tree), allow_missing=True)
    assert len(manifest.table) == 92 and manifest.meta["missing"] == ["lena_skip2.avi"]
