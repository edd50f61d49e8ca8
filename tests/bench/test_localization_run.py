"""The localization task in the harness: box annotations in the manifest and its fingerprint,
the untrimmed adapter's keyframe boxes, the ``random_boxes`` floor, a whole
``--task localization --quick`` run into a run directory with AVA files that the official
evaluator's reading rules accept, its metric rows and its report."""

from __future__ import annotations

import csv
import hashlib
import heapq
import json

import numpy as np
import pandas as pd
import pytest

from bench.data.datasets import load_dataset
from bench.data.datasets.localization_truth import keyframe_boxes, keyframe_table
from bench.data.datasets.untrimmed import generate_untrimmed, untrimmed_params
from bench.data.manifest import BOX_ANNOTATION_COLUMNS, NO_LABEL, Manifest
from bench.methods import (
    _REGISTRY,
    MethodCard,
    MethodContext,
    VideoFailure,
    build_method,
    get_method,
    list_methods,
    register_method,
)
from bench.report import write_report
from bench.run.config import RunConfig, RunConfigError
from bench.run.runner import run_benchmark
from bench.tasks.localization import AVA_MAX_DETECTIONS_PER_KEYFRAME, frame_map, person_detection
from bench.tasks.localization.floor import RandomBoxLocalizer
from bench.tasks.localization.results import (
    detections_table,
    excluded_table,
    frame_result,
    ground_truth_table,
    read_unit_files,
)

# ---------------------------------------------------------------------------- the manifest


def _table(ids, folds):
    return pd.DataFrame({"video_id": ids, "path": [f"{v}.avi" for v in ids], "label": NO_LABEL,
                         "label_name": "", "group": ["g"] * len(ids), "fold1": folds})


def _boxes(rows):
    """Box rows ``(video, timestamp, frame, x1, y1, x2, y2, label, person)``."""
    table = pd.DataFrame(rows, columns=["video_id", "timestamp", "frame", "x1", "y1", "x2",
                                        "y2", "label", "person_id"])
    table["label_name"] = table["label"].map({0: "x", 1: "y"})
    return table[list(BOX_ANNOTATION_COLUMNS)]


_ROWS = [("a", 1.0, 25, 0.1, 0.1, 0.4, 0.9, 0, 3), ("b", 2.0, 50, 0.5, 0.2, 0.7, 0.8, 1, 4),
         ("c", 1.0, 25, 0.0, 0.0, 0.5, 0.5, 1, 5)]


def test_boxes_are_part_of_the_fingerprint_and_follow_dropped_videos(tmp_path):
    table = _table(["a", "b", "c"], ["train", "test", "unused"])
    split_only = hashlib.sha256()
    for line in sorted(["a\t-1\ttrain\n", "b\t-1\ttest\n", "c\t-1\tunused\n"]):
        split_only.update(line.encode())
    manifest = Manifest(table, tmp_path, ["x", "y"], boxes=_boxes(_ROWS))
    assert manifest.fingerprint(1) != split_only.hexdigest()
    moved = _ROWS[:1] + [("b", 2.0, 50, 0.5, 0.2, 0.71, 0.8, 1, 4)] + _ROWS[2:]
    assert Manifest(table, tmp_path, ["x", "y"], boxes=_boxes(moved)).fingerprint(1) != \
        manifest.fingerprint(1)
    relabelled = _ROWS[:2] + [("c", 1.0, 25, 0.0, 0.0, 0.5, 0.5, 0, 5)]  # an unused video
    assert Manifest(table, tmp_path, ["x", "y"], boxes=_boxes(relabelled)).fingerprint(1) == \
        manifest.fingerprint(1)
    excluded = Manifest(table, tmp_path, ["x", "y"], boxes=_boxes(_ROWS),
                        meta={"excluded_keyframes": [["b", 3.0]]})
    assert excluded.fingerprint(1) != manifest.fingerprint(1)
    assert excluded.excluded_keyframes(excluded.subset(1, "test")).values.tolist() == [["b", 3.0]]
    assert manifest.keyframe_boxes(manifest.subset(1, "test"))["video_id"].tolist() == ["b"]
    assert manifest.drop_videos(["a"]).boxes["video_id"].tolist() == ["b", "c"]


@pytest.mark.parametrize(("row", "message"), [
    (("zzz", 1.0, 25, 0.1, 0.1, 0.4, 0.9, 0, 3), "not in the table"),
    (("a", 1.0, 25, 0.1, 0.1, 0.4, 0.9, -1, 3), "not in the label map"),
    (("a", 1.0, 25, 0.1, 0.1, 1.4, 0.9, 0, 3), "leaves \\[0, 1\\]"),
    (("a", 1.0, 25.5, 0.1, 0.1, 0.4, 0.9, 0, 3), "frame index"),
])
def test_bad_boxes_are_refused(tmp_path, row, message):
    with pytest.raises(ValueError, match=message):
        Manifest(_table(["a"], ["train"]), tmp_path, ["x", "y"], boxes=_boxes([row]))


def test_a_manifest_without_labels_or_ground_truth_is_refused(tmp_path):
    with pytest.raises(ValueError, match="index into classes"):
        Manifest(_table(["a"], ["train"]), tmp_path, ["x"])


# ---------------------------------------------------------------------------- the adapter
@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("untrimmed_home")


@pytest.fixture(scope="module")
def quick_manifest(home):
    return load_dataset("untrimmed", root=str(home), preset="quick", task="localization")


@pytest.fixture(scope="module")
def generated(home, quick_manifest):
    return generate_untrimmed(home, untrimmed_params("quick"), seed=0)  # the cached entry


def test_the_untrimmed_adapter_gives_the_keyframe_boxes(quick_manifest, generated, home):
    m = quick_manifest
    assert m.annotations is None and m.meta["task"] == "localization"
    want = keyframe_boxes(generated).boxes[list(BOX_ANNOTATION_COLUMNS)]
    pd.testing.assert_frame_equal(m.boxes, want)
    assert (m.boxes["timestamp"] == np.round(m.boxes["timestamp"])).all()  # 25 fps, 1 Hz
    assert m.meta["frame_size"] == [80, 60] and m.meta["keyframe_rate"] == 1.0
    for fold in m.folds:  # the folds hold the groups (actors) apart
        train, test = m.subset(fold, "train"), m.subset(fold, "test")
        assert set(train["group"]).isdisjoint(test["group"]) and len(test)
    detection = load_dataset("untrimmed", root=str(home), preset="quick")
    assert detection.boxes is None and detection.annotations is not None
    assert detection.fingerprint(1) != m.fingerprint(1)  # another ground truth
    with pytest.raises(ValueError, match="--task detection or --task localization"):
        load_dataset("untrimmed", root=str(home), preset="quick", task="recognition")


# ---------------------------------------------------------------------------- the floor
def _training(manifest):
    path_of = dict(zip(manifest.table["video_id"], manifest.paths(), strict=True))
    boxes = manifest.keyframe_boxes()
    return path_of, boxes.assign(video=boxes["video_id"].map(path_of))


def test_random_boxes_are_seeded_valid_and_on_the_ground_truths_keyframes(quick_manifest,
                                                                         generated):
    path_of, boxes = _training(quick_manifest)
    paths = quick_manifest.paths()
    one = RandomBoxLocalizer(random_state=3).fit(paths, boxes).localize(paths)
    two = RandomBoxLocalizer(random_state=3).fit(paths, boxes).localize(paths)
    pd.testing.assert_frame_equal(one, two)
    other = RandomBoxLocalizer(random_state=4).fit(paths, boxes).localize(paths)
    assert not one[["x1", "score"]].equals(other[["x1", "score"]])
    corners = one[["x1", "y1", "x2", "y2"]].to_numpy()
    assert (corners >= 0).all() and (corners <= 1 + 1e-12).all()
    assert ((corners[:, 2] > corners[:, 0]) & (corners[:, 3] > corners[:, 1])).all()
    # sizes from the training boxes
    sizes = {(round(r.x2 - r.x1, 9), round(r.y2 - r.y1, 9)) for r in boxes.itertuples()}
    drawn = {(round(r.x2 - r.x1, 9), round(r.y2 - r.y1, 9)) for r in one.itertuples()}
    assert drawn <= sizes
    assert set(one["label"]) <= set(boxes["label"])
    # every keyframe of the ground truth's rule, the same number of boxes on each
    floor = RandomBoxLocalizer(random_state=3).fit(paths, boxes)
    times = keyframe_table(generated.videos)
    for video_id, path in path_of.items():
        mine = one[one["video"] == path]
        want = times.loc[times["video_id"] == video_id, "timestamp"].tolist()
        assert sorted(set(mine["timestamp"])) == want
        assert (mine.groupby("timestamp").size() == floor.per_keyframe_).all()
    actors = boxes.drop_duplicates(["video", "timestamp", "person_id"])
    mean = len(actors) / len(actors[["video", "timestamp"]].drop_duplicates())
    assert floor.per_keyframe_ == max(2, int(np.ceil(2 * mean)))


def test_random_boxes_record_an_undecodable_video_and_go_on(quick_manifest, tmp_path):
    _, boxes = _training(quick_manifest)
    paths = quick_manifest.paths()
    broken = tmp_path / "broken.avi"
    broken.write_bytes(b"not a video")
    floor = RandomBoxLocalizer(per_keyframe=3).fit(paths, boxes)
    out = floor.localize(np.array([paths[0], str(broken)], dtype=object))
    assert set(out["video"]) == {paths[0]}
    assert [(f.video, f.stage) for f in floor.failures_] == [(str(broken), "decode")]
    with pytest.raises(ValueError, match="'per_keyframe' parameter of RandomBoxLocalizer must "
                                         "be an int in \\[1, inf\\) or None. Got 0"):
        RandomBoxLocalizer(per_keyframe=0).fit(paths, boxes)


def test_the_floor_is_registered_for_localization():
    floor = build_method("random_boxes", MethodContext(seed=4), per_keyframe=5)
    assert isinstance(floor, RandomBoxLocalizer)
    assert (floor.random_state, floor.per_keyframe) == (4, 5)
    card = get_method("random_boxes").card
    assert (card.task, card.track) == ("localization", "reference")
    assert "random_boxes" in [c.name for c in list_methods(task="localization")]


# ---------------------------------------------------------------------------- unit tables
def test_detections_from_a_method_are_checked_and_mapped_to_ava():
    id_of = {"/v/a.avi": "a"}
    good = pd.DataFrame({"video": ["/v/a.avi"] * 2, "timestamp": [2.0, 3.004],
                         "x1": [0.1, 0.2], "y1": [0.1, 0.2], "x2": [0.5, 0.2004],
                         "y2": [0.9, 0.6], "label": [0, 11], "score": [0.5, 0.7]})
    table, dropped = detections_table(good, id_of, 12, "m")
    # whole seconds, 1-based action ids; the second box has no area at three decimals
    assert dropped == 1 and table.iloc[0].to_dict() == {
        "video_id": "a", "timestamp": 2.0, "x1": 0.1, "y1": 0.1, "x2": 0.5, "y2": 0.9,
        "label": 1, "score": 0.5}
    for bad, message in [(good.assign(timestamp=2.5), "not at a whole second"),
                         (good.assign(video="/v/b.avi"), "not given"),
                         (good.assign(label=12), "outside range\\(12\\)"),
                         (good.assign(x2=1.5), "outside \\[0, 1\\]"),
                         (good.assign(x1=0.6), "x2 < x1"),
                         (good.assign(timestamp=[2.0, 2.04]), "two keyframe times at 2 s"),
                         (good.drop(columns="score"), "no column")]:
        with pytest.raises(ValueError, match=message):
            detections_table(bad, id_of, 12, "m")


def test_a_failed_videos_keyframes_are_excluded_from_both_tables():
    truth = ground_truth_table(_boxes(_ROWS))
    assert truth["label"].tolist() == [1, 2, 2]  # action ids are class index + 1
    listed = pd.DataFrame({"video_id": ["a"], "timestamp": [7.0]})
    excluded = excluded_table(listed, truth, ["c"])
    assert excluded.values.tolist() == [["a", 7.0], ["c", 1.0]]
    detections = truth.assign(score=0.9)
    with_c = frame_map(truth, detections.iloc[:2], excluded=excluded)
    without = frame_map(truth[truth["video_id"] != "c"], detections.iloc[:2])
    assert with_c.map == without.map == 1.0
    assert frame_map(truth, detections.iloc[:2]).map < 1.0  # c's box counted as missed


# ---------------------------------------------------------------------------- a whole run
@pytest.fixture(scope="module")
def localization_run(home, tmp_path_factory):
    out = tmp_path_factory.mktemp("localization_runs") / "run"
    config = RunConfig(task="localization", root=str(home), quick=True,
                       methods=["random_boxes"], folds="all", out=str(out), quiet=True,
                       method_params={"random_boxes": {"per_keyframe": 20}},
                       options={"n_boot": 100})
    assert config.dataset == "untrimmed"  # the task's embedded default
    return run_benchmark(config)


def test_a_localization_run_writes_the_ava_files(localization_run, quick_manifest):
    results = pd.read_csv(localization_run / "results.csv")
    assert set(results["task"]) == {"localization"}
    assert {"frame_map@0.50", "person_ap@0.50", "person_recall@0.50"} <= set(results["metric"])
    assert not results["metric"].str.startswith("video_map").any()  # the floor has no tracks
    record = json.loads((localization_run / "run.json").read_text())
    assert record["task"] == "localization"
    assert record["methods"]["random_boxes"]["params"]["per_keyframe"] == 20
    for fold in quick_manifest.folds:
        unit = localization_run / "units" / f"random_boxes__fold{fold}"
        files = read_unit_files(unit)
        test = quick_manifest.subset(fold, "test")
        want = quick_manifest.keyframe_boxes(test)
        assert len(files.ground_truth) == len(want)
        assert files.ground_truth["label"].tolist() == (want["label"] + 1).tolist()
        assert files.ground_truth["person_id"].tolist() == want["person_id"].tolist()
        assert files.classes == {i + 1: c for i, c in enumerate(quick_manifest.classes)}
        assert set(files.detections["video_id"]) == set(test["video_id"])
        assert files.excluded.empty and (unit / "excluded_timestamps.csv").read_text() == ""
        timing = json.loads((unit / "timing.json").read_text())
        assert timing["n_detections"] == len(files.detections) + timing["n_dropped_detections"]
        row = results[(results["fold"] == fold) & (results["metric"] == "frame_map@0.50")]
        assert np.isfinite(row["ci_low"].iloc[0]) and int(row["n"].iloc[0]) == len(test)


def _official_reader(unit):
    """The AVA evaluator's reading rules (``get_ava_performance.py``: ``read_labelmap``,
    ``read_csv``, ``read_exclusions``), written from its documented behaviour, not copied:
    the label map is read line by line, ``  name: "..."`` then ``  id: n``; a box CSV row has
    7 or 8 columns, its keyframe is ``"%s,%04d" % (video_id, int(timestamp))`` (``int`` of
    the text: ``2.0`` or ``2.5`` stop it), corners ``float``, the action ``int`` and kept only
    if the label map lists it, the score the 8th column (1.0 without one; in the ground truth
    the 8th column is the person id, read and not used); of the detections only the 50 best
    of each keyframe are kept; an excluded-timestamps row has exactly 2 columns. Returns the
    two tables in the project's columns, the exclusions and the class ids."""
    class_ids, name = set(), None
    for line in (unit / "label_map.pbtxt").read_text().splitlines():
        if line.startswith("  name:"):
            name = line.split('"')[1]
        elif line.startswith("  id:"):
            assert name is not None
            class_ids.add(int(line.strip().split(" ")[-1]))

    def read(path, capacity):
        entries: dict[str, list] = {}
        with path.open(newline="") as fh:
            for row in csv.reader(fh):
                assert len(row) in (7, 8), f"Wrong number of columns: {row}"
                key = f"{row[0]},{int(row[1]):04d}"
                x1, y1, x2, y2 = (float(v) for v in row[2:6])
                action = int(row[6])
                if action not in class_ids:
                    continue
                score = float(row[7]) if len(row) == 8 else 1.0
                heap = entries.setdefault(key, [])
                item = (score, action, y1, x1, y2, x2)
                if capacity < 1 or len(heap) < capacity:
                    heapq.heappush(heap, item)
                elif score > heap[0][0]:
                    heapq.heapreplace(heap, item)
        rows = [(key.split(",")[0], float(int(key.split(",")[1])), x1, y1, x2, y2, action, score)
                for key, heap in entries.items() for score, action, y1, x1, y2, x2 in heap]
        return pd.DataFrame(rows, columns=["video_id", "timestamp", "x1", "y1", "x2", "y2",
                                           "label", "score"])

    excluded = []
    with (unit / "excluded_timestamps.csv").open(newline="") as fh:
        for row in csv.reader(fh):
            assert len(row) == 2, f"Expected only 2 columns, got: {row}"
            excluded.append((row[0], float(int(row[1]))))
    truth = read(unit / "ground_truth.csv", 0).drop(columns="score")
    detections = read(unit / "detections.csv", AVA_MAX_DETECTIONS_PER_KEYFRAME)
    return truth, detections, excluded, class_ids


def test_every_unit_reads_with_the_official_evaluators_rules_and_gives_its_results(
        localization_run):
    results = pd.read_csv(localization_run / "results.csv").set_index(["fold", "metric"])
    units = sorted((localization_run / "units").glob("random_boxes__fold*"))
    assert len(units) == 2
    values = []
    for unit in units:
        fold = int(unit.name.rpartition("fold")[2])
        truth, detections, excluded, class_ids = _official_reader(unit)
        files = read_unit_files(unit)
        assert len(truth) == len(files.ground_truth) and class_ids == set(files.classes)
        assert len(detections) == len(files.detections)  # fewer than 50 per keyframe
        official = frame_map(truth, detections, 0.5, excluded=excluded or None).map
        values.append(official)
        assert results.loc[(fold, "frame_map@0.50"), "value"] == pytest.approx(official,
                                                                               abs=1e-12)
        assert frame_result(files).map == pytest.approx(official, abs=1e-12)
        persons = person_detection(files.ground_truth, files.detections, 0.5)
        assert results.loc[(fold, "person_ap@0.50"), "value"] == pytest.approx(persons.ap)
        assert results.loc[(fold, "person_recall@0.50"), "value"] == pytest.approx(
            persons.recall)
    assert max(values) > 0  # 20 boxes a keyframe find some actor with its action
    # the check can fail: a fractional timestamp stops the evaluator's int()
    planted = units[0].parent.parent / "planted"
    planted.mkdir()
    for name in ("label_map.pbtxt", "ground_truth.csv", "excluded_timestamps.csv"):
        (planted / name).write_text((units[0] / name).read_text())
    first, *rest = (units[0] / "detections.csv").read_text().splitlines()
    cells = first.split(",")
    (planted / "detections.csv").write_text("\n".join([",".join([cells[0], "2.5", *cells[2:]]),
                                                       *rest]) + "\n")
    with pytest.raises(ValueError, match="invalid literal for int"):
        _official_reader(planted)


def test_the_localization_report_has_its_sections(localization_run):
    text = write_report(localization_run).read_text()
    assert "## Leaderboard" in text and "frame-mAP@0.5 %" in text and "`random_boxes`" in text
    assert "## Per-class AP" in text and "## Keyframes" in text
    assert "could not be generated" not in text
    assert (localization_run / "figures" / "localization_keyframes.png").stat().st_size > 0


def test_the_per_class_table_is_the_mean_ap_of_the_units(localization_run):
    from bench.report.localization import per_class_ap_table
    from bench.run.rundir import load_run

    data = load_run(localization_run)
    table = per_class_ap_table(data)
    per_fold = []
    for unit in sorted((localization_run / "units").glob("random_boxes__fold*")):
        files = read_unit_files(unit)
        result = frame_result(files)
        per_fold.append(pd.Series(result.ap[:, 0], index=[files.classes[int(c)]
                                                          for c in result.classes]))
    want = pd.concat(per_fold, axis=1).mean(axis=1)
    assert table["random_boxes"].to_dict() == pytest.approx(want.to_dict())


class _FailsOnTheFirst(RandomBoxLocalizer):
    """The floor, except that it cannot read the first test video (a planted failure)."""

    def localize(self, paths):
        self.failures_.append(VideoFailure(str(paths[0]), "decode", "planted failure"))
        return super().localize(paths[1:])


@pytest.fixture()
def failing_method():
    register_method(MethodCard(name="fails_on_the_first", track="reference", family="random",
                               year=1901, paper="test double", task="localization"),
                    lambda ctx: _FailsOnTheFirst(random_state=ctx.seed, per_keyframe=20))
    yield "fails_on_the_first"
    _REGISTRY.pop("fails_on_the_first")


def test_a_video_the_method_fails_on_is_recorded_and_excluded_from_its_files(
        failing_method, home, tmp_path, quick_manifest):
    run_dir = run_benchmark(RunConfig(task="localization", root=str(home), quick=True,
                                      methods=[failing_method], out=str(tmp_path / "run"),
                                      quiet=True, max_failure_rate=0.5,
                                      options={"n_boot": 20}))
    failures = pd.read_csv(run_dir / "failures.csv")
    test = quick_manifest.subset(1, "test")
    first_id, first_path = test["video_id"].iloc[0], test["path"].iloc[0]
    assert failures[["method", "video", "stage"]].values.tolist() == [
        [failing_method, first_path, "decode"]]
    unit = run_dir / "units" / f"{failing_method}__fold1"
    files = read_unit_files(unit)
    truth_first = files.ground_truth[files.ground_truth["video_id"] == first_id]
    assert len(truth_first)  # its ground truth stays in the file ...
    assert files.excluded.values.tolist() == [  # ... and its keyframes are excluded
        [first_id, t] for t in sorted(set(truth_first["timestamp"]))]
    assert first_id not in set(files.detections["video_id"])
    timing = json.loads((unit / "timing.json").read_text())
    assert (timing["n_failed_videos"], timing["n_scored"]) == (1, len(test) - 1)
    truth, detections, excluded, _ = _official_reader(unit)
    results = pd.read_csv(run_dir / "results.csv").set_index("metric")
    assert results.loc["frame_map@0.50", "n"] == len(test) - 1
    assert results.loc["frame_map@0.50", "value"] == pytest.approx(
        frame_map(truth, detections, 0.5, excluded=excluded).map, abs=1e-12)
    kept = files.ground_truth[files.ground_truth["video_id"] != first_id]
    assert results.loc["frame_map@0.50", "value"] == pytest.approx(
        frame_map(kept, files.detections, 0.5).map, abs=1e-12)


# ---------------------------------------------------------------------------- bad input
def test_task_and_dataset_must_agree(home, tmp_path):
    with pytest.raises(RunConfigError, match="has no box annotations"):
        run_benchmark(RunConfig(task="localization", dataset="synthetic", root=str(home),
                                quick=True, methods=["random_boxes"], out=str(tmp_path / "a"),
                                quiet=True))
    with pytest.raises(RunConfigError, match="serves the detection task, not localization"):
        run_benchmark(RunConfig(task="localization", root=str(home), quick=True,
                                methods=["random_segments"], out=str(tmp_path / "b"),
                                quiet=True))


@pytest.mark.parametrize(("argv", "dataset"), [
    (["run", "--task", "localization"], "untrimmed"),
    (["run", "--task", "localization", "--dataset", "folder"], "folder"),
])
def test_the_command_line_default_dataset_follows_the_task(argv, dataset):
    from bench.cli import build_parser
    from bench.cli.run import _config_from_args

    config = _config_from_args(build_parser().parse_args(argv))
    assert (config.task, config.dataset) == ("localization", dataset)


def test_list_shows_the_localization_methods(capsys):
    from bench.cli import main

    assert main(["list", "--task", "localization"]) == 0
    methods = capsys.readouterr().out.split("Methods")[1]
    assert "random_boxes" in methods and "random_segments" not in methods
