"""The ``untrimmed`` dataset: the generator's untrimmed multi-actor scenes as a detection manifest.

One manifest row per video (``label`` is :data:`~bench.data.manifest.NO_LABEL`: an untrimmed
video has no single label; ``group`` is the video's actor group, which the folds hold out) and
one annotation row per action instance (seconds, the class index and name, the actor). The
videos and the ground truth come from :func:`bench.data.datasets.untrimmed.generate_untrimmed`,
cached under ``$ACTBENCH_HOME/untrimmed/<key>/`` like the recognition set.
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

from bench.data.datasets import register_dataset
from bench.data.datasets.untrimmed import (
    CLASSES,
    UntrimmedDataset,
    generate_untrimmed,
    untrimmed_params,
)
from bench.data.manifest import NO_LABEL, Manifest

__all__ = ["load_untrimmed_manifest", "manifest_of"]


def manifest_of(dataset: UntrimmedDataset, preset: str) -> Manifest:
    """The detection manifest of a generated untrimmed dataset."""
    videos = dataset.videos
    folds = [c for c in videos.columns if c.startswith("fold") and c[4:].isdigit()]
    table = pd.DataFrame({
        "video_id": videos["video_id"].astype(str),
        "path": videos["path"].astype(str),
        "label": NO_LABEL,
        "label_name": "",
        "group": videos["group"].astype(str),
        **{fold: videos[fold] for fold in folds},
    })
    segments = dataset.segments
    annotations = pd.DataFrame({
        "video_id": segments["video_id"].astype(str),
        "t_start": segments["t_start"].astype(float),
        "t_end": segments["t_end"].astype(float),
        "label": segments["label_id"].astype(int),
        "label_name": segments["label"].astype(str),
        "actor": segments["actor"].astype(str),
    })
    meta = {
        "task": "detection",
        "allow_flip": True,  # no class is named by a direction: mirror images keep labels
        "preset": preset,
        "seed": dataset.seed,
        "durations": {str(v): float(d) for v, d in zip(videos["video_id"], videos["duration_s"],
                                                       strict=True)},
        "fps": {str(v): float(f) for v, f in zip(videos["video_id"], videos["fps"], strict=True)},
    }
    return Manifest(table, dataset.root, list(CLASSES), "untrimmed", meta, annotations)


@register_dataset("untrimmed", "generated untrimmed multi-actor scenes, 12 classes, temporal "
                  "detection (no download)", needs_root=False,
                  default_options={"preset": "default"}, quick_options={"preset": "quick"})
def load_untrimmed_manifest(root: str | os.PathLike | None = None, annotations: str | None = None,
                            preset: str = "default", seed: int = 0, jobs: int | None = None,
                            progress: bool = False, **overrides: Any) -> Manifest:
    """Generate (or reuse from the cache) the untrimmed dataset and return its manifest.

    Parameters
    ----------
    root : path-like, optional
        Cache home instead of ``$ACTBENCH_HOME``.
    annotations : None
        Not used: the generator writes its own ground truth.
    preset : {"default", "quick"}
        :data:`bench.data.datasets.untrimmed.PRESETS`.
    seed : int
    jobs : int, optional
        Worker processes for the generation.
    progress : bool
    **overrides
        Any :class:`~bench.data.datasets.untrimmed.UntrimmedParams` field.
    """
    if annotations is not None:
        raise ValueError("the untrimmed dataset takes no --annotations (its ground truth is "
                         "generated)")
    params = untrimmed_params(preset, **overrides)
    dataset = generate_untrimmed(root, params, seed, jobs=jobs, progress=progress)
    return manifest_of(dataset, preset)
