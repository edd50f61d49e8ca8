"""``python -m bench preview``: a contact sheet of a dataset, one row per class."""

from __future__ import annotations

import argparse
import sys

from bench.cli._arguments import key_value

HELP = "write a contact sheet (one row per class, frames across time, actor boxes drawn)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default="synthetic", help="registered dataset name")
    parser.add_argument("--root", default=None, help="dataset root (synthetic: the cache home)")
    parser.add_argument("--annotations", default=None, help="annotation folder or file")
    parser.add_argument("--preset", default="default", help="synthetic preset: default or quick")
    parser.add_argument("--seed", type=int, default=0, help="synthetic dataset seed")
    parser.add_argument("--option", dest="options", action="append", default=[],
                        metavar="KEY=VALUE", type=key_value,
                        help="dataset option (repeatable; VALUE read as JSON when it parses), "
                             "e.g. --option noise_share=0")
    parser.add_argument("--frames", type=int, default=8, help="frames shown per class")
    parser.add_argument("--scale", type=int, default=1, help="pixel magnification")
    parser.add_argument("--out", default="preview.png", help="output PNG file")


def contact_sheet(manifest, n_frames: int = 8, scale: int = 1):
    """Render the contact sheet of ``manifest`` as an RGB uint8 array.

    One row per class (one clip of it, a different actor per row), ``n_frames`` frames evenly
    spread over the clip. Where the manifest's ``meta`` has per-frame ``boxes`` and a
    ``clip_metadata`` table, the actor box is drawn green inside the action's extent and grey
    in the idle lead-in and lead-out.
    """
    import cv2
    import numpy as np
    import pandas as pd

    from bench.data.video import read_video

    boxes = {}
    extents = {}
    if "boxes" in manifest.meta:
        with np.load(manifest.meta["boxes"]) as data:
            boxes = dict(zip(data["video_id"].tolist(), data["boxes"], strict=True))
    if "clip_metadata" in manifest.meta:
        clips = pd.read_csv(manifest.meta["clip_metadata"]).set_index("video_id")
        extents = {v: (r["action_start"], r["action_end"]) for v, r in clips.iterrows()}
    label_width = 110
    rows = []
    for label, name in enumerate(manifest.classes):
        candidates = manifest.table[manifest.table["label"] == label].sort_values("video_id")
        if candidates.empty:
            continue
        row = candidates.iloc[(label * 7) % len(candidates)]
        video = read_video(manifest.abspath(row["path"]))
        picks = np.linspace(0, len(video) - 1, n_frames).round().astype(int)
        cells = []
        for t in picks:
            frame = cv2.resize(video[t], None, fx=scale, fy=scale,
                               interpolation=cv2.INTER_NEAREST)
            vid = row["video_id"]
            if vid in boxes and boxes[vid][t][0] >= 0:
                x1, y1, x2, y2 = (int(v) * scale for v in boxes[vid][t])
                start, end = extents.get(vid, (0, len(video) - 1))
                colour = (0, 230, 0) if start <= t <= end else (170, 170, 170)
                cv2.rectangle(frame, (x1, y1), (x2 - 1, y2 - 1), colour, 1)
            cells.append(np.pad(frame, ((2, 2), (2, 2), (0, 0)), constant_values=255))
        strip = np.concatenate(cells, axis=1)
        label_cell = np.full((strip.shape[0], label_width, 3), 255, np.uint8)
        cv2.putText(label_cell, name, (6, strip.shape[0] // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX,
                    0.45, (0, 0, 0), 1, cv2.LINE_AA)
        rows.append(np.concatenate([label_cell, strip], axis=1))
    if not rows:
        raise ValueError("the dataset has no videos to preview")
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255)
            for r in rows]
    return np.concatenate(rows, axis=0)


def main(args: argparse.Namespace) -> int:
    import cv2

    from bench.atomic import atomic_path
    from bench.data.datasets import load_dataset

    try:
        options = dict(args.options)
        if args.frames < 1 or args.scale < 1:
            raise ValueError("--frames and --scale must be >= 1")
        if args.dataset == "synthetic":
            options = {"preset": args.preset, "seed": args.seed, "progress": True, **options}
        manifest = load_dataset(args.dataset, args.root, args.annotations, **options)
        sheet = contact_sheet(manifest, args.frames, args.scale)
    except (ValueError, KeyError) as exc:
        print(f"preview: {exc}", file=sys.stderr)
        return 2
    ok, png = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    if not ok:
        print("preview: PNG encoding failed", file=sys.stderr)
        return 1
    with atomic_path(args.out) as tmp:
        tmp.write_bytes(png.tobytes())
        tmp.chmod(0o644)
    print(f"wrote {args.out} ({sheet.shape[1]} x {sheet.shape[0]} pixels, "
          f"{len(manifest.classes)} classes)")
    return 0
