"""Scenes of the synthetic dataset: textured backgrounds and the nuisances.

Every random number is drawn from NumPy's PCG64 generator and every pixel operation is integer
arithmetic or element-wise IEEE arithmetic, so a scene renders to the same bytes on any machine.
All draws are made in a fixed order whatever the switches are, so turning one nuisance off never
changes the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

__all__ = ["NUISANCES", "BACKGROUND_FAMILIES", "Scene", "sample_scene", "make_background",
           "camera_offsets", "hsv_to_rgb"]

#: Nuisance switches, in the order of the metadata columns.
NUISANCES = ("camera_motion", "distractors", "illumination", "noise", "occlusion", "scale_change")

#: Background texture families.
BACKGROUND_FAMILIES = ("wall", "bricks", "stripes", "foliage")

# Texture tones are quantised to this many levels: flat runs keep lossless videos small.
_LEVELS = 10
# Texture contrast (0..1): weak enough that the actor dominates the gradient energy.
_CONTRAST = 0.5


def _lowfreq(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Smooth noise in [0, 1]: a coarse random grid, bilinearly upsampled (pure NumPy)."""
    gh, gw = cells + 2, max(2, int(round(cells * w / max(h, 1)))) + 2
    grid = rng.random((gh, gw))
    ys = np.linspace(0, gh - 1.001, h)
    xs = np.linspace(0, gw - 1.001, w)
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x0 + 1] * fx
    bottom = grid[y0 + 1][:, x0] * (1 - fx) + grid[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def hsv_to_rgb(hue: np.ndarray, saturation: np.ndarray, value: np.ndarray) -> np.ndarray:
    """RGB in [0, 255] from hue in [0, 1), saturation and value in [0, 1] (pure NumPy)."""
    hue, saturation, value = (np.atleast_1d(np.asarray(a, float)) for a in (hue, saturation, value))
    sector = np.floor(hue * 6.0)
    frac = hue * 6.0 - sector
    p = value * (1 - saturation)
    q = value * (1 - saturation * frac)
    t = value * (1 - saturation * (1 - frac))
    table = np.stack([np.stack(c, axis=-1) for c in (
        (value, t, p), (q, value, p), (p, value, t), (p, q, value), (t, p, value), (value, p, q))])
    index = sector.astype(int) % 6
    return table[index, np.arange(len(index))] * 255.0


def _palette(rng: np.random.Generator, n: int) -> np.ndarray:
    hue = rng.uniform(0, 1)
    return hsv_to_rgb((hue + rng.uniform(-0.1, 0.1, n)) % 1.0, rng.uniform(0.08, 0.6, n),
                      rng.uniform(0.27, 0.9, n)).round()


def make_background(rng: np.random.Generator, family: str, height: int, width: int,
                    horizon: int) -> np.ndarray:
    """A textured RGB background: a wall of ``family`` above ``horizon``, a floor below.

    Parameters
    ----------
    rng : numpy.random.Generator
    family : str
        One of :data:`BACKGROUND_FAMILIES`.
    height, width : int
        Size in pixels (larger than the frame, so that the camera can pan over it).
    horizon : int
        Row where the floor begins.

    Returns
    -------
    numpy.ndarray
        ``(height, width, 3)`` uint8.
    """
    colours = _palette(rng, 3)
    blotch = _lowfreq(rng, height, width, 4)
    yy, xx = np.mgrid[0:height, 0:width]
    if family == "wall":
        t = 0.7 * blotch + 0.3 * (yy / height)
    elif family == "bricks":
        bh = max(3, height // 12)
        bw = 3 * bh
        row = yy // bh
        shifted = xx + (row % 2) * (bw // 2)
        mortar = (yy % bh == 0) | (shifted % bw == 0)
        brick_tone = rng.random((height // bh + 2, width // bw + 3))[row, shifted // bw]
        t = np.where(mortar, 1.0, 0.15 + 0.55 * brick_tone)
    elif family == "stripes":
        period = rng.uniform(0.06, 0.15) * width
        t = (np.sin(2 * np.pi * xx / period + 3 * blotch) > 0) * 0.6 + 0.2
    elif family == "foliage":
        t = 0.5 * blotch + 0.5 * _lowfreq(rng, height, width, 9)
    else:
        raise ValueError(f"unknown background family {family!r}; use one of {BACKGROUND_FAMILIES}")
    t = np.floor(np.clip(t, 0.0, 0.999) * _LEVELS)[..., None] / (_LEVELS - 1)
    wall = colours[0] * (1 - _CONTRAST * t) + colours[1] * (_CONTRAST * t)
    floor_t = np.floor(np.clip(0.6 * _lowfreq(rng, height, width, 8) + 0.4 * _lowfreq(rng, height, width, 30), 0, 0.999) * _LEVELS)[..., None] / (_LEVELS - 1)
    floor = colours[2] * (0.75 + 0.35 * floor_t)
    image = np.where((yy >= horizon)[..., None], floor, wall)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


@dataclass
class Scene:
    """Everything about one clip that is not the actor's pose (all in pixels, frame coords).

    ``background`` is wider and taller than the frame; the frame at time ``t`` is the window
    whose top-left corner is ``(margin_y + cam_y[t], margin_x + cam_x[t])``.
    """

    background: np.ndarray
    family: str
    margin_x: int
    margin_y: int
    cam_x: np.ndarray
    cam_y: np.ndarray
    ground_y: float
    foot_x: float
    height_px: float
    facing: int
    style: float
    lead_in: int
    lead_out: int
    scale: np.ndarray
    drift_x: np.ndarray
    gain: np.ndarray
    noise_sigma: float
    distractors: list = field(default_factory=list)
    occluder: dict | None = None
    applied: dict = field(default_factory=dict)


def camera_offsets(rng: np.random.Generator, n_frames: int, speed: float, jitter: int,
                   on: bool) -> tuple[np.ndarray, np.ndarray]:
    """Integer camera offsets: a linear pan of ``speed`` px/frame plus uniform jitter."""
    jx = rng.integers(-jitter, jitter + 1, n_frames) if jitter > 0 else np.zeros(n_frames, int)
    jy = rng.integers(-jitter, jitter + 1, n_frames) if jitter > 0 else np.zeros(n_frames, int)
    if not on:
        return np.zeros(n_frames, int), np.zeros(n_frames, int)
    t = np.arange(n_frames) - (n_frames - 1) / 2
    return np.rint(speed * t).astype(int) + jx, jy.astype(int)


def sample_scene(rng: np.random.Generator, *, width: int, height: int, n_frames: int,
                 actor_height: float, nuisance: dict[str, tuple[float, float]],
                 lead_fraction: tuple[float, float] = (0.1, 0.2)) -> Scene:
    """Draw one clip's scene and nuisances. Nothing here depends on the class.

    Parameters
    ----------
    rng : numpy.random.Generator
        The clip's generator (seeded by dataset seed, actor and repetition, never by class).
    width, height, n_frames : int
        Frame size and clip length.
    actor_height : float
        Nominal standing height as a fraction of the frame height.
    nuisance : dict
        ``name -> (share, strength)`` for every name in :data:`NUISANCES`.
    lead_fraction : (float, float)
        Range of the idle lead-in and lead-out, as fractions of the clip.
    """
    px = width / 160.0  # nuisance magnitudes are specified for a 160-pixel-wide frame
    on = {name: bool(rng.random() < nuisance[name][0]) for name in NUISANCES}
    strength = {name: float(nuisance[name][1]) for name in NUISANCES}
    lo, hi = (int(round(f * n_frames)) for f in lead_fraction)
    lead_in, lead_out = (int(v) for v in rng.integers(lo, max(lo, hi) + 1, 2))
    facing = int(rng.choice([-1, 1]))
    style = float(rng.uniform(0.9, 1.1))
    height_px = float(actor_height * height * rng.uniform(0.9, 1.1))
    ground_y = float(height * rng.uniform(0.87, 0.94))
    foot_x = float(width * (0.5 + rng.uniform(-0.1, 0.1)))
    family = BACKGROUND_FAMILIES[int(rng.integers(len(BACKGROUND_FAMILIES)))]

    # camera pan and jitter
    pan_speed = float(rng.uniform(0.6, 1.3) * px * strength["camera_motion"] * rng.choice([-1, 1]))
    jitter = int(round(1.5 * px * strength["camera_motion"]))
    cam_x, cam_y = camera_offsets(rng, n_frames, pan_speed, jitter, on["camera_motion"])
    margin_x = int(np.abs(cam_x).max()) + 1
    margin_y = int(np.abs(cam_y).max()) + 1
    background = make_background(rng, family, height + 2 * margin_y, width + 2 * margin_x,
                                 horizon=margin_y + int(ground_y - 0.12 * height_px))

    # moving distractors (behind the actor, in world coordinates)
    distractors = []
    n_distractors = int(rng.integers(1, 3))
    for k in range(3):
        item = {
            "shape": "circle" if rng.random() < 0.5 else "box",
            "colour": tuple(int(c) for c in rng.integers(0, 256, 3)),
            "size": float(rng.uniform(0.05, 0.1) * height * max(strength["distractors"], 0.5)),
            "x0": float(rng.uniform(0, width)), "y0": float(rng.uniform(0.1, 0.8) * height),
            "vx": float(rng.uniform(0.5, 2.0) * px * strength["distractors"] * rng.choice([-1, 1])),
            "vy": float(rng.uniform(-0.6, 0.6) * px * strength["distractors"]),
        }
        if on["distractors"] and k < n_distractors:
            distractors.append(item)

    # illumination drift: a gain ramp and a slight tint change over the clip
    gains = 1.0 + strength["illumination"] * rng.uniform(-0.35, 0.35, 2)
    tint = strength["illumination"] * rng.uniform(-0.06, 0.06, 3)
    ramp = np.linspace(0.0, 1.0, n_frames)[:, None]
    gain = (gains[0] + (gains[1] - gains[0]) * ramp) * (1.0 + tint[None, :] * ramp)
    if not on["illumination"]:
        gain = np.ones((n_frames, 3))

    # sensor noise
    noise_sigma = float(rng.uniform(1.5, 4.0) * strength["noise"]) if on["noise"] else 0.0
    if not on["noise"]:
        rng.uniform()  # keep the draw count fixed

    # partial occlusion: a pillar in front of the actor or a fence hiding the legs
    occluder = {
        "kind": "pillar" if rng.random() < 0.5 else "fence",
        "offset": float(rng.uniform(-0.3, 0.3) * height_px),
        "size": float(rng.uniform(0.12, 0.22) * height_px * strength["occlusion"]),
        "fence_height": float(rng.uniform(0.2, 0.35) * height_px * strength["occlusion"]),
        "colour": tuple(int(c) for c in rng.integers(40, 220, 3)),
    }

    # scale and position change (the actor approaches or recedes and drifts sideways)
    scale_end = 1.0 + strength["scale_change"] * rng.uniform(0.15, 0.3) * rng.choice([-1, 1])
    drift = strength["scale_change"] * rng.uniform(-0.08, 0.08) * width
    if on["scale_change"]:
        scale = np.linspace(1.0, scale_end, n_frames)
        drift_x = np.linspace(0.0, drift, n_frames)
    else:
        scale, drift_x = np.ones(n_frames), np.zeros(n_frames)

    applied = {
        "camera_motion": on["camera_motion"],
        "pan_speed": round(pan_speed, 4) if on["camera_motion"] else 0.0,
        "jitter": jitter if on["camera_motion"] else 0,
        "distractors": on["distractors"], "n_distractors": len(distractors),
        "illumination": on["illumination"],
        "gain_start": round(float(gain[0].mean()), 4), "gain_end": round(float(gain[-1].mean()), 4),
        "noise": on["noise"], "noise_sigma": round(noise_sigma, 4),
        "occlusion": on["occlusion"], "occluder": occluder["kind"] if on["occlusion"] else "",
        "scale_change": on["scale_change"], "scale_end": round(float(scale[-1]), 4),
    }
    return Scene(
        background=background, family=family, margin_x=margin_x, margin_y=margin_y,
        cam_x=cam_x, cam_y=cam_y, ground_y=ground_y, foot_x=foot_x, height_px=height_px,
        facing=facing, style=style, lead_in=lead_in, lead_out=lead_out, scale=scale,
        drift_x=drift_x, gain=gain, noise_sigma=noise_sigma, distractors=distractors,
        occluder=occluder if on["occlusion"] else None, applied=applied,
    )


def _pt(x: float, y: float) -> tuple[int, int]:
    return int(round(x * 16)), int(round(y * 16))


def draw_distractors(img: np.ndarray, scene: Scene, t: int) -> None:
    """Draw the moving distractors of frame ``t`` (world position minus camera offset)."""
    for item in scene.distractors:
        x = item["x0"] + item["vx"] * t - scene.cam_x[t]
        y = item["y0"] + item["vy"] * t - scene.cam_y[t]
        r = item["size"] / 2
        if item["shape"] == "circle":
            cv2.circle(img, _pt(x, y), int(round(r * 16)), item["colour"], -1, cv2.LINE_AA, 4)
        else:
            corners = np.array([_pt(x - r, y - r), _pt(x + r, y - r), _pt(x + r, y + r),
                                _pt(x - r, y + r)], dtype=np.int32)
            cv2.fillConvexPoly(img, corners, item["colour"], cv2.LINE_AA, 4)


def draw_occluder(img: np.ndarray, scene: Scene, t: int) -> None:
    """Draw the occluder (fixed in the world, in front of the actor) of frame ``t``."""
    occ = scene.occluder
    if occ is None:
        return
    h, w = img.shape[:2]
    colour = occ["colour"]
    dark = tuple(int(c * 0.7) for c in colour)
    if occ["kind"] == "pillar":
        x = scene.foot_x + occ["offset"] - scene.cam_x[t]
        half = occ["size"] / 2
        x1, x2 = int(round(x - half)), int(round(x + half))
        cv2.rectangle(img, (x1, 0), (x2, h), colour, -1)
        cv2.line(img, (x2, 0), (x2, h), dark, max(1, (x2 - x1) // 4))
    else:
        top = int(round(scene.ground_y - occ["fence_height"] - scene.cam_y[t]))
        cv2.rectangle(img, (0, top), (w, h), colour, -1)
        step = max(4, int(occ["size"]))
        for x in range(-int(scene.cam_x[t]) % step, w, step):
            cv2.line(img, (x, top), (x, h), dark, 1)


def apply_light_and_noise(frame: np.ndarray, scene: Scene, t: int,
                          noise_rng: np.random.Generator) -> np.ndarray:
    """Apply the illumination gain of frame ``t`` and sensor noise; returns a new uint8 frame."""
    if scene.noise_sigma <= 0 and np.all(scene.gain[t] == 1.0):
        return frame
    out = frame.astype(np.float32) * scene.gain[t].astype(np.float32)[None, None, :]
    if scene.noise_sigma > 0:
        h, w = frame.shape[:2]
        grain = noise_rng.standard_normal(((h + 1) // 2, (w + 1) // 2), dtype=np.float32)
        grain = np.repeat(np.repeat(grain, 2, axis=0), 2, axis=1)[:h, :w]
        out += (grain * np.float32(scene.noise_sigma))[..., None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
