"""The dataset card of the untrimmed mode, written from the generator's own constants and rules
(so the card cannot drift from the code: the duration table and the list of forbidden pairs are
computed, not typed)."""

from __future__ import annotations

from collections import defaultdict

from bench.data.datasets._scene import NUISANCES
from bench.data.datasets._sequence import (
    CLASSES,
    DURATION_S,
    FRONTAL,
    MIN_GAP_MOTION,
    TRAVEL,
    forbidden_pairs,
)

__all__ = ["card_text"]

_PROPERTIES = (
    ("Instance durations from 0.6 s to 8 s",
     "per-class log-uniform ranges (table below); walk and run cut to the room ahead",
     "fixed-length sliding windows (the classical THUMOS'14 detectors) and fixed anchor scales "
     "(S-CNN, 2016) lose temporal IoU at one end of the range; boundary regression "
     "(ActionFormer, 2022) does not. DETAD (2018): instance length moves detectors most"),
    ("Back-to-back instances of different classes",
     "with probability `back_to_back` an instance that may follow its predecessor without a "
     "gap does so (same view, not an ambiguous pair)",
     "actionness grouping alone (TAG, 2017) merges the two; class-aware boundaries split them"),
    ("Background motion between instances",
     f"every gap of at least {MIN_GAP_MOTION} frames holds weight shifts, small steps, turns "
     "or glances; camera sway, distractors and light drift run through whole videos",
     "a motion or frame-difference detector fires on it; learned actionness (SSN / TAG, "
     "2017) must tell it from the actions"),
    ("Overlapping instances of different actors",
     "one to three actors per video, each on its own timeline",
     "temporal detection must report overlapping segments; localization must say who acts "
     "(per-person boxes and RoI heads, AVA 2018), which a whole-frame classifier cannot"),
)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def card_text(params, presets: dict) -> str:
    """The card (markdown) for ``params``, with the ``presets`` table."""
    p = params
    lines = [
        "# Dataset card: `synthetic` untrimmed, multi-actor scenes", "",
        f"Long videos ({p.duration_s[0]:g}-{p.duration_s[1]:g} s at {p.fps:g} fps, "
        f"{p.width} x {p.height}) in which {p.actors_per_video[0]}-{p.actors_per_video[1]} "
        "actors each perform a sequence of the twelve synthetic actions, with idle time and "
        "background motion between them, on the recognition generator's backgrounds and under "
        "its nuisances. Ground truth is exact: every instance's actor, label, first and last "
        "frame, and every actor's box in every frame. Built for temporal action detection "
        "(THUMOS'14, ActivityNet protocols) and spatio-temporal localization (AVA-style).", "",
        "## Designed properties", "",
        *_table(["property", "how it is made", "what it separates"],
                [list(row) for row in _PROPERTIES]), "",
        "## Classes and instance durations", "",
        *_table(["class", "view", "duration (s)"],
                [[f"`{c}`", "frontal" if c in FRONTAL else "profile",
                  f"{DURATION_S[c][0]:g}-{min(DURATION_S[c][1], p.max_instance_s):g}"
                  + (" (and the room ahead)" if c in TRAVEL else "")] for c in CLASSES]), "",
        "An instance is the class's motion program exactly as in the recognition clips: its "
        "first and last frames are the program's idle pose. `t_start = start_frame / fps`, "
        "`t_end = (end_frame + 1) / fps`.", "",
        "## How ambiguous compositions are avoided", "",
        "These pairs never meet back to back; at least "
        f"{p.separation_s:g} s of idle time with background motion separates them:", "",
    ]
    by_reason: dict[str, list[str]] = defaultdict(list)
    for (a, b), why in forbidden_pairs().items():
        by_reason[why].append(f"`{a}` → `{b}`")
    lines += [f"* {why}: " + ", ".join(pairs) for why, pairs in by_reason.items()]
    lines += [
        "", "Further rules: instances meet back to back only within one view (a change between "
        "profile and frontal is a turn, which is background motion and takes time); a seated "
        "actor can only `stand_up`, and `sit_down` is placed only where its `stand_up` still "
        "fits; no small steps next to a `walk` or `run` (they would lengthen the gait); walks "
        "and runs head to the side with more room, so actors never leave the stage.", "",
        "## Background motion", "",
        "* weight shift: the torso leans 0.04-0.09 rad and back, the hips shift against it;",
        "* small steps: one or two, 0.05-0.12 standing heights each, towards the stage centre;",
        "* turn: between the profile and the frontal view (through the frontal view when the "
        "actor turns round), 0.5-0.9 s;",
        "* glance: a partial turn towards the other view and back.", "",
        "## Matched design, identities and folds", "",
        "A video's scene (background family and palette, camera sway and jitter, distractors, "
        "light drift, noise, occluder, where each actor stands, its depth and size) is drawn "
        "from a generator seeded by `(seed, video)` before and apart from the action sequences "
        "(seeded by `(seed, video, actor slot)`): changing only the sequences leaves the scene "
        "byte-identical, so nothing in the scene carries a label. Actors are the recognition "
        "generator's identities (same seed and number: same body, clothes, size) with a tempo "
        f"of their own. Video `i` holds actors of group `i % {p.n_folds}` only; fold `k` tests "
        "the videos of group `k - 1` and trains on the others, so test actors are never seen "
        "in training, as in the recognition folds of the same seed.", "",
        "## Nuisances", "",
        *_table(["nuisance", "share", "strength"],
                [[f"`{n}`", f"{getattr(p, n + '_share'):g}", f"{getattr(p, n + '_strength'):g}"]
                 for n in NUISANCES]), "",
        "Camera motion is a slow sway of a few pixels plus jitter, distractors wrap round the "
        "frame, light drifts through a knot every 5 s, and actors approach and recede slowly: "
        "bounded over any length of video.", "",
        "## Files", "",
        "`<cache home>/untrimmed/<key>/`: `videos/<video_id>.avi` (FFV1, lossless), "
        "`videos.csv` (one row per video: duration, frames, actors, group, `fold<k>` "
        "train/test, nuisances applied), `segments.csv` (`video_id, actor, label, label_id, "
        "start_frame, end_frame, t_start, t_end`), `boxes.csv` (per frame and actor: "
        "`x1, y1, x2, y2` in pixels, `x2, y2` exclusive, amodal; `visible`, "
        "`visible_fraction` not hidden by nearer actors or the occluder; `label` under way), "
        "`params.json` (parameters, seed, versions) and the `complete` marker. The key hashes "
        "every parameter, the seed and both generator versions: the same key, the same bytes.",
        "", "## Presets", "",
        *_table(["preset", "videos", "actors / folds", "per video", "duration (s)", "frame"],
                [[f"`{name}`", str(q.n_videos), f"{q.n_actors} / {q.n_folds}",
                  f"{q.actors_per_video[0]}-{q.actors_per_video[1]}",
                  f"{q.duration_s[0]:g}-{q.duration_s[1]:g}", f"{q.width} x {q.height}"]
                 for name, q in presets.items()]), "",
        "## References", "",
        "* H. Idrees et al., The THUMOS challenge on action recognition for videos 'in the "
        "wild', CVIU 155, 2017 (arXiv:1604.06182).",
        "* F. Caba Heilbron et al., ActivityNet, CVPR 2015 (doi:10.1109/CVPR.2015.7298698).",
        "* H. Alwassel et al., Diagnosing error in temporal action detectors (DETAD), ECCV 2018 "
        "(doi:10.1007/978-3-030-01219-9_16).",
        "* Z. Shou et al., S-CNN, CVPR 2016; Y. Zhao et al., SSN, ICCV 2017; C.-L. Zhang et al., "
        "ActionFormer, ECCV 2022; C. Gu et al., AVA, CVPR 2018.", "",
    ]
    return "\n".join(lines)
