"""A HOG person detector in the way of Dalal & Triggs (2005): multi-scale sliding windows,
a linear SVM, hard negatives, non-maximum suppression.

Stages, each a small public function tested on its own:

* :func:`hog_blocks` — the normalised HOG blocks of a whole image (the project's kernel,
  :func:`baselines.descriptors.hog`), computed once per pyramid level;
* :func:`window_scores` — the linear score ``w · x + b`` of *every* window of a level at once,
  as a correlation of the block grid with the weights (a window's descriptor is a slice of the
  level's block grid, so no window is described twice);
* :func:`crop_descriptor` — the descriptor of one box cut out of a frame (the training
  positives, flipped and jittered as in [1]_), the same function as a window of the scan;
* :func:`baselines.boxes.box_iou` and :func:`baselines.boxes.nms` — pairwise IoU and
  greedy non-maximum suppression;
* :class:`HOGPersonDetector` — the estimator: window geometry and pyramid from the training
  boxes, random then hard negatives, :class:`sklearn.svm.LinearSVC`.

Boxes are ``(x1, y1, x2, y2)`` in pixels of the frame, ``x2, y2`` exclusive.

References
----------
.. [1] N. Dalal, B. Triggs, "Histograms of Oriented Gradients for Human Detection", CVPR 2005.
   :doi:`10.1109/CVPR.2005.177`
"""

from __future__ import annotations

import cv2
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted

from baselines.boxes import box_iou, nms, top_scores
from baselines.descriptors import hog

__all__ = ["hog_blocks", "window_scores", "crop_descriptor", "box_iou", "nms",
           "HOGPersonDetector"]


def hog_blocks(image: np.ndarray, cell: int, block: int = 2,
               orientations: int = 9) -> np.ndarray:
    """Every normalised HOG block of an image, ``(n_blocks_row, n_blocks_col, D)``.

    ``D = block * block * orientations``; L2-Hys normalisation, blocks one cell apart, as in
    [1]_ (no Gaussian block window, no vote interpolation: :func:`baselines.descriptors.hog`).
    """
    blocks = hog(np.asarray(image, dtype=np.float32), orientations=orientations,
                 pixels_per_cell=(cell, cell), cells_per_block=(block, block),
                 block_norm="L2-Hys", feature_vector=False)
    return blocks.reshape(blocks.shape[0], blocks.shape[1], -1)


def window_scores(blocks: np.ndarray, weights: np.ndarray, bias: float) -> np.ndarray:
    """``w · x + b`` of every window of a block grid.

    Parameters
    ----------
    blocks : (R, C, D) array
        A level's blocks (:func:`hog_blocks`).
    weights : (r, c, D) array
        The SVM weights in the window's block layout.
    bias : float

    Returns
    -------
    (R - r + 1, C - c + 1) ndarray
        Entry ``(i, j)`` scores the window whose top-left block is ``(i, j)``, i.e. whose
        top-left cell is ``(i, j)``; empty when the level is smaller than the window.
    """
    R, C, _ = blocks.shape
    r, c, _ = weights.shape
    out = np.full((max(0, R - r + 1), max(0, C - c + 1)), float(bias))
    if out.size == 0:
        return out
    blocks = blocks.astype(np.float64, copy=False)
    for dr in range(r):
        for dc in range(c):
            out += blocks[dr:dr + out.shape[0], dc:dc + out.shape[1]] @ weights[dr, dc]
    return out


def _window_features(blocks: np.ndarray, rows: np.ndarray, cols: np.ndarray, r: int,
                     c: int) -> np.ndarray:
    """The descriptors (flattened block slices) of the windows at ``(rows, cols)``."""
    return np.stack([blocks[i:i + r, j:j + c].ravel() for i, j in zip(rows, cols, strict=True)])


def crop_descriptor(gray: np.ndarray, window: np.ndarray, size: tuple[int, int], cell: int,
                    block: int = 2, orientations: int = 9, flip: bool = False) -> np.ndarray:
    """The descriptor of one window cut out of a frame and resized to the detector's window.

    The window, with one cell of context on every side, is resampled (bilinear) to
    ``(size[0] + 2 cell, size[1] + 2 cell)`` pixels and described; the blocks of the context
    cells are dropped. The gradients at the window's edge therefore see real neighbours, as
    they do in the scan, so a window cut at a level's own pixels gives exactly the scan's
    descriptor (tested).

    Parameters
    ----------
    gray : (H, W) array
    window : (4,) array
        ``x1, y1, x2, y2`` in pixels (may extend beyond the frame: the border is replicated).
    size : (int, int)
        Window width and height in pixels, multiples of ``cell``.
    cell, block, orientations
        The HOG layout of the detector.
    flip : bool
        Mirror the crop left-right first (Dalal & Triggs' reflected positives).
    """
    x1, y1, x2, y2 = (float(v) for v in window)
    width, height = int(size[0]), int(size[1])
    sx, sy = (x2 - x1) / width, (y2 - y1) / height
    out_w, out_h = width + 2 * cell, height + 2 * cell
    # affine map from output pixel centres to frame coordinates (pixel-centre convention)
    matrix = np.array([[sx, 0.0, x1 - cell * sx + 0.5 * sx - 0.5],
                       [0.0, sy, y1 - cell * sy + 0.5 * sy - 0.5]])
    crop = cv2.warpAffine(np.asarray(gray, dtype=np.float32), matrix, (out_w, out_h),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)
    if flip:
        crop = np.ascontiguousarray(crop[:, ::-1])
    blocks = hog_blocks(crop, cell, block, orientations)
    r, c = height // cell - block + 1, width // cell - block + 1
    return blocks[1:1 + r, 1:1 + c].ravel()


def _bad(name: str, rule: str, value) -> ValueError:
    return ValueError(f"The '{name}' parameter of HOGPersonDetector must be {rule}. "
                      f"Got {value!r} instead.")


class HOGPersonDetector(BaseEstimator):
    """Sliding-window HOG + linear SVM person detector (Dalal & Triggs 2005).

    Parameters
    ----------
    cell : int, default 4
        Cell size in pixels of a pyramid level.
    box_height_cells : int, default 8
        Height of the person box inside the window, in cells; its width follows the median
        aspect of the training boxes (``box_cells_``).
    margin_cells : int, default 1
        Context cells around the box on every side (the 64 x 128 window of [1]_ holds a
        person about 96 px tall: a margin of 16 px).
    block : int, default 2
        Block size in cells (2 x 2 as in [1]_).
    orientations : int, default 9
    scale_step : float, default 2 ** 0.25
        Ratio of consecutive pyramid levels; the levels cover the training box heights from
        0.8 x the smallest to 1.25 x the largest (``scales_``).
    C : float, default 0.01
        LinearSVC regularisation (balanced class weights).
    negative_iou : float, default 0.3
        A training window is a negative when its box has IoU below this with every person of
        its frame and no overlap at all with the frame's ``avoid`` boxes.
    negatives_per_frame, hard_negatives_per_frame : int
        Random negatives per training frame; hard negatives (NMS'd, highest scores above -1)
        added per frame and mining round.
    hard_negative_rounds : int, default 1
    jitter : int, default 2
        Shifted copies of every positive (one cell shift divided by 2 in x and y, and a
        scale of ± one pyramid step) beside the flipped one; 0: the box and its mirror only.
    nms_iou : float, default 0.3
    max_detections : int, default 20
        Detections kept per frame, after NMS.
    random_state : int, default 0

    Attributes
    ----------
    box_cells_ : (int, int)
        Box width and height in cells; ``window_`` the window's (with the margins).
    scales_ : ndarray
        The pyramid's resize factors.
    svm_ : sklearn.svm.LinearSVC
    weights_ : (r, c, D) ndarray; bias_ : float
    n_positives_, n_negatives_ : int

    Notes
    -----
    Differences from [1]_: blocks without Gaussian weighting and votes without trilinear
    interpolation (the project's HOG kernel, as scikit-image); a small window (default 6 x 10
    cells of 4 px) for the generator's small actors; greedy NMS instead of mean-shift
    fusion; negatives from the training frames themselves, since there is no person-free
    image set: the ground truth lists only persons doing an action, so the caller passes
    the boxes where idle persons may stand as ``avoid`` (the localizer uses the same
    video's labelled boxes of the neighbouring keyframes) and windows touching them are never
    negatives, random or hard.
    """

    def __init__(self, cell: int = 4, box_height_cells: int = 8, margin_cells: int = 1,
                 block: int = 2, orientations: int = 9, scale_step: float = 2 ** 0.25,
                 C: float = 0.01, negative_iou: float = 0.3, negatives_per_frame: int = 20,
                 hard_negatives_per_frame: int = 10, hard_negative_rounds: int = 1,
                 jitter: int = 2, nms_iou: float = 0.3, max_detections: int = 20,
                 random_state: int = 0):
        self.cell = cell
        self.box_height_cells = box_height_cells
        self.margin_cells = margin_cells
        self.block = block
        self.orientations = orientations
        self.scale_step = scale_step
        self.C = C
        self.negative_iou = negative_iou
        self.negatives_per_frame = negatives_per_frame
        self.hard_negatives_per_frame = hard_negatives_per_frame
        self.hard_negative_rounds = hard_negative_rounds
        self.jitter = jitter
        self.nms_iou = nms_iou
        self.max_detections = max_detections
        self.random_state = random_state

    def _check_params(self) -> None:
        ints = {"cell": 2, "box_height_cells": 2, "margin_cells": 0, "block": 1,
                "orientations": 1, "negatives_per_frame": 0, "hard_negatives_per_frame": 0,
                "hard_negative_rounds": 0, "jitter": 0, "max_detections": 1}
        for name, low in ints.items():
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < low:
                raise _bad(name, f"an int in the range [{low}, inf)", value)
        for name in ("negative_iou", "nms_iou"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0 < value <= 1:
                raise _bad(name, "a float in (0, 1]", value)
        if not isinstance(self.scale_step, int | float) or not self.scale_step > 1:
            raise _bad("scale_step", "a float > 1", self.scale_step)
        if not isinstance(self.C, int | float) or not self.C > 0:
            raise _bad("C", "a float > 0", self.C)

    # -- geometry
    def _geometry(self, boxes: np.ndarray) -> None:
        w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        aspect = float(np.median(h / np.maximum(w, 1e-9)))
        hc = int(self.box_height_cells)
        self.box_cells_ = (max(1, round(hc / aspect)), hc)
        m = int(self.margin_cells)
        self.window_ = (self.box_cells_[0] + 2 * m, self.box_cells_[1] + 2 * m)
        if min(self.window_) < self.block:
            raise _bad("block", f"at most the window's {self.window_} cells", self.block)
        box_px = hc * self.cell
        lo, hi = 0.8 * float(h.min()), 1.25 * float(h.max())
        n = int(np.floor(np.log(hi / lo) / np.log(self.scale_step))) + 1
        self.scales_ = box_px / (lo * self.scale_step ** np.arange(n))

    def _window_of(self, boxes: np.ndarray) -> np.ndarray:
        """The detector windows (with margins) around person boxes."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        bw, bh = self.box_cells_
        mx = (boxes[:, 2] - boxes[:, 0]) * self.margin_cells / bw
        my = (boxes[:, 3] - boxes[:, 1]) * self.margin_cells / bh
        return boxes + np.column_stack([-mx, -my, mx, my])

    @property
    def _layout(self) -> tuple[int, int]:
        return (self.window_[1] - self.block + 1, self.window_[0] - self.block + 1)

    # -- the scan
    def _scan(self, gray: np.ndarray, keep_blocks: bool = False):
        """Every window of every level: boxes (frame px), scores, and where they come from."""
        gray = np.asarray(gray, dtype=np.float32)
        H, W = gray.shape
        r, c = self._layout
        step, m = self.cell, self.margin_cells
        bw, bh = self.box_cells_
        out_boxes, out_scores, origin, levels = [], [], [], []
        for level, s in enumerate(self.scales_):
            size = (max(1, round(W * s)), max(1, round(H * s)))
            if size[1] < self.window_[1] * step or size[0] < self.window_[0] * step:
                continue
            image = cv2.resize(gray, size, interpolation=cv2.INTER_LINEAR)
            blocks = hog_blocks(image, step, self.block, self.orientations)
            scores = window_scores(blocks, self.weights_, self.bias_)
            if scores.size == 0:
                continue
            ii, jj = np.meshgrid(np.arange(scores.shape[0]), np.arange(scores.shape[1]),
                                 indexing="ij")
            ii, jj = ii.ravel(), jj.ravel()
            fx, fy = W / size[0], H / size[1]
            x1, y1 = (jj + m) * step * fx, (ii + m) * step * fy
            out_boxes.append(np.column_stack([x1, y1, x1 + bw * step * fx, y1 + bh * step * fy]))
            out_scores.append(scores.ravel())
            origin.append(np.column_stack([np.full(len(ii), level), ii, jj]))
            levels.append(blocks if keep_blocks else None)
        if not out_boxes:
            return np.zeros((0, 4)), np.zeros(0), np.zeros((0, 3), np.int64), levels
        return (np.concatenate(out_boxes), np.concatenate(out_scores),
                np.concatenate(origin).astype(np.int64), levels)

    def detect(self, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Person boxes ``(n, 4)`` (frame pixels) and SVM scores ``(n,)`` of one frame, after
        NMS, at most ``max_detections``, by descending score."""
        check_is_fitted(self, "weights_")
        boxes, scores, _, _ = self._scan(gray)
        top = top_scores(scores, 50 * int(self.max_detections))
        keep = top[nms(boxes[top], scores[top], self.nms_iou, self.max_detections)]
        return boxes[keep], scores[keep]

    # -- training
    def _positives(self, frames, boxes) -> np.ndarray:
        size = (self.window_[0] * self.cell, self.window_[1] * self.cell)
        out = []
        shift = 0.5  # half a cell
        for gray, person in zip(frames, boxes, strict=True):
            for window in self._window_of(person):
                variants = [window]
                w, h = window[2] - window[0], window[3] - window[1]
                for k in range(int(self.jitter)):
                    sign = 1 if k % 2 == 0 else -1
                    dx, dy = sign * shift * w / self.window_[0], sign * shift * h / self.window_[1]
                    g = self.scale_step ** (sign * 0.5)
                    cx, cy = (window[0] + window[2]) / 2 + dx, (window[1] + window[3]) / 2 + dy
                    variants.append(np.array([cx - g * w / 2, cy - g * h / 2,
                                              cx + g * w / 2, cy + g * h / 2]))
                for v in variants:
                    for flip in (False, True):
                        out.append(crop_descriptor(gray, v, size, self.cell, self.block,
                                                   self.orientations, flip))
        return np.array(out)

    def _negatives(self, gray, person, avoid, rng, hard: bool) -> np.ndarray:
        boxes, scores, origin, levels = self._scan(gray, keep_blocks=True)
        ok = np.ones(len(boxes), dtype=bool)
        if len(person):
            ok &= box_iou(boxes, person).max(axis=1) < self.negative_iou
        if len(avoid):
            ok &= box_iou(boxes, avoid).max(axis=1) <= 0
        idx = np.flatnonzero(ok)
        if hard:
            idx = idx[scores[idx] > -1.0]
            idx = idx[top_scores(scores[idx], 50 * int(self.hard_negatives_per_frame) + 1)]
            idx = idx[nms(boxes[idx], scores[idx], self.nms_iou, self.hard_negatives_per_frame)]
        else:
            idx = rng.permutation(idx)[:self.negatives_per_frame]
        r, c = self._layout
        d = r * c * self.block * self.block * self.orientations
        feats = [levels[lv][i:i + r, j:j + c].ravel() for lv, i, j in origin[idx]]
        return np.array(feats, dtype=np.float64).reshape(len(idx), d)

    def _fit_svm(self, pos, neg) -> None:
        X = np.vstack([pos, neg])
        y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
        self.svm_ = LinearSVC(C=float(self.C), class_weight="balanced", dual=True,
                              max_iter=5000, random_state=self.random_state).fit(X, y)
        r, c = self._layout
        self.weights_ = self.svm_.coef_.reshape(r, c, -1)
        self.bias_ = float(self.svm_.intercept_[0])

    def fit(self, frames, boxes, avoid=None) -> HOGPersonDetector:
        """Train on frames with their person boxes.

        Parameters
        ----------
        frames : sequence of (H, W) arrays
            Grayscale training frames.
        boxes : sequence of (n_i, 4) arrays
            The persons of each frame (positives), pixels.
        avoid : sequence of (m_i, 4) arrays, optional
            Boxes where a person may stand unlabelled: no negative overlaps them.

        Returns
        -------
        self
        """
        self._check_params()
        frames = [np.asarray(f, dtype=np.float32) for f in frames]
        boxes = [np.asarray(b, dtype=np.float64).reshape(-1, 4) for b in boxes]
        avoid = ([np.zeros((0, 4))] * len(frames) if avoid is None else
                 [np.asarray(a, dtype=np.float64).reshape(-1, 4) for a in avoid])
        if not (len(frames) == len(boxes) == len(avoid)):
            raise ValueError("HOGPersonDetector.fit: frames, boxes and avoid must have one "
                             f"entry per frame; got {len(frames)}, {len(boxes)}, {len(avoid)}")
        every = np.vstack(boxes) if boxes else np.zeros((0, 4))
        if not len(every):
            raise ValueError("HOGPersonDetector.fit needs at least one person box; the "
                             "training frames have none")
        self._geometry(every)
        rng = np.random.default_rng(self.random_state)
        pos = self._positives(frames, boxes)
        d = pos.shape[1]
        # a first model, needed by the scan that draws the random negatives
        self.weights_, self.bias_ = np.zeros((*self._layout, d // np.prod(self._layout))), 0.0
        neg = [self._negatives(f, b, a, rng, hard=False) for f, b, a in
               zip(frames, boxes, avoid, strict=True)]
        neg = np.vstack([n for n in neg if len(n)] or [np.zeros((0, d))])
        if not len(neg):
            raise ValueError("HOGPersonDetector.fit found no negative window: the frames are "
                             "too small for the window or covered by persons")
        self._fit_svm(pos, neg)
        for _ in range(int(self.hard_negative_rounds)):
            hard = [self._negatives(f, b, a, rng, hard=True) for f, b, a in
                    zip(frames, boxes, avoid, strict=True)]
            hard = [h for h in hard if len(h)]
            if hard:
                neg = np.vstack([neg, *hard])
                self._fit_svm(pos, neg)
        self.n_positives_, self.n_negatives_ = int(len(pos)), int(len(neg))
        return self
