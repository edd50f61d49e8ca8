"""bench.report.history (accuracy across release records) and bench.report.regress (the regression gate)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import matplotlib.image as mpimg
import pandas as pd
import pytest
from _report_runs import folder_config, make_run, noisy, perfect, write_folder_dataset
from sklearn.metrics import accuracy_score

from bench.cli import main as cli_main
from bench.cli.run import run_and_report
from bench.report.compare import compare_runs
from bench.report.history import collect_history, find_records, version_key
from bench.report.regress import regress


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> Path:
    """reports/{0.2.0, 0.10.0, 0.1.0, 0.1.0/quick}: written out of version order on purpose."""
    root = tmp_path_factory.mktemp("reports")
    make_run(root / "0.2.0", {"a": (2008, "classical", noisy(0.3)),
                              "b": (2015, "deep", noisy(0.1))}, seed=2)
    make_run(root / "0.10.0", {"a": (2008, "classical", noisy(0.2)),
                               "b": (2015, "deep", perfect)}, seed=3, folds=2)
    make_run(root / "0.1.0", {"a": (2008, "classical", noisy(0.5))}, seed=1)
    make_run(root / "0.1.0" / "quick", {"a": (2008, "classical", noisy(0.6))}, seed=4,
             per_class=3)
    (root / "notes").mkdir()  # not a record: ignored
    return root


def test_records_are_found_and_ordered_by_version(reports):
    found = [(v, k) for v, k, _ in find_records(reports)]
    assert found == [("0.1.0", "default"), ("0.1.0", "quick"), ("0.2.0", "default"),
                     ("0.10.0", "default")]
    assert sorted(["0.10.0", "0.9.1", "0.2.0"], key=version_key) == ["0.2.0", "0.9.1", "0.10.0"]


def test_history_top1_is_sklearn_accuracy_of_each_record(reports):
    history = collect_history(reports)
    assert len(history) == 1 + 1 + 2 + 2
    for row in history.itertuples():
        preds = pd.read_csv(Path(row.record) / "predictions.csv")
        mine = preds[preds["method"] == row.method]
        per_fold = [accuracy_score(g["label"], g["prediction"]) for _, g in mine.groupby("fold")]
        assert row.top1 == pytest.approx(100 * sum(per_fold) / len(per_fold))
        assert row.folds == len(per_fold)


def test_history_command_writes_table_and_plot(reports, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli_main(["history", "--reports", str(reports), "--out", str(out)]) == 0
    text = (out / "history.md").read_text()
    header = next(ln for ln in text.splitlines() if ln.startswith("| method"))
    assert [c.strip() for c in header.strip("|").split("|")] == ["method", "year", "0.1.0",
                                                                  "0.2.0", "0.10.0"]
    assert "Quick record" in text and "![top-1 accuracy per release](history.png)" in text
    image = mpimg.imread(out / "history.png")
    assert image.shape[1] >= 600 and image.std() > 0
    assert pd.read_csv(out / "history.csv").shape[0] == 6
    assert "wrote" in capsys.readouterr().out


def test_history_without_records_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no release record"):
        from bench.report.history import write_history
        write_history(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        collect_history(tmp_path / "nowhere")


@pytest.fixture(scope="module")
def record(tmp_path_factory) -> Path:
    """A release record made by the runner: chance on 3 classes x 10 tiny videos, 2 folds."""
    from bench.run.runner import run_benchmark

    base = tmp_path_factory.mktemp("record")
    root = write_folder_dataset(base / "videos", classes=("blue", "red", "green"), groups=10)
    return run_benchmark(folder_config(root, base / "record"))


def test_regress_reruns_the_record_exactly_and_passes(record, tmp_path):
    status, text = regress(record, rerun=run_and_report, out=tmp_path / "rerun", quiet=True)
    assert status == 0
    assert "No significant regression" in text and text.count("| `=`") == 2
    rerun = pd.read_csv(tmp_path / "rerun" / "predictions.csv")
    original = pd.read_csv(record / "predictions.csv")
    pd.testing.assert_frame_equal(rerun, original)  # same seed, same config: same predictions


def test_regress_fails_when_the_code_is_worse_than_the_record(record, tmp_path):
    better = tmp_path / "better_record"
    shutil.copytree(record, better)
    preds = pd.read_csv(better / "predictions.csv", dtype={"video_id": str})
    preds["prediction"] = preds["label"]  # the record claims every prediction was right
    preds.to_csv(better / "predictions.csv", index=False)
    md = tmp_path / "gate.md"
    status = cli_main(["regress", "--record", str(better), "--out", str(tmp_path / "rerun"),
                       "--quiet", "--markdown", str(md)])
    # Same machine, same packages: the rerun cannot reproduce the tampered record's bytes.
    text = md.read_text()
    assert status == 1
    assert "**Regression**" in text and "**Same environment**" in text and "| `r`" in text
    assert "not reproduced: 1" in text  # chance's wrong videos of each fold, named
    # Judged statistically instead, the drop is significant (McNemar + Holm) and fails too.
    status = cli_main(["regress", "--record", str(better), "--out", str(tmp_path / "rerun2"),
                       "--quiet", "--markdown", str(md), "--statistical"])
    text = md.read_text()
    assert status == 1 and "| `-`" in text and "| `r`" not in text
    assert "--statistical" in text


def test_regress_without_a_record_says_so(tmp_path, capsys):
    assert cli_main(["regress", "--record", str(tmp_path / "missing")]) == 2
    assert "no release record" in capsys.readouterr().err


def _with_twin_method(record: Path, dest: Path, twin: str) -> Path:
    """A copy of ``record`` that also claims a second method, ``twin``, with chance's results.

    ``twin`` is in no registry: a rerun that tried to build it would fail, and a comparison
    that included it would mark it missing from the candidate (exit 1).
    """
    shutil.copytree(record, dest)
    for name in ("predictions.csv", "results.csv"):
        table = pd.read_csv(dest / name, dtype={"video_id": str})
        twin_rows = table[table["method"] == "chance"].assign(method=twin)
        pd.concat([table, twin_rows]).to_csv(dest / name, index=False)
    run = json.loads((dest / "run.json").read_text())
    run["config"]["methods"] = ["chance", twin]
    run["methods"][twin] = run["methods"]["chance"]
    (dest / "run.json").write_text(json.dumps(run))
    return dest


def test_regress_methods_reruns_and_compares_only_the_chosen_methods(record, tmp_path, capsys):
    two = _with_twin_method(record, tmp_path / "two_methods", "chance_twin")
    rerun, md = tmp_path / "rerun", tmp_path / "gate.md"
    assert cli_main(["regress", "--record", str(two), "--methods", "chance", "--out", str(rerun),
                     "--quiet", "--markdown", str(md)]) == 0
    assert json.loads((rerun / "run.json").read_text())["config"]["methods"] == ["chance"]
    assert set(pd.read_csv(rerun / "predictions.csv")["method"]) == {"chance"}
    text = md.read_text()
    assert "No significant regression" in text and text.count("| `=`") == 2  # chance x 2 folds
    # The twin is named once, in the line saying it was not rerun, and in no table row.
    assert text.count("chance_twin") == 1
    assert "Not rerun (left out by `--methods`): `chance_twin`." in text
    # The filter is what keeps the twin out: unfiltered, it is missing from the rerun.
    table, status = compare_runs(two, rerun, methods=["chance"])
    assert status == 0 and set(table["method"]) == {"chance"} and (table["mark"] == "=").all()
    table, status = compare_runs(two, rerun)
    assert status == 1 and (table[table["method"] == "chance_twin"]["mark"] == "!").all()
    # A name the record does not have: exit 2 naming the record's methods, nothing rerun.
    capsys.readouterr()
    assert cli_main(["regress", "--record", str(two), "--methods", "chance,nope", "--out",
                     str(tmp_path / "never"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "the record's methods are: chance, chance_twin" in err
    assert not (tmp_path / "never").exists()


def test_calibrate_then_the_gate_under_a_simulated_instruction_set(record, tmp_path, capsys):
    """The cross-machine case on one machine: the rerun's libraries pick AVX2 kernels."""
    calibrated = tmp_path / "calibrated"
    shutil.copytree(record, calibrated)
    assert cli_main(["calibrate", "--record", str(calibrated), "--seeds", "1-4",
                     "--quiet"]) == 0
    assert "wrote" in capsys.readouterr().out
    noise = pd.read_csv(calibrated / "noise.csv")
    assert sorted(noise["replicate"].unique()) == [0, 1, 2, 3, 4]
    assert sorted(noise["seed"].unique()) == [0, 1, 2, 3, 4]
    assert len(noise) == 5 * 2  # chance x 2 folds per replicate
    own = pd.read_csv(calibrated / "predictions.csv")
    fold1 = own[own["fold"] == 1]
    assert noise.query("replicate == 0 and fold == 1")["n_correct"].item() == (
        fold1["label"] == fold1["prediction"]).sum()
    entry = json.loads((calibrated / "run.json").read_text())["noise"]
    assert [r["seed"] for r in entry["replicates"]] == [0, 1, 2, 3, 4]
    # the record's own seed, or a single seed, is not a calibration
    assert cli_main(["calibrate", "--record", str(calibrated), "--seeds", "0,1"]) == 2
    md = tmp_path / "gate.md"
    status = cli_main(["regress", "--record", str(calibrated), "--out", str(tmp_path / "rerun"),
                       "--quiet", "--markdown", str(md), "--simulate-isa", "avx2"])
    text = md.read_text()
    assert status == 0, text
    assert "**Different environments**" in text and "simulated_isa: null -> avx2" in text
    assert text.count("| noise ") == 2 and "No significant regression" in text
    rerun = json.loads((tmp_path / "rerun" / "run.json").read_text())["environment"]
    assert rerun["simulated_isa"] == "avx2" and rerun["numba"]["cpu_name"] == "haswell"
    # a seed the record was not made with is noise too, for a calibrated record
    status, text = regress(calibrated, rerun=run_and_report, out=tmp_path / "seeded", seed=17)
    assert status == 0 and text.count("| noise ") == 2
