"""Hand-made run directories (the format of :mod:`bench.run.rundir`) for the report, compare and history tests.

A run directory is built from chosen per-method predictions; ``results.csv`` is computed with
:func:`bench.tasks.recognition.metrics.classification_metrics`, so that tests can check the report against an
independent recomputation with scikit-learn.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from bench.tasks.recognition.metrics import classification_metrics

CLASSES = ["walk", "run", "sit_down", "stand_up", "wave", "clap"]
PAIRS = {"time_reversal": ["sit_down", "stand_up"], "speed": ["walk", "run"]}

#: predictor(labels, rng) -> predicted labels; labels are the test labels of one fold.
Predictor = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def perfect(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return labels.copy()


def confuses(*pairs: tuple[str, str]) -> Predictor:
    """Right on every class except the given pairs, where it always picks the pair's first class."""

    def predict(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        pred = labels.copy()
        for a, b in pairs:
            ia, ib = CLASSES.index(a), CLASSES.index(b)
            pred[np.isin(labels, [ia, ib])] = ia
        return pred

    return predict


def noisy(error_rate: float) -> Predictor:
    """Right except for a random share ``error_rate`` of videos, which get another class."""

    def predict(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        pred = labels.copy()
        wrong = rng.random(len(labels)) < error_rate
        pred[wrong] = (labels[wrong] + rng.integers(1, len(CLASSES), wrong.sum())) % len(CLASSES)
        return pred

    return predict


def scores_for(pred: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A score matrix whose arg-max is ``pred`` (other classes get noise below it)."""
    scores = rng.uniform(0.0, 0.5, size=(len(pred), len(CLASSES)))
    scores[np.arange(len(pred)), pred] = 1.0
    return scores


def write_metrics(out: Path) -> None:
    """(Re)compute ``results.csv`` from ``predictions.csv`` and the cards in ``run.json``."""
    run = json.loads((out / "run.json").read_text())
    preds = pd.read_csv(out / "predictions.csv", dtype={"video_id": str})
    rows = []
    for (method, fold), group in preds.groupby(["method", "fold"], sort=True):
        card = run["methods"][method]
        ok = group["scores"].notna()
        scores = np.array([s.split() for s in group.loc[ok, "scores"]], dtype=float)
        m = classification_metrics(group.loc[ok, "label"].to_numpy(int), scores, n_boot=200)
        base = dict(method=method, track=card["track"], fold=fold,
                    fingerprint=group["fingerprint"].iloc[0], n=m.n)
        for metric in ("top1", "top5", "mean_class_acc", "macro_precision", "macro_recall",
                       "macro_f1"):
            low, high = m.ci.get(metric, (None, None))
            rows.append({**base, "metric": metric, "value": getattr(m, metric),
                         "ci_low": low, "ci_high": high})
        for i, cls in enumerate(CLASSES):
            rows.append({**base, "metric": f"f1:{cls}", "value": m.f1[i]})
        rows += [{**base, "metric": "params", "value": card["params"]},
                 {**base, "metric": "flops_per_clip", "value": card["flops_per_clip"]},
                 {**base, "metric": "train_time_s", "value": 1.5 + card["year"] % 7},
                 {**base, "metric": "infer_clips_per_s", "value": 40.0}]
    pd.DataFrame(rows).to_csv(out / "results.csv", index=False)


def make_run(out: Path, methods: dict[str, tuple[int, str, Predictor]], *, folds: int = 1,
             per_class: int = 10, seed: int = 0, split_salt: str = "",
             camera_motion: bool = True) -> Path:
    """Write a complete run directory.

    Parameters
    ----------
    methods : dict
        name -> (year, track, predictor).
    per_class : int
        Test videos per class and fold.
    split_salt : str
        Changes the fingerprints (a different split).
    """
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n_classes = len(CLASSES)
    labels = np.repeat(np.arange(n_classes), per_class)
    ids = [f"v{i:04d}" for i in range(len(labels))]
    clips = pd.DataFrame({"video_id": ids, "camera_motion": np.arange(len(ids)) % 3 == 0})
    if camera_motion:  # the run directory keeps the dataset's clip metadata (clips.csv)
        clips.to_csv(out / "clips.csv", index=False)
    fingerprints = {
        k: hashlib.sha256(f"fold{k}{split_salt}".encode()).hexdigest() for k in range(1, folds + 1)
    }
    cards = {}
    rows = []
    for name, (year, track, predictor) in methods.items():
        cards[name] = dict(name=name, track=track, family="test", year=year, paper=f"{name} paper",
                           protocol="one view", params=1000 * year, flops_per_clip=10**6 * year,
                           description="", method_params={"k": 1})
        for fold in range(1, folds + 1):
            pred = predictor(labels, rng)
            scores = scores_for(pred, rng)
            top5 = np.argsort(-scores, axis=1, kind="stable")[:, :5]
            for vid, y, p, t5, s in zip(ids, labels, pred, top5, scores, strict=True):
                rows.append(dict(method=name, fold=fold, fingerprint=fingerprints[fold],
                                 video_id=vid, label=y, prediction=p,
                                 top5=" ".join(map(str, t5)),
                                 scores=" ".join(f"{v:.6g}" for v in s)))
    run = {
        "actbench_version": "0.1.0", "benchmark_version": 1, "created": "2026-01-01T00:00:00",
        "config": {"dataset": "handmade", "seed": seed, "quick": True, "methods": list(methods),
                   "method_params": {}, "protocol": None, "dataset_options": {}},
        "seed": seed, "git_commit": {"commit": "abc123", "dirty": False},
        "machine": {"python": "3.11"}, "packages": {"numpy": np.__version__},
        "dataset": {"name": "handmade", "classes": CLASSES,
                    "meta": {"class_pairs": PAIRS},
                    "folds": {str(k): {"fingerprint": fp, "counts": {"train": 0,
                                                                     "test": len(ids)}}
                              for k, fp in fingerprints.items()}},
        "methods": cards, "status": "complete",
    }
    (out / "run.json").write_text(json.dumps(run, indent=2))
    pd.DataFrame(rows).to_csv(out / "predictions.csv", index=False)
    pd.DataFrame(columns=["method", "fold", "video", "stage", "reason"]).to_csv(
        out / "failures.csv", index=False)
    write_metrics(out)
    return out


def history_suite() -> dict[str, tuple[int, str, Predictor]]:
    """Chance floor, a 2005 method that confuses both pairs, 2008 solves speed, 2015 solves all."""
    return {
        "chance_ref": (1900, "reference", noisy(0.8)),
        "old_appearance": (2005, "classical", confuses(("sit_down", "stand_up"), ("walk", "run"))),
        "motion_hist": (2008, "classical", confuses(("sit_down", "stand_up"))),
        "deep_3d": (2015, "deep", perfect),
    }


def write_folder_dataset(root: Path, classes: tuple[str, ...] = ("blue", "red"),
                         groups: int = 10, frames: int = 4) -> Path:
    """ROOT/<class>/g<k>_1.avi: tiny MJPG videos for the ``folder`` dataset (one per group)."""
    import cv2

    colors = [(220, 40, 40), (40, 40, 220), (40, 220, 40)]
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for g in range(groups):
            writer = cv2.VideoWriter(str(root / name / f"g{g:02d}_1.avi"),
                                     cv2.VideoWriter_fourcc(*"MJPG"), 25, (16, 16))
            for _ in range(frames):
                writer.write(np.full((16, 16, 3), colors[c % len(colors)], np.uint8))
            writer.release()
    return root


def folder_config(root: Path, out: Path, **overrides):
    """A RunConfig of the ``chance`` method on a folder dataset, 2-fold, quiet, 1 job."""
    from bench.run.config import RunConfig

    base = dict(dataset="folder", root=str(root), protocol="kfold",
                dataset_options={"n_splits": 2}, methods=["chance"], folds="all", jobs=1,
                quiet=True, out=str(out), options={"n_boot": 50})
    base.update(overrides)
    return RunConfig(**base)


def set_environment(run_dir: Path, cpu_model: str, device: str = "cpu") -> None:
    """Give a hand-made run an environment record (as bench.run.environment writes it)."""
    from bench.run.environment import environment_key

    record = json.loads((run_dir / "run.json").read_text())
    info = {"cpu_model": cpu_model, "cpu_flags": {"avx2": True, "avx512f": "AVX-512" in cpu_model},
            "device": device, "kernel_env": {}}
    info["key"] = environment_key(info, record["packages"])
    record["environment"] = info
    (run_dir / "run.json").write_text(json.dumps(record))


def write_noise(run_dir: Path, sd_points: float, n_runs: int = 9, seed: int = 5) -> None:
    """A noise.csv: the record itself plus replicates spread around it by ``sd_points``."""
    from bench.report.noise import replicate_rows
    from bench.run.rundir import load_run

    data = load_run(run_dir)
    own = pd.DataFrame(replicate_rows(data.predictions, replicate=0, seed=0, environment="e"))
    rng = np.random.default_rng(seed)
    rows = [own]
    for r in range(1, n_runs):
        other = own.copy()
        moved = np.round((own["top1"] + rng.normal(0, sd_points / 100, len(own))) * own["n"])
        other["n_correct"] = np.clip(moved, 0, own["n"]).astype(int)
        other["top1"] = other["n_correct"] / other["n"]
        other["replicate"], other["seed"] = r, r
        rows.append(other)
    pd.concat(rows).to_csv(run_dir / "noise.csv", index=False)
