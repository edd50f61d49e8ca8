"""CVAT "for video 1.1" XML: person tracks annotated in CVAT, and predicted tracks sent to it.

The layout (only what the reader uses is shown)::

    <annotations>
      <version>1.1</version>
      <meta>
        <task>
          <size>300</size>                          frames in the task
          <start_frame>0</start_frame> <stop_frame>299</stop_frame> <frame_filter></frame_filter>
          <labels><label><name>person</name>
            <attributes><attribute><name>action</name><values>walk
    run</values></attribute></attributes></label></labels>
          <original_size><width>640</width><height>480</height></original_size>
        </task>
        <source>clip.mp4</source>                 the video's file name (video tasks)
      </meta>
      <track id="0" label="person" source="manual">
        <box frame="0" keyframe="1" outside="0" occluded="0"
             xtl="10.00" ytl="20.00" xbr="110.00" ybr="220.00" z_order="0">
          <attribute name="action">walk</attribute>
        </box>
        ...
      </track>
    </annotations>

A track is one object over time; its boxes are keyframes (``keyframe="1"``) between which
CVAT interpolates, and a box with ``outside="1"`` says the object has left the frame. Box
corners are pixels; frame numbers are the video's (CVAT exports ``start_frame + k * step``).

This module reads the format: the XML (with the line of each element, for the messages) and
the task's ``<meta>``; CVAT's track model, keyframes and the interpolation between them, is
:mod:`bench.data.annotations._cvat_tracks`. The pre-annotation writer is
:mod:`bench.data.annotations.cvat_export` (:func:`write_cvat_video_xml`, re-exported here).
"""

from __future__ import annotations

import math
import os
import re
import xml.parsers.expat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from xml.sax.saxutils import quoteattr

import numpy as np
import pandas as pd

from bench.data.annotations._cvat_tracks import expand_keyframes, read_keyframes
from bench.data.annotations._readers import check_videos, where
from bench.data.annotations.boxes import (
    BOX_COLUMNS,
    BoxAnnotations,
    box_problem,
    empty_keyframes,
)
from bench.data.annotations.cvat_export import CVAT_VERSION, write_cvat_video_xml
from bench.data.annotations.pbtxt import _as_classes
from bench.data.annotations.segments import AnnotationError
from bench.data.datasets._common import require_file

__all__ = ["CVAT_BOX_COLUMNS", "CVAT_VERSION", "read_cvat_video", "write_cvat_video_xml"]

#: The columns of :func:`read_cvat_video`'s boxes:
#: :data:`~bench.data.annotations.boxes.BOX_COLUMNS` then the frame, the pixel box, the flags
#: and the CVAT label of the track.
CVAT_BOX_COLUMNS = (*BOX_COLUMNS, "frame", "x1_px", "y1_px", "x2_px", "y2_px", "occluded",
                    "interpolated", "track_label")

_FIX = ("Fix: export the task from CVAT as 'CVAT for video 1.1' (<annotations> with <meta><task> "
        "and <track> elements holding <box> elements)")


# --- a small XML tree with line numbers ------------------------------------------------------

@dataclass
class _Node:
    tag: str
    attrib: dict[str, str]
    line: int
    children: list[_Node] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def find(self, tag: str) -> _Node | None:
        return next((c for c in self.children if c.tag == tag), None)

    def findall(self, tag: str) -> list[_Node]:
        return [c for c in self.children if c.tag == tag]

    def findtext(self, tag: str) -> str | None:
        node = self.find(tag)
        return None if node is None else node.text.strip()


def _parse_xml(path: Path) -> _Node:
    """The document's root, each element with its 1-based line (expat; no entity expansion)."""
    parser = xml.parsers.expat.ParserCreate()
    stack: list[_Node] = []
    root: list[_Node] = []

    def start(tag: str, attrib: dict[str, str]) -> None:
        node = _Node(tag, dict(attrib), parser.CurrentLineNumber)
        (stack[-1].children if stack else root).append(node)
        stack.append(node)

    def end(tag: str) -> None:
        stack.pop()

    def text(data: str) -> None:
        if stack:
            stack[-1].parts.append(data)

    def no_entities(name, *args) -> None:
        raise AnnotationError(f"{where(path, parser.CurrentLineNumber)}: the XML declares the "
                              f"entity {name!r}. Fix: CVAT files declare no entities; export the "
                              "file from CVAT again", path=str(path),
                              line=parser.CurrentLineNumber)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parser.EntityDeclHandler = no_entities
    try:
        parser.Parse(path.read_bytes(), True)
    except xml.parsers.expat.ExpatError as exc:
        raise AnnotationError(
            f"{where(path, exc.lineno)}: not well-formed XML "
            f"({xml.parsers.expat.ErrorString(exc.code)} at column {exc.offset + 1}). Fix: repair "
            "the file, or export it from CVAT again", path=str(path), line=exc.lineno) from None
    return root[0]


# --- reading ---------------------------------------------------------------------------------

def _int_text(task: _Node, tag: str, fail, default: int | None = None) -> int:
    node = task.find(tag)
    if node is None or not node.text.strip():
        if default is not None:
            return default
        raise fail(f"<{task.tag}> has no <{tag}>. {_FIX}", task.line)
    text = node.text.strip()
    if not re.fullmatch(r"[0-9]+", text):
        raise fail(f"<{tag}> is {text!r}, not a non-negative integer. {_FIX}", node.line)
    return int(text)


def _frame_step(task: _Node, fail) -> int:
    text = task.findtext("frame_filter") or ""
    if not text:
        return 1
    match = re.fullmatch(r"step\s*=\s*([0-9]+)", text)
    if match is None or int(match[1]) < 1:
        node = task.find("frame_filter")
        raise fail(f"<frame_filter> is {text!r}, not 'step=<n>'. Fix: export a task whose frame "
                   "filter is empty or 'step=<n>'", node.line if node is not None else task.line)
    return int(match[1])


def _label_specs(task: _Node) -> list[tuple[str, dict[str, list[str]]]]:
    """``[(label, {attribute: values})]`` of the task's ``<labels>``, in order."""
    labels = task.find("labels")
    specs = []
    for label in labels.findall("label") if labels is not None else []:
        attributes = {}
        holder = label.find("attributes")
        for attr in holder.findall("attribute") if holder is not None else []:
            values = [v.strip() for v in (attr.findtext("values") or "").split("\n") if v.strip()]
            attributes[attr.findtext("name") or ""] = values
        specs.append((label.findtext("name") or "", attributes))
    return specs


def read_cvat_video(path: str | os.PathLike, *, fps: float, video_id: str | None = None,
                    action_attribute: str | None = None,
                    label_map: Mapping[int, str] | str | os.PathLike | None = None,
                    track_labels: Sequence[str] | None = None,
                    frame_size: tuple[int, int] | None = None,
                    video_root: str | os.PathLike | None = None,
                    allow_missing: bool = False) -> BoxAnnotations:
    """Read a CVAT "for video 1.1" XML export: one box per track per visible frame.

    Parameters
    ----------
    path : path-like
        The ``annotations.xml`` of a task (or job) exported as "CVAT for video 1.1".
    fps : float
        The video's frame rate: ``timestamp = frame / fps``. The export does not record it.
    video_id : str, optional
        The video's id. Default: the file name in ``<meta><source>`` without its extension,
        else the XML file's name without its extension.
    action_attribute : str, optional
        Where the action is: ``None`` (default) takes the track's ``label`` (one action per
        track: an action tube); a name (e.g. ``"action"``) takes that attribute of each box
        (person tracks whose action changes; the attribute holds until a keyframe changes it).
    label_map : mapping or path-like, optional
        ``action id -> name`` (or an AVA ``.pbtxt``) giving the ids; every action must be
        among its names. Default: the actions declared in ``<meta>`` (the task's labels, or
        the values of ``action_attribute``) numbered 1, 2, ... in their order, or, where none
        are declared, the actions present, sorted.
    track_labels : sequence of str, optional
        Read only the tracks with these labels (e.g. ``["person"]``).
    frame_size : (int, int), optional
        ``(width, height)`` in pixels, for an export without ``<original_size>`` (a job
        export of some CVAT versions); it must agree with ``<original_size>`` where present.
    video_root : path-like, optional
        The folder of the videos; the video must have a file there.
    allow_missing : bool, default False
        With ``video_root``: return no boxes (and the video in ``.missing``) instead of raising.

    Returns
    -------
    BoxAnnotations
        ``boxes``: :data:`CVAT_BOX_COLUMNS`, one row per track and visible frame, in track
        then frame order; ``x1 ... y2`` normalised by the frame size and clipped to [0, 1],
        ``x1_px ... y2_px`` the pixel corners as CVAT holds them, ``person_id`` the track id,
        ``occluded`` CVAT's flag, ``interpolated`` whether the box was interpolated (not a
        keyframe), ``track_label`` the track's CVAT label. ``keyframes``: every frame with a
        box (``video_id, timestamp, frame``). ``meta``: ``format="cvat_video"``,
        ``version``, ``size``, ``width``, ``height``, ``start_frame``, ``stop_frame``,
        ``frame_step``, ``fps``, ``action_attribute``, ``tracks`` (how many were read) and
        ``labels`` (the ``<meta>`` label specs).

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        ``fps`` is not a positive number.
    AnnotationError
        Not well-formed XML (with the parser's line); no ``<annotations>`` root or
        ``<meta><task>`` (or ``<job>``); a "CVAT for images" or project export; no or a bad
        ``<size>`` / ``<original_size>`` (or a ``frame_size`` that disagrees with it); a track
        without ``id`` or ``label``, or two with one id; a shape that is not a box; a box
        without ``frame, xtl, ytl, xbr, ybr``, with a value that is not a number, no area, a
        rotation, a frame off the task's frames, or two keyframes at one frame; a box without
        the action attribute; an action that is not declared or not in ``label_map``. The
        message names the file, the line of the element, what is wrong and the fix.
    MissingAnnotatedVideosError
        The video has no file under ``video_root`` and ``allow_missing`` is false.

    Notes
    -----
    Interpolation follows CVAT's own (its track manager [1]_): only keyframes count (the
    interpolated boxes of an export, ``keyframe="0"``, are dropped as CVAT's importer drops
    them, and rebuilt; a box without ``keyframe`` counts as one); between a keyframe that is
    not outside and the next keyframe the corners move linearly,
    ``p(f) = p0 + (p1 - p0) (f - f0) / (f1 - f0)``, even when the next keyframe is outside;
    after an outside keyframe the object is absent until the next keyframe; the last
    keyframe, unless outside, holds to the task's last frame (``start_frame + (size - 1) *
    step``; ``size - 1`` for a whole video). Mutable attributes and ``occluded`` are those of
    the earlier keyframe. Frames are the video's frame numbers, so with a frame filter
    ``step=n`` only every n-th frame has a box.

    Limitations: one action per box (several simultaneous actions of one person need one
    track per action); boxes only (no polygons, points, skeletons); a project export (several
    tasks) is not read, export its tasks one by one.

    References
    ----------
    .. [1] CVAT, the Computer Vision Annotation Tool: its XML annotation format
       (https://docs.cvat.ai/docs/manual/advanced/xml_format/) and
       ``cvat/apps/dataset_manager/annotation.py`` (https://github.com/cvat-ai/cvat).
    """
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not math.isfinite(fps) \
            or fps <= 0:
        raise ValueError(f"The 'fps' parameter of read_cvat_video must be a positive number. "
                         f"Got {fps!r} instead.")
    path = require_file(path, "CVAT annotation file",
                        "Pass the annotations.xml of a task exported as 'CVAT for video 1.1'.")

    def fail(message: str, line: int | None) -> AnnotationError:
        return AnnotationError(f"{where(path, line)}: {message}", path=str(path), line=line)

    def number(text: str, name: str, line: int, integer: bool = False,
               element: str = "box") -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or (integer and (value != int(value) or value < 0)):
            kind = "a frame number (an integer >= 0)" if integer else "a number"
            raise fail(f"<{element}> has {name}={text!r}, not {kind}. Fix: give {name} as "
                       f"{kind}", line)
        return int(value) if integer else value

    root = _parse_xml(path)
    if root.tag != "annotations":
        raise fail(f"the root element is <{root.tag}>, not <annotations>. {_FIX}", root.line)
    if root.find("image") is not None:
        raise fail(f"the file holds <image> elements: it is a 'CVAT for images' export. {_FIX}",
                   root.find("image").line)
    meta = root.find("meta")
    if meta is not None and meta.find("project") is not None:
        raise fail("the file is a project export (<meta><project>). Fix: export each task as "
                   "'CVAT for video 1.1' and read them one by one", meta.find("project").line)
    task = None if meta is None else (meta.find("task") or meta.find("job"))
    if task is None:
        raise fail(f"no <meta><task> (or <job>) element. {_FIX}",
                   meta.line if meta is not None else root.line)
    size = _int_text(task, "size", fail)
    start = _int_text(task, "start_frame", fail, default=0)
    step = _frame_step(task, fail)
    dims = task.find("original_size") or meta.find("original_size")
    if dims is None and frame_size is None:
        raise fail("<task> has no <original_size>. Fix: the export of a video task records the "
                   "frame's <width> and <height> there; add them, or pass frame_size=(width, "
                   "height)", task.line)
    if dims is not None:
        width, height = _int_text(dims, "width", fail), _int_text(dims, "height", fail)
        if frame_size is not None and tuple(frame_size) != (width, height):
            raise fail(f"frame_size={tuple(frame_size)} disagrees with <original_size> "
                       f"{width}x{height}. Fix: leave frame_size out", dims.line)
    else:
        width, height = (int(v) for v in frame_size)
    if size < 1 or width < 1 or height < 1:
        raise fail(f"<size> {size}, <width> {width} and <height> {height} must be positive. "
                   f"{_FIX}", task.line)
    last = start + (size - 1) * step
    specs = _label_specs(task)
    if video_id is None:
        source = meta.findtext("source") or task.findtext("source") or ""
        video_id = PurePath(source).stem if source else path.stem

    rows: list[tuple] = []
    seen_ids: dict[int, int] = {}
    n_tracks = 0
    for track in root.findall("track"):
        if "id" not in track.attrib or "label" not in track.attrib:
            raise fail("<track> lacks its 'id' or 'label' attribute. Fix: each <track> needs an "
                       "integer id and the label of the object", track.line)
        tid = number(track.attrib["id"], "id", track.line, integer=True, element="track")
        if tid in seen_ids:
            raise fail(f"the track id {tid} is also that of the track at line {seen_ids[tid]}. "
                       "Fix: give each track its own id", track.line)
        seen_ids[tid] = track.line
        label = track.attrib["label"]
        if track_labels is not None and label not in track_labels:
            continue
        n_tracks += 1
        keys = read_keyframes(track, fail, number, first=start, last=last, step=step)
        for frame, key, box, interpolated in expand_keyframes(keys, last=last, step=step):
            if action_attribute is None:
                action = label
            else:
                action = key.attributes.get(action_attribute, "")
                if not action:
                    raise fail(f"track {tid}, frame {frame}: the box has no {action_attribute!r} "
                               f"attribute. Fix: give the track's first keyframe an "
                               f"<attribute name={quoteattr(action_attribute)}>, or read the "
                               "track's label as the action (action_attribute=None)", key.line)
            rows.append((tid, frame, box, action, key.occluded, interpolated, label, key.line))

    classes = _cvat_classes(rows, specs, action_attribute, label_map, fail)
    ids = {name: ident for ident, name in classes.items()}
    normalised = []
    for tid, frame, box, _, _, _, _, line in rows:
        scaled = (box[0] / width, box[1] / height, box[2] / width, box[3] / height)
        clipped = tuple(min(max(v, 0.0), 1.0) for v in scaled)
        if box_problem(*clipped) is not None:
            raise fail(f"track {tid}, frame {frame}: the box {box} lies outside the "
                       f"{width}x{height} frame. Fix: move it into the frame, or mark the "
                       "object outside", line)
        normalised.append(clipped)
    paths, missing = check_videos({video_id: where(path)}, video_root, source=str(path),
                                  allow_missing=allow_missing)
    if missing:
        rows, normalised = [], []
    col = list(zip(*rows, strict=True)) if rows else [()] * 8
    xy = np.asarray(normalised, dtype=np.float64).reshape(-1, 4)
    px = np.asarray(col[2], dtype=np.float64).reshape(-1, 4)
    frames = np.asarray(col[1], dtype=np.int64)
    boxes = pd.DataFrame({
        "video_id": pd.Series([video_id] * len(rows), dtype=object).astype(str),
        "timestamp": frames / float(fps),
        "x1": xy[:, 0], "y1": xy[:, 1], "x2": xy[:, 2], "y2": xy[:, 3],
        "label": pd.Series([ids[a] for a in col[3]], dtype=np.int64),
        "label_name": pd.Series(col[3], dtype=object),
        "person_id": pd.Series(col[0], dtype=np.int64),
        "frame": frames,
        "x1_px": px[:, 0], "y1_px": px[:, 1], "x2_px": px[:, 2], "y2_px": px[:, 3],
        "occluded": np.asarray(col[4], dtype=bool),
        "interpolated": np.asarray(col[5], dtype=bool),
        "track_label": pd.Series(col[6], dtype=object),
    })[list(CVAT_BOX_COLUMNS)]
    keyframes = boxes[["video_id", "timestamp", "frame"]].drop_duplicates("frame") \
        .sort_values("frame", kind="stable").reset_index(drop=True)
    return BoxAnnotations(
        boxes=boxes, keyframes=keyframes, classes=classes, excluded=empty_keyframes(),
        missing=tuple(missing),
        meta={"format": "cvat_video", "source": str(path),
              "version": root.findtext("version"), "video_id": video_id, "size": size,
              "width": width, "height": height, "start_frame": start, "stop_frame": last,
              "frame_step": step, "fps": float(fps), "action_attribute": action_attribute,
              "tracks": n_tracks, "labels": specs, "paths": paths})


def _cvat_classes(rows: list[tuple], specs, action_attribute: str | None, label_map,
                  fail) -> dict[int, str]:
    """``id -> action`` from ``label_map``, else the declared actions, else those present."""
    present: dict[str, int] = {}
    for row in rows:
        present.setdefault(row[3], row[7])
    given, _ = _as_classes(label_map)
    if given is not None:
        known, where_from = list(given.values()), "the label map"
        classes = given
    else:
        if action_attribute is None:
            declared = [name for name, _ in specs]
        else:
            declared = list(dict.fromkeys(v for _, attrs in specs
                                          for v in attrs.get(action_attribute, [])))
        known = declared or sorted(present)
        where_from = "the task's labels" if action_attribute is None else \
            f"the values of the {action_attribute!r} attribute in <meta>"
        classes = {i: name for i, name in enumerate(known, start=1)}
    missing = [name for name in present if name not in set(known)]
    if missing:
        name = missing[0]
        raise fail(f"the action {name!r} is not in {where_from} ({', '.join(known[:8])}"
                   f"{', ...' if len(known) > 8 else ''}). Fix: add it there, or correct the "
                   "track's label or attribute", present[name])
    return classes
