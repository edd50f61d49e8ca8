"""Tiny, clearly separable videos for deep-track tests: a bright square moving in a direction."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

#: Class index -> (dx, dy) pixels per frame.
DIRECTIONS = {0: (2, 0), 1: (-2, 0), 2: (0, 2)}


def _start(rng: np.random.Generator, extent: int, side: int, step: int, frames: int) -> int:
    travel = abs(step) * (frames - 1)
    start = int(rng.integers(0, extent - side - travel + 1))
    return extent - side - start if step < 0 else start


def write_moving_square(path: Path, direction: int, *, seed: int, frames: int = 16,
                        size: tuple[int, int] = (64, 48), side: int = 12) -> Path:
    """Write an MJPG .avi of a white square moving in ``DIRECTIONS[direction]`` on noise."""
    rng = np.random.default_rng(seed)
    width, height = size
    dx, dy = DIRECTIONS[direction]
    x = _start(rng, width, side, dx, frames)
    y = _start(rng, height, side, dy, frames)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (width, height))
    background = rng.integers(0, 60, size=(height, width, 3), dtype=np.uint8)
    for t in range(frames):
        frame = background.copy()
        x0, y0 = x + dx * t, y + dy * t
        frame[max(y0, 0) : y0 + side, max(x0, 0) : x0 + side] = 255
        writer.write(frame)
    writer.release()
    return path


def make_dataset(folder: Path, per_class: int, *, seed: int, n_classes: int = 3,
                 frames: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` videos of each class in ``folder``; returns (paths, labels)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths, labels = [], []
    for label in range(n_classes):
        for i in range(per_class):
            path = folder / f"c{label}_{seed}_{i}.avi"
            write_moving_square(path, label, seed=seed * 1000 + label * 100 + i, frames=frames)
            paths.append(str(path))
            labels.append(label)
    return np.asarray(paths, dtype=object), np.asarray(labels)
