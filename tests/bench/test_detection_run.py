"""The detection task in the harness: manifest annotations, the untrimmed adapter, the random
floor, a whole `--task detection` run into a run directory with the field's files, and its
report."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from bench.data.datasets import load_dataset
from bench.data.manifest import NO_LABEL, Manifest
from bench.methods import MethodContext, RandomSegmentDetector, build_method
from bench.report import write_report
from bench.run.config import RunConfig, RunConfigError
from bench.run.runner import run_benchmark
from bench.tasks.detection import evaluate_detection, read_database_json, read_results_json
from bench.tasks.detection.results import detections_table, metric_values


def _table(ids, folds):
    return pd.DataFrame({"video_id": ids, "path": [f"{v}.avi" for v in ids], "label": NO_LABEL,
                         "label_name": "", "group": ["g"] * len(ids), "fold1": folds})


def _annotations(rows):
    return pd.DataFrame(rows, columns=["video_id", "t_start", "t_end", "label", "label_name"])


def test_a_manifest_without_annotations_keeps_its_fingerprint(tmp_path):
    table = _table(["a", "b"], ["train", "test"]).assign(label=[0, 1])
    manifest = Manifest(table, tmp_path, ["x", "y"])
    digest = hashlib.sha256()
    for line in sorted(["a\t0\ttrain\n", "b\t1\ttest\n"]):
        digest.update(line.encode())
    assert manifest.fingerprint(1) == digest.hexdigest()


def test_annotations_are_part_of_the_fingerprint_and_follow_dropped_videos(tmp_path):
    table = _table(["a", "b", "c"], ["train", "test", "unused"])
    rows = [("a", 0.0, 1.5, 0, "x"), ("b", 2.0, 3.0, 1, "y"), ("c", 0.0, 1.0, 1, "y")]
    manifest = Manifest(table, tmp_path, ["x", "y"], annotations=_annotations(rows))
    moved = Manifest(table, tmp_path, ["x", "y"],
                     annotations=_annotations([rows[0], ("b", 2.0, 3.5, 1, "y"), rows[2]]))
    assert manifest.fingerprint(1) != moved.fingerprint(1)
    # an unused video's annotation does not enter its fold's fingerprint
    other_unused = Manifest(table, tmp_path, ["x", "y"],
                            annotations=_annotations([rows[0], rows[1], ("c", 0, 2, 0, "x")]))
    assert manifest.fingerprint(1) == other_unused.fingerprint(1)
    assert manifest.segments(manifest.subset(1, "test"))["video_id"].tolist() == ["b"]
    assert manifest.drop_videos(["a"]).annotations["video_id"].tolist() == ["b", "c"]


@pytest.mark.parametrize(("rows", "message"), [
    ([("zzz", 0.0, 1.0, 0, "x")], "not in the table"),
    ([("a", 0.0, 1.0, 5, "x")], "index into classes"),
])
def test_bad_annotations_are_refused(tmp_path, rows, message):
    with pytest.raises(ValueError, match=message):
        Manifest(_table(["a"], ["train"]), tmp_path, ["x", "y"], annotations=_annotations(rows))


def test_a_video_without_a_label_needs_annotations(tmp_path):
    with pytest.raises(ValueError, match="index into classes"):
        Manifest(_table(["a"], ["train"]), tmp_path, ["x"])


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("untrimmed_home")


@pytest.fixture(scope="module")
def quick_manifest(home):
    return load_dataset("untrimmed", root=str(home), preset="quick")


def test_the_untrimmed_adapter_gives_a_detection_manifest(quick_manifest):
    m = quick_manifest
    assert (m.table["label"] == NO_LABEL).all() and m.annotations is not None
    assert set(m.annotations["label_name"]) <= set(m.classes)
    names = np.asarray(m.classes)[m.annotations["label"]]
    assert (names == m.annotations["label_name"].to_numpy()).all()
    for fold in m.folds:  # the folds hold the groups (actors) apart
        train, test = m.subset(fold, "train"), m.subset(fold, "test")
        assert set(train["group"]).isdisjoint(test["group"]) and len(test)
    durations = m.meta["durations"]
    assert (m.annotations["t_end"] <= m.annotations["video_id"].map(durations) + 1e-9).all()


def test_random_segments_are_seeded_and_use_the_training_durations(quick_manifest, tmp_path):
    paths = quick_manifest.paths()
    path_of = dict(zip(quick_manifest.table["video_id"], paths, strict=True))
    segments = quick_manifest.segments().assign(video=lambda f: f["video_id"].map(path_of))
    one = RandomSegmentDetector(random_state=3).fit(paths, segments).detect(paths)
    two = RandomSegmentDetector(random_state=3).fit(paths, segments).detect(paths)
    pd.testing.assert_frame_equal(one, two)
    lengths = one["t_end"] - one["t_start"]
    assert lengths.max() <= (segments["t_end"] - segments["t_start"]).max() + 1e-9
    assert set(one["video"]) == set(paths)
    broken = tmp_path / "broken.avi"
    broken.write_bytes(b"not a video")
    detector = RandomSegmentDetector().fit(paths, segments)
    out = detector.detect(np.array([paths[0], str(broken)], dtype=object))
    assert set(out["video"]) == {paths[0]}
    assert [f.video for f in detector.failures_] == [str(broken)]


def test_detections_from_a_method_are_checked():
    id_of = {"/v/a.avi": "a"}
    good = pd.DataFrame({"video": ["/v/a.avi"], "t_start": [0.0], "t_end": [1.0], "label": [1],
                         "score": [0.5]})
    table = detections_table(good, id_of, ["x", "y"], "m")
    assert table.iloc[0].to_dict() == {"video_id": "a", "t_start": 0.0, "t_end": 1.0,
                                       "label": "y", "score": 0.5}
    with pytest.raises(ValueError, match="not given"):
        detections_table(good.assign(video="/v/other.avi"), id_of, ["x", "y"], "m")
    with pytest.raises(ValueError, match="outside range"):
        detections_table(good.assign(label=2), id_of, ["x", "y"], "m")
    with pytest.raises(ValueError, match="no column"):
        detections_table(good.drop(columns="score"), id_of, ["x", "y"], "m")


def test_metric_rows_agree_with_the_metric():
    truth = pd.DataFrame({"video_id": ["a", "a", "b"], "t_start": [0.0, 5.0, 1.0],
                          "t_end": [2.0, 9.0, 3.0], "label": ["x", "y", "x"]})
    detections = truth.assign(score=[0.9, 0.8, 0.7], t_end=truth["t_end"] + [0.0, 2.0, 0.5])
    rows = {name: (value, ci) for name, value, ci, _ in
            metric_values(truth, detections, ["a", "b"], n_boot=50)}
    for t in (0.3, 0.4, 0.5, 0.6, 0.7):
        want = evaluate_detection(truth, detections, (t,)).average_map
        assert rows[f"map@{t:.2f}"][0] == pytest.approx(want)
    assert rows["map@0.50"][1] is not None and rows["map@0.30"][1] is None
    assert rows["map_thumos14"][0] == pytest.approx(
        np.mean([rows[f"map@{t:.2f}"][0] for t in (0.3, 0.4, 0.5, 0.6, 0.7)]))


@pytest.fixture(scope="module")
def detection_run(home, tmp_path_factory):
    out = tmp_path_factory.mktemp("detection_runs") / "run"
    config = RunConfig(task="detection", root=str(home), quick=True,
                       methods=["random_segments"], folds="all", out=str(out), quiet=True,
                       options={"n_boot": 100})
    assert config.dataset == "untrimmed"  # the task's embedded default
    return run_benchmark(config)


def test_a_detection_run_writes_the_fields_files(detection_run, quick_manifest):
    results = pd.read_csv(detection_run / "results.csv")
    assert set(results["task"]) == {"detection"}
    for fold in quick_manifest.folds:
        unit = detection_run / "units" / f"random_segments__fold{fold}"
        truth = read_database_json(unit / "ground_truth.json")
        test = quick_manifest.subset(fold, "test")
        assert len(truth.segments) == len(quick_manifest.segments(test))
        detections = read_results_json(unit / "detections.json")
        assert set(detections["video_id"]) <= set(test["video_id"])
        raw = json.loads((unit / "detections.json").read_text())
        assert set(raw) >= {"version", "results", "external_data"}
        want = evaluate_detection(truth.segments, detections, (0.5,)).average_map
        got = results[(results["fold"] == fold) & (results["metric"] == "map@0.50")]["value"]
        assert float(got.iloc[0]) == pytest.approx(want)


def _official_reader(ground_truth_file, prediction_file, *, proposals=False,
                     subset="validation"):
    """The reading rules of the official ActivityNet evaluator (``ANETdetection`` /
    ``ANETproposal``), written from its documented behaviour, not copied: the ground truth
    needs ``database``, ``taxonomy`` and ``version``; the videos of ``subset`` are read and
    the classes numbered by the labels of their annotations in order of appearance; a
    prediction file needs ``results``, ``version`` and ``external_data``, and each detection's
    ``label`` is looked up in that numbering (a ``KeyError`` otherwise)."""
    gt = json.loads(ground_truth_file.read_text())
    if not all(field in gt for field in ("database", "taxonomy", "version")):
        raise OSError("Please input a valid ground truth file.")
    index, truth = {}, []
    for video, entry in gt["database"].items():
        if entry["subset"] != subset:
            continue
        for ann in entry["annotations"]:
            index.setdefault(ann["label"], len(index))
            truth.append((video, float(ann["segment"][0]), float(ann["segment"][1]),
                          ann["label"]))
    pred = json.loads(prediction_file.read_text())
    if not all(field in pred for field in ("results", "version", "external_data")):
        raise OSError("Please input a valid prediction file.")
    found = []
    for video, results in pred["results"].items():
        for r in results:
            label = "proposal" if proposals else r["label"]
            if not proposals:
                index[label]  # noqa: B018 -- the evaluator's lookup: KeyError on another label
            found.append((video, float(r["segment"][0]), float(r["segment"][1]), label,
                          float(r["score"])))
    columns = ["video_id", "t_start", "t_end", "label"]
    return (pd.DataFrame(truth, columns=columns),
            pd.DataFrame(found, columns=[*columns, "score"]))


def test_every_unit_file_reads_with_the_official_evaluators_rules(detection_run):
    results = pd.read_csv(detection_run / "results.csv")
    units = sorted((detection_run / "units").glob("*__fold*"))
    assert units
    for unit in units:
        truth, detections = _official_reader(unit / "ground_truth.json",
                                             unit / "detections.json")
        _, proposals = _official_reader(unit / "ground_truth.json", unit / "proposals.json",
                                        proposals=True)
        timing = json.loads((unit / "timing.json").read_text())
        assert len(proposals) == timing["n_detections"] >= len(detections)
        assert set(detections["label"]) <= set(truth["label"])
        # what the evaluator reads gives the unit's own mAP
        method, fold = unit.name.split("__fold")
        row = results[(results["method"] == method) & (results["fold"] == int(fold))
                      & (results["metric"] == "map_activitynet")]
        assert evaluate_detection(truth, detections).average_map == pytest.approx(
            float(row["value"].iloc[0]))
    # the check can fail: a detection of a class without ground truth stops the evaluator
    unit = units[0]
    raw = json.loads((unit / "detections.json").read_text())
    video = next(v for v, r in raw["results"].items() if r)
    raw["results"][video].append({"segment": [0.0, 1.0], "label": "no such class",
                                  "score": 0.5})
    planted = unit.parent.parent / "planted.json"
    planted.write_text(json.dumps(raw))
    with pytest.raises(KeyError):
        _official_reader(unit / "ground_truth.json", planted)


def test_the_detection_report_has_its_sections(detection_run):
    text = write_report(detection_run).read_text()
    assert "## Leaderboard" in text and "## Per-class AP" in text
    assert "mAP 0.5:0.95 (ActivityNet)" in text and "`random_segments`" in text
    assert "## Error analysis" in text and "could not be generated" not in text
    assert "## Proposals: average recall" in text
    assert "## What each generation added" not in text  # one method: no step to measure
    assert (detection_run / "figures" / "detection_timelines.png").stat().st_size > 0


def test_task_and_dataset_must_agree(home, tmp_path):
    with pytest.raises(RunConfigError, match="no temporal annotations"):
        run_benchmark(RunConfig(task="detection", dataset="synthetic", root=str(home),
                                quick=True, methods=["random_segments"], out=str(tmp_path / "a"),
                                quiet=True))
    with pytest.raises(RunConfigError, match="--task detection"):
        run_benchmark(RunConfig(dataset="untrimmed", root=str(home), quick=True,
                                methods=["chance"], out=str(tmp_path / "b"), quiet=True))


def test_the_random_floor_is_registered_for_detection():
    detector = build_method("random_segments", MethodContext(seed=4))
    assert isinstance(detector, RandomSegmentDetector) and detector.random_state == 4


@pytest.mark.parametrize(("argv", "dataset"), [
    (["run", "--task", "detection"], "untrimmed"),
    (["run"], "synthetic"),
    (["run", "--task", "detection", "--dataset", "folder"], "folder"),
])
def test_the_command_line_default_dataset_follows_the_task(argv, dataset):
    from bench.cli import build_parser
    from bench.cli.run import _config_from_args

    assert _config_from_args(build_parser().parse_args(argv)).dataset == dataset


# ---------------------------------------------------------------------------- real layouts
def _placeholder_video(path, seconds: float, fps: float = 2.0) -> None:
    """A tiny grey MJPG video of ``seconds`` (the frame count and rate give its length)."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (32, 24))
    for i in range(int(seconds * fps)):
        writer.write(np.full((24, 32, 3), 40 + i % 50, np.uint8))
    writer.release()


def _thumos_tree(base):
    """The THUMOS'14 layout (documented line format, CRLF class lists) with a missing video."""
    notes = base / "annotations"
    lines = {"val": {"BaseballPitch": ["video_validation_0000051  67.5 75.9",
                                       "video_validation_0000052  3.0 9.2"],
                     "CliffDiving": ["video_validation_0000053  10.1 15.0"],
                     "Ambiguous": ["video_validation_0000051  20.0 22.0"]},
             "test": {"BaseballPitch": ["video_test_0000004  12.0 18.5",
                                        "video_test_0000007  40.2 44.0"],
                      "CliffDiving": ["video_test_0000004  30.0 33.3"],
                      "Ambiguous": ["video_test_0001292  5.0 9.0"]}}
    for subset, files in lines.items():
        folder = notes / subset
        folder.mkdir(parents=True)
        (folder / "detclasslist.txt").write_bytes(b"7 BaseballPitch\r\n26 CliffDiving\r\n")
        for name, rows in files.items():
            (folder / f"{name}_{subset}.txt").write_text("\n".join(rows) + "\n")
    videos = base / "videos"
    videos.mkdir()
    for name in ("video_validation_0000051", "video_validation_0000052", "video_test_0000004",
                 "video_test_0001292"):  # 0000053 and 0000007 are missing
        _placeholder_video(videos / f"{name}.avi", 80.0)
    return videos, notes


def test_a_thumos14_tree_runs_end_to_end_with_missing_videos(tmp_path):
    videos, notes = _thumos_tree(tmp_path)
    base = dict(task="detection", dataset="thumos14", root=str(videos),
                annotations=str(notes), methods=["random_segments"], quiet=True,
                options={"n_boot": 50})
    with pytest.raises(RunConfigError, match="video_validation_0000053"):
        run_benchmark(RunConfig(**base, out=str(tmp_path / "strict")))
    run_dir = run_benchmark(RunConfig(**base, allow_missing=True, out=str(tmp_path / "run")))
    record = json.loads((run_dir / "run.json").read_text())
    assert record["dataset"]["meta"]["missing"] == ["val: video_validation_0000053",
                                                    "test: video_test_0000007"]
    assert record["dataset"]["folds"]["1"]["counts"] == {"train": 2, "test": 2, "unused": 0}
    assert record["dataset"]["meta"]["ambiguous"] == [["video_validation_0000051", 20.0, 22.0],
                                                      ["video_test_0001292", 5.0, 9.0]]
    truth = read_database_json(run_dir / "units" / "random_segments__fold1" / "ground_truth.json")
    assert sorted(truth.segments["t_start"]) == [12.0, 30.0]  # the test subset's instances
    report = write_report(run_dir).read_text()
    assert "2 annotated video(s) were left out" in report and "video_test_0000007" in report


def test_a_folder_of_own_videos_with_a_segments_csv_runs(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    rows = ["video,start,end,label"]
    for k in range(4):
        _placeholder_video(videos / f"clip{k}.avi", 20.0)
        rows += [f"clip{k},{1 + k},{4 + k},wave", f"clip{k},{10 + k},{12.5 + k},jump"]
    csv = tmp_path / "segments.csv"
    csv.write_text("\n".join(rows) + "\n")
    run_dir = run_benchmark(RunConfig(
        task="detection", dataset="segments", root=str(videos), annotations=str(csv),
        dataset_options={"n_splits": 2}, folds="all", methods=["random_segments"], quiet=True,
        out=str(tmp_path / "run"), options={"n_boot": 20}))
    results = pd.read_csv(run_dir / "results.csv")
    assert sorted(results["fold"].unique()) == [1, 2]
    record = json.loads((run_dir / "run.json").read_text())
    assert record["dataset"]["classes"] == ["jump", "wave"]
    for fold in ("1", "2"):
        assert record["dataset"]["folds"][fold]["counts"] == {"train": 2, "test": 2, "unused": 0}


def test_the_proposals_table_is_the_mean_ar_of_the_units(detection_run):
    from bench.report.detection import AR_AT, average_recall_table
    from bench.run.rundir import load_run
    from bench.tasks.detection import average_recall

    table = average_recall_table(load_run(detection_run)).set_index("method")
    per_fold = []
    for unit in sorted((detection_run / "units").glob("random_segments__fold*")):
        truth = read_database_json(unit / "ground_truth.json").segments
        per_fold.append(average_recall(
            truth, read_results_json(unit / "proposals.json", proposals=True)))
    for n in AR_AT:
        assert table.at["random_segments", f"AR@{n}"] == pytest.approx(
            np.mean([r.at(n) for r in per_fold]))
    assert table.at["random_segments", "AUC"] == pytest.approx(np.mean([r.auc for r in per_fold]))
    assert 0 < table.at["random_segments", "AR@100"] <= 1


def test_each_generation_step_is_the_paired_change_between_the_best_methods(detection_run):
    """An oracle method (the ground truth itself, year 2099) after the random floor."""
    from bench.report.detection import unit_tables
    from bench.report.detection_generations import detection_generation_steps
    from bench.run.rundir import load_run

    data = load_run(detection_run)
    tables = unit_tables(data)
    oracle = [("oracle", fold, truth, truth.assign(score=1.0)) for _, fold, truth, _ in tables]
    data.run["methods"]["oracle"] = {"track": "classical", "year": 2099}
    data.results = pd.concat([data.results, pd.DataFrame(
        [{"method": "oracle", "fold": fold, "metric": "map@0.50", "value": 1.0}
         for _, fold, _, _ in oracle])], ignore_index=True)
    steps = detection_generation_steps(data, tables + oracle, n_boot=50)
    assert len(steps) == 1
    step = steps.iloc[0]
    assert (step["from_method"], step["to_method"]) == ("random_segments", "oracle")
    assert step["from_generation"] == "floor" and step["to_generation"] == "2099"
    floor = [evaluate_detection(t, d, (0.5,)).average_map for _, _, t, d in tables]
    assert step["d_map"] == pytest.approx(100 * (1 - np.mean(floor)))
    assert step["n_folds"] == len(tables) and np.isnan(step["p_value"])
    assert step["d_share:true positive"] > 0
    from bench.tasks.detection.paired import paired_map_test

    one = detection_generation_steps(data, [t for t in tables + oracle if t[1] == 1], n_boot=50)
    (_, _, truth, floor_det), = [t for t in tables if t[1] == 1]
    want = paired_map_test(truth, floor_det, truth.assign(score=1.0), n_boot=50, n_perm=50)
    assert one.iloc[0]["p_value"] == pytest.approx(want.p_value)
    assert (one.iloc[0]["d_low"], one.iloc[0]["d_high"]) == pytest.approx(
        tuple(100 * x for x in want.interval))


def test_the_floor_table_pairs_every_method_with_the_random_floor(detection_run):
    """An oracle beats the floor on every fold (interval above zero); a method that returns the
    floor's own detections does not (change 0, interval [0, 0])."""
    from bench.report.detection import unit_tables
    from bench.report.detection_generations import floor_comparison
    from bench.run.rundir import load_run
    from bench.tasks.detection.paired import paired_map_test

    data = load_run(detection_run)
    tables = unit_tables(data)
    extra = [(name, fold, truth, det) for _, fold, truth, floor_det in tables
             for name, det in (("oracle", truth.assign(score=1.0)), ("copycat", floor_det))]
    data.run["methods"]["oracle"] = {"track": "classical", "year": 2099}
    data.run["methods"]["copycat"] = {"track": "deep", "year": 2098}
    table = floor_comparison(data, tables + extra, n_boot=50)
    assert table["method"].tolist() == ["copycat"] * len(tables) + ["oracle"] * len(tables)
    by = {(r["method"], r["fold"]): r for r in table.to_dict("records")}
    for _, fold, truth, floor_det in tables:
        want = paired_map_test(truth, floor_det, truth.assign(score=1.0), n_boot=50, n_perm=50)
        got = by[("oracle", fold)]
        assert got["d_map"] == pytest.approx(100 * want.difference)
        assert (got["d_low"], got["d_high"]) == pytest.approx(
            tuple(100 * x for x in want.interval))
        assert got["beats"] == (want.interval[0] > 0)
        copy = by[("copycat", fold)]
        assert copy["d_map"] == 0 and not copy["beats"]


# ------------------------------------------------------------------ compare and calibrate
def _copy_run(run_dir, to):
    import shutil

    shutil.copytree(run_dir, to)
    return to


def _shift_video(unit_dir, seconds=3.0):
    """Move every detection of the first listed video with detections by ``seconds``."""
    path = unit_dir / "detections.json"
    raw = json.loads(path.read_text())
    video = next(v for v, entries in sorted(raw["results"].items()) if entries)
    for entry in raw["results"][video]:
        entry["segment"] = [entry["segment"][0] + seconds, entry["segment"][1] + seconds]
    path.write_text(json.dumps(raw))
    return video


def test_a_detection_run_reproduces_bitwise_against_itself(detection_run, tmp_path):
    from bench.report.compare import compare_runs, comparison_markdown

    table, status = compare_runs(detection_run, _copy_run(detection_run, tmp_path / "copy"))
    assert status == 0 and set(table["mark"]) == {"="} and set(table["test"]) == {"bitwise"}
    assert (table["d_top1"] == 0).all() and table.attrs["comparison"]["metric"] == "mAP@0.5"
    results = pd.read_csv(detection_run / "results.csv")
    at_half = results[results["metric"] == "map@0.50"].set_index(["method", "fold"])["value"]
    for row in table.itertuples():
        assert row.top1_base == pytest.approx(100 * at_half[(row.method, row.fold)])
    text = comparison_markdown(table, status)
    assert "mAP@0.5 base → cand %" in text and "McNemar" not in text


def test_a_changed_detection_is_not_reproduced_and_named(detection_run, tmp_path):
    from bench.report.compare import compare_runs

    copy = _copy_run(detection_run, tmp_path / "copy")
    video = _shift_video(copy / "units" / "random_segments__fold1")
    table, status = compare_runs(detection_run, copy)
    row = table.set_index("fold").loc[1]
    assert status == 1 and row["mark"] == "r" and video in row["note"]
    assert table.set_index("fold").loc[2, "mark"] == "="


def test_the_statistical_detection_comparison_is_the_paired_randomisation_test(
        detection_run, tmp_path):
    from bench.report.compare import compare_runs, comparison_markdown
    from bench.tasks.detection.paired import paired_map_test

    copy = _copy_run(detection_run, tmp_path / "copy")
    _shift_video(copy / "units" / "random_segments__fold1", seconds=1.0)
    table, status = compare_runs(detection_run, copy, statistical=True, n_boot=300)
    assert set(table["test"]) == {"randomisation"}
    row = table.set_index("fold").loc[1]
    unit_b, unit_c = (d / "units" / "random_segments__fold1" for d in (detection_run, copy))
    truth = read_database_json(unit_b / "ground_truth.json")
    want = paired_map_test(truth.segments, read_results_json(unit_b / "detections.json"),
                           read_results_json(unit_c / "detections.json"),
                           videos=sorted(truth.videos["video_id"]), n_boot=300, n_perm=300)
    assert row["p_value"] == pytest.approx(want.p_value)
    assert row["d_top1"] == pytest.approx(100 * want.difference)
    assert (row["d_top1_low"], row["d_top1_high"]) == pytest.approx(
        tuple(100 * x for x in want.interval))
    assert row["mark"] in {"=", "+", "-"} and status == int(row["mark"] == "-")
    assert "randomisation p" in comparison_markdown(table, status)


def test_a_detection_record_calibrates_on_its_map(detection_run, tmp_path):
    from pathlib import Path

    from bench.report.compare import compare_runs
    from bench.report.regress import calibrate
    from bench.run.rundir import load_run

    record = _copy_run(detection_run, tmp_path / "record")

    def rerun(config):  # a replicate: the record with one video's detections moved
        out = _copy_run(record, Path(config.out))
        _shift_video(out / "units" / "random_segments__fold1", seconds=0.5 * config.seed)
        return out

    calibrate(record, rerun=rerun, seeds=[1, 2, 3])
    noise = load_run(record).noise
    assert len(noise) == 4 * 2 and set(noise["replicate"]) == {0, 1, 2, 3}
    results = pd.read_csv(record / "results.csv")
    at_half = results[results["metric"] == "map@0.50"].set_index("fold")["value"]
    own = noise[noise["replicate"] == 0].set_index("fold")["top1"]
    assert own.to_dict() == pytest.approx(at_half.to_dict())
    table, status = compare_runs(record, _copy_run(detection_run, tmp_path / "cand"),
                                 statistical=True)
    assert set(table["test"]) == {"noise"} and status == 0
    assert (table["noise_sd"] >= 1.0).all()  # the detection floor, one point
    with pytest.raises(ValueError, match="same task"):
        other = _copy_run(detection_run, tmp_path / "other")
        run = json.loads((other / "run.json").read_text())
        (other / "run.json").write_text(json.dumps({**run, "task": "recognition"}))
        compare_runs(record, other)
