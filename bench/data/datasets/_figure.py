"""The articulated figure of the synthetic dataset: skeleton, motion programs, rendering.

A pose is a vector of :data:`POSE_SIZE` numbers (see :data:`POSE_FIELDS`): the root's forward
travel and lift (in body heights), the torso's lean, and the absolute angles of the upper limbs
with the relative bends of elbows and knees (radians; 0 points straight down, positive turns
towards the direction the figure faces), plus the ``lateral`` factor (0 = seen in profile,
1 = seen from the front: shoulders and hips spread apart).

Every motion program maps a number of action frames to a ``(n, POSE_SIZE)`` array whose first
and last rows are the program's idle poses, so that a clip is idle lead-in + action + idle
lead-out and the pose changes only inside the action.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from bench.data.datasets._scene import hsv_to_rgb

__all__ = [
    "POSE_FIELDS", "POSE_SIZE", "Body", "sample_body", "action_poses", "clip_poses",
    "forward_kinematics", "draw_figure", "SUB_ACTIONS",
]

POSE_FIELDS = (
    "root_x", "lift", "torso", "l_shoulder", "l_elbow", "r_shoulder", "r_elbow",
    "l_hip", "l_knee", "r_hip", "r_knee", "lateral",
)
POSE_SIZE = len(POSE_FIELDS)
(_X, _LIFT, _TORSO, _LSH, _LEL, _RSH, _REL, _LHIP, _LKN, _RHIP, _RKN, _LAT) = range(POSE_SIZE)

#: The two sub-actions of the order pair (``wave_then_clap`` / ``clap_then_wave``).
SUB_ACTIONS = ("wave1", "clap")

_SKIN = np.array([[255, 219, 172], [241, 194, 125], [224, 172, 105], [198, 134, 66],
                  [141, 85, 36], [255, 205, 180]], dtype=float)

# Subpixel precision of the OpenCV drawing calls (coordinates are multiplied by 2**_SHIFT).
_SHIFT = 4


@dataclass(frozen=True)
class Body:
    """An actor: body proportions (in body heights), clothing colours (RGB) and size.

    Attributes
    ----------
    torso, head_radius, upper_arm, lower_arm, thigh, shin, shoulder_width, hip_width : float
        Segment lengths in units of the standing height.
    shirt, trousers, skin : tuple of int
        RGB colours.
    height_scale : float
        The actor's size relative to the dataset's nominal actor height.
    """

    torso: float
    head_radius: float
    upper_arm: float
    lower_arm: float
    thigh: float
    shin: float
    shoulder_width: float
    hip_width: float
    shirt: tuple[int, int, int]
    trousers: tuple[int, int, int]
    skin: tuple[int, int, int]
    height_scale: float


def _random_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    rgb = hsv_to_rgb(rng.uniform(0, 1), rng.uniform(0.24, 1.0), rng.uniform(0.27, 0.98))[0]
    return tuple(int(round(c)) for c in rgb)


def sample_body(rng: np.random.Generator) -> Body:
    """Draw an actor's proportions, clothing and size (independent of any class)."""
    def jitter(value: float, spread: float = 0.08) -> float:
        return float(value * rng.uniform(1 - spread, 1 + spread))

    skin = _SKIN[rng.integers(len(_SKIN))]
    return Body(
        torso=jitter(0.30), head_radius=jitter(0.065), upper_arm=jitter(0.17),
        lower_arm=jitter(0.16), thigh=jitter(0.24), shin=jitter(0.23),
        shoulder_width=jitter(0.10, 0.15), hip_width=jitter(0.055, 0.15),
        shirt=_random_colour(rng), trousers=_random_colour(rng),
        skin=tuple(int(c) for c in skin), height_scale=float(rng.uniform(0.88, 1.12)),
    )


# ---------------------------------------------------------------------------- motion programs
def _idle(lateral: float) -> np.ndarray:
    pose = np.zeros(POSE_SIZE)
    pose[_LAT] = lateral
    if lateral > 0:  # seen from the front: arms hang slightly away from the body
        pose[_LSH], pose[_RSH] = -0.12, 0.12
    else:
        pose[_LSH] = pose[_RSH] = 0.05
        pose[_LEL] = pose[_REL] = 0.15
    return pose


def _repeat(pose: np.ndarray, n: int) -> np.ndarray:
    return np.repeat(pose[None, :], n, axis=0)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _envelope(u: np.ndarray, ramp: float = 0.15) -> np.ndarray:
    """0 at both ends, 1 in the middle, smooth ramps of ``ramp`` (fraction of the action)."""
    return _smoothstep(u / ramp) * _smoothstep((1.0 - u) / ramp)


def _cycles(n: int, fps: float, hz: float) -> int:
    return max(1, int(round(hz * n / fps)))


def _gait(n: int, fps: float, hz: float, stride: float, style: float) -> np.ndarray:
    """Walking gait (``walk`` and ``run`` differ only in ``hz`` and therefore speed)."""
    u = np.linspace(0.0, 1.0, n)
    env = _envelope(u, 0.12)
    theta = 2 * np.pi * hz * style * u * (n - 1) / fps
    poses = _repeat(_idle(0.0), n)
    amp = 0.42
    poses[:, _RHIP] += env * amp * np.sin(theta)
    poses[:, _LHIP] -= env * amp * np.sin(theta)
    poses[:, _RKN] -= env * 0.55 * (1 - np.cos(theta)) / 2
    poses[:, _LKN] -= env * 0.55 * (1 + np.cos(theta)) / 2
    poses[:, _RSH] -= env * 0.35 * np.sin(theta)
    poses[:, _LSH] += env * 0.35 * np.sin(theta)
    poses[:, _TORSO] += env * 0.08
    speed = hz * style * stride  # body heights per second
    step = speed * env[1:] / fps
    poses[:, _X] = np.concatenate([[0.0], np.cumsum(step)])
    return poses


def _walk(n: int, fps: float, style: float) -> np.ndarray:
    return _gait(n, fps, hz=0.9, stride=0.6, style=style)


def _run(n: int, fps: float, style: float) -> np.ndarray:
    return _gait(n, fps, hz=1.8, stride=0.6, style=style)


def _jump(n: int, fps: float, style: float) -> np.ndarray:
    jumps = _cycles(n, fps, 1.1 * style)
    phase = (np.linspace(0.0, 1.0, n) * jumps) % 1.0
    phase[-1] = 1.0
    crouch = np.where(phase < 0.3, np.sin(np.pi * phase / 0.3), 0.0)
    crouch += np.where(phase > 0.7, np.sin(np.pi * (phase - 0.7) / 0.3), 0.0)
    flight = np.where((phase >= 0.3) & (phase <= 0.7), np.sin(np.pi * (phase - 0.3) / 0.4), 0.0)
    poses = _repeat(_idle(0.0), n)
    poses[:, _LIFT] = 0.2 * flight
    poses[:, _LHIP] += 0.75 * crouch
    poses[:, _RHIP] += 0.75 * crouch
    poses[:, _LKN] -= 1.4 * crouch
    poses[:, _RKN] -= 1.4 * crouch
    poses[:, _TORSO] += 0.4 * crouch
    poses[:, _LSH] += -0.6 * crouch + 2.4 * flight
    poses[:, _RSH] += -0.6 * crouch + 2.4 * flight
    return poses


def _jack(n: int, fps: float, style: float) -> np.ndarray:
    cycles = _cycles(n, fps, 1.3 * style)
    open_ = np.sin(np.pi * cycles * np.linspace(0.0, 1.0, n)) ** 2
    poses = _repeat(_idle(1.0), n)
    poses[:, _RSH] += 2.7 * open_
    poses[:, _LSH] -= 2.7 * open_
    poses[:, _RHIP] += 0.33 * open_
    poses[:, _LHIP] -= 0.33 * open_
    poses[:, _LIFT] = 0.05 * np.abs(np.sin(2 * np.pi * cycles * np.linspace(0.0, 1.0, n)))
    return poses


def _bend(n: int, fps: float, style: float) -> np.ndarray:
    cycles = _cycles(n, fps, 0.6 * style)
    lean = 1.35 * np.sin(np.pi * cycles * np.linspace(0.0, 1.0, n)) ** 2
    poses = _repeat(_idle(0.0), n)
    poses[:, _TORSO] += lean
    poses[:, _X] -= 0.12 * lean
    poses[:, _LHIP] -= 0.12 * lean
    poses[:, _RHIP] -= 0.12 * lean
    poses[:, _LSH] += 0.35 * lean
    poses[:, _RSH] += 0.45 * lean
    return poses


def _wave(n: int, fps: float, style: float, hands: tuple[str, ...]) -> np.ndarray:
    u = np.linspace(0.0, 1.0, n)
    raise_ = _envelope(u, 0.22)
    swing = np.sin(2 * np.pi * 2.2 * style * u * (n - 1) / fps)
    poses = _repeat(_idle(1.0), n)
    for hand in hands:
        sign, sh, el = (1.0, _RSH, _REL) if hand == "right" else (-1.0, _LSH, _LEL)
        poses[:, sh] += sign * 2.35 * raise_
        poses[:, el] += sign * raise_ * (0.35 + 0.55 * swing)
    return poses


def _wave1(n: int, fps: float, style: float) -> np.ndarray:
    return _wave(n, fps, style, ("right",))


def _wave2(n: int, fps: float, style: float) -> np.ndarray:
    return _wave(n, fps, style, ("right", "left"))


def _clap(n: int, fps: float, style: float) -> np.ndarray:
    u = np.linspace(0.0, 1.0, n)
    raise_ = _envelope(u, 0.22)
    closing = 0.5 * (1 - np.cos(2 * np.pi * 2.0 * style * u * (n - 1) / fps))
    poses = _repeat(_idle(1.0), n)
    poses[:, _RSH] += raise_ * 0.23
    poses[:, _LSH] -= raise_ * 0.23
    bend = raise_ * (1.3 + 0.62 * closing)
    poses[:, _REL] -= bend
    poses[:, _LEL] += bend
    return poses


_SIT_POSE = np.array([-0.15, 0.0, 0.35, 0.85, -0.2, 0.95, -0.2, 1.45, -1.45, 1.5, -1.5, 0.0])


def _sit_down(n: int, fps: float, style: float) -> np.ndarray:
    u = np.linspace(0.0, 1.0, n)
    s = _smoothstep(u)
    start = _idle(0.0)
    poses = start[None, :] + s[:, None] * (_SIT_POSE - start)[None, :]
    poses[:, _TORSO] += 0.35 * np.sin(np.pi * u)  # lean forward to shift the weight
    return poses


def _stand_up(n: int, fps: float, style: float) -> np.ndarray:
    return _sit_down(n, fps, style)[::-1].copy()


_PROGRAMS = {
    "walk": _walk, "run": _run, "jump": _jump, "jack": _jack, "bend": _bend,
    "wave1": _wave1, "wave2": _wave2, "clap": _clap,
    "sit_down": _sit_down, "stand_up": _stand_up,
}


def sub_action_lengths(class_name: str, n: int) -> list[tuple[str, int]]:
    """The sub-actions of an action of ``n`` frames, in order, with their frame counts.

    The order pair shares one split: the wave part always has ``n // 2`` frames and the clap
    part the rest, so ``clap_then_wave`` holds exactly ``wave_then_clap``'s two parts swapped.
    """
    n_wave = n // 2
    if class_name == "wave_then_clap":
        return [("wave1", n_wave), ("clap", n - n_wave)]
    if class_name == "clap_then_wave":
        return [("clap", n - n_wave), ("wave1", n_wave)]
    return [(class_name, n)]


def action_poses(class_name: str, n: int, fps: float, style: float = 1.0) -> np.ndarray:
    """Poses of the action frames of ``class_name`` (first and last rows are idle poses).

    Parameters
    ----------
    class_name : str
        One of the twelve synthetic classes.
    n : int
        Number of action frames (>= 4).
    fps : float
        Frame rate (motion programs are defined in seconds).
    style : float
        The clip's tempo factor (about 1), drawn independently of the class.

    Returns
    -------
    numpy.ndarray
        ``(n, POSE_SIZE)`` float array.
    """
    if n < 4:
        raise ValueError(f"an action needs at least 4 frames; got n={n}. Use more frames per clip.")
    parts = sub_action_lengths(class_name, n)
    if parts[0][0] not in _PROGRAMS:
        raise ValueError(f"unknown class {class_name!r}")
    poses = np.concatenate([_PROGRAMS[name](k, fps, style) for name, k in parts])
    # rounded to 1e-9 so that last-bit differences of sin/cos between CPUs cannot propagate
    return np.round(poses, 9)


def clip_poses(class_name: str, n_frames: int, lead_in: int, lead_out: int, fps: float,
               style: float = 1.0) -> tuple[np.ndarray, int, int]:
    """Poses of a whole clip: idle lead-in, the action, idle lead-out.

    ``stand_up`` is ``sit_down`` played backwards, including its timing: its lead-in is the
    lead-out of the matching ``sit_down`` clip, so the two pose sequences are exact reversals.

    Returns
    -------
    poses : numpy.ndarray
        ``(n_frames, POSE_SIZE)``.
    start, end : int
        First and last action frame (inclusive). Outside ``[start, end]`` the pose is constant.
    """
    if class_name == "stand_up":
        poses, start, end = clip_poses("sit_down", n_frames, lead_out, lead_in, fps, style)
        return poses[::-1].copy(), n_frames - 1 - end, n_frames - 1 - start
    n_action = n_frames - lead_in - lead_out
    action = action_poses(class_name, n_action, fps, style)
    poses = np.concatenate([_repeat(action[0], lead_in), action, _repeat(action[-1], lead_out)])
    return poses, lead_in, lead_in + n_action - 1


# ---------------------------------------------------------------------------- geometry
def _direction(angle: float) -> np.ndarray:
    return np.array([np.sin(angle), np.cos(angle)])


def forward_kinematics(pose: np.ndarray, body: Body) -> dict[str, np.ndarray]:
    """Joint positions in body heights; x forward, y down, the lowest foot on y = 0.

    Returns a dict with ``head, neck, hip, l_shoulder, l_elbow, l_hand, r_shoulder, r_elbow,
    r_hand, l_hip, l_knee, l_foot, r_hip, r_knee, r_foot``.
    """
    lean = pose[_TORSO]
    up = np.array([np.sin(lean), -np.cos(lean)])
    across = np.array([np.cos(lean), np.sin(lean)])
    hip = np.array([pose[_X], 0.0])
    neck = hip + body.torso * up
    joints = {"hip": hip, "neck": neck, "head": neck + (body.head_radius * 1.15) * up}
    spread = pose[_LAT]
    for side, sign, sh, el, hp, kn in (("l", -1.0, _LSH, _LEL, _LHIP, _LKN),
                                        ("r", 1.0, _RSH, _REL, _RHIP, _RKN)):
        shoulder = neck + sign * spread * body.shoulder_width * across
        elbow = shoulder + body.upper_arm * _direction(pose[sh])
        hand = elbow + body.lower_arm * _direction(pose[sh] + pose[el])
        hip_joint = hip + sign * spread * body.hip_width * across
        knee = hip_joint + body.thigh * _direction(pose[hp])
        foot = knee + body.shin * _direction(pose[hp] + pose[kn])
        joints.update({f"{side}_shoulder": shoulder, f"{side}_elbow": elbow, f"{side}_hand": hand,
                       f"{side}_hip": hip_joint, f"{side}_knee": knee, f"{side}_foot": foot})
    ground = max(joints["l_foot"][1], joints["r_foot"][1])
    offset = np.array([0.0, ground + pose[_LIFT]])
    return {name: p - offset for name, p in joints.items()}


def _shade(colour: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return tuple(int(min(255, max(0, round(c * factor)))) for c in colour)


def _pt(p: np.ndarray) -> tuple[int, int]:
    return (int(round(p[0] * (1 << _SHIFT))), int(round(p[1] * (1 << _SHIFT))))


def _limb(img: np.ndarray, a: np.ndarray, b: np.ndarray, colour, width: float) -> None:
    """A shaded capsule: base colour, a lighter stripe towards the light (upper left)."""
    thick = max(1, int(round(width)))
    cv2.line(img, _pt(a), _pt(b), colour, thick, cv2.LINE_AA, _SHIFT)
    if thick >= 3:
        offset = np.array([-0.2, -0.2]) * thick
        cv2.line(img, _pt(a + offset), _pt(b + offset), _shade(colour, 1.3),
                 max(1, thick // 3), cv2.LINE_AA, _SHIFT)


def draw_figure(img: np.ndarray, pose: np.ndarray, body: Body, foot_x: float, ground_y: float,
                height_px: float, facing: int) -> None:
    """Draw the figure (anti-aliased, shaded) into the RGB image ``img`` in place.

    Parameters
    ----------
    img : numpy.ndarray
        ``(H, W, 3)`` uint8 RGB frame, modified in place.
    pose : numpy.ndarray
        ``(POSE_SIZE,)`` pose.
    body : Body
    foot_x, ground_y : float
        Image position (pixels) of the root's ground point at ``root_x = 0``.
    height_px : float
        Standing height in pixels.
    facing : {1, -1}
        1: the figure faces right (+x), -1: left (the pose is mirrored).
    """
    joints = forward_kinematics(pose, body)
    scale = np.array([facing * height_px, height_px])
    origin = np.array([foot_x, ground_y])
    j = {name: origin + p * scale for name, p in joints.items()}
    h = height_px
    far = 0.78  # the far side is in shadow
    for side, factor in (("l", far), ("r", 1.0)):
        _limb(img, j[f"{side}_hip"], j[f"{side}_knee"], _shade(body.trousers, factor), 0.065 * h)
        _limb(img, j[f"{side}_knee"], j[f"{side}_foot"], _shade(body.trousers, factor), 0.055 * h)
        if side == "l":
            _limb(img, j["l_shoulder"], j["l_elbow"], _shade(body.shirt, far), 0.05 * h)
            _limb(img, j["l_elbow"], j["l_hand"], _shade(body.skin, far), 0.042 * h)
    _limb(img, j["hip"], j["neck"], body.shirt, 0.11 * h)
    radius = body.head_radius * h
    centre = _pt(j["head"])
    cv2.circle(img, centre, int(round(radius * (1 << _SHIFT))), body.skin, -1, cv2.LINE_AA, _SHIFT)
    if radius >= 3:
        cv2.circle(img, _pt(j["head"] - radius * 0.3), int(round(radius * 0.45 * (1 << _SHIFT))),
                   _shade(body.skin, 1.15), -1, cv2.LINE_AA, _SHIFT)
    _limb(img, j["r_shoulder"], j["r_elbow"], body.shirt, 0.05 * h)
    _limb(img, j["r_elbow"], j["r_hand"], body.skin, 0.042 * h)
