"""folder adapter: class folders, group keys from file names, grouped seeded splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _dataset_trees import touch_all

from bench.data.datasets import load_dataset

CLASSES = ("jump", "run", "walk")
ACTORS = [f"actor{i:02d}" for i in range(12)]


@pytest.fixture
def folder_tree(tmp_path: Path) -> Path:
    names = [f"{c}/{a}_{c}_{k}.avi" for c in CLASSES for a in ACTORS for k in range(2)]
    touch_all(tmp_path, names + ["walk/readme.txt", "walk/.hidden.avi"])
    return tmp_path


def _assert_grouped(manifest) -> None:
    for fold in manifest.folds:
        train = set(manifest.subset(fold, "train")["group"])
        test = set(manifest.subset(fold, "test")["group"])
        assert train and test and not train & test


def test_listing_labels_and_default_groups(folder_tree):
    manifest = load_dataset("folder", str(folder_tree))
    assert len(manifest.table) == 72
    assert manifest.classes == list(CLASSES)
    assert sorted(manifest.table["group"].unique()) == ACTORS
    row = manifest.table.set_index("video_id").loc["run/actor03_run_1.avi"]
    assert row["path"] == "run/actor03_run_1.avi" and row["label"] == 1
    assert manifest.meta["allow_flip"] is True and manifest.meta["protocol"] == "holdout"


@pytest.mark.parametrize("seed", range(5))
def test_holdout_is_grouped_for_every_seed(folder_tree, seed):
    manifest = load_dataset("folder", str(folder_tree), protocol="holdout", test_size=0.25,
                            seed=seed)
    _assert_grouped(manifest)
    # GroupShuffleSplit holds out ceil(0.25 * 12) = 3 of the 12 groups.
    assert manifest.subset(1, "test")["group"].nunique() == 3


def test_holdout_seeded(folder_tree):
    prints = [load_dataset("folder", str(folder_tree), seed=s).fingerprint(1) for s in range(5)]
    again = load_dataset("folder", str(folder_tree), seed=2).fingerprint(1)
    assert again == prints[2]
    assert len(set(prints)) > 1


@pytest.mark.parametrize("seed", range(3))
def test_kfold_is_grouped_and_covers_every_video_once(folder_tree, seed):
    manifest = load_dataset("folder", str(folder_tree), protocol="kfold", n_splits=4, seed=seed)
    assert manifest.folds == [1, 2, 3, 4]
    _assert_grouped(manifest)
    tested = np.sum([manifest.table[f"fold{k}"] == "test" for k in manifest.folds], axis=0)
    assert (tested == 1).all()


def test_logo_one_fold_per_group(folder_tree):
    manifest = load_dataset("folder", str(folder_tree), protocol="logo")
    assert len(manifest.folds) == len(ACTORS)
    _assert_grouped(manifest)
    held_out = [manifest.subset(k, "test")["group"].unique().tolist() for k in manifest.folds]
    assert sorted(g for (g,) in held_out) == ACTORS


def test_group_pattern_capture_and_named(tmp_path):
    touch_all(tmp_path, [f"{c}/clip_{c}_p{p}_take{t}.MP4" for c in CLASSES for p in range(4)
                         for t in range(2)])
    plain = load_dataset("folder", str(tmp_path), group_pattern=r"_p(\d+)_")
    named = load_dataset("folder", str(tmp_path), group_pattern=r"(?P<group>p\d+)_take")
    assert sorted(plain.table["group"].unique()) == ["0", "1", "2", "3"]
    assert sorted(named.table["group"].unique()) == ["p0", "p1", "p2", "p3"]
    assert plain.counts(1)["test"] == 6  # ceil(0.25 * 4) = 1 person x 3 classes x 2 takes
    _assert_grouped(plain)
    with pytest.raises(ValueError, match="exactly one"):
        load_dataset("folder", str(tmp_path), group_pattern=r"(p)(\d)")
    with pytest.raises(ValueError, match="does not give a group key"):
        load_dataset("folder", str(tmp_path), group_pattern=r"actor(\d+)")


def test_bad_options(folder_tree):
    with pytest.raises(ValueError, match="'protocol'"):
        load_dataset("folder", str(folder_tree), protocol="random")
    with pytest.raises(ValueError, match="'n_splits'"):
        load_dataset("folder", str(folder_tree), protocol="kfold", n_splits=13)
    with pytest.raises(ValueError, match="'test_size'"):
        load_dataset("folder", str(folder_tree), test_size=1.5)
    with pytest.raises(ValueError, match="n_split"):
        load_dataset("folder", str(folder_tree), n_split=3)


def test_empty_roots_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="no class folders"):
        load_dataset("folder", str(tmp_path))
    touch_all(tmp_path, ["walk/notes.txt"])
    with pytest.raises(FileNotFoundError, match="no video files"):
        load_dataset("folder", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_dataset("folder", str(tmp_path / "nope"))


def test_single_group_is_explained(tmp_path):
    touch_all(tmp_path, ["walk/a_1.avi", "run/a_2.avi"])
    with pytest.raises(ValueError, match="group-pattern"):
        load_dataset("folder", str(tmp_path))
