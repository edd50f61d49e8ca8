"""Helpers shared by the adapters: video listing, escaping paths, missing files, group keys."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from _dataset_trees import touch_all

from bench.data.datasets import load_dataset
from bench.data.datasets._common import (
    VIDEO_EXTENSIONS,
    MissingVideosError,
    compile_group_pattern,
    group_from_name,
    handle_missing,
    is_video_file,
    list_videos,
)


def test_video_extensions_case_insensitive():
    for ext in (".avi", ".mp4", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".m4v"):
        assert ext in VIDEO_EXTENSIONS
        assert is_video_file(f"a{ext}") and is_video_file(f"a{ext.upper()}")
    assert not is_video_file("a.txt") and not is_video_file("avi")


def test_list_videos_depth_and_hidden(tmp_path):
    touch_all(tmp_path, ["a.avi", "c/b.MKV", "c/d/deep.mp4", ".h/x.avi", "c/.x.avi", "c/n.txt"])
    assert list_videos(tmp_path, max_depth=0) == ["a.avi"]
    assert list_videos(tmp_path, max_depth=1) == ["a.avi", "c/b.MKV"]


def test_symlinked_file_outside_root_is_refused(tmp_path):
    touch_all(tmp_path, ["outside/secret_1.avi", "root/walk/a_1.avi", "root/run/b_1.avi"])
    (tmp_path / "root/run/c_1.avi").symlink_to(tmp_path / "outside/secret_1.avi")
    with pytest.raises(ValueError, match="escapes the dataset root"):
        load_dataset("folder", str(tmp_path / "root"))


def test_symlinked_class_folder_outside_root_is_refused(tmp_path):
    touch_all(tmp_path, ["outside/x_1.avi", "root/walk/a_1.avi"])
    (tmp_path / "root/run").symlink_to(tmp_path / "outside", target_is_directory=True)
    with pytest.raises(ValueError, match="escapes the dataset root"):
        load_dataset("folder", str(tmp_path / "root"))


def test_symlink_inside_root_is_fine(tmp_path):
    touch_all(tmp_path, ["walk/a_1.avi", "run/b_1.avi", "store/c_1.avi"])
    (tmp_path / "run/c_1.avi").symlink_to(tmp_path / "store/c_1.avi")
    paths = load_dataset("folder", str(tmp_path)).table["path"].tolist()
    assert sorted(paths) == ["run/b_1.avi", "run/c_1.avi", "store/c_1.avi", "walk/a_1.avi"]


def test_dotdot_in_split_file_is_refused(tmp_path):
    ann = tmp_path / "root/testTrainMulti_7030_splits"
    ann.mkdir(parents=True)
    (ann / "kick_test_split1.txt").write_text("../../outside.avi 1\n")
    touch_all(tmp_path, ["outside.avi"])
    with pytest.raises(ValueError, match="escapes the dataset root"):
        load_dataset("hmdb51", str(tmp_path / "root"), allow_missing=True)


def test_missing_error_lists_first_ten_and_count():
    rows = pd.DataFrame({"path": [f"v{i:02d}.avi" for i in range(25)]})
    exists = [i % 5 == 0 for i in range(25)]
    with pytest.raises(MissingVideosError) as info:
        handle_missing(rows, exists, dataset="demo", allow_missing=False)
    message = str(info.value)
    assert message.startswith("20 video(s) of dataset 'demo'")
    assert "v12.avi" in message and "v13.avi" not in message and "and 10 more" in message
    assert "--allow-missing" in message
    kept, missing = handle_missing(rows, exists, dataset="demo", allow_missing=True)
    assert kept["path"].tolist() == ["v00.avi", "v05.avi", "v10.avi", "v15.avi", "v20.avi"]
    assert len(missing) == 20


def test_group_keys():
    assert group_from_name("person01_boxing", None) == "person01"
    assert group_from_name("nounderscore", None) == "nounderscore"
    assert group_from_name("x_s03_y", compile_group_pattern(r"s(\d+)")) == "03"
    with pytest.raises(ValueError, match="not a valid regular expression"):
        compile_group_pattern("(")


def test_unknown_option_and_missing_root():
    with pytest.raises(ValueError, match="does not take option"):
        load_dataset("kth", "/nonexistent", colour="red")
    with pytest.raises(ValueError, match="--root"):
        load_dataset("ucf101")
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_dataset("weizmann", str(Path("/nonexistent/weizmann")))


def test_declared_capabilities_match_the_builders():
    """``handles_missing`` is declared at registration; a builder that declares it takes the
    option and one that handles missing files itself (hmdb51, kth, ucf101, weizmann and the
    detection sets read from disk) declares it."""
    import inspect

    from bench.data.datasets import list_datasets

    infos = {info.name: info for info in list_datasets()}
    assert {n for n, i in infos.items() if i.handles_missing} == {
        "hmdb51", "kth", "ucf101", "weizmann", "thumos14", "activitynet", "segments"}
    for info in infos.values():
        if info.handles_missing:
            assert "allow_missing" in inspect.signature(info.builder).parameters
    assert infos["synthetic"].quick_options == {"preset": "quick"}
    assert infos["synthetic"].default_options == {"preset": "default"}
