"""The ``untrimmed`` dataset: the generator's untrimmed multi-actor scenes as a detection or a
localization manifest.

One manifest row per video (``label`` is :data:`~bench.data.manifest.NO_LABEL`: an untrimmed
video has no single label; ``group`` is the video's actor group, which the folds hold out) and
the ground truth of the run's task:

* ``detection``: one annotation row per action instance (seconds, the class index and name,
  the actor);
* ``localization``: one box row per (keyframe, visible actor, action it performs there), the
  AVA-style keyframe ground truth of
  :func:`bench.data.datasets.localization_truth.keyframe_boxes` at AVA's one keyframe a second
  (the keyframe's frame and time, the box as fractions of the frame, the class index and
  name, the actor as ``person_id``). Visible actors doing no action are not boxes of it, as on
  AVA.

The videos and the ground truth come from
:func:`bench.data.datasets.untrimmed.generate_untrimmed`, cached under
``$ACTBENCH_HOME/untrimmed/<key>/`` like the recognition set; both tasks share the videos.
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

from bench.data.annotations.ava import AVA_KEYFRAME_RATE
from bench.data.datasets import register_dataset
from bench.data.datasets.localization_truth import keyframe_boxes
from bench.data.datasets.untrimmed import (
    CLASSES,
    UntrimmedDataset,
    generate_untrimmed,
    untrimmed_params,
)
from bench.data.manifest import BOX_ANNOTATION_COLUMNS, NO_LABEL, Manifest

__all__ = ["UNTRIMMED_TASKS", "load_untrimmed_manifest", "manifest_of",
           "localization_manifest_of"]

#: The tasks whose ground truth the untrimmed scenes give.
UNTRIMMED_TASKS = ("detection", "localization")


def _video_table(dataset: UntrimmedDataset) -> pd.DataFrame:
    """One manifest row per video: no single label, the actor group, the folds."""
    videos = dataset.videos
    folds = [c for c in videos.columns if c.startswith("fold") and c[4:].isdigit()]
    return pd.DataFrame({
        "video_id": videos["video_id"].astype(str),
        "path": videos["path"].astype(str),
        "label": NO_LABEL,
        "label_name": "",
        "group": videos["group"].astype(str),
        **{fold: videos[fold] for fold in folds},
    })


def _meta(dataset: UntrimmedDataset, preset: str, task: str) -> dict[str, Any]:
    videos = dataset.videos
    return {
        "task": task,
        "allow_flip": True,  # no class is named by a direction: mirror images keep labels
        "preset": preset,
        "seed": dataset.seed,
        "durations": {str(v): float(d) for v, d in zip(videos["video_id"], videos["duration_s"],
                                                       strict=True)},
        "fps": {str(v): float(f) for v, f in zip(videos["video_id"], videos["fps"], strict=True)},
    }


def manifest_of(dataset: UntrimmedDataset, preset: str) -> Manifest:
    """The detection manifest of a generated untrimmed dataset."""
    table = _video_table(dataset)
    segments = dataset.segments
    annotations = pd.DataFrame({
        "video_id": segments["video_id"].astype(str),
        "t_start": segments["t_start"].astype(float),
        "t_end": segments["t_end"].astype(float),
        "label": segments["label_id"].astype(int),
        "label_name": segments["label"].astype(str),
        "actor": segments["actor"].astype(str),
    })
    return Manifest(table, dataset.root, list(CLASSES), "untrimmed",
                    _meta(dataset, preset, "detection"), annotations)


def localization_manifest_of(dataset: UntrimmedDataset, preset: str) -> Manifest:
    """The localization manifest of a generated untrimmed dataset.

    The boxes are :func:`~bench.data.datasets.localization_truth.keyframe_boxes` at
    :data:`~bench.data.annotations.ava.AVA_KEYFRAME_RATE` (one keyframe a second), in
    :data:`~bench.data.manifest.BOX_ANNOTATION_COLUMNS`; ``meta`` adds ``keyframe_rate``,
    ``n_keyframes`` (every keyframe, with a box or not), ``no_action_boxes`` (visible actors
    without an action at a keyframe, not in the ground truth) and ``frame_size`` (width,
    height in pixels: the boxes are fractions of it).
    """
    truth = keyframe_boxes(dataset, rate_hz=AVA_KEYFRAME_RATE)
    meta = {**_meta(dataset, preset, "localization"),
            "keyframe_rate": truth.meta["keyframe_rate"],
            "n_keyframes": truth.meta["n_keyframes"],
            "no_action_boxes": truth.meta["no_action_boxes"],
            "frame_size": [int(dataset.params.width), int(dataset.params.height)]}
    return Manifest(_video_table(dataset), dataset.root, list(CLASSES), "untrimmed", meta,
                    boxes=truth.boxes[list(BOX_ANNOTATION_COLUMNS)])


@register_dataset("untrimmed", "generated untrimmed multi-actor scenes, 12 classes, temporal "
                  "detection and spatio-temporal localization (no download)", needs_root=False,
                  takes_task=True, default_options={"preset": "default"},
                  quick_options={"preset": "quick"})
def load_untrimmed_manifest(root: str | os.PathLike | None = None, annotations: str | None = None,
                            preset: str = "default", seed: int = 0, jobs: int | None = None,
                            progress: bool = False, task: str = "detection",
                            **overrides: Any) -> Manifest:
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
    task : {"detection", "localization"}
        Whose ground truth the manifest carries (:data:`UNTRIMMED_TASKS`): segments
        (:func:`manifest_of`) or keyframe boxes (:func:`localization_manifest_of`). The runner
        passes the run's task.
    **overrides
        Any :class:`~bench.data.datasets.untrimmed.UntrimmedParams` field.

    Raises
    ------
    ValueError
        ``annotations`` is given, or ``task`` is not one of :data:`UNTRIMMED_TASKS`.
    """
    if annotations is not None:
        raise ValueError("the untrimmed dataset takes no --annotations (its ground truth is "
                         "generated)")
    if task not in UNTRIMMED_TASKS:
        raise ValueError(f"the untrimmed dataset serves the tasks {', '.join(UNTRIMMED_TASKS)}; "
                         f"got task {task!r}. Fix: run it with --task detection or --task "
                         "localization (recognition: the synthetic dataset)")
    params = untrimmed_params(preset, **overrides)
    dataset = generate_untrimmed(root, params, seed, jobs=jobs, progress=progress)
    if task == "localization":
        return localization_manifest_of(dataset, preset)
    return manifest_of(dataset, preset)
