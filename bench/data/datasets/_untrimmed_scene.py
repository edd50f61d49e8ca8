"""Scenes of the untrimmed mode: the actors' layout, the nuisances over a long video, rendering.

A video's scene (background, camera, distractors, light, noise, occluder, and where its actors
stand and how large they are) is drawn by :func:`sample_video_scene` from a generator seeded by
``(seed, video index)`` alone, before and apart from any action sequence: nothing in it can
depend on a label. It reuses the recognition generator's pieces
(:func:`bench.data.datasets._scene.make_background`, the distractor, occluder, light and noise
drawing, :func:`bench.data.datasets._figure.draw_figure`) and adapts what a long video needs:

* the camera sways (a slow sinusoidal pan of a few pixels plus per-frame jitter) instead of
  panning linearly, which would carry the actors out of view within seconds;
* distractors wrap around the frame and bob, so they stay in view for the whole video;
* the illumination drifts through a knot every 5 s instead of one ramp;
* each actor approaches and recedes slowly (``scale_change``) instead of once.

Every draw is made in a fixed order whatever the nuisance switches are, so turning one off
never changes the others (as in :mod:`bench.data.datasets._scene`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np

from bench.data.datasets._figure import Body, draw_figure
from bench.data.datasets._scene import (
    BACKGROUND_FAMILIES,
    NUISANCES,
    Scene,
    apply_light_and_noise,
    draw_distractors,
    draw_occluder,
    make_background,
)
from bench.data.datasets._timeline import ActorTrack
from bench.data.datasets.synthetic import _bbox

__all__ = ["ActorLayout", "VideoScene", "stage_bounds", "max_height_px", "sample_video_scene",
           "render_frames", "draw_boxes", "HALF_WIDTH", "BODY_SCALE_MAX"]

#: Largest body size factor of :func:`bench.data.datasets._figure.sample_body`.
BODY_SCALE_MAX = 1.12
#: Half the widest pose (arms of ``jack`` level), in standing heights: the stage margin.
HALF_WIDTH = 0.45
_DEPTH_SCALE = (0.85, 1.0)  # far .. near actors' size factor
_GROUND = (0.84, 0.94)  # far .. near actors' ground line, fraction of the frame height
_SCALE_SWING = (0.04, 0.10)  # amplitude of the slow approach / recede, times strength
_CAMERA_AMPLITUDE = (1.5, 3.0)  # px of sway for a 160-pixel-wide frame, times strength
_JITTER = 1.5
_KNOT_S = 5.0


@dataclass
class ActorLayout:
    """Where one actor of a video stands and how large it is (scene facts, never labels).

    Attributes
    ----------
    actor : int
        The actor's identity (appearance, proportions, tempo; folds hold actors out).
    depth : float
        0 (far) .. 1 (near): the ground line, the size and the drawing order follow it.
    ground_y : float
        Frame row of the feet (camera at rest).
    height_px : float
        Standing height in pixels (depth, the body's size and the nominal height).
    x0 : float
        Start position: the world x of the feet in pixels.
    scale : numpy.ndarray
        ``(T,)`` size factor over time (``scale_change``; ones when off).
    """

    actor: int
    depth: float
    ground_y: float
    height_px: float
    x0: float
    scale: np.ndarray


@dataclass
class VideoScene:
    """Everything about a video that is not an actor's motion.

    ``base`` is a recognition :class:`~bench.data.datasets._scene.Scene` holding the background,
    camera, light, noise and occluder, so that its drawing functions apply unchanged; its
    single-actor fields (``facing``, ``lead_in``, ...) are neutral. ``distractor_path`` holds
    the distractors' per-frame positions ``(n_distractors, T, 2)``.
    """

    index: int
    group: int
    n_frames: int
    actors: list[ActorLayout]
    stage: tuple[float, float]
    base: Scene
    distractor_items: list[dict]
    distractor_path: np.ndarray

    @property
    def applied(self) -> dict:
        """The nuisances applied (columns of the videos table)."""
        return self.base.applied


def max_height_px(params) -> float:
    """The largest standing height an actor can have, in pixels (scale change included)."""
    swing = 1.0 + _SCALE_SWING[1] * params.scale_change_strength
    return params.actor_height * params.height * BODY_SCALE_MAX * _DEPTH_SCALE[1] * swing


def stage_bounds(params) -> tuple[float, float]:
    """The world x range that keeps every pose of every actor inside the frame."""
    px = params.width / 160.0
    camera = (_CAMERA_AMPLITUDE[1] + _JITTER) * px * params.camera_motion_strength
    margin = HALF_WIDTH * max_height_px(params) + camera + 1.0
    return margin, params.width - margin


def sample_video_scene(params, seed: int, index: int, body_of) -> VideoScene:
    """Draw video ``index``'s scene from the generator seeded by ``(seed, index)`` alone.

    Parameters
    ----------
    params : UntrimmedParams
    seed, index : int
    body_of : callable
        ``actor -> Body`` (the identities; their size enters the layout).

    Returns
    -------
    VideoScene
        The actors (of group ``index % n_folds``, sorted by identity), their layout, and the
        nuisances; ``applied`` lists what was switched on.
    """
    rng = np.random.default_rng([int(seed), 0x0A7E, int(index), 1])
    width, height, fps = params.width, params.height, params.fps
    px = width / 160.0
    on = {name: bool(rng.random() < getattr(params, f"{name}_share")) for name in NUISANCES}
    strength = {name: float(getattr(params, f"{name}_strength")) for name in NUISANCES}
    group = int(index) % params.n_folds
    pool = [a for a in range(params.n_actors) if a % params.n_folds == group]
    lo, hi = params.actors_per_video
    n_actors = int(rng.integers(lo, hi + 1))
    actors = sorted(int(a) for a in rng.choice(pool, n_actors, replace=False))
    n_frames = int(round(rng.uniform(*params.duration_s) * fps))
    stage = stage_bounds(params)
    lanes = rng.permutation(n_actors)
    layouts = []
    t = np.arange(n_frames)
    for actor, lane in zip(actors, lanes, strict=True):
        depth, jitter = float(rng.uniform()), float(rng.uniform(-0.3, 0.3))
        swing = float(rng.uniform(*_SCALE_SWING)) * strength["scale_change"]
        period, phase = float(rng.uniform(8.0, 20.0)) * fps, float(rng.uniform(0, 2 * np.pi))
        scale = 1.0 + swing * np.sin(2 * np.pi * t / period + phase)
        x0 = stage[0] + (stage[1] - stage[0]) * (lane + 0.5 + jitter) / n_actors
        size = _DEPTH_SCALE[0] + (_DEPTH_SCALE[1] - _DEPTH_SCALE[0]) * depth
        layouts.append(ActorLayout(
            actor=actor, depth=depth,
            ground_y=float(height * (_GROUND[0] + (_GROUND[1] - _GROUND[0]) * depth)),
            height_px=float(params.actor_height * height * size * body_of(actor).height_scale),
            x0=float(x0), scale=np.round(scale, 9) if on["scale_change"] else np.ones(n_frames)))
    family = BACKGROUND_FAMILIES[int(rng.integers(len(BACKGROUND_FAMILIES)))]

    # camera: a slow sway plus jitter (bounded over any length of video)
    amplitude = float(rng.uniform(*_CAMERA_AMPLITUDE) * px * strength["camera_motion"])
    period, phase = float(rng.uniform(6.0, 16.0)) * fps, float(rng.uniform(0, 2 * np.pi))
    jitter = int(round(_JITTER * px * strength["camera_motion"]))
    jx, jy = (rng.integers(-jitter, jitter + 1, n_frames) for _ in range(2))
    if on["camera_motion"]:
        cam_x = np.rint(amplitude * np.sin(2 * np.pi * t / period + phase)).astype(int) + jx
        cam_y = jy.astype(int)
    else:
        cam_x, cam_y = np.zeros(n_frames, int), np.zeros(n_frames, int)
    margin_x, margin_y = int(np.abs(cam_x).max()) + 1, int(np.abs(cam_y).max()) + 1
    far = min(layouts, key=lambda a: a.ground_y)
    background = make_background(rng, family, height + 2 * margin_y, width + 2 * margin_x,
                                 horizon=margin_y + int(far.ground_y - 0.12 * far.height_px))

    # distractors: wrap around the frame horizontally, bob vertically
    items, paths = [], []
    n_distractors = int(rng.integers(1, 3))
    for k in range(3):
        size = float(rng.uniform(0.05, 0.1) * height * max(strength["distractors"], 0.5))
        item = {"shape": "circle" if rng.random() < 0.5 else "box",
                "colour": tuple(int(c) for c in rng.integers(0, 256, 3)), "size": size,
                "vx": 0.0, "vy": 0.0}
        x0, y0 = float(rng.uniform(0, width)), float(rng.uniform(0.1, 0.8) * height)
        vx = float(rng.uniform(0.5, 2.0) * px * strength["distractors"] * rng.choice([-1, 1]))
        bob, bob_period = float(rng.uniform(0.0, 0.08) * height), float(rng.uniform(3, 9)) * fps
        span = width + 2 * size
        path = np.stack([np.mod(x0 + vx * t + size, span) - size,
                         y0 + bob * np.sin(2 * np.pi * t / bob_period)], axis=1)
        if on["distractors"] and k < n_distractors:
            items.append(item)
            paths.append(np.round(path, 6))

    # illumination: gain and tint drift through a knot every few seconds
    n_knots = max(2, math.ceil(n_frames / (_KNOT_S * fps)) + 1)
    gains = 1.0 + strength["illumination"] * rng.uniform(-0.35, 0.35, n_knots)
    tints = strength["illumination"] * rng.uniform(-0.06, 0.06, (n_knots, 3))
    where = np.linspace(0, n_knots - 1, n_frames)
    gain = np.interp(where, np.arange(n_knots), gains)[:, None] * (
        1.0 + np.stack([np.interp(where, np.arange(n_knots), tints[:, c]) for c in range(3)], 1))
    if not on["illumination"]:
        gain = np.ones((n_frames, 3))
    noise_sigma = float(rng.uniform(1.5, 4.0) * strength["noise"]) if on["noise"] else 0.0
    if not on["noise"]:
        rng.uniform()  # keep the draw count fixed

    # occluder: a pillar somewhere on the stage, or a fence in front of everyone's legs
    nominal = params.actor_height * height
    occluder = {
        "kind": "pillar" if rng.random() < 0.5 else "fence",
        "offset": 0.0, "x": float(rng.uniform(*stage)),
        "size": float(rng.uniform(0.12, 0.22) * nominal * strength["occlusion"]),
        "fence_height": float(rng.uniform(0.2, 0.35) * nominal * strength["occlusion"]),
        "colour": tuple(int(c) for c in rng.integers(40, 220, 3)),
    }
    applied = {
        "camera_motion": on["camera_motion"],
        "camera_amplitude": round(amplitude, 4) if on["camera_motion"] else 0.0,
        "jitter": jitter if on["camera_motion"] else 0,
        "distractors": on["distractors"], "n_distractors": len(items),
        "illumination": on["illumination"],
        "gain_min": round(float(gain.mean(axis=1).min()), 4),
        "gain_max": round(float(gain.mean(axis=1).max()), 4),
        "noise": on["noise"], "noise_sigma": round(noise_sigma, 4),
        "occlusion": on["occlusion"], "occluder": occluder["kind"] if on["occlusion"] else "",
        "scale_change": on["scale_change"],
    }
    near = max(layouts, key=lambda a: a.ground_y)
    base = Scene(background=background, family=family, margin_x=margin_x, margin_y=margin_y,
                 cam_x=cam_x, cam_y=cam_y, ground_y=near.ground_y, foot_x=occluder["x"],
                 height_px=nominal, facing=1, style=1.0, lead_in=0, lead_out=0,
                 scale=np.ones(n_frames), drift_x=np.zeros(n_frames), gain=gain,
                 noise_sigma=noise_sigma, distractors=[],
                 occluder=occluder if on["occlusion"] else None, applied=applied)
    path = np.stack(paths) if paths else np.zeros((0, n_frames, 2))
    return VideoScene(int(index), group, n_frames, layouts, stage, base, items, path)


def _clean_frame(scene: VideoScene, t: int, height: int, width: int) -> np.ndarray:
    base = scene.base
    y0, x0 = base.margin_y + base.cam_y[t], base.margin_x + base.cam_x[t]
    frame = base.background[y0:y0 + height, x0:x0 + width].copy()
    if scene.distractor_items:
        items = [{**item, "x0": float(p[t, 0]), "y0": float(p[t, 1])}
                 for item, p in zip(scene.distractor_items, scene.distractor_path, strict=True)]
        draw_distractors(frame, replace(base, distractors=items), t)
    return frame


def render_frames(scene: VideoScene, tracks: list[ActorTrack], bodies: list[Body],
                  width: int, height: int, noise_rng: np.random.Generator, *,
                  figure: bool = True, keep_masks: bool = False):
    """Render a video: the frames and, per frame and actor, the box and the visible share.

    Actors are drawn far to near, then the occluder, the light and the noise. An actor's box
    and mask are those of the figure drawn alone on the frame's background (amodal: other
    actors and the occluder do not shrink them; ``x2, y2`` exclusive, ``-1`` when no pixel of
    the figure is in the frame). ``visible`` is the share of the mask not covered by nearer
    actors or the occluder.

    Parameters
    ----------
    scene : VideoScene
    tracks : list of ActorTrack
        One per actor slot, in ``scene.actors`` order.
    bodies : list of Body
        The slots' identities.
    width, height : int
        Frame size.
    noise_rng : numpy.random.Generator
        The video's noise stream (independent of the sequences).
    figure : bool
        If False the figures are left out of the frames (boxes, masks and visible shares are
        still the figures'): the frames are then the scene alone.
    keep_masks : bool
        Also return the masks ``(T, n_actors, H, W)``.

    Returns
    -------
    frames : numpy.ndarray
        ``(T, H, W, 3)`` uint8 RGB.
    boxes : numpy.ndarray
        ``(T, n_actors, 4)`` int32.
    visible : numpy.ndarray
        ``(T, n_actors)`` float32 in [0, 1].
    masks : numpy.ndarray or None
    """
    n, base = len(scene.actors), scene.base
    order = sorted(range(n), key=lambda k: scene.actors[k].depth)
    frames = np.empty((scene.n_frames, height, width, 3), np.uint8)
    boxes = np.full((scene.n_frames, n, 4), -1, np.int32)
    visible = np.zeros((scene.n_frames, n), np.float32)
    masks = np.zeros((scene.n_frames, n, height, width), bool) if keep_masks else None
    for t in range(scene.n_frames):
        clean = _clean_frame(scene, t, height, width)
        frame = clean.copy()
        owner = np.full((height, width), -1, np.int16)
        own = []
        for rank, k in enumerate(order):
            layout, track = scene.actors[k], tracks[k]
            args = (track.poses[t], bodies[k], float(track.world_x[t] - base.cam_x[t]),
                    float(layout.ground_y - base.cam_y[t]),
                    float(layout.height_px * layout.scale[t]), int(track.facing[t]))
            layer = frame if rank == 0 else clean.copy()
            draw_figure(layer, *args)
            mask = (layer != clean).any(axis=2)
            if rank > 0:
                before = frame.copy()
                draw_figure(frame, *args)
                owner[(frame != before).any(axis=2)] = k
            else:
                owner[mask] = k
            boxes[t, k] = _bbox(mask)
            own.append((k, mask))
            if masks is not None:
                masks[t, k] = mask
        if base.occluder is not None:
            before = frame.copy()
            draw_occluder(frame, base, t)
            owner[(frame != before).any(axis=2)] = -2
        for k, mask in own:
            area = int(mask.sum())
            visible[t, k] = ((owner == k) & mask).sum() / area if area else 0.0
        if not figure:
            frame = clean
            draw_occluder(frame, base, t)
        frames[t] = apply_light_and_noise(frame, base, t, noise_rng)
    return frames, boxes, visible, masks


def draw_boxes(frame: np.ndarray, boxes: np.ndarray, colours: list, scale: int = 1) -> None:
    """Draw each box ``(x1, y1, x2, y2)`` (skipping ``-1``) in its colour, in place."""
    for (x1, y1, x2, y2), colour in zip(boxes, colours, strict=True):
        if x1 >= 0:
            cv2.rectangle(frame, (int(x1) * scale, int(y1) * scale),
                          (int(x2) * scale - 1, int(y2) * scale - 1), colour, 1)
