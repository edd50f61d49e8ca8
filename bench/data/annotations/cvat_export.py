"""CVAT pre-annotation: a method's person tracks written as "CVAT for video 1.1" XML.

The workflow: a localization method's tracks are loaded into a CVAT task of the same video
(*Upload annotations*, format "CVAT 1.1"), a person corrects them there, and the corrected
export is read back with :func:`bench.data.annotations.cvat.read_cvat_video`. The layout is
the one :mod:`bench.data.annotations.cvat` describes and reads; every box is written as a
keyframe, with ``outside`` boxes closing the gaps, so that CVAT's interpolation
(:mod:`bench.data.annotations._cvat_tracks`) shows the predictions exactly as written.

References
----------
.. [1] CVAT, the Computer Vision Annotation Tool: its XML annotation format
   (https://docs.cvat.ai/docs/manual/advanced/xml_format/).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import pandas as pd

from bench.atomic import write_text
from bench.data.annotations.boxes import box_problem
from bench.data.annotations.segments import AnnotationError

__all__ = ["CVAT_VERSION", "write_cvat_video_xml"]

#: The format version written.
CVAT_VERSION = "1.1"


def _writer_error(message: str) -> AnnotationError:
    return AnnotationError(f"CVAT tracks: {message}")


def _tracks_table(tracks: pd.DataFrame, *, size: int, width: int, height: int,
                  names: dict[int, str], by_id: dict[int, str] | None,
                  fps: float | None) -> pd.DataFrame:
    """``person_id, frame, label_name, x1_px ... y2_px, occluded[, score]`` of the input."""
    table = tracks.reset_index(drop=True).copy()
    if "video_id" in table.columns and table["video_id"].nunique() > 1:
        raise _writer_error(f"the table holds {table['video_id'].nunique()} videos. Fix: a CVAT "
                            "task is one video; write one file per video")
    if "person_id" not in table.columns:
        raise _writer_error("the table has no 'person_id' column. Fix: give each box the id of "
                            "its track")
    if "frame" not in table.columns:
        if "timestamp" not in table.columns or fps is None:
            raise _writer_error("the table has no 'frame' column. Fix: add the frame numbers, "
                                "or give 'timestamp' and pass fps")
        table["frame"] = np.rint(table["timestamp"].to_numpy(dtype=np.float64) * fps)
    if "label_name" not in table.columns:
        if "label" not in table.columns or by_id is None:
            raise _writer_error("the table has no 'label_name' column. Fix: add the action "
                                "names, or give 'label' ids and labels as an id -> name mapping")
        table["label_name"] = table["label"].map(by_id)
    if not {"x1_px", "y1_px", "x2_px", "y2_px"} <= set(table.columns):
        if not {"x1", "y1", "x2", "y2"} <= set(table.columns):
            raise _writer_error("the table has no box columns. Fix: give x1_px, y1_px, x2_px, "
                                "y2_px (pixels) or x1, y1, x2, y2 (fractions of the frame)")
        for name, scale in (("x1", width), ("y1", height), ("x2", width), ("y2", height)):
            table[f"{name}_px"] = table[name].to_numpy(dtype=np.float64) * scale
    for column in ("person_id", "frame"):
        values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values) | (values != np.round(values)) | (values < 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise _writer_error(f"row {row}: the {column} {table.at[row, column]} is not an "
                                "integer >= 0. Fix: give track ids and frames as integers")
        table[column] = values.astype(np.int64)
    outside = (table["frame"] >= size).to_numpy()
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise _writer_error(f"row {row}: the frame {table.at[row, 'frame']} is past the video's "
                            f"last frame {size - 1}. Fix: check size and the frame numbers")
    labels = table["label_name"]
    bad = labels.isna().to_numpy() | ~labels.astype(str).isin(list(names.values())).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise _writer_error(f"row {row}: the action {table.at[row, 'label_name']!r} is not in "
                            "labels. Fix: list every action in labels")
    table["label_name"] = labels.astype(str)
    for row, box in enumerate(table[["x1_px", "y1_px", "x2_px", "y2_px"]].to_numpy(np.float64)):
        problem = box_problem(*box, normalised=False)
        if problem is not None:
            raise _writer_error(f"row {row} (track {table.at[row, 'person_id']}): {problem}")
    if "occluded" not in table.columns:
        table["occluded"] = False
    return table


def write_cvat_video_xml(path: str | os.PathLike, tracks: pd.DataFrame, size: int, width: int,
                         height: int, labels: Sequence[str] | Mapping[int, str], *,
                         action_attribute: str | None = None, track_label: str = "person",
                         fps: float | None = None, source: str | None = None,
                         task_name: str = "actbench pre-annotation", decimals: int = 2) -> None:
    """Write predicted person tracks as a CVAT "for video 1.1" XML, for correction in CVAT.

    The pre-annotation workflow: a method's tracks are loaded into a CVAT task of the same
    video (*Upload annotations*, format "CVAT 1.1"), a person corrects them there, and the
    corrected export is read back with :func:`read_cvat_video`.

    Parameters
    ----------
    path : path-like
    tracks : DataFrame
        One row per box: ``person_id`` (the track id, an integer >= 0), ``frame`` (or
        ``timestamp`` with ``fps``), the action as ``label_name`` (or ``label`` with
        ``labels`` a mapping), the box as ``x1_px, y1_px, x2_px, y2_px`` (pixels) or
        ``x1, y1, x2, y2`` (fractions of the frame); ``occluded`` and ``score`` optional.
        Where a track has several rows at one frame (several actions), the one with the
        highest ``score`` is written (without ``score``: an error).
    size : int
        Frames in the video (the task's ``<size>``); frames are 0 ... size - 1.
    width, height : int
        The frame size in pixels (``<original_size>``).
    labels : sequence of str or mapping
        The actions (in order; a mapping ``id -> name`` also maps ``label`` to names).
    action_attribute : str, optional
        ``None`` (default): each track's CVAT label is its action (an action tube; a track
        must keep one action). A name (e.g. ``"action"``): every track is labelled
        ``track_label`` and each box carries the action in this mutable attribute, declared in
        ``<meta>`` as a *select* attribute with ``labels`` as its values.
    track_label : str, default "person"
        The CVAT label of the tracks with ``action_attribute``.
    fps : float, optional
        To turn ``timestamp`` into frames (``round(timestamp * fps)``) where there is no
        ``frame``.
    source : str, optional
        The video's file name, written as ``<meta><source>``.
    task_name : str
    decimals : int, default 2
        Decimals of the pixel corners (CVAT writes 2).

    Raises
    ------
    AnnotationError
        The table holds several videos; a column is missing; a track id or frame is not an
        integer >= 0; a frame is past ``size - 1``; an action is not in ``labels``; a box has
        no area (also once rounded); a track has several rows at one frame and no ``score``;
        without ``action_attribute``, a track with several actions.
    ValueError
        ``size``, ``width`` or ``height`` is not a positive integer.

    Notes
    -----
    Every written box is a keyframe (``keyframe="1"``), so CVAT shows the predictions as they
    are; after a frame without a box on the next frame (a gap, or the track's end) an
    ``outside="1"`` copy of the box is written on that next frame, so that CVAT neither
    interpolates across the gap nor holds the last box to the end of the video (no outside
    box follows a box on the video's last frame, as in CVAT's own exports). Reading the file
    back gives the same tracks, frames, actions and, rounded to ``decimals``, boxes. Atomic
    (:mod:`bench.atomic`).
    """
    for name, value in (("size", size), ("width", width), ("height", height)):
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise ValueError(f"The {name!r} parameter of write_cvat_video_xml must be a positive "
                             f"integer. Got {value!r} instead.")
    by_id = {int(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else None
    names = by_id if by_id is not None else {i: str(v) for i, v in enumerate(labels, start=1)}
    for name in [*names.values(), track_label, action_attribute or ""]:
        if "\n" in name:
            raise ValueError(f"A label or attribute name holds a newline: {name!r}. Give "
                             "one-line names.")
    table = _tracks_table(tracks, size=int(size), width=int(width), height=int(height),
                          names=names, by_id=by_id, fps=fps)
    order = ["person_id", "frame"] + (["score"] if "score" in table.columns else [])
    table = table.sort_values(order, ascending=[True, True, False][:len(order)], kind="stable")
    repeated = table.duplicated(["person_id", "frame"]).to_numpy()
    if repeated.any() and "score" not in table.columns:
        row = table.index[int(np.flatnonzero(repeated)[0])]
        raise _writer_error(f"track {table.at[row, 'person_id']} has several rows at frame "
                            f"{table.at[row, 'frame']}. Fix: keep one action per box, or give a "
                            "'score' column so that the best one is written")
    table = table.loc[~repeated]
    fmt = f"{{:.{int(decimals)}f}}"
    body: list[str] = []
    for tid, rows in table.groupby("person_id", sort=True):
        actions = rows["label_name"].unique()
        if action_attribute is None and len(actions) > 1:
            raise _writer_error(f"track {tid} has several actions ({', '.join(actions[:4])}). "
                                "Fix: pass action_attribute='action' to write per-box actions, "
                                "or give each action tube its own person_id")
        label = track_label if action_attribute is not None else actions[0]
        body.append(f"  <track id=\"{int(tid)}\" label={quoteattr(label)} source=\"auto\">")
        frames = rows["frame"].tolist()
        present = set(frames)
        occluded_flags = rows["occluded"].astype(bool).tolist()
        actions_at = rows["label_name"].tolist()
        boxes = np.round(rows[["x1_px", "y1_px", "x2_px", "y2_px"]].to_numpy(np.float64),
                         decimals) + 0.0
        for i, frame in enumerate(frames):
            if not (boxes[i, 0] < boxes[i, 2] and boxes[i, 1] < boxes[i, 3]):
                raise _writer_error(f"track {tid}, frame {frame}: the box has no area once "
                                    f"rounded to {decimals} decimals. Fix: pass more decimals")
            occluded, action = int(occluded_flags[i]), actions_at[i]
            shown = [(int(frame), 0)]
            if frame + 1 not in present and frame + 1 < size:
                shown.append((int(frame) + 1, 1))
            for at, outside in shown:
                corners = " ".join(f"{k}=\"{fmt.format(v)}\"" for k, v in
                                   zip(("xtl", "ytl", "xbr", "ybr"), boxes[i], strict=True))
                head = (f"    <box frame=\"{at}\" keyframe=\"1\" outside=\"{outside}\" "
                        f"occluded=\"{occluded}\" {corners} z_order=\"0\"")
                if action_attribute is None:
                    body.append(head + "/>")
                else:
                    body += [head + ">", f"      <attribute name={quoteattr(action_attribute)}>"
                             f"{escape(action)}</attribute>", "    </box>"]
        body.append("  </track>")
    write_text(path, _meta_xml(int(size), int(width), int(height), list(names.values()),
                               action_attribute, track_label, source, task_name)
               + "\n".join(body) + ("\n" if body else "") + "</annotations>\n")


def _meta_xml(size: int, width: int, height: int, actions: list[str],
              action_attribute: str | None, track_label: str, source: str | None,
              task_name: str) -> str:
    if action_attribute is None:
        labels = [f"        <label>\n          <name>{escape(a)}</name>\n"
                  "          <attributes>\n          </attributes>\n        </label>"
                  for a in actions]
    else:
        labels = [
            f"        <label>\n          <name>{escape(track_label)}</name>\n"
            "          <attributes>\n            <attribute>\n"
            f"              <name>{escape(action_attribute)}</name>\n"
            "              <mutable>True</mutable>\n"
            "              <input_type>select</input_type>\n"
            f"              <default_value>{escape(actions[0] if actions else '')}"
            "</default_value>\n"
            f"              <values>{escape(chr(10).join(actions))}</values>\n"
            "            </attribute>\n          </attributes>\n        </label>"]
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>', "<annotations>",
        f"  <version>{CVAT_VERSION}</version>", "  <meta>", "    <task>",
        "      <id>0</id>", f"      <name>{escape(task_name)}</name>",
        f"      <size>{size}</size>", "      <mode>interpolation</mode>",
        "      <overlap>0</overlap>", "      <start_frame>0</start_frame>",
        f"      <stop_frame>{size - 1}</stop_frame>", "      <frame_filter></frame_filter>",
        "      <labels>", *labels, "      </labels>",
        "      <original_size>", f"        <width>{width}</width>",
        f"        <height>{height}</height>", "      </original_size>", "    </task>",
        *([f"    <source>{escape(source)}</source>"] if source else []), "  </meta>"]
    return "\n".join(lines) + "\n"
