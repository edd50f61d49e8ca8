"""One actor's timeline in an untrimmed video: the sequence sampler, its rules, the idle motion.

A timeline is a chain ``gap, instance, gap, instance, ..., gap``. An *instance* is one of the
twelve classes played by its motion program (:func:`bench.data.datasets._figure.action_poses`),
so its frames are exactly those of the recognition clips' actions. A *gap* is idle time filled
with **background motion**: motion that is not an action (weight shifts, small steps, turning
between the profile and the frontal view, glancing towards the camera). A gap of zero frames
joins two instances **back to back**.

:func:`sample_sequence` draws the chain (no pixels: the designed properties can be checked
over thousands of timelines); :func:`bench.data.datasets._timeline.actor_track` turns it into
per-frame poses, world positions and facing directions for the renderer.

Rules the sampler enforces
--------------------------
* **No ambiguous compositions.** Two instances may meet without a gap only if the pair cannot
  be read as something else (:func:`pair_conflict`): not the same class twice (it reads as one
  longer instance), not a pair whose facing sub-actions are equal (``wave_then_clap`` then
  ``clap`` reads as a wave and a longer clap), and not a pair whose facing sub-actions compose
  an order class (``wave1`` then ``clap`` *is* ``wave_then_clap``; ``clap`` then
  ``clap_then_wave`` holds ``clap``, ``clap``; ``clap_then_wave`` then ``clap`` holds
  ``wave1, clap``). Such pairs are separated by at least ``separation_s`` of idle time that
  holds background motion.
* **Views and posture.** Instances meet back to back only within one view (profile:
  ``walk, run, jump, bend, sit_down, stand_up``; frontal: the arm actions and ``jack``), since
  changing view is a turn, which is background motion and takes time. A seated actor (after
  ``sit_down``) can only ``stand_up``, and ``sit_down`` is placed only when its ``stand_up``
  still fits in the video.
* **Idle motion never imitates its neighbour.** No small steps in a gap next to a ``walk`` or
  ``run`` (they would lengthen the gait), and every gap of at least :data:`MIN_GAP_MOTION`
  frames holds at least one background motion.
* **Room.** ``walk`` and ``run`` head towards the side of the stage with more room and are cut
  to the room there; small steps head towards the centre. Actors never leave the stage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.data.datasets._figure import POSE_FIELDS, action_poses, sub_action_lengths

__all__ = [
    "CLASSES", "FRONTAL", "TRAVEL", "DURATION_S", "COMPOSITES", "MIN_GAP_MOTION",
    "SequenceRules", "Instance", "Event", "Gap", "ActorSequence", "IDLE_POSES",
    "view_of", "sub_actions", "pair_conflict", "adjacency_problem", "forbidden_pairs",
    "travel_px", "sample_sequence",
]

#: The twelve classes, in label order (the recognition generator's).
CLASSES = ("walk", "run", "jump", "jack", "bend", "wave1", "wave2", "clap",
           "sit_down", "stand_up", "wave_then_clap", "clap_then_wave")
#: Classes seen from the front (their programs start and end in the frontal idle pose).
FRONTAL = ("jack", "wave1", "wave2", "clap", "wave_then_clap", "clap_then_wave")
#: Classes that travel across the stage.
TRAVEL = ("walk", "run")
#: Instance duration range per class in seconds (log-uniform; the upper end is capped by
#: ``max_instance_s``, walk and run also by the room ahead). The lower ends hold at least one
#: cycle of the motion; together the ranges span 0.6 s to 8 s.
DURATION_S = {
    "walk": (1.0, 3.0), "run": (0.6, 1.6), "jump": (0.6, 4.0), "jack": (0.8, 6.0),
    "bend": (1.2, 5.0), "wave1": (0.6, 8.0), "wave2": (0.6, 8.0), "clap": (0.6, 8.0),
    "sit_down": (0.8, 2.0), "stand_up": (0.8, 2.0),
    "wave_then_clap": (1.2, 8.0), "clap_then_wave": (1.2, 8.0),
}
#: Sub-action pairs that *are* a class when played back to back.
COMPOSITES = {("wave1", "clap"): "wave_then_clap", ("clap", "wave1"): "clap_then_wave"}
#: Gaps of at least this many frames always hold background motion.
MIN_GAP_MOTION = 6

# Background motion: durations (s) and magnitudes.
_TURN_S = (0.5, 0.9)
_SWAY_S, _SWAY_RAD, _SWAY_HZ = (0.6, 2.0), (0.04, 0.09), (0.4, 0.8)
_STEP_S, _STEP_BH = (0.4, 0.6), (0.05, 0.12)
_LOOK_S, _LOOK_FRACTION = (0.8, 1.5), (0.35, 0.7)
_TURN_PROBABILITY = 0.3  # a profile instance faces the other way than the previous state
_MIN_EVENT = 4  # frames
_IDX = {name: i for i, name in enumerate(POSE_FIELDS)}
_STANDING = tuple(c for c in CLASSES if c != "stand_up")  # what a standing actor may start
#: The idle poses of the profile (0) and frontal (1) views, as the programs start and end.
IDLE_POSES = {0: action_poses("jump", 8, 25.0)[0], 1: action_poses("clap", 8, 25.0)[0]}


def view_of(label: str) -> int:
    """0 for a profile-view class, 1 for a frontal one."""
    return int(label in FRONTAL)


def sub_actions(label: str) -> tuple[str, ...]:
    """The motion programs a class plays in order (two for the order pair)."""
    return tuple(name for name, _ in sub_action_lengths(label, 8))


def pair_conflict(first: str, second: str) -> str | None:
    """Why ``second`` played right after ``first`` would read as something else (or None)."""
    a, b = sub_actions(first)[-1], sub_actions(second)[0]
    if first == second:
        return "the same class twice reads as one longer instance"
    if a == b:
        return f"the two meet in a {a}: they read as one instance with a longer {a}"
    if (a, b) in COMPOSITES:
        return f"{a} then {b} is the class {COMPOSITES[a, b]}"
    return None


def adjacency_problem(first: str, second: str) -> str | None:
    """Why ``second`` may not start the frame after ``first`` ends (None: it may)."""
    conflict = pair_conflict(first, second)
    if conflict is not None:
        return conflict
    if (first == "sit_down") != (second == "stand_up"):
        return "a seated actor can only stand up, and only a seated one can"
    if view_of(first) != view_of(second):
        return "changing between the profile and the frontal view is a turn, which takes time"
    return None


def forbidden_pairs() -> dict[tuple[str, str], str]:
    """Every ambiguous pair (:func:`pair_conflict`) with its reason, in label order."""
    return {(a, b): why for a in CLASSES for b in CLASSES
            if (why := pair_conflict(a, b)) is not None}


@dataclass(frozen=True)
class SequenceRules:
    """The sampler's parameters (see :class:`bench.data.datasets.untrimmed.UntrimmedParams`)."""

    fps: float
    max_instance_s: float = 8.0
    gap_s: tuple[float, float] = (0.4, 4.0)
    lead_s: tuple[float, float] = (0.5, 2.5)
    back_to_back: float = 0.6
    separation_s: float = 1.0

    def frames(self, seconds: float) -> int:
        """Seconds to a whole number of frames (at least 1)."""
        return max(1, int(round(seconds * self.fps)))


@dataclass(frozen=True)
class Instance:
    """One action instance: frames ``start .. start + n - 1`` (inclusive) of the video."""

    label: str
    start: int
    n: int
    heading: int
    style: float

    @property
    def end(self) -> int:
        """Last frame (inclusive)."""
        return self.start + self.n - 1


@dataclass(frozen=True)
class Event:
    """One background motion inside a gap, ``offset .. offset + n - 1`` from the gap's start.

    ``kind`` is ``turn`` (to the next instance's view and facing, through the frontal view
    when the facing flips), ``sway`` (a weight shift: the torso leans by ``amplitude`` radians,
    ``count`` half-cycles), ``step`` (``count`` small steps of ``amplitude`` body heights each,
    signed in world x) or ``look`` (a partial turn towards the other view and back,
    ``amplitude`` of the way). ``heading`` and ``view`` hold during the event (for a turn:
    after it).
    """

    kind: str
    offset: int
    n: int
    heading: int
    view: int
    amplitude: float = 0.0
    count: int = 1


@dataclass(frozen=True)
class Gap:
    """Idle frames ``start .. start + n - 1`` and the background motions in them."""

    start: int
    n: int
    events: tuple[Event, ...] = ()


@dataclass(frozen=True)
class ActorSequence:
    """A whole timeline: ``gaps[i]`` precedes ``instances[i]``; ``gaps[-1]`` ends the video."""

    n_frames: int
    view0: int
    heading0: int
    x0: float
    height_px: float
    instances: tuple[Instance, ...]
    gaps: tuple[Gap, ...]


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def travel_px(label: str, n: int, fps: float, style: float, height_px: float) -> float:
    """How far (pixels, unsigned) an instance of ``n`` frames carries the actor."""
    poses = action_poses(label, n, fps, style)
    return abs(float(poses[-1, _IDX["root_x"]] - poses[0, _IDX["root_x"]])) * height_px


def _fit_travel(label: str, n: int, n_min: int, fps: float, style: float, height_px: float,
                room: float) -> int:
    while n > n_min and (travel := travel_px(label, n, fps, style, height_px)) > room:
        n = max(n_min, min(n - 1, int(n * room / travel)))
    return n


def _gap_events(rng, rules, n, turn_n, state_in, state_out, sitting, steps_ok, x, stage,
                height_px) -> tuple[tuple[Event, ...], float]:
    """Draw the background motions of a gap of ``n`` frames; returns them and the new x."""
    specs: list[list] = [["turn", turn_n, 1]] if turn_n else []
    free = n - turn_n - 2
    extra = int(rng.poisson(n / rules.fps / 2.0))
    required = not specs and n >= MIN_GAP_MOTION
    kinds = ("sway",) if sitting else (("sway", "step", "look") if steps_ok else ("sway", "look"))
    for _ in range(max(extra, int(required))):
        kind = kinds[int(rng.integers(len(kinds)))]
        count = int(rng.integers(1, 3)) if kind == "step" else 1
        span = {"sway": _SWAY_S, "step": _STEP_S, "look": _LOOK_S}[kind]
        m = min(count * rules.frames(rng.uniform(*span)), free)
        if m < count * _MIN_EVENT and not specs and required:  # the one motion must fit
            kind, count = "sway", 1
        if m >= count * _MIN_EVENT:
            specs.append([kind, m, count])
            free -= m
    specs = [specs[i] for i in rng.permutation(len(specs))]
    still = n - sum(m for _, m, _ in specs)
    pauses = rng.multinomial(max(0, still - 2), [1.0 / (len(specs) + 1)] * (len(specs) + 1))
    offset = int(pauses[0]) + min(1, still)
    (view, heading), events = state_in, []
    centre = 0.5 * (stage[0] + stage[1])
    for (kind, m, count), pause in zip(specs, pauses[1:], strict=True):
        amplitude = 0.0
        if kind == "turn":
            view, heading = state_out
        elif kind == "sway":
            amplitude = float(rng.uniform(*_SWAY_RAD) * rng.choice([-1.0, 1.0]))
            count = max(1, int(round(2 * rng.uniform(*_SWAY_HZ) * m / rules.fps)))
        elif kind == "look":
            amplitude = float(rng.uniform(*_LOOK_FRACTION))
        else:  # small steps towards the centre, never past the stage edge
            step = float(rng.uniform(*_STEP_BH))
            direction = 1.0 if x <= centre else -1.0
            room = (stage[1] - x) if direction > 0 else (x - stage[0])
            step = min(step, max(0.0, room - 1.0) / (count * height_px))
            amplitude = direction * step
            x += amplitude * count * height_px
        events.append(Event(kind, offset, m, heading, view, amplitude, count))
        offset += m + int(pause)
    return tuple(events), x


def sample_sequence(rng: np.random.Generator, rules: SequenceRules, *, n_frames: int,
                    height_px: float, stage: tuple[float, float], x0: float,
                    style: float) -> ActorSequence:
    """Draw one actor's chain of instances and gaps over ``n_frames`` frames.

    Parameters
    ----------
    rng : numpy.random.Generator
        The actor's sequence stream (seeded apart from the scene's, so that the scene never
        depends on the sequence).
    rules : SequenceRules
    n_frames : int
        Length of the video.
    height_px : float
        The actor's standing height in pixels (walk and run are cut to the room ahead).
    stage : (float, float)
        The world x range (pixels) the actor's feet stay in.
    x0 : float
        Start position (world x, pixels).
    style : float
        The actor's tempo (identity); each instance varies it by ±5 %.

    Returns
    -------
    ActorSequence
    """
    frames = rules.frames
    view, heading = int(rng.integers(2)), (1 if rng.random() < 0.5 else -1)
    view0, heading0, x, sitting, prev, cursor = view, heading, float(x0), False, None, 0
    tail = frames(rules.lead_s[0])
    instances: list[Instance] = []
    gaps: list[Gap] = []
    while True:
        candidates = ("stand_up",) if sitting else _STANDING
        label = candidates[int(rng.integers(len(candidates)))]
        toward = 1 if stage[1] - x >= x - stage[0] else -1  # the side with more room
        may_join = prev is not None and adjacency_problem(prev, label) is None and (
            label not in TRAVEL or toward == heading)
        together = bool(rng.random() < rules.back_to_back) and may_join
        if label in TRAVEL:
            new_heading = toward
        elif view_of(label) == 0 and not sitting and not together:
            new_heading = -heading if rng.random() < _TURN_PROBABILITY else heading
        else:
            new_heading = heading
        inst_style = float(style * rng.uniform(0.95, 1.05))
        lo, hi = DURATION_S[label]
        n_min = frames(lo)
        n = frames(_loguniform(rng, lo, min(hi, rules.max_instance_s)))
        if label in TRAVEL:
            room = (stage[1] - x) if new_heading > 0 else (x - stage[0])
            n = _fit_travel(label, n, n_min, rules.fps, inst_style, height_px, room)
        turn = (view_of(label), new_heading) != (view, heading)
        turn_n = frames(rng.uniform(*_TURN_S)) if turn else 0
        if together:
            g = g_min = 0
        else:
            span = rules.lead_s if prev is None else rules.gap_s
            g, g_min = frames(_loguniform(rng, *span)), frames(span[0])
            if prev is not None and pair_conflict(prev, label) is not None:
                g_min = max(g_min, frames(rules.separation_s))
            if turn:
                g_min = max(g_min, turn_n + 2)
            g = max(g, g_min)
        reserve = tail + (frames(DURATION_S["stand_up"][0]) + frames(rules.gap_s[0])
                          if label == "sit_down" else 0)
        available = n_frames - cursor - reserve
        if g + n > available:
            g = max(g_min, available - n)
            n = min(n, available - g)
        if n < n_min:
            break
        steps_ok = not sitting and label not in TRAVEL and prev not in TRAVEL
        events, x = _gap_events(rng, rules, g, turn_n, (view, heading),
                                (view_of(label), new_heading), sitting, steps_ok, x, stage,
                                height_px)
        gaps.append(Gap(cursor, g, events))
        instances.append(Instance(label, cursor + g, n, new_heading, inst_style))
        poses = action_poses(label, n, rules.fps, inst_style)
        x += new_heading * float(poses[-1, 0] - poses[0, 0]) * height_px
        cursor += g + n
        view, heading, sitting, prev = view_of(label), new_heading, label == "sit_down", label
    g = n_frames - cursor
    events, _ = _gap_events(rng, rules, g, 0, (view, heading), (view, heading), sitting,
                            not sitting and prev not in TRAVEL, x, stage, height_px)
    gaps.append(Gap(cursor, g, events))
    return ActorSequence(n_frames, view0, heading0, float(x0), float(height_px),
                         tuple(instances), tuple(gaps))
