"""The HOG person detector: its block grid against scikit-image, the all-windows scoring and
the crop descriptor against slow per-window references, IoU and NMS against loops, and the
trained detector on frames with a planted figure (seeded, with clear parameter errors)."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.feature import hog as skimage_hog

from baselines.person_detector import (
    HOGPersonDetector,
    box_iou,
    crop_descriptor,
    hog_blocks,
    nms,
    window_scores,
)


def test_hog_blocks_are_skimages_blocks():
    image = np.random.default_rng(0).random((37, 29)).astype(np.float32)
    want = skimage_hog(image, orientations=9, pixels_per_cell=(4, 4), cells_per_block=(2, 2),
                       block_norm="L2-Hys", feature_vector=False, channel_axis=None)
    got = hog_blocks(image, 4)
    assert got.shape == (want.shape[0], want.shape[1], 36)
    np.testing.assert_allclose(got, want.reshape(got.shape), atol=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_window_scores_are_every_window_descriptor_dot_w_plus_b(seed):
    rng = np.random.default_rng(seed)
    blocks = rng.random((int(rng.integers(5, 12)), int(rng.integers(4, 10)), 7))
    weights = rng.normal(size=(int(rng.integers(1, 5)), int(rng.integers(1, 4)), 7))
    got = window_scores(blocks, weights, 0.3)
    r, c, _ = weights.shape
    want = np.array([[blocks[i:i + r, j:j + c].ravel() @ weights.ravel() + 0.3
                      for j in range(blocks.shape[1] - c + 1)]
                     for i in range(blocks.shape[0] - r + 1)])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert window_scores(blocks[:2], np.zeros((3, 1, 7)), 0.0).size == 0


@pytest.mark.parametrize("cell,cells", [(4, (6, 10)), (3, (4, 5))])
def test_a_crop_at_the_images_own_pixels_is_the_scans_window(cell, cells):
    image = (np.random.default_rng(1).random((60, 50)) * 255).astype(np.float32)
    blocks = hog_blocks(image, cell)
    r, c = cells[1] - 1, cells[0] - 1
    for i, j in [(1, 1), (2, 3), (4, 2)]:  # top-left cell, at least one cell inside
        window = np.array([j * cell, i * cell, (j + cells[0]) * cell, (i + cells[1]) * cell])
        got = crop_descriptor(image, window, (cells[0] * cell, cells[1] * cell), cell)
        np.testing.assert_allclose(got, blocks[i:i + r, j:j + c].ravel(), atol=1e-5)
    flipped = crop_descriptor(image[:, ::-1], np.array([50 - 7 * cell, cell, 50 - cell,
                                                        11 * cell]),
                              (cells[0] * cell, cells[1] * cell), cell, flip=True) \
        if cells == (6, 10) else None
    if flipped is not None:  # mirroring the frame then the crop gives the unmirrored crop
        want = crop_descriptor(image, np.array([cell, cell, 7 * cell, 11 * cell]),
                               (6 * cell, 10 * cell), cell)
        np.testing.assert_allclose(flipped, want, atol=1e-5)


def test_box_iou_and_nms_against_loops():
    rng = np.random.default_rng(2)
    xy = rng.integers(0, 20, size=(30, 2))
    boxes = np.column_stack([xy, xy + rng.integers(1, 10, size=(30, 2))]).astype(float)
    iou = box_iou(boxes, boxes[:7])
    for a in range(30):
        for b in range(7):
            (x1, y1, x2, y2), (u1, v1, u2, v2) = boxes[a], boxes[b]
            inter = max(0, min(x2, u2) - max(x1, u1)) * max(0, min(y2, v2) - max(y1, v1))
            union = (x2 - x1) * (y2 - y1) + (u2 - u1) * (v2 - v1) - inter
            assert iou[a, b] == pytest.approx(inter / union)
    scores = rng.integers(0, 5, size=30).astype(float)  # ties
    keep, order = [], sorted(range(30), key=lambda i: (-scores[i], i))
    for i in order:
        if all(iou_one <= 0.3 for iou_one in (box_iou(boxes[i], boxes[k])[0, 0] for k in keep)):
            keep.append(i)
    assert nms(boxes, scores, 0.3).tolist() == keep
    assert nms(boxes, scores, 0.3, top_k=3).tolist() == keep[:3]


def _frame(rng, box):
    """Noise, a textured floor and one planted figure: a dark body, a bright head."""
    frame = rng.normal(120, 12, size=(60, 80))
    frame[45:] += 20 * np.sin(np.arange(80) / 3.0)[None, :]
    x1, y1, x2, y2 = box
    head = (y2 - y1) // 4
    frame[y1 + head:y2, x1:x2] = 40
    frame[y1:y1 + head, x1 + (x2 - x1) // 4:x2 - (x2 - x1) // 4] = 230
    return np.clip(frame, 0, 255).astype(np.uint8)


def _planted(seed, n):
    rng = np.random.default_rng(seed)
    frames, boxes = [], []
    for _ in range(n):
        w, h = int(rng.integers(9, 12)), int(rng.integers(19, 23))
        x, y = int(rng.integers(2, 78 - w)), int(rng.integers(2, 58 - h))
        frames.append(_frame(rng, (x, y, x + w, y + h)))
        boxes.append(np.array([[x, y, x + w, y + h]], dtype=float))
    return frames, boxes


def test_the_detector_finds_a_planted_figure_and_is_seeded():
    frames, boxes = _planted(0, 24)
    det = HOGPersonDetector(negatives_per_frame=10).fit(frames, boxes)
    assert det.box_cells_ == (4, 8) and det.n_positives_ == 24 * 2 * 3
    test_frames, test_boxes = _planted(1, 10)
    hits = [box_iou(det.detect(f)[0][:1], b)[0, 0] >= 0.5
            for f, b in zip(test_frames, test_boxes, strict=True)]
    assert np.mean(hits) >= 0.8
    again = HOGPersonDetector(negatives_per_frame=10).fit(frames, boxes)
    np.testing.assert_array_equal(again.weights_, det.weights_)
    b, s = det.detect(test_frames[0])
    assert len(b) <= det.max_detections and np.all(np.diff(s) <= 0)


def test_negatives_never_touch_the_avoided_boxes():
    frames, boxes = _planted(3, 6)
    det = HOGPersonDetector(negatives_per_frame=10).fit(frames, boxes)
    rng = np.random.default_rng(0)
    avoid = np.array([[0.0, 0.0, 80.0, 60.0]])  # the whole frame: nothing is a negative
    assert det._negatives(frames[0], boxes[0], avoid, rng, hard=False).shape[0] == 0
    assert det._negatives(frames[0], boxes[0], np.zeros((0, 4)), rng, hard=False).shape[0] == 10


@pytest.mark.parametrize("params,message", [
    ({"cell": 1}, "'cell' parameter of HOGPersonDetector must be an int in the range"),
    ({"scale_step": 1.0}, "'scale_step' parameter of HOGPersonDetector must be a float > 1"),
    ({"nms_iou": 0}, "'nms_iou' parameter of HOGPersonDetector must be a float in"),
    ({"C": -1.0}, "'C' parameter"),
])
def test_bad_parameters_are_named(params, message):
    frames, boxes = _planted(0, 2)
    with pytest.raises(ValueError, match=message):
        HOGPersonDetector(**params).fit(frames, boxes)


def test_no_person_box_is_an_error():
    frames, _ = _planted(0, 2)
    with pytest.raises(ValueError, match="at least one person box"):
        HOGPersonDetector().fit(frames, [np.zeros((0, 4))] * 2)
