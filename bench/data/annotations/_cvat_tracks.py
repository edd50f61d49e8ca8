"""CVAT's track model: the keyframes of a track and the boxes CVAT interpolates between them.

A CVAT track is one object over time. Its boxes with ``keyframe="1"`` are what the annotator
drew; CVAT shows a box on every other frame by its own rules [1]_, which
:func:`read_keyframes` and :func:`expand_keyframes` follow:

* only keyframes count: the interpolated boxes of an export (``keyframe="0"``) are dropped,
  as CVAT's importer drops them, and rebuilt; a box without ``keyframe`` counts as one;
* between a keyframe that is not outside and the next keyframe the corners move linearly,
  ``p(f) = p0 + (p1 - p0) (f - f0) / (f1 - f0)``, even when the next keyframe is outside;
* after an outside keyframe (``outside="1"``: the object has left the frame) nothing is shown
  until the next keyframe;
* the last keyframe, unless outside, holds to the task's last frame;
* mutable attributes (and ``occluded``) are those of the earlier keyframe: an attribute holds
  until a keyframe changes it.

Used by the reader, :func:`bench.data.annotations.cvat.read_cvat_video`, which holds the XML
and its ``<meta>``; kept apart from it because this is CVAT's algorithm, not its file format.

References
----------
.. [1] CVAT, the Computer Vision Annotation Tool: ``cvat/apps/dataset_manager/annotation.py``
   (https://github.com/cvat-ai/cvat).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bench.data.annotations.boxes import box_problem

if TYPE_CHECKING:
    from bench.data.annotations.cvat import _Node

__all__ = ["Keyframe", "read_keyframes", "expand_keyframes"]


@dataclass
class Keyframe:
    """One keyframe of a track."""

    frame: int
    box: tuple[float, float, float, float]
    outside: bool
    occluded: bool
    attributes: dict[str, str]
    line: int


def _box_flag(node: _Node, name: str, default: str, fail) -> bool:
    value = node.attrib.get(name, default).strip().lower()
    if value not in ("0", "1", "true", "false"):
        raise fail(f"<box> has {name}={value!r}. Fix: {name} is 0 or 1", node.line)
    return value in ("1", "true")


def read_keyframes(track: _Node, fail, number, *, first: int, last: int,
                   step: int) -> list[Keyframe]:
    """The track's keyframes, sorted, with attributes carried forward (CVAT's rules).

    ``fail(message, line)`` and ``number(text, name, line, integer=False)`` are the reader's:
    they build its :class:`~bench.data.annotations.AnnotationError` (naming the file and the
    line) and parse a number attribute. ``first``, ``last`` and ``step`` are the task's frames
    (``first, first + step, ... last``).
    """
    inherited = {a.attrib.get("name", ""): a.text.strip() for a in track.findall("attribute")}
    keys: list[Keyframe] = []
    for node in track.children:
        if node.tag == "attribute":
            continue
        if node.tag != "box":
            raise fail(f"track {track.attrib.get('id')} holds a <{node.tag}>. Fix: this reader "
                       "takes boxes only; remove the track or annotate the actor with a box",
                       node.line)
        absent = [a for a in ("frame", "xtl", "ytl", "xbr", "ybr") if a not in node.attrib]
        if absent:
            raise fail(f"<box> lacks the attribute(s) {absent}. Fix: each <box> needs frame, "
                       "xtl, ytl, xbr and ybr (pixels); outside, occluded and keyframe are 0 or "
                       "1", node.line)
        if not _box_flag(node, "keyframe", "1", fail):
            continue  # an interpolated box of CVAT's export: CVAT's importer drops it too
        frame = number(node.attrib["frame"], "frame", node.line, integer=True)
        box = tuple(number(node.attrib[a], a, node.line) for a in ("xtl", "ytl", "xbr", "ybr"))
        rotation = number(node.attrib.get("rotation", "0"), "rotation", node.line)
        if rotation % 360:
            raise fail(f"the box is rotated by {rotation:g} degrees. Fix: actor boxes are upright "
                       "rectangles; set the rotation to 0 in CVAT", node.line)
        outside = _box_flag(node, "outside", "0", fail)
        problem = box_problem(*box, normalised=False)
        if problem is not None:
            raise fail(f"track {track.attrib.get('id')}, frame {frame}: {problem}", node.line)
        if frame < first or (frame - first) % step:
            raise fail(f"the frame {frame} is not one of the task's frames ({first}, "
                       f"{first + step}, ... {last}). Fix: give the video's frame number",
                       node.line)
        if frame > last and not outside:
            raise fail(f"the frame {frame} is past the task's last frame {last}. Fix: check the "
                       "task's <size> (and <start_frame>, <frame_filter>)", node.line)
        own = {a.attrib.get("name", ""): a.text.strip() for a in node.findall("attribute")}
        occluded = _box_flag(node, "occluded", "0", fail)
        keys.append(Keyframe(frame, box, outside, occluded, own, node.line))
    keys.sort(key=lambda k: k.frame)
    for a, b in zip(keys, keys[1:], strict=False):
        if a.frame == b.frame:
            raise fail(f"track {track.attrib.get('id')} has two keyframes at frame {a.frame} "
                       f"(lines {a.line} and {b.line}). Fix: keep one", b.line)
    for key in keys:  # mutable attributes hold until a keyframe changes them
        inherited = {**inherited, **key.attributes}
        key.attributes = inherited
    return keys


def expand_keyframes(keys: list[Keyframe], *, last: int,
                     step: int) -> list[tuple[int, Keyframe, tuple, bool]]:
    """``[(frame, source keyframe, box, interpolated)]`` of every frame the object is visible.

    CVAT's rule: between consecutive keyframes whose first is not outside, the box moves
    linearly (also towards an outside keyframe); after an outside keyframe nothing is shown
    until the next keyframe; the last keyframe, unless outside, holds to the last frame.
    """
    out = []
    for k, key in enumerate(keys):
        if key.outside or key.frame > last:
            continue
        out.append((key.frame, key, key.box, False))
        nxt = keys[k + 1] if k + 1 < len(keys) else None
        stop = min(nxt.frame - step, last) if nxt is not None else last
        p0 = np.asarray(key.box)
        diff = (np.asarray(nxt.box) - p0) if nxt is not None else np.zeros(4)
        span = (nxt.frame - key.frame) if nxt is not None else 1
        for frame in range(key.frame + step, stop + 1, step):
            box = tuple(float(v) for v in p0 + diff * ((frame - key.frame) / span))
            out.append((frame, key, box, True))
    return out
