"""KTH adapter: the standard person split on a placeholder tree of the 599 official files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _dataset_trees import touch_all

from bench.data.datasets import load_dataset
from bench.data.datasets._common import MissingVideosError
from bench.data.datasets.kth import KTH_ACTIONS

# The official archive: 25 persons x 6 actions x 4 scenarios, minus person13_handclapping_d3.
OFFICIAL = [f"person{p:02d}_{a}_d{d}_uncomp.avi" for p in range(1, 26) for a in KTH_ACTIONS
            for d in range(1, 5) if (p, a, d) != (13, "handclapping", 3)]


@pytest.fixture
def kth_tree(tmp_path: Path) -> Path:
    # The six official zips unpack into one folder per action.
    touch_all(tmp_path, [f"{name.split('_')[1]}/{name}" for name in OFFICIAL])
    return tmp_path


def test_standard_split_counts(kth_tree):
    manifest = load_dataset("kth", str(kth_tree))
    assert len(OFFICIAL) == 599
    # Train 11-18 (191, person13 lacks one clip) + validation (192) vs test 9 persons x 24.
    assert manifest.counts(1) == {"train": 383, "test": 216, "unused": 0}
    assert manifest.meta["missing"] == []
    without_val = load_dataset("kth", str(kth_tree), use_validation=False)
    assert without_val.counts(1) == {"train": 191, "test": 216, "unused": 192}
    assert without_val.fingerprint(1) != manifest.fingerprint(1)


def test_groups_are_persons_and_split_is_by_person(kth_tree):
    manifest = load_dataset("kth", str(kth_tree))
    test_persons = sorted(manifest.subset(1, "test")["group"].unique())
    assert test_persons == [f"person{p:02d}" for p in (2, 3, 5, 6, 7, 8, 9, 10, 22)]
    assert not set(manifest.subset(1, "train")["group"]) & set(test_persons)
    row = manifest.table.set_index("video_id").loc["person04_walking_d2"]
    assert row["path"] == "walking/person04_walking_d2_uncomp.avi"
    assert row["label_name"] == "walking" and row["fold1"] == "train"


def test_flat_layout_and_duplicate_containers(tmp_path):
    touch_all(tmp_path, OFFICIAL + ["person01_boxing_d1_uncomp.mp4", "notes.txt", "other.avi"])
    manifest = load_dataset("kth", str(tmp_path))
    assert len(manifest.table) == 599
    assert manifest.table.set_index("video_id").loc["person01_boxing_d1", "path"] == \
        "person01_boxing_d1_uncomp.avi"
    assert manifest.meta["ignored"] == ["other.avi", "person01_boxing_d1_uncomp.mp4"]


def test_missing_sequence(kth_tree):
    os.remove(kth_tree / "running/person22_running_d4_uncomp.avi")
    with pytest.raises(MissingVideosError, match="person22_running_d4_uncomp.avi"):
        load_dataset("kth", str(kth_tree))
    manifest = load_dataset("kth", str(kth_tree), allow_missing=True)
    assert manifest.counts(1)["test"] == 215
    assert manifest.meta["missing"] == ["person22_running_d4_uncomp.avi"]


def test_real_kth_clips(shared_real):
    # Seven real KTH files, one sequence in two containers: the .avi is used.
    manifest = load_dataset("kth", str(shared_real / "clips" / "kth"), allow_missing=True)
    assert manifest.table["video_id"].tolist() == [
        "person01_boxing_d2", "person01_handclapping_d1", "person01_handclapping_d2",
        "person01_jogging_d1", "person03_boxing_d4", "person04_boxing_d1"]
    assert manifest.subset(1, "test")["group"].tolist() == ["person03"]
    assert manifest.meta["ignored"] == ["person01_handclapping_d1_uncomp.mp4"]
    assert len(manifest.meta["missing"]) == 599 - 6
