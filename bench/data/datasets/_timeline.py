"""Per-frame poses of a sampled timeline: the instances' motion programs and the gaps' idle motion.

:func:`actor_track` plays a :class:`~bench.data.datasets._sequence.ActorSequence`: each instance
is its class's motion program (:func:`bench.data.datasets._figure.action_poses`, unchanged, so
its frames are those of the recognition clips' actions), each gap holds the idle pose with its
background motions added (see :class:`~bench.data.datasets._sequence.Event`). The root's travel
(walks, runs, steps, the hip moving back when seated) is taken out of the poses and kept as a
world position, so that a turn between two walks keeps the actor where it stands.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.data.datasets._figure import POSE_FIELDS, POSE_SIZE, action_poses
from bench.data.datasets._sequence import CLASSES, IDLE_POSES, ActorSequence, Gap

__all__ = ["ActorTrack", "actor_track", "view_of_pose"]

_IDX = {name: i for i, name in enumerate(POSE_FIELDS)}


@dataclass
class ActorTrack:
    """Per-frame state of one actor, ready to draw.

    Attributes
    ----------
    poses : numpy.ndarray
        ``(T, POSE_SIZE)``; ``root_x`` is 0 (travel lives in ``world_x``).
    world_x : numpy.ndarray
        ``(T,)`` world x of the root's ground point in pixels (before the camera offset).
    facing : numpy.ndarray
        ``(T,)`` int8, 1 or -1.
    label : numpy.ndarray
        ``(T,)`` int16 index into :data:`CLASSES` of the instance under way, -1 when idle.
    instance : numpy.ndarray
        ``(T,)`` int32 index into ``sequence.instances``, -1 when idle.
    """

    poses: np.ndarray
    world_x: np.ndarray
    facing: np.ndarray
    label: np.ndarray
    instance: np.ndarray


def _smooth(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def _ramp(a: np.ndarray, b: np.ndarray, m: int) -> np.ndarray:
    u = np.arange(m) / max(m - 1, 1)
    return a[None, :] + _smooth(u)[:, None] * (b - a)[None, :]


def _gap_poses(gap: Gap, start: np.ndarray, target: np.ndarray, heading: int,
               sitting: bool) -> tuple[np.ndarray, np.ndarray]:
    """Poses (``root_x`` = forward displacement in body heights) and facing of a gap."""
    poses = np.repeat(start[None, :], gap.n, axis=0)
    facing = np.full(gap.n, heading, np.int8)
    shift = np.zeros(gap.n)
    base = start
    for ev in gap.events:
        s, m = ev.offset, ev.n
        u = np.arange(m) / max(m - 1, 1)
        if ev.kind == "turn":
            if ev.heading != heading and ev.view == view_of_pose(base) == 0:
                half = m // 2
                poses[s:s + half] = _ramp(base, IDLE_POSES[1], half)
                poses[s + half:s + m] = _ramp(IDLE_POSES[1], target, m - half)
                facing[s + half:] = ev.heading
            else:
                poses[s:s + m] = _ramp(base, target, m)
                facing[(s if view_of_pose(base) == 1 else s + m - 1):] = ev.heading
            poses[s + m:] = target
            base, heading = target, ev.heading
            continue
        wave = np.sin(np.pi * ev.count * u)
        if ev.kind == "sway":
            poses[s:s + m, _IDX["torso"]] += ev.amplitude * wave
            if not sitting:
                shift[s:s + m] -= 0.25 * ev.amplitude * wave
        elif ev.kind == "look":
            other = IDLE_POSES[1 - view_of_pose(base)]
            poses[s:s + m] += ev.amplitude * (np.sin(np.pi * u) ** 2)[:, None] * (other - base)
        else:  # steps: alternate legs, the lifted one swings the way the step goes
            forward = ev.amplitude * ev.heading
            bounds = np.linspace(0, m, ev.count + 1).round().astype(int)
            for j in range(ev.count):
                a, b = bounds[j], bounds[j + 1]
                v = np.sin(np.pi * np.arange(b - a) / max(b - a - 1, 1))
                hip, knee = ("l_hip", "l_knee") if j % 2 == 0 else ("r_hip", "r_knee")
                poses[s + a:s + b, _IDX[hip]] += np.sign(forward) * 0.28 * v
                poses[s + a:s + b, _IDX[knee]] -= 0.5 * v
                shift[s + a:s + b] += forward * (j + _smooth(np.arange(b - a) / max(b - a - 1, 1)))
            shift[s + m:] += forward * ev.count
    poses[:, _IDX["root_x"]] = shift
    return poses, facing


def view_of_pose(pose: np.ndarray) -> int:
    """0 if ``pose`` is seen in profile (``lateral`` < 0.5), else 1."""
    return int(pose[_IDX["lateral"]] >= 0.5)


def actor_track(sequence: ActorSequence, fps: float) -> ActorTrack:
    """Per-frame poses, positions and facing of a sampled sequence (deterministic)."""
    n = sequence.n_frames
    poses = np.empty((n, POSE_SIZE))
    world = np.empty(n)
    facing = np.empty(n, np.int8)
    label = np.full(n, -1, np.int16)
    instance = np.full(n, -1, np.int32)
    pose, heading, x, sitting = IDLE_POSES[sequence.view0].copy(), sequence.heading0, sequence.x0, False
    items = list(zip(sequence.gaps, [*sequence.instances, None], strict=True))
    for k, (gap, inst) in enumerate(items):
        chunks = []
        if inst is not None:
            action = action_poses(inst.label, inst.n, fps, inst.style)
            target = action[0].copy()
            target[0] = 0.0
        else:
            target = pose
        if gap.n:
            chunks.append((gap.start, *_gap_poses(gap, pose, target, heading, sitting)))
        if inst is not None:
            chunks.append((inst.start, action, np.full(inst.n, inst.heading, np.int8)))
            label[inst.start:inst.end + 1] = CLASSES.index(inst.label)
            instance[inst.start:inst.end + 1] = k
        for start, chunk, chunk_facing in chunks:
            m = len(chunk)
            step = np.diff(chunk[:, 0], prepend=chunk[0, 0])
            world[start:start + m] = x + np.cumsum(chunk_facing * step) * sequence.height_px
            x = float(world[start + m - 1])
            poses[start:start + m] = chunk
            poses[start:start + m, 0] = 0.0
            facing[start:start + m] = chunk_facing
            heading = int(chunk_facing[-1])
        pose = poses[(inst.end if inst is not None else n - 1)].copy()
        sitting = inst is not None and inst.label == "sit_down"
    return ActorTrack(np.round(poses, 9), np.round(world, 6), facing, label, instance)
