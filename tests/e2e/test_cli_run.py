"""End to end through the command line: ``python -m bench list`` and ``python -m bench run``."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import accuracy_score

REPO = Path(__file__).resolve().parents[2]


def _bench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True,
                          text=True, cwd=REPO, env=env, timeout=300)


def test_list_prints_datasets_and_methods():
    out = _bench("list")
    assert out.returncode == 0, out.stderr
    assert "Datasets" in out.stdout and "Methods" in out.stdout
    from bench.data.datasets import list_datasets
    from bench.methods import list_methods

    for info in list_datasets():
        assert info.name in out.stdout
    for card in list_methods():
        line = next(x for x in out.stdout.splitlines() if x.split()[:1] == [card.name])
        assert card.track in line and str(card.year) in line and card.paper[:20] in line


@pytest.mark.skipif(importlib.util.find_spec("bench.data.datasets.synthetic") is None,
                    reason="bench.data.datasets.synthetic has not landed yet")
def test_run_quick_chance_on_synthetic(tmp_path):
    env = dict(os.environ)
    # CI shares one ACTBENCH_HOME (the quick dataset is generated once); else a private one
    env.setdefault("ACTBENCH_HOME", str(tmp_path / "home"))
    out_dir = tmp_path / "run"
    out = _bench("run", "--quick", "--methods", "chance", "--out", str(out_dir), "--quiet",
                 env=env)
    assert out.returncode == 0, out.stderr
    assert f"run directory: {out_dir}" in out.stdout
    record = json.loads((out_dir / "run.json").read_text())
    assert record["status"] == "complete"
    assert record["config"]["dataset"] == "synthetic"
    assert record["config"]["dataset_options"]["preset"] == "quick"
    assert record["dataset"]["folds"]["1"]["counts"]["test"] > 0
    preds = pd.read_csv(out_dir / "predictions.csv")
    assert len(preds) == record["dataset"]["folds"]["1"]["counts"]["test"]
    assert set(preds["fingerprint"]) == {record["dataset"]["folds"]["1"]["fingerprint"]}
    results = pd.read_csv(out_dir / "results.csv")
    top1 = results.loc[results["metric"] == "top1", "value"].iloc[0]
    assert top1 == pytest.approx(accuracy_score(preds["label"], preds["prediction"]))
    assert (out_dir / "report.md").is_file()


def test_same_environment_twice_gives_byte_identical_predictions(tmp_path):
    """A classical and a deep method, run twice here: the same bytes, and compare says why."""
    env = dict(os.environ)
    env.setdefault("ACTBENCH_HOME", str(tmp_path / "home"))
    runs = []
    for name in ("a", "b"):
        out = _bench("run", "--quick", "--methods", "hof_bow_svm,c3d", "--out",
                     str(tmp_path / name), "--quiet", "--option", "n_boot=50", env=env)
        assert out.returncode == 0, out.stderr
        runs.append(tmp_path / name)
    first = (runs[0] / "predictions.csv").read_bytes()
    assert first == (runs[1] / "predictions.csv").read_bytes()
    assert len(pd.read_csv(runs[0] / "predictions.csv")) == 2 * 108
    records = [json.loads((r / "run.json").read_text())["environment"] for r in runs]
    assert records[0]["key"] == records[1]["key"] and records[0]["device"] == "cpu"
    out = _bench("compare", str(runs[0]), str(runs[1]), env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "**Same environment**" in out.stdout
    assert out.stdout.count("| bitwise ") == 2 and out.stdout.count("| `=`") == 2


def test_a_copied_run_directory_regenerates_its_report_with_nothing_else(tmp_path):
    """Copy a run elsewhere, delete the dataset and its cache: `bench report` gives the same bytes.

    The run has a deep method (units' history and timing feed the Training section) and the
    synthetic clip metadata (the camera-motion analysis reads ``clips.csv``).
    """
    home = tmp_path / "home"  # private: this test deletes the generated dataset
    env = {**os.environ, "ACTBENCH_HOME": str(home)}
    original = tmp_path / "run"
    out = _bench("run", "--quick", "--methods", "chance,tsn", "--out", str(original),
                 "--quiet", "--option", "n_boot=50", env=env)
    assert out.returncode == 0, out.stderr
    report = (original / "report.md").read_bytes()
    assert b"## Training" in report and b"camera" in report.lower()
    record = json.loads((original / "run.json").read_text())
    assert record["task"] == "recognition" and record["run_dir_format"] == 2
    assert set(pd.read_csv(original / "results.csv")["task"]) == {"recognition"}
    timing = json.loads((original / "units" / "tsn__fold1" / "timing.json").read_text())
    assert timing["budget"]["epochs"] >= timing["epochs_run"] >= 1  # for the convergence check
    assert timing["stages"]["fit"]["training epochs"] > 0  # where the time went
    assert b"## Where the time went" in report

    copy = tmp_path / "elsewhere" / "copied-run"
    shutil.copytree(original, copy)
    (copy / "report.md").unlink()
    shutil.rmtree(copy / "figures")
    shutil.rmtree(original)
    shutil.rmtree(home)
    assert not Path(record["dataset"]["root"]).exists()
    out = _bench("report", str(copy), env={**os.environ, "ACTBENCH_HOME": str(tmp_path / "none")})
    assert out.returncode == 0, out.stderr
    assert (copy / "report.md").read_bytes() == report
    assert (copy / "figures" / "training_curves.png").is_file()
