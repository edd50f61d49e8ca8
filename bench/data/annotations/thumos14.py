"""THUMOS'14 temporal annotations: the per-class ``<Class>_<subset>.txt`` files.

The challenge ships, for each of its validation and test subsets, one text file per detection
class (one instance per line: ``video_validation_0000051  67.5 75.9``, the video name, start and
end in seconds, separated by whitespace), a file ``Ambiguous_<subset>.txt`` in the same layout
and ``detclasslist.txt`` listing the 20 detection classes with their UCF101 indices
(``7 BaseballPitch``, CRLF line endings).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from bench.data.annotations._readers import (
    Row,
    assemble,
    check_rows,
    check_videos,
    first_seen,
    read_text,
    where,
)
from bench.data.annotations.segments import (
    DURATION_TOLERANCE,
    AnnotationError,
    SegmentAnnotations,
)
from bench.data.datasets._common import require_dir

__all__ = ["THUMOS14_SUBSETS", "AMBIGUOUS", "CLASS_LIST_FILE", "read_thumos14"]

#: File-name suffix of each subset -> the subset's name in the videos table.
THUMOS14_SUBSETS = {"val": "validation", "test": "test"}
#: The pseudo-class of segments that are neither action nor background.
AMBIGUOUS = "Ambiguous"
#: The class list shipped beside the annotation files.
CLASS_LIST_FILE = "detclasslist.txt"

_HINT = ("Pass the folder holding detclasslist.txt and the <Class>_val.txt (or _test.txt) "
         "files of the THUMOS'14 temporal annotations.")


def _subset_suffix(folder: Path, subset: str | None) -> str:
    if subset is not None:
        for suffix, name in THUMOS14_SUBSETS.items():
            if subset in (suffix, name):
                return suffix
        raise ValueError(f"The 'subset' of THUMOS'14 must be one of {sorted(THUMOS14_SUBSETS)} "
                         f"(or {sorted(THUMOS14_SUBSETS.values())}). Got {subset!r} instead.")
    present = [s for s in THUMOS14_SUBSETS if any(folder.glob(f"*_{s}.txt"))]
    if len(present) != 1:
        found = "both _val.txt and _test.txt" if present else "no *_val.txt or *_test.txt"
        raise AnnotationError(f"{folder}: holds {found} annotation files. Fix: pass subset='val' "
                              "or subset='test'", path=str(folder))
    return present[0]


def _read_class_list(path: Path) -> list[tuple[str, int]]:
    """``[(class, line)]`` of ``detclasslist.txt`` in the file's order."""
    if not path.is_file():
        raise FileNotFoundError(f"THUMOS'14 class list {str(path)!r} not found. {_HINT}")
    classes: list[tuple[str, int]] = []
    seen: set[str] = set()
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise AnnotationError(f"{where(path, number)}: {line.strip()!r} is not "
                                  "'<index> <ClassName>'. Fix: one class per line, its UCF101 "
                                  "index and its name separated by a space",
                                  path=str(path), line=number)
        if parts[1] in seen:
            raise AnnotationError(f"{where(path, number)}: class {parts[1]!r} is listed twice. "
                                  "Fix: remove the repeated line", path=str(path), line=number)
        seen.add(parts[1])
        classes.append((parts[1], number))
    if not classes:
        raise AnnotationError(f"{path}: the class list is empty. Fix: list the detection "
                              "classes, one '<index> <ClassName>' per line", path=str(path))
    return classes


def _read_class_file(path: Path, label: str) -> list[Row]:
    rows: list[Row] = []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            if len(parts) != 3:
                raise ValueError
            start, end = float(parts[1]), float(parts[2])
        except ValueError:
            raise AnnotationError(
                f"{where(path, number)}: {line.strip()!r} is not '<video> <start> <end>'. Fix: "
                "one instance per line, the video name then its start and end in seconds, "
                "separated by whitespace", path=str(path), line=number) from None
        rows.append(Row(parts[0], start, end, label, str(path), number, {}))
    return rows


def read_thumos14(folder: str | os.PathLike, subset: str | None = None, *,
                  durations: Mapping[str, float] | None = None,
                  tolerance: float = DURATION_TOLERANCE,
                  video_root: str | os.PathLike | None = None,
                  allow_missing: bool = False) -> SegmentAnnotations:
    """Read one subset of the THUMOS'14 temporal annotations.

    Parameters
    ----------
    folder : path-like
        The folder with ``detclasslist.txt``, ``<Class>_<subset>.txt`` for each listed class
        and, optionally, ``Ambiguous_<subset>.txt``.
    subset : {"val", "test"}, optional
        Which files to read (``"validation"`` is accepted for ``"val"``). Default: the only
        subset whose files are in ``folder``.
    durations : mapping, optional
        ``video_id -> duration`` in seconds (the files carry none); a segment ending more than
        ``tolerance`` past its video's duration is an error.
    tolerance : float
        See :data:`~bench.data.annotations.segments.DURATION_TOLERANCE`.
    video_root : path-like, optional
        The folder of the videos (``video_validation_0000051.mp4`` ...); every annotated video
        must have a file there.
    allow_missing : bool, default False
        With ``video_root``: skip the annotations of videos without a file (listed in
        ``.missing``) instead of raising.

    Returns
    -------
    SegmentAnnotations
        ``segments``: the instances of the listed classes, in class-list then file order;
        ``ambiguous``: the ``Ambiguous`` segments (label ``"Ambiguous"``); ``videos``: every
        video with a segment of either kind (a video whose segments are all ambiguous has no
        ground truth but is listed), sorted, subset ``"validation"`` or ``"test"``;
        ``classes``: the class list's order.

    Raises
    ------
    FileNotFoundError
        ``folder`` or ``detclasslist.txt`` is missing.
    AnnotationError
        A malformed line; a segment that starts before 0 s, ends before it starts or ends past
        its known duration; a listed class without its file; a ``<Class>_<subset>.txt`` whose
        class is not in ``detclasslist.txt`` (an unknown label). The message names the file,
        the line, what is wrong and the fix.
    MissingAnnotatedVideosError
        Annotated videos have no file under ``video_root`` and ``allow_missing`` is false.

    Notes
    -----
    ``Ambiguous`` marks stretches the annotators could not call action or background; the
    official evaluation removes a detection that overlaps one from the false positives
    without counting it as a true positive [2]_, which is what passing ``ambiguous`` to
    :func:`bench.tasks.detection.metrics.evaluate_detection` does. The same interval may be
    annotated under two classes (every ``CliffDiving`` instance is also a ``Diving`` one);
    both are kept, as the official files have them.

    References
    ----------
    .. [1] Jiang, Liu, Roshan Zamir, Toderici, Laptev, Shah & Sukthankar, "THUMOS Challenge:
       Action Recognition with a Large Number of Classes", 2014. http://crcv.ucf.edu/THUMOS14/
    .. [2] Idrees, Zamir, Jiang, Gorban, Laptev, Sukthankar & Shah, "The THUMOS challenge on
       action recognition for videos 'in the wild'", CVIU 155, 2017.
       https://doi.org/10.1016/j.cviu.2016.10.018
    """
    folder = require_dir(folder, "THUMOS'14 annotation folder", _HINT)
    suffix = _subset_suffix(folder, subset)
    class_list = folder / CLASS_LIST_FILE
    classes = _read_class_list(class_list)
    names = {c for c, _ in classes}
    for path in sorted(folder.glob(f"*_{suffix}.txt")):
        name = path.name[: -len(f"_{suffix}.txt")]
        if name not in names and name != AMBIGUOUS:
            raise AnnotationError(
                f"{path}: the class {name!r} of this file is not in {CLASS_LIST_FILE} (an unknown "
                f"label). Fix: add '<index> {name}' to {class_list}, or remove the file",
                path=str(path))
    rows: list[Row] = []
    for name, number in [*classes, (AMBIGUOUS, None)]:
        path = folder / f"{name}_{suffix}.txt"
        if not path.is_file():
            if name == AMBIGUOUS:
                continue
            raise AnnotationError(
                f"{where(class_list, number)}: the class {name!r} has no annotation file "
                f"{path.name} in {folder}. Fix: restore the file, or remove the class from the "
                "list", path=str(class_list), line=number)
        rows.extend(_read_class_file(path, name))
    check_rows(rows, durations=durations, classes=None, tolerance=tolerance)
    seen = first_seen(rows)
    paths, missing = check_videos(seen, video_root, source=str(folder),
                                  allow_missing=allow_missing)
    videos = {v: {"subset": THUMOS14_SUBSETS[suffix],
                  "duration": float((durations or {}).get(v, float("nan")))} for v in seen}
    return assemble(rows, videos, [c for c, _ in classes], paths=paths, missing=missing,
                    ambiguous_label=AMBIGUOUS,
                    meta={"format": "thumos14", "source": str(folder), "subset": suffix})
