"""Localization ground truth of the untrimmed generator: AVA-style keyframe boxes and action tubes.

The untrimmed mode (:mod:`bench.data.datasets.untrimmed`) records every instance's actor,
class and frames (``segments``) and every actor's box in every frame (``boxes``). This module
turns those tables into the two ground truths of spatio-temporal localization:

* **keyframe boxes** (:func:`keyframe_boxes`), as AVA annotates [1]_: keyframes at a fixed rate
  (one a second by default), one row per (keyframe, visible actor, action the actor performs at
  that frame), the box as fractions of the frame, in the data stage's boxes schema
  (:class:`~bench.data.annotations.boxes.BoxAnnotations`), the unit of frame-mAP;
* **action tubes** (:func:`action_tubes`), as UCF101-24 and J-HMDB annotate [2]_: one tube per
  instance, the actor's box in every frame of the instance, the unit of video-mAP.

Visible actors doing no action at a keyframe are kept apart (:func:`keyframe_persons`, label
:data:`NO_ACTION`): AVA has no such rows, but they are persons a detector must find
(person-detection AP). :func:`two_actor_keyframes` and :func:`localization_properties` measure
the designed property these tables exist for: keyframes where two visible actors perform
different actions at once, which a whole-frame labeller cannot get both right. The
measurements are in ``docs/localization.md`` ("Ground truth from the generator").

Rules
-----
*Keyframes.* Keyframe ``k = 1, 2, ...`` of a video is the frame nearest to ``k / rate_hz``
seconds, ``frame_k = floor(k * fps / rate_hz + 1/2)`` (halves round up), for as long as
``frame_k <= n_frames - 1``. There is none at ``t = 0``: as AVA's keyframes start 2 s into each
clip, the first keyframe has a past. Its ``timestamp`` is the time of that frame,
``round(frame_k / fps, 6)`` (the ``time`` column of the boxes table), which is ``k / rate_hz``
exactly whenever ``fps / rate_hz`` is an integer (the default: 1 Hz at 25 fps gives frames 25,
50, ... and timestamps 1.0, 2.0, ...). ``rate_hz`` may not exceed the frame rate (two keyframes
would share a frame).

*Boxes.* The generator's boxes are pixel indices, ``x1, y1`` the first column and row of the
figure, ``x2, y2`` one past the last (exclusive). In continuous image coordinates, where pixel
``i`` covers ``[i, i + 1)``, that is the box ``[x1, x2) x [y1, y2)`` itself, so the normalised
box is ``(x1 / W, y1 / H, x2 / W, y2 / H)`` with no half-pixel shift and no ``- 1``: its area
is the figure box's pixel count divided by ``W H`` and a box touching the right edge has
``x2 = 1``. The boxes are amodal (the figure drawn alone: other actors and the occluder do not
shrink them) and lie inside the frame, so they are valid AVA boxes. The pixel box is kept beside
the normalised one (``x1_px .. y2_px``, as the CVAT reader does).

*Actors.* An actor with ``visible = False`` at a frame (no pixel of the figure in the frame)
gives no row at that frame: no keyframe box, no person row, no tube frame. An actor that is in
the frame but covered (``visible_fraction`` 0 behind the occluder) keeps its amodal box, as the
generator's tables do; the ``visible_fraction`` column lets a user drop such rows.

*Actions.* The action of an actor at a frame is the instance of the ``segments`` table of that
actor whose ``start_frame <= frame <= end_frame`` (inclusive). One actor's instances never
overlap, so there is at most one: a keyframe box carries exactly one action and AVA's "several
rows with the same box" never occurs. The label is the dataset's ``label_id``, the index into
:data:`~bench.data.datasets.untrimmed.CLASSES`, which is also the label map
(``BoxAnnotations.classes``).

References
----------
.. [1] C. Gu et al., "AVA: a video dataset of spatio-temporally localized atomic visual
   actions", CVPR 2018. https://doi.org/10.1109/CVPR.2018.00633
.. [2] G. Gkioxari and J. Malik, "Finding action tubes", CVPR 2015.
   https://doi.org/10.1109/CVPR.2015.7298676
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bench.data.annotations.boxes import BOX_COLUMNS, BoxAnnotations, validate_boxes
from bench.data.datasets.untrimmed import (
    PRESETS,
    UntrimmedDataset,
    UntrimmedParams,
    plan_video,
)
from bench.data.keyframes import keyframe_frames

__all__ = [
    "NO_ACTION",
    "PERSON_COLUMNS",
    "TUBE_COLUMNS",
    "keyframe_table",
    "keyframe_persons",
    "keyframe_boxes",
    "action_tubes",
    "two_actor_keyframes",
    "localization_properties",
    "planned_tables",
]

#: The label of a visible actor doing no action at a keyframe (idle or background motion), in
#: :func:`keyframe_persons` only; :func:`keyframe_boxes` has no such rows.
NO_ACTION = -1
_PIXEL_COLUMNS = ("x1_px", "y1_px", "x2_px", "y2_px")
#: The columns of :func:`keyframe_persons` and :func:`keyframe_boxes`: the boxes schema, then
#: the keyframe's frame, the pixel box and the actor's visible share.
PERSON_COLUMNS = (*BOX_COLUMNS, "frame", *_PIXEL_COLUMNS, "visible_fraction")
#: The columns of a ground-truth tubes table, the same as
#: :data:`bench.tasks.localization.boxes.TUBE_COLUMNS` (the data stage may not import the task
#: stage; a test checks the two agree).
TUBE_COLUMNS = ("video_id", "tube_id", "label", "frame", "x1", "y1", "x2", "y2")


# ---------------------------------------------------------------------------- keyframes
def _check_rate(rate_hz: float, videos: pd.DataFrame, caller: str) -> float:
    fps = videos["fps"].to_numpy(dtype=np.float64)
    top = float(fps.min()) if len(fps) else math.inf
    ok = isinstance(rate_hz, int | float | np.number) and not isinstance(rate_hz, bool) \
        and math.isfinite(float(rate_hz)) and 0 < float(rate_hz) <= top
    if not ok:
        raise ValueError(f"The 'rate_hz' parameter of {caller} must be a float in (0, fps] "
                         f"(the lowest frame rate here is {top:g}). Got {rate_hz!r} instead.")
    return float(rate_hz)


def _keyframes(videos: pd.DataFrame, rate_hz: float) -> pd.DataFrame:
    parts = []
    for video_id, n_frames, fps in zip(videos["video_id"], videos["n_frames"], videos["fps"],
                                       strict=True):
        frame, timestamp = keyframe_frames(int(n_frames), float(fps), rate_hz)
        parts.append(pd.DataFrame({"video_id": str(video_id), "timestamp": timestamp,
                                   "frame": frame}))
    if not parts:
        return pd.DataFrame({"video_id": pd.Series([], dtype=str),
                             "timestamp": pd.Series([], dtype=np.float64),
                             "frame": pd.Series([], dtype=np.int64)})
    return pd.concat(parts, ignore_index=True)


def keyframe_table(videos: pd.DataFrame, rate_hz: float = 1.0) -> pd.DataFrame:
    """Every keyframe of every video, with or without an actor in it.

    Parameters
    ----------
    videos : DataFrame
        ``video_id, n_frames, fps`` (:attr:`UntrimmedDataset.videos`).
    rate_hz : float, default 1.0
        Keyframes per second (AVA: 1), in ``(0, fps]``.

    Returns
    -------
    DataFrame
        ``video_id, timestamp, frame``, by video (table order) then time. The rule is the
        module's: ``frame_k = floor(k * fps / rate_hz + 1/2)`` for ``k >= 1`` while
        ``frame_k < n_frames``; ``timestamp = round(frame_k / fps, 6)``.

    Raises
    ------
    ValueError
        ``rate_hz`` is not a number in ``(0, fps]``.
    """
    return _keyframes(videos, _check_rate(rate_hz, videos, "keyframe_table"))


def _video_actors(videos: pd.DataFrame) -> pd.DataFrame:
    """``video_id, person_id, slot`` for the ``;``-separated ``actors`` of each video."""
    rows = [(str(v), int(a), slot) for v, listed in zip(videos["video_id"], videos["actors"],
                                                        strict=True)
            for slot, a in enumerate(str(listed).split(";")) if a != ""]
    return pd.DataFrame(rows, columns=["video_id", "person_id", "slot"])


def _actions_at(grid: pd.DataFrame, segments: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The action id and name of each ``(video_id, frame, person_id)`` row of ``grid`` (the
    segment of that actor covering that frame), :data:`NO_ACTION` and ``""`` where none does."""
    seg = segments[["video_id", "actor", "label_id", "label", "start_frame", "end_frame"]]
    seg = seg.rename(columns={"actor": "person_id"}).astype({"video_id": str})
    pairs = grid[["video_id", "frame", "person_id"]].reset_index(names="row").merge(
        seg, on=["video_id", "person_id"])
    hit = pairs[(pairs["start_frame"] <= pairs["frame"]) & (pairs["frame"] <= pairs["end_frame"])]
    if hit["row"].duplicated().any():
        row = hit[hit["row"].duplicated(keep=False)].iloc[0]
        raise ValueError(f"actor {row['person_id']} of video {row['video_id']!r} has two "
                         f"instances at frame {row['frame']}; one actor's instances must not "
                         "overlap (regenerate the dataset)")
    label = np.full(len(grid), NO_ACTION, dtype=np.int64)
    name = np.full(len(grid), "", dtype=object)
    label[hit["row"].to_numpy()] = hit["label_id"].to_numpy(dtype=np.int64)
    name[hit["row"].to_numpy()] = hit["label"].astype(str).to_numpy()
    return label, name


def _actor_keyframes(videos: pd.DataFrame, segments: pd.DataFrame,
                     rate_hz: float) -> pd.DataFrame:
    """Every actor of each video at each of its keyframes, with the action under way."""
    grid = _keyframes(videos, rate_hz).merge(_video_actors(videos), on="video_id", sort=False)
    grid = grid.reset_index(drop=True)
    grid["label"], grid["label_name"] = _actions_at(grid, segments)
    return grid


def _with_boxes(rows: pd.DataFrame, boxes: pd.DataFrame, videos: pd.DataFrame) -> pd.DataFrame:
    """``rows`` (``video_id, frame, person_id``) joined with the generator's box at that frame,
    the actors that are not visible dropped, the box normalised by the frame size."""
    own = boxes[["video_id", "frame", "actor", "x1", "y1", "x2", "y2", "visible",
                 "visible_fraction"]].astype({"video_id": str})
    own = own.rename(columns={"actor": "person_id", **{c: f"{c}_px" for c in
                                                      ("x1", "y1", "x2", "y2")}})
    joined = rows.merge(own, on=["video_id", "frame", "person_id"], how="left",
                        validate="many_to_one", sort=False)
    lacking = joined["visible"].isna().to_numpy()
    if lacking.any():
        row = joined[lacking].iloc[0]
        raise ValueError(f"the boxes table has no row for actor {row['person_id']} of video "
                         f"{row['video_id']!r} at frame {row['frame']}; it needs one per frame "
                         "and actor (regenerate the dataset)")
    joined = joined[joined["visible"].astype(bool).to_numpy()].reset_index(drop=True)
    size = videos[["video_id", "width", "height"]].astype({"video_id": str})
    size = joined[["video_id"]].merge(size, on="video_id", how="left", validate="many_to_one")
    width = size["width"].to_numpy(dtype=np.float64)
    height = size["height"].to_numpy(dtype=np.float64)
    for column in _PIXEL_COLUMNS:
        joined[column] = joined[column].astype(np.int64)
    joined["x1"] = joined["x1_px"].to_numpy() / width
    joined["x2"] = joined["x2_px"].to_numpy() / width
    joined["y1"] = joined["y1_px"].to_numpy() / height
    joined["y2"] = joined["y2_px"].to_numpy() / height
    joined["visible_fraction"] = joined["visible_fraction"].astype(np.float64)
    return joined.drop(columns="visible")


def keyframe_persons(dataset: UntrimmedDataset, rate_hz: float = 1.0) -> pd.DataFrame:
    """Every visible actor at every keyframe, with its action or :data:`NO_ACTION`.

    The person ground truth (what an actor detector must find, whether the actor acts or
    not): the rows of :func:`keyframe_boxes` plus one row per visible actor doing no action
    (idle, or the background motion between instances: weight shifts, steps, turns, glances),
    labelled :data:`NO_ACTION` with ``label_name`` ``""``.

    Parameters
    ----------
    dataset : UntrimmedDataset
    rate_hz : float, default 1.0
        Keyframes per second (see the module's rule).

    Returns
    -------
    DataFrame
        :data:`PERSON_COLUMNS`, one row per (keyframe, visible actor), ordered by video,
        keyframe, then the video's ``actors`` listing.

    Raises
    ------
    ValueError
        ``rate_hz`` is not in ``(0, fps]``; the tables are inconsistent (a missing box row,
        two instances of one actor at one frame).
    """
    rate = _check_rate(rate_hz, dataset.videos, "keyframe_persons")
    grid = _actor_keyframes(dataset.videos, dataset.segments, rate)
    rows = _with_boxes(grid, dataset.boxes, dataset.videos)
    return rows[list(PERSON_COLUMNS)].reset_index(drop=True)


def keyframe_boxes(dataset: UntrimmedDataset, rate_hz: float = 1.0) -> BoxAnnotations:
    """The AVA-style keyframe ground truth of a generated untrimmed dataset.

    One row per (keyframe, visible actor, action it performs at the keyframe's frame), the box
    normalised to [0, 1], ``person_id`` the actor's identity, ``label`` the action id. Visible
    actors doing no action are left out, as AVA leaves out people without an action of its
    list; they are in :func:`keyframe_persons`.

    Parameters
    ----------
    dataset : UntrimmedDataset
        A generated dataset (:func:`~bench.data.datasets.untrimmed.generate_untrimmed`).
    rate_hz : float, default 1.0
        Keyframes per second (AVA's :data:`~bench.data.annotations.ava.AVA_KEYFRAME_RATE`).

    Returns
    -------
    BoxAnnotations
        ``boxes``: :data:`PERSON_COLUMNS` (the schema's :data:`BOX_COLUMNS`, then ``frame``,
        the pixel box ``x1_px .. y2_px`` and ``visible_fraction``), checked by
        :func:`~bench.data.annotations.boxes.validate_boxes`; ``keyframes``: ``video_id,
        timestamp, frame`` of the keyframes with at least one box (the schema's rule; every
        keyframe, boxed or not, is :func:`keyframe_table`); ``classes``: ``label_id -> name``
        (:data:`CLASSES` in order); ``meta``: ``format="actbench-untrimmed"``, ``source``,
        ``keyframe_rate``, ``n_keyframes`` (all keyframes), ``no_action_boxes`` (visible actors
        without an action, left out) and ``invisible`` (actor keyframes without a box).

    Raises
    ------
    ValueError
        As :func:`keyframe_persons`.

    Notes
    -----
    The rules (keyframe times, box normalisation, invisible actors) are the module's. The
    labels describe the keyframe's frame only, where AVA's annotators label what a person does
    in the 3 s around the keyframe: an instance starting 0.1 s after a keyframe is not on it.

    Examples
    --------
    >>> from bench.data.datasets.untrimmed import generate_untrimmed, untrimmed_params
    >>> dataset = generate_untrimmed(params=untrimmed_params("quick"))  # doctest: +SKIP
    >>> keyframe_boxes(dataset).boxes.iloc[0, :9].tolist()  # doctest: +SKIP
    ['untrimmed_000', 2.0, 0.2375, 0.55, 0.3875, 0.9666666666666667, 5, 'wave1', 0]
    """
    rate = _check_rate(rate_hz, dataset.videos, "keyframe_boxes")
    grid = _actor_keyframes(dataset.videos, dataset.segments, rate)
    persons = _with_boxes(grid, dataset.boxes, dataset.videos)[list(PERSON_COLUMNS)]
    acting = persons["label"].to_numpy() != NO_ACTION
    classes = dict(enumerate(dataset.classes))
    boxes = validate_boxes(persons[acting], classes=classes, what="untrimmed keyframe boxes")
    keyframes = boxes[["video_id", "timestamp", "frame"]].drop_duplicates().reset_index(drop=True)
    meta = {"format": "actbench-untrimmed", "source": str(dataset.root), "keyframe_rate": rate,
            "n_keyframes": int(grid[["video_id", "frame"]].drop_duplicates().shape[0]),
            "no_action_boxes": int((~acting).sum()), "invisible": int(len(grid) - len(persons))}
    return BoxAnnotations(boxes=boxes, keyframes=keyframes, classes=classes, meta=meta)


# ---------------------------------------------------------------------------- tubes
def action_tubes(dataset: UntrimmedDataset) -> pd.DataFrame:
    """One ground-truth tube per action instance: the actor's box in each of its frames.

    Parameters
    ----------
    dataset : UntrimmedDataset

    Returns
    -------
    DataFrame
        :data:`TUBE_COLUMNS` ``video_id, tube_id, label, frame, x1, y1, x2, y2`` (the
        localization task's ground-truth tubes table, which
        :func:`bench.tasks.localization.video_map` reads as it is), then ``label_name``,
        ``person_id`` and ``timestamp`` (the frame's time). One row per frame of the instance
        ``start_frame .. end_frame`` (inclusive) in which the actor is visible; ``tube_id`` is
        ``"<actor>_<start_frame>"`` (unique in a video: one actor's instances never overlap);
        ``label`` the action id as in :func:`keyframe_boxes`; boxes normalised as there.
        Ordered as the ``segments`` table, then by frame. An instance during which the actor is
        never visible has no rows (no tube).

    Raises
    ------
    ValueError
        The boxes table lacks a row of an instance's frame.

    Notes
    -----
    A tube may have gaps (frames where the actor left the frame); video-mAP's tube IoU counts
    its range ``[first, last]`` and the box IoU over the frames both tubes have a box in.
    """
    seg = dataset.segments.astype({"video_id": str}).reset_index(drop=True)
    lengths = (seg["end_frame"] - seg["start_frame"] + 1).to_numpy(dtype=np.int64)
    index = np.repeat(np.arange(len(seg)), lengths)
    offset = np.arange(len(index)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    rows = pd.DataFrame({
        "video_id": seg["video_id"].to_numpy()[index],
        "tube_id": [f"{a}_{s}" for a, s in zip(seg["actor"].to_numpy()[index],
                                               seg["start_frame"].to_numpy()[index],
                                               strict=True)],
        "label": seg["label_id"].to_numpy(dtype=np.int64)[index],
        "frame": seg["start_frame"].to_numpy(dtype=np.int64)[index] + offset,
        "label_name": seg["label"].astype(str).to_numpy()[index],
        "person_id": seg["actor"].to_numpy(dtype=np.int64)[index],
    })
    tubes = _with_boxes(rows, dataset.boxes, dataset.videos)
    fps = tubes[["video_id"]].merge(dataset.videos[["video_id", "fps"]].astype({"video_id": str}),
                                    on="video_id", how="left", validate="many_to_one")["fps"]
    tubes["timestamp"] = np.round(tubes["frame"].to_numpy() / fps.to_numpy(dtype=np.float64), 6)
    return tubes[[*TUBE_COLUMNS, "label_name", "person_id", "timestamp"]].reset_index(drop=True)


# ---------------------------------------------------------------------------- measurements
def two_actor_keyframes(videos: pd.DataFrame, segments: pd.DataFrame,
                        boxes: pd.DataFrame | None = None, *,
                        rate_hz: float = 1.0) -> pd.DataFrame:
    """Per keyframe: how many actors are visible, act, do different actions, overlap.

    Parameters
    ----------
    videos, segments : DataFrame
        :attr:`UntrimmedDataset.videos` and ``.segments`` (or :func:`planned_tables`).
    boxes : DataFrame, optional
        :attr:`UntrimmedDataset.boxes`. Without it (tables drawn by :func:`planned_tables`,
        nothing rendered) every actor of a video counts as visible at every keyframe and the
        box columns are left out.
    rate_hz : float, default 1.0

    Returns
    -------
    DataFrame
        One row per keyframe (:func:`keyframe_table`'s order): ``video_id, timestamp, frame``,
        ``n_visible`` (visible actors), ``n_acting`` (visible actors performing an action),
        ``n_actions`` (distinct actions among them), ``two_actions`` (``n_actions >= 2``: two
        visible actors perform different actions at once), ``beside_idle`` (an actor acts
        while another visible one does not); with ``boxes`` also ``n_overlapping`` (pairs of
        visible actors whose boxes overlap, IoU > 0) and ``min_visible_fraction`` (the least
        visible share among the visible actors; 1.0 without any).
    """
    rate = _check_rate(rate_hz, videos, "two_actor_keyframes")
    keyframes = _keyframes(videos, rate)
    rows = _actor_keyframes(videos, segments, rate)
    if boxes is not None:
        rows = _with_boxes(rows, boxes, videos)
    keys = ["video_id", "frame"]
    acting = rows[rows["label"].to_numpy() != NO_ACTION]
    table = keyframes.set_index(keys)
    table["n_visible"] = rows.groupby(keys).size()
    table["n_acting"] = acting.groupby(keys).size()
    table["n_actions"] = acting.groupby(keys)["label"].nunique()
    if boxes is not None:
        pairs = rows.merge(rows, on=keys, suffixes=("_a", "_b"))
        pairs = pairs[pairs["person_id_a"] < pairs["person_id_b"]]
        wide = np.minimum(pairs["x2_px_a"], pairs["x2_px_b"]) - \
            np.maximum(pairs["x1_px_a"], pairs["x1_px_b"])
        tall = np.minimum(pairs["y2_px_a"], pairs["y2_px_b"]) - \
            np.maximum(pairs["y1_px_a"], pairs["y1_px_b"])
        table["n_overlapping"] = pairs[(wide > 0) & (tall > 0)].groupby(keys).size()
        table["min_visible_fraction"] = rows.groupby(keys)["visible_fraction"].min()
    counts = [c for c in ("n_visible", "n_acting", "n_actions", "n_overlapping") if c in table]
    table[counts] = table[counts].fillna(0).astype(np.int64)
    if "min_visible_fraction" in table:
        table["min_visible_fraction"] = table["min_visible_fraction"].fillna(1.0)
    table["two_actions"] = table["n_actions"] >= 2
    table["beside_idle"] = (table["n_acting"] >= 1) & (table["n_visible"] > table["n_acting"])
    order = ["video_id", "timestamp", "frame", "n_visible", "n_acting", "n_actions",
             "two_actions", "beside_idle"]
    if boxes is not None:
        order += ["n_overlapping", "min_visible_fraction"]
    return table.reset_index()[order]


def localization_properties(videos: pd.DataFrame, segments: pd.DataFrame,
                            boxes: pd.DataFrame | None = None, *,
                            rate_hz: float = 1.0) -> dict:
    """The designed properties of the localization ground truth, as counts and shares.

    Parameters
    ----------
    videos, segments, boxes, rate_hz
        As :func:`two_actor_keyframes` (without ``boxes`` every actor counts as visible).

    Returns
    -------
    dict
        ``n_videos``, ``n_keyframes``; ``multi_actor``, ``two_actions``, ``same_action``,
        ``beside_idle``, ``no_action`` (keyframes with two visible actors or more; with two
        visible actors performing different actions; with two or more acting, all the same
        action; with an actor acting beside a visible one who does not; with nobody acting),
        each a count and, under ``share_<name>``, its share of all keyframes. With ``boxes``:
        ``overlap`` (keyframes with two visible actors' boxes overlapping, IoU > 0, and its
        share), ``visible_boxes`` (visible actor keyframes), ``partly_hidden`` (those with
        ``visible_fraction < 1``, and its share of the visible ones), ``invisible`` (actor
        keyframes without a box). Where the ``videos`` table has the nuisance flags
        (``camera_motion``, ``scale_change``, ``occlusion``): ``share_keyframes_<flag>``, the
        share of keyframes in videos with it. ``visibility_from_boxes`` says whether
        ``boxes`` was given. Nothing else is measured: the tables hold no camera path or
        per-frame scale.
    """
    table = two_actor_keyframes(videos, segments, boxes, rate_hz=rate_hz)
    n = len(table)
    counts = {
        "multi_actor": int((table["n_visible"] >= 2).sum()),
        "two_actions": int(table["two_actions"].sum()),
        "same_action": int(((table["n_acting"] >= 2) & (table["n_actions"] == 1)).sum()),
        "beside_idle": int(table["beside_idle"].sum()),
        "no_action": int((table["n_acting"] == 0).sum()),
    }
    out: dict = {"n_videos": int(len(videos)), "n_keyframes": n,
                 "visibility_from_boxes": boxes is not None}
    for name, value in counts.items():
        out[name] = value
        out[f"share_{name}"] = value / n if n else math.nan
    if boxes is not None:
        grid = _actor_keyframes(videos, segments, float(rate_hz))
        rows = _with_boxes(grid, boxes, videos)
        hidden = int((rows["visible_fraction"] < 1).sum())
        out["overlap"] = int((table["n_overlapping"] > 0).sum())
        out["share_overlap"] = out["overlap"] / n if n else math.nan
        out["visible_boxes"] = int(len(rows))
        out["partly_hidden"] = hidden
        out["share_partly_hidden"] = hidden / len(rows) if len(rows) else math.nan
        out["invisible"] = int(len(grid) - len(rows))
    weight = table.groupby("video_id").size()
    for flag in ("camera_motion", "scale_change", "occlusion"):
        if flag in videos.columns and n:
            on = videos.astype({"video_id": str}).set_index("video_id")[flag].astype(bool)
            out[f"share_keyframes_{flag}"] = float(weight[on.reindex(weight.index)].sum() / n)
    return out


def planned_tables(params: UntrimmedParams | None = None,
                   seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``videos`` and ``segments`` tables of a dataset, drawn without rendering a frame.

    The plan (:func:`~bench.data.datasets.untrimmed.plan_video`) fixes every instance and the
    video's length, actors and nuisances before rendering; only the boxes need the frames. So
    :func:`two_actor_keyframes` on these tables (without ``boxes``) measures the default
    preset in seconds, every actor counted as visible.

    Parameters
    ----------
    params : UntrimmedParams, optional
        Default: the ``default`` preset.
    seed : int

    Returns
    -------
    videos : DataFrame
        ``video_id, n_frames, fps, width, height, group, actors, n_actors`` and the nuisances
        applied: the same values as those columns of :attr:`UntrimmedDataset.videos`.
    segments : DataFrame
        Equal to :attr:`UntrimmedDataset.segments`.
    """
    params = params if params is not None else PRESETS["default"]
    plans = [plan_video(params, seed, i) for i in range(params.n_videos)]
    videos = pd.DataFrame([{
        "video_id": p.video_id, "n_frames": p.scene.n_frames, "fps": params.fps,
        "width": params.width, "height": params.height, "group": p.scene.group,
        "actors": ";".join(str(a.actor) for a in p.scene.actors),
        "n_actors": len(p.scene.actors), **p.scene.applied} for p in plans])
    segments = pd.concat([p.segments() for p in plans], ignore_index=True)
    return videos, segments

