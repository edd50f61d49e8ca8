"""The run's videos: the dataset's manifest, checked against the disk, and the probe.

Before any method runs, the probe opens every video of the chosen folds and decodes its first
frame (:func:`bench.data.video.probe_video`). Unreadable files are recorded in
``failures.csv`` (method ``*``, stage ``probe``, one row per fold using the video) and removed
from the manifest, so every method sees the same videos.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.data.manifest import Manifest, fold_column
from bench.run.config import RunConfig, RunConfigError

__all__ = ["load_manifest", "probe", "probe_failure_rows", "failure_message"]


def load_manifest(config: RunConfig) -> tuple[Manifest, list[str]]:
    """The dataset's manifest, minus (with ``allow_missing``) the files missing on disk.

    An adapter that serves several tasks (``DatasetInfo.takes_task``: the untrimmed scenes)
    gets the run's task, so that it builds that task's ground truth.
    """
    from bench.data.datasets import dataset_info, load_dataset

    options = dict(config.dataset_options)
    if config.protocol is not None:
        options["protocol"] = config.protocol
    info = dataset_info(config.dataset)
    if info is not None and info.handles_missing and config.allow_missing:
        options["allow_missing"] = True
    if info is not None and info.takes_task:
        options["task"] = config.task
    try:
        manifest = load_dataset(config.dataset, config.root, config.annotations, **options)
    except KeyError as exc:
        raise RunConfigError(str(exc.args[0]) if exc.args else str(exc)) from None
    except (ValueError, OSError) as exc:
        raise RunConfigError(f"dataset {config.dataset!r}: {exc}") from exc
    missing = manifest.missing_files()
    if missing and not config.allow_missing:
        shown = "\n  ".join(missing[:10])
        raise RunConfigError(
            f"{len(missing)} video(s) listed by dataset {config.dataset!r} are missing under "
            f"{manifest.root}; first ones:\n  {shown}\nFix the root, or pass --allow-missing "
            "to exclude them (they are recorded in run.json)."
        )
    if missing:
        missing_set = set(missing)
        ids = manifest.table.loc[manifest.table["path"].isin(missing_set), "video_id"].tolist()
        manifest = manifest.drop_videos(ids)
    return manifest, missing


def _used_rows(manifest: Manifest, folds: Sequence[int]):
    used = np.zeros(len(manifest.table), dtype=bool)
    for fold in folds:
        used |= manifest.table[fold_column(fold)].isin(("train", "test")).to_numpy()
    return manifest.table[used]


def _probe_one(path: str) -> str | None:
    from bench.data.video import VideoDecodeError, probe_video

    try:
        probe_video(path)
    except VideoDecodeError as exc:
        return exc.reason
    except Exception as exc:  # noqa: BLE001 - any failure to open is a probe failure
        return f"{type(exc).__name__}: {exc}"
    return None


def probe(manifest: Manifest, folds: Sequence[int], jobs: int, progress: bool):
    """Probe every video used by ``folds``; returns ``[(video_id, path, reason), ...]``."""
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    rows = _used_rows(manifest, folds)
    paths = manifest.paths(rows)
    results = Parallel(n_jobs=jobs, prefer="threads", return_as="generator")(
        delayed(_probe_one)(p) for p in paths
    )
    reasons = list(tqdm(results, total=len(paths), desc="probe", unit="video",
                        disable=not progress, file=sys.stderr))
    failed = [
        (vid, rel, reason)
        for vid, rel, reason in zip(rows["video_id"], rows["path"], reasons, strict=True)
        if reason is not None
    ]
    return failed, len(paths)


def probe_failure_rows(manifest: Manifest, folds: Sequence[int], failed) -> list[list[str]]:
    subsets = manifest.table.set_index("video_id")
    rows = []
    for vid, rel, reason in failed:
        for fold in folds:
            if subsets.at[vid, fold_column(fold)] in ("train", "test"):
                rows.append(["*", str(fold), rel, "probe", reason])
    return rows


def failure_message(n_failed: int, n_total: int, limit: float, examples, where: str,
                     run_dir: Path) -> str:
    rate = n_failed / max(n_total, 1)
    shown = "\n  ".join(f"{video}: {reason}" for video, reason in examples[:5])
    return (
        f"{n_failed} of {n_total} videos ({rate:.1%}) failed {where}, above "
        f"--max-failure-rate {limit:g} ({limit:.1%}). First failures:\n  {shown}\n"
        "Fix or remove those files, or raise --max-failure-rate. The full list is in "
        f"{run_dir / 'failures.csv'}."
    )
