"""HMDB51 adapter: official split-1 counts on a placeholder tree named by the real files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _dataset_trees import hmdb51_listed, session_tree, touch_all

from bench.data.datasets import load_dataset
from bench.data.datasets._common import MissingVideosError
from bench.data.datasets.hmdb51 import hmdb51_source_video


@pytest.fixture(scope="module")
def hmdb_splits(shared_real: Path) -> Path:
    return shared_real / "splits" / "hmdb51"


@pytest.fixture(scope="module")
def hmdb_tree(hmdb_splits: Path, tmp_path_factory) -> Path:
    return session_tree(tmp_path_factory, "hmdb51", hmdb51_listed(hmdb_splits))


@pytest.fixture(scope="module")
def hmdb_manifest(hmdb_tree: Path, hmdb_splits: Path):
    return load_dataset("hmdb51", str(hmdb_tree), str(hmdb_splits))


def test_official_split1_counts(hmdb_manifest):
    # Kuehne et al. 2011: 70 train / 30 test clips per class and split, the rest unused.
    assert hmdb_manifest.counts(1) == {"train": 3570, "test": 1530, "unused": 1666}
    assert len(hmdb_manifest.table) == 6766
    assert len(hmdb_manifest.classes) == 51
    assert hmdb_manifest.folds == [1, 2, 3]


def test_every_class_has_70_train_and_30_test_in_every_split(hmdb_manifest):
    for fold in hmdb_manifest.folds:
        for subset, n in (("train", 70), ("test", 30)):
            per_class = hmdb_manifest.subset(fold, subset)["label_name"].value_counts()
            assert (per_class == n).all() and len(per_class) == 51


def test_subsets_match_the_raw_file(hmdb_manifest, hmdb_splits):
    table = hmdb_manifest.table.set_index("path")
    code = {"1": "train", "2": "test", "0": "unused"}
    for line in (hmdb_splits / "ride_bike_test_split2.txt").read_text().splitlines():
        if line.strip():
            name, label = line.split()
            assert table.loc[f"ride_bike/{name}", "fold2"] == code[label]


def test_source_video_groups_never_on_both_sides(hmdb_manifest):
    for fold in hmdb_manifest.folds:
        train = set(hmdb_manifest.subset(fold, "train")["group"])
        test = set(hmdb_manifest.subset(fold, "test")["group"])
        assert not train & test


def test_fingerprints_differ_between_folds(hmdb_manifest):
    assert len({hmdb_manifest.fingerprint(k) for k in (1, 2, 3)}) == 3


def test_source_video_name():
    assert hmdb51_source_video("April_09_brush_hair_u_nm_np1_ba_goo_0", "brush_hair") == \
        "brush_hair/April_09"
    assert hmdb51_source_video("odd_name", "kick") == "kick/odd_name"


def test_missing_videos(tmp_path):
    ann = tmp_path / "testTrainMulti_7030_splits"
    ann.mkdir()
    (ann / "kick_test_split1.txt").write_text(
        "A_kick_f_cm_np1_le_goo_0.avi 1 \nB_kick_f_cm_np1_le_goo_0.avi 2 \nC_kick_f_cm_np1_le_goo_0.avi 0 \n")
    (ann / "run_test_split1.txt").write_text("D_run_f_cm_np1_le_goo_0.avi 1 \n")
    touch_all(tmp_path, ["kick/A_kick_f_cm_np1_le_goo_0.avi", "kick/B_kick_f_cm_np1_le_goo_0.avi",
                         "kick/C_kick_f_cm_np1_le_goo_0.avi"])
    with pytest.raises(MissingVideosError, match="run/D_run_f_cm_np1_le_goo_0.avi"):
        load_dataset("hmdb51", str(tmp_path))
    manifest = load_dataset("hmdb51", str(tmp_path), allow_missing=True)
    assert manifest.meta["missing"] == ["run/D_run_f_cm_np1_le_goo_0.avi"]
    assert manifest.classes == ["kick", "run"]
    assert manifest.counts(1) == {"train": 1, "test": 1, "unused": 1}
    os.remove(tmp_path / "kick/C_kick_f_cm_np1_le_goo_0.avi")
    with pytest.raises(MissingVideosError, match=r"2 video\(s\)"):
        load_dataset("hmdb51", str(tmp_path))
