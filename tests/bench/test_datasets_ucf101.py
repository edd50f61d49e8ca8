"""UCF101 adapter: the official split counts on a placeholder tree named by the real lists."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _dataset_trees import session_tree, touch_all, ucf101_listed

from bench.data.datasets import load_dataset
from bench.data.datasets._common import MissingVideosError
from bench.data.datasets.ucf101 import ucf101_group

# Published counts of the three official splits (Soomro et al. 2012; README of the split files).
OFFICIAL_COUNTS = {1: (9537, 3783), 2: (9586, 3734), 3: (9624, 3696)}


@pytest.fixture(scope="module")
def ucf_splits(shared_real: Path) -> Path:
    return shared_real / "splits" / "ucf101"


@pytest.fixture(scope="module")
def ucf_tree(ucf_splits: Path, tmp_path_factory) -> Path:
    return session_tree(tmp_path_factory, "ucf101", ucf101_listed(ucf_splits))


@pytest.fixture(scope="module")
def ucf_manifest(ucf_tree: Path, ucf_splits: Path):
    return load_dataset("ucf101", str(ucf_tree), str(ucf_splits))


@pytest.mark.parametrize("fold", [1, 2, 3])
def test_official_counts(ucf_manifest, fold):
    train, test = OFFICIAL_COUNTS[fold]
    assert ucf_manifest.counts(fold) == {"train": train, "test": test, "unused": 0}


def test_all_videos_and_classes(ucf_manifest):
    assert len(ucf_manifest.table) == 13320
    assert len(ucf_manifest.classes) == 101
    assert ucf_manifest.meta["missing"] == []
    assert ucf_manifest.table["path"].str.endswith(".avi").all()
    row = ucf_manifest.table.set_index("video_id").loc["v_ApplyEyeMakeup_g08_c01"]
    assert row["path"] == "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi"
    assert row["group"] == "g08" and row["label_name"] == "ApplyEyeMakeup"


def test_subsets_and_labels_match_the_raw_lists(ucf_manifest, ucf_splits):
    classes = [line.split()[1] for line in (ucf_splits / "classInd.txt").read_text().split("\n")
               if line.strip()]
    assert ucf_manifest.classes == classes
    table = ucf_manifest.table.set_index("path")
    for fold in (1, 3):
        test_list = {line.split()[0] for line in
                     (ucf_splits / f"testlist0{fold}.txt").read_text().splitlines() if line.strip()}
        assert set(table.index[table[f"fold{fold}"] == "test"]) == test_list
    for line in (ucf_splits / "trainlist02.txt").read_text().splitlines()[::97]:
        rel, index = line.split()
        assert table.loc[rel, "label"] == int(index) - 1
        assert table.loc[rel, "fold2"] == "train"


def test_no_group_on_both_sides(ucf_manifest):
    for fold in ucf_manifest.folds:
        train = set(ucf_manifest.subset(fold, "train")["group"])
        test = set(ucf_manifest.subset(fold, "test")["group"])
        assert not train & test


def test_fingerprints_stable_and_distinct(ucf_manifest, ucf_tree, ucf_splits):
    again = load_dataset("ucf101", str(ucf_tree), str(ucf_splits))
    prints = [ucf_manifest.fingerprint(k) for k in (1, 2, 3)]
    assert prints == [again.fingerprint(k) for k in (1, 2, 3)]
    assert len(set(prints)) == 3


def test_handstand_spelling(ucf_manifest):
    rows = ucf_manifest.table[ucf_manifest.table["label_name"] == "HandstandPushups"]
    assert len(rows) > 0
    # The official lists put v_HandStandPushups_* files in the HandstandPushups folder.
    assert rows["path"].str.startswith("HandstandPushups/v_HandStandPushups_").all()


def test_group_parsing():
    assert ucf101_group("v_ApplyEyeMakeup_g08_c01") == "g08"
    with pytest.raises(ValueError, match="gNN"):
        ucf101_group("v_ApplyEyeMakeup")


# ---- small hand-made trees for the error paths ---------------------------------------------
def _small_ucf(root: Path, folder_b: str = "BClass") -> Path:
    ann = root / "ucfTrainTestlist"
    ann.mkdir(parents=True)
    (ann / "classInd.txt").write_text("1 AClass\r\n2 BClass\r\n")
    (ann / "trainlist01.txt").write_text(
        "AClass/v_AClass_g08_c01.avi 1\nBClass/v_BClass_g08_c01.avi 2\n")
    (ann / "testlist01.txt").write_text("AClass/v_AClass_g01_c01.avi\nBClass/v_BClass_g01_c01.avi\n")
    touch_all(root, ["AClass/v_AClass_g08_c01.avi", "AClass/v_AClass_g01_c01.avi",
                     f"{folder_b}/v_BClass_g08_c01.avi", f"{folder_b}/v_BClass_g01_c01.avi"])
    return root


def test_default_annotation_folder_and_case_insensitive_lookup(tmp_path):
    _small_ucf(tmp_path, folder_b="bclass")
    manifest = load_dataset("ucf101", str(tmp_path))
    assert manifest.counts(1) == {"train": 2, "test": 2, "unused": 0}
    assert manifest.meta["case_mismatches"] == 2
    assert sorted(manifest.table["path"])[2:] == ["bclass/v_BClass_g01_c01.avi",
                                                  "bclass/v_BClass_g08_c01.avi"]


def test_missing_videos_error_and_allow_missing(tmp_path):
    _small_ucf(tmp_path)
    os.remove(tmp_path / "BClass/v_BClass_g01_c01.avi")
    with pytest.raises(MissingVideosError, match=r"(?s)1 video\(s\).*BClass/v_BClass_g01_c01.avi"):
        load_dataset("ucf101", str(tmp_path))
    manifest = load_dataset("ucf101", str(tmp_path), allow_missing=True)
    assert manifest.meta["missing"] == ["BClass/v_BClass_g01_c01.avi"]
    assert manifest.counts(1) == {"train": 2, "test": 1, "unused": 0}


def test_symlink_escaping_root_is_refused(tmp_path):
    outside = tmp_path / "outside"
    touch_all(outside, ["v_BClass_g08_c01.avi", "v_BClass_g01_c01.avi"])
    root = tmp_path / "root"
    _small_ucf(root)
    for name in os.listdir(root / "BClass"):
        os.remove(root / "BClass" / name)
    (root / "BClass").rmdir()
    (root / "BClass").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValueError, match="escapes the dataset root"):
        load_dataset("ucf101", str(root))


def test_train_index_contradicting_folder_is_refused(tmp_path):
    _small_ucf(tmp_path)
    (tmp_path / "ucfTrainTestlist/trainlist01.txt").write_text("AClass/v_AClass_g08_c01.avi 2\n")
    with pytest.raises(ValueError, match="class index 2"):
        load_dataset("ucf101", str(tmp_path))
