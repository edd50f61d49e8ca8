"""Kinetics adapter: annotation CSVs, the usual layout, missing clips excluded and listed."""

from __future__ import annotations

from pathlib import Path

import pytest
from _dataset_trees import touch_all

from bench.data.datasets import load_dataset
from bench.data.datasets.kinetics import kinetics_clip_name


def _write_kinetics(root: Path, val_folder: str = "val") -> None:
    ann = root / "annotations"
    ann.mkdir(parents=True)
    (ann / "train.csv").write_text(
        "label,youtube_id,time_start,time_end,split,is_cc\n"
        "archery,aaa-111,14,24,train,0\n"
        "archery,bbb_222,0,10,train,0\n"
        '"arm wrestling",ccc333,5,15,train,0\n'
        '"arm wrestling",ddd444,120,130,train,0\n'
        "zumba,gone000,1,11,train,0\n")
    (ann / "validate.csv").write_text(
        "label,youtube_id,time_start,time_end,split\n"
        "archery,eee555,3,13,val\n"
        '"arm wrestling",fff666,7,17,val\n'
        "zumba,gone111,2,12,val\n")
    (ann / "test.csv").write_text(
        "youtube_id,time_start,time_end,split\n"
        "ggg777,0,10,test\n")
    touch_all(root, [
        "train/archery/aaa-111_000014_000024.mp4",
        "train/archery/bbb_222_000000_000010.mp4",
        "train/arm_wrestling/ccc333_000005_000015.mp4",  # folder spelled with '_'
        "train/arm wrestling/ddd444_000120_000130.mp4",
        f"{val_folder}/archery/eee555_000003_000013.mp4",
        f"{val_folder}/arm wrestling/fff666_000007_000017.mp4",
        "test/ggg777_000000_000010.mp4",
    ])


@pytest.mark.parametrize("val_folder", ["val", "validate"])
def test_fold1_train_on_train_test_on_val(tmp_path, val_folder):
    _write_kinetics(tmp_path, val_folder)
    manifest = load_dataset("kinetics", str(tmp_path))
    assert manifest.counts(1) == {"train": 4, "test": 2, "unused": 0}
    assert manifest.classes == ["archery", "arm wrestling", "zumba"]
    table = manifest.table.set_index("video_id")
    assert table.loc["bbb_222_000000_000010", "group"] == "bbb_222"
    assert table.loc["fff666_000007_000017", "path"] == \
        f"{val_folder}/arm wrestling/fff666_000007_000017.mp4"
    assert table.loc["ccc333_000005_000015", "label_name"] == "arm wrestling"
    assert manifest.meta["unlabelled"] == 1


def test_missing_clips_are_excluded_and_listed(tmp_path):
    _write_kinetics(tmp_path)
    manifest = load_dataset("kinetics", str(tmp_path))
    assert manifest.meta["missing"] == ["train/zumba/gone000_000001_000011.mp4",
                                        "val/zumba/gone111_000002_000012.mp4"]
    assert "gone000_000001_000011" not in set(manifest.table["video_id"])
    # The class stays, so label indices do not depend on what was downloaded.
    assert "zumba" in manifest.classes and "zumba" not in set(manifest.table["label_name"])


def test_single_csv_file_and_clip_names(tmp_path):
    _write_kinetics(tmp_path)
    manifest = load_dataset("kinetics", str(tmp_path),
                            str(tmp_path / "annotations" / "validate.csv"))
    assert manifest.counts(1) == {"train": 0, "test": 2, "unused": 0}
    assert kinetics_clip_name("x-y_z", 7, 1234) == "x-y_z_000007_001234"


def test_nothing_on_disk_is_an_error(tmp_path):
    _write_kinetics(tmp_path)
    with pytest.raises(FileNotFoundError, match="none of the"):
        load_dataset("kinetics", str(tmp_path / "annotations"),
                     str(tmp_path / "annotations"))
    with pytest.raises(FileNotFoundError, match="annotation CSV"):
        load_dataset("kinetics", str(tmp_path / "train"))
