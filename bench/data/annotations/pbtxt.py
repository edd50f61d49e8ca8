"""The AVA label map (``ava_action_list_v2.*.pbtxt``): its reader, its writer and its parser.

The label map is a protocol-buffer text file, one ``item`` per action::

    item {
      name: "bend/bow (at the waist)"
      id: 1
      label_type: PERSON_MOVEMENT
    }

(``label_type`` appears in the full 80-class list only). It names the integer action ids of
the AVA box CSV (:mod:`bench.data.annotations.ava`); the CVAT reader
(:mod:`bench.data.annotations.cvat`) takes one too, to give its actions the same ids. A
small hand-written parser reads it (no dependency on ``protobuf``), with line numbers for
the messages.

References
----------
.. [1] The AVA dataset's files and evaluation code:
   https://research.google.com/ava/download.html
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from bench.atomic import write_text
from bench.data.annotations._readers import read_text, where
from bench.data.annotations.segments import AnnotationError
from bench.data.datasets._common import require_file

__all__ = ["read_ava_label_map", "write_ava_label_map"]

_MAP_FIX = ("Fix: an AVA label map is a list of 'item { name: \"<action>\" id: <n> }' blocks "
            "(label_type optional)")

_TOKEN = re.compile(r"""
    (?P<space>[ \t\r\f\v]+)
  | (?P<newline>\n)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<punct>[{}:;,<>])
  | (?P<word>[A-Za-z0-9_.+-]+)
""", re.VERBOSE)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


def _tokens(text: str, path: Path) -> list[tuple[str, str, int]]:
    """``[(kind, value, line)]`` of a protocol-buffer text file, comments and spaces dropped."""
    out: list[tuple[str, str, int]] = []
    line, pos = 1, 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise AnnotationError(f"{where(path, line)}: unexpected {text[pos:pos + 12]!r}. "
                                  f"{_MAP_FIX}", path=str(path), line=line)
        kind, value = match.lastgroup, match.group()
        if kind == "newline":
            line += 1
        elif kind == "string":
            body = value[1:-1]
            out.append(("string", re.sub(r"\\(.)", lambda m: _ESCAPES.get(m[1], m[1]), body),
                        line))
        elif kind in ("punct", "word"):
            out.append((kind, value, line))
        pos = match.end()
    return out


def _read_pbtxt_items(path: Path) -> list[dict]:
    """The ``item`` blocks of a label map: ``[{"name", "id", "label_type", "line"}]``."""
    path = require_file(path, "AVA label map", "Pass the ava_action_list_v2.*.pbtxt file.")
    tokens = _tokens(read_text(path), path)
    items: list[dict] = []
    i = 0

    def fail(message: str, line: int) -> AnnotationError:
        return AnnotationError(f"{where(path, line)}: {message}. {_MAP_FIX}", path=str(path),
                               line=line)

    def expect(value: str) -> None:
        nonlocal i
        if i >= len(tokens) or tokens[i][1] != value:
            found = repr(tokens[i][1]) if i < len(tokens) else "the end of the file"
            raise fail(f"expected {value!r}, found {found}",
                       tokens[min(i, len(tokens) - 1)][2] if tokens else 1)
        i += 1

    while i < len(tokens):
        kind, word, line = tokens[i]
        if kind != "word" or word != "item":
            raise fail(f"expected 'item', found {word!r}", line)
        i += 1
        if i < len(tokens) and tokens[i][1] == ":":
            i += 1
        close = ">" if i < len(tokens) and tokens[i][1] == "<" else "}"
        expect("<" if close == ">" else "{")
        fields: dict[str, tuple[str, str, int]] = {}
        while i < len(tokens) and tokens[i][1] != close:
            kind, key, key_line = tokens[i]
            if kind != "word":
                raise fail(f"expected a field name, found {key!r}", key_line)
            i += 1
            expect(":")
            if i >= len(tokens) or tokens[i][0] not in ("string", "word"):
                raise fail(f"the field {key!r} has no value", key_line)
            if key in fields:
                raise fail(f"the field {key!r} is given twice in one item", key_line)
            fields[key] = tokens[i]
            i += 1
            if i < len(tokens) and tokens[i][1] in (";", ","):
                i += 1
        expect(close)
        items.append(_label_item(fields, line, fail))
    if not items:
        raise AnnotationError(f"{path}: the label map holds no item. {_MAP_FIX}", path=str(path))
    seen_ids: dict[int, int] = {}
    seen_names: dict[str, int] = {}
    for item in items:
        for key, seen in (("id", seen_ids), ("name", seen_names)):
            if item[key] in seen:
                raise fail(f"the {key} {item[key]!r} is also that of the item at line "
                           f"{seen[item[key]]}; each action needs its own", item["line"])
            seen[item[key]] = item["line"]
    return items


def _label_item(fields: dict[str, tuple[str, str, int]], line: int, fail) -> dict:
    name = fields.get("name") or fields.get("display_name")
    ident = fields.get("id") or fields.get("label_id")
    if name is None or ident is None:
        raise fail(f"the item has no {'name' if name is None else 'id'}", line)
    if not re.fullmatch(r"\+?[0-9]+", ident[1]) or int(ident[1]) < 1:
        raise fail(f"the id {ident[1]!r} is not a positive integer", ident[2])
    if not name[1].strip():
        raise fail("the name is empty", name[2])
    label_type = fields.get("label_type")
    return {"name": name[1], "id": int(ident[1]), "line": line,
            "label_type": label_type[1] if label_type else None}


def read_ava_label_map(path: str | os.PathLike) -> dict[int, str]:
    """Read an AVA label map (``ava_action_list_v2.*.pbtxt``).

    Parameters
    ----------
    path : path-like
        The ``.pbtxt`` file: ``item { name: "..." id: n }`` blocks, as in the AVA releases.

    Returns
    -------
    dict
        ``action id -> name`` in the file's order (the ActivityNet 2018 list: 60 actions with
        ids between 1 and 80; the full v2.1 list: 80).

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    AnnotationError
        A token that is not protocol-buffer text, an item without a name or a positive integer
        id, or two items with the same id or name; the message names the file, the line and
        the fix.

    Notes
    -----
    A small hand-written parser of the protocol-buffer text format, enough for label maps (no
    dependency on ``protobuf``): ``#`` comments, single- or double-quoted strings with
    backslash escapes, ``item {...}`` or ``item: <...>``, fields separated by spaces,
    newlines, ``,`` or ``;``. ``label_id`` is read as ``id`` and ``display_name`` as ``name``
    when there is no ``name``, as the official evaluator's parser and the TensorFlow
    object-detection label maps have them; ``label_type`` (``PERSON_MOVEMENT``,
    ``OBJECT_MANIPULATION``, ``PERSON_INTERACTION``) is kept by :func:`read_ava` in
    ``meta["label_types"]``.
    """
    return {item["id"]: item["name"] for item in _read_pbtxt_items(Path(path))}


def write_ava_label_map(path: str | os.PathLike, classes: Mapping[int, str],
                        label_types: Mapping[int, str] | None = None) -> None:
    """Write ``classes`` (``id -> name``) as an AVA label map, in the releases' layout.

    Two-space indentation and double quotes, as in the official files, whose evaluator reads
    the map line by line (``  name:`` / ``  id:``). Atomic.

    Raises
    ------
    AnnotationError
        An id is not a positive integer, or a name is empty or holds a newline.
    """
    lines = []
    for ident, name in classes.items():
        if isinstance(ident, bool) or int(ident) != ident or int(ident) < 1:
            raise AnnotationError(f"label map: the id {ident!r} is not a positive integer. Fix: "
                                  "AVA action ids are 1, 2, ...")
        if not str(name).strip() or "\n" in str(name):
            raise AnnotationError(f"label map: the name {name!r} of id {ident} is empty or holds "
                                  "a newline. Fix: give each action a one-line name")
        escaped = str(name).replace("\\", "\\\\").replace('"', '\\"')
        kind = (label_types or {}).get(ident)
        lines += ["item {", f'  name: "{escaped}"', f"  id: {int(ident)}",
                  *([f"  label_type: {kind}"] if kind else []), "}"]
    write_text(path, "\n".join(lines) + "\n")



def _as_classes(label_map: Mapping[int, str] | str | os.PathLike | None) -> tuple[
        dict[int, str] | None, dict]:
    """``(classes, meta)`` of a label map given as a mapping, a ``.pbtxt`` path or ``None``.

    What the readers' ``label_map`` parameter takes (:func:`~bench.data.annotations.ava.read_ava`,
    :func:`~bench.data.annotations.cvat.read_cvat_video`); ``meta`` records where the map came
    from and, for a ``.pbtxt`` with them, the ``label_type`` of each id.
    """
    if label_map is None:
        return None, {"label_map": None}
    if isinstance(label_map, Mapping):
        return {int(k): str(v) for k, v in label_map.items()}, {"label_map": "<mapping>"}
    items = _read_pbtxt_items(Path(label_map))
    types = {item["id"]: item["label_type"] for item in items if item.get("label_type")}
    return ({item["id"]: item["name"] for item in items},
            {"label_map": str(label_map), **({"label_types": types} if types else {})})
