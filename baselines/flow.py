"""Dense optical flow between consecutive frames, computed once per video and shared by HOF/MBH.

Two OpenCV algorithms are offered:

* ``"farneback"`` (the default) — Farnebäck's polynomial-expansion flow, the flow the
  classical HOF/MBH literature used (DenseTrack, Wang et al. 2011/2013, calls the same
  OpenCV routine).
* ``"dis"`` — Dense Inverse Search (Kroeger et al. 2016), several times faster at a small
  loss of accuracy.

The chosen algorithm and its parameters are part of each method's card and of the
descriptor cache key (see :mod:`baselines.extraction`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

__all__ = ["FlowConfig", "FLOW_ALGORITHMS", "compute_flow", "FlowComputer"]

FLOW_ALGORITHMS = ("farneback", "dis")

_DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


@dataclass(frozen=True)
class FlowConfig:
    """Parameters of the optical-flow algorithm.

    Attributes
    ----------
    algorithm : {"farneback", "dis"}
        ``"farneback"`` is the default of every classical method.
    pyr_scale, levels, winsize, iterations, poly_n, poly_sigma : Farnebäck parameters
        Those of ``cv2.calcOpticalFlowFarneback``. The defaults (0.5, 3, 15, 3, 5, 1.2) are
        OpenCV's documented example values; DenseTrack uses a similar pyramid (scale
        1/sqrt(2), 8 levels) on its own multi-scale pyramid.
    dis_preset : {"ultrafast", "fast", "medium"}
        Preset of ``cv2.DISOpticalFlow`` when ``algorithm == "dis"``.
    """

    algorithm: str = "farneback"
    pyr_scale: float = 0.5
    levels: int = 3
    winsize: int = 15
    iterations: int = 3
    poly_n: int = 5
    poly_sigma: float = 1.2
    dis_preset: str = "fast"

    def __post_init__(self) -> None:
        if self.algorithm not in FLOW_ALGORITHMS:
            raise ValueError(
                f"The 'algorithm' parameter of FlowConfig must be one of {FLOW_ALGORITHMS}. "
                f"Got {self.algorithm!r} instead."
            )
        if self.dis_preset not in _DIS_PRESETS:
            raise ValueError(
                f"The 'dis_preset' parameter of FlowConfig must be one of "
                f"{tuple(_DIS_PRESETS)}. Got {self.dis_preset!r} instead."
            )

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        """One line for a method card."""
        if self.algorithm == "dis":
            return f"DIS optical flow (OpenCV, preset {self.dis_preset})"
        return (
            "Farneback optical flow (OpenCV calcOpticalFlowFarneback, "
            f"pyr_scale={self.pyr_scale}, levels={self.levels}, winsize={self.winsize}, "
            f"iterations={self.iterations}, poly_n={self.poly_n}, poly_sigma={self.poly_sigma})"
        )


class FlowComputer:
    """Computes the flow of successive frame pairs with one configured OpenCV algorithm.

    The DIS object is created once and reused for every pair of a video.

    Parameters
    ----------
    config : FlowConfig
    """

    def __init__(self, config: FlowConfig | None = None):
        self.config = config or FlowConfig()
        self._dis = None

    def __call__(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        """Flow from ``prev`` to ``nxt`` (both ``(H, W)`` uint8) as ``(H, W, 2)`` float32.

        ``flow[y, x] = (dx, dy)``: the pixel ``(x, y)`` of ``prev`` moves to
        ``(x + dx, y + dy)`` in ``nxt``.
        """
        if prev.ndim != 2 or prev.shape != nxt.shape:
            raise ValueError(
                "compute_flow needs two grayscale frames of the same (H, W) shape. "
                f"Got {prev.shape} and {nxt.shape}; decode with gray=True."
            )
        prev = np.ascontiguousarray(prev, dtype=np.uint8)
        nxt = np.ascontiguousarray(nxt, dtype=np.uint8)
        c = self.config
        if c.algorithm == "dis":
            if self._dis is None:
                self._dis = cv2.DISOpticalFlow_create(_DIS_PRESETS[c.dis_preset])
            flow = self._dis.calc(prev, nxt, None)
        else:
            flow = cv2.calcOpticalFlowFarneback(
                prev, nxt, None, c.pyr_scale, c.levels, c.winsize, c.iterations, c.poly_n,
                c.poly_sigma, 0,
            )
        return np.asarray(flow, dtype=np.float32)


def compute_flow(prev: np.ndarray, nxt: np.ndarray, config: FlowConfig | None = None) -> np.ndarray:
    """Dense optical flow from ``prev`` to ``nxt``.

    Parameters
    ----------
    prev, nxt : numpy.ndarray
        ``(H, W)`` uint8 grayscale frames.
    config : FlowConfig, optional
        Algorithm and parameters; Farnebäck by default.

    Returns
    -------
    numpy.ndarray
        ``(H, W, 2)`` float32, ``(dx, dy)`` per pixel of ``prev``.

    References
    ----------
    .. [1] G. Farnebäck, "Two-frame motion estimation based on polynomial expansion",
       SCIA 2003, doi:10.1007/3-540-45103-X_50.
    .. [2] T. Kroeger, R. Timofte, D. Dai, L. Van Gool, "Fast optical flow using dense
       inverse search", ECCV 2016, doi:10.1007/978-3-319-46493-0_29.
    """
    return FlowComputer(config)(prev, nxt)
