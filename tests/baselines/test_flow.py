"""Optical flow: both OpenCV algorithms recover a known translation; bad input is refused."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from baselines.flow import FlowComputer, FlowConfig, compute_flow


def _texture(shape=(96, 128), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, shape).astype(np.uint8)
    return cv2.GaussianBlur(noise, (7, 7), 2.0)


@pytest.mark.parametrize("algorithm", ["farneback", "dis"])
@pytest.mark.parametrize("shift", [(2, 0), (-1, 2)])
def test_flow_recovers_a_known_translation(algorithm, shift):
    big = _texture((140, 170), seed=1)
    dx, dy = shift
    prev = big[20:116, 20:148]
    nxt = big[20 - dy:116 - dy, 20 - dx:148 - dx]  # content moves by (+dx, +dy)
    flow = compute_flow(prev, nxt, FlowConfig(algorithm=algorithm))
    assert flow.shape == prev.shape + (2,) and flow.dtype == np.float32
    inner = flow[16:-16, 16:-16].reshape(-1, 2)
    np.testing.assert_allclose(np.median(inner, axis=0), [dx, dy], atol=0.25)


def test_flow_computer_reuses_config_and_is_deterministic():
    a, b = _texture(seed=2), _texture(seed=3)
    comp = FlowComputer(FlowConfig(algorithm="dis"))
    np.testing.assert_array_equal(comp(a, b), comp(a, b))


def test_bad_flow_parameters_and_inputs_are_refused():
    with pytest.raises(ValueError, match="'algorithm' parameter of FlowConfig"):
        FlowConfig(algorithm="lucas")
    with pytest.raises(ValueError, match="dis_preset"):
        FlowConfig(algorithm="dis", dis_preset="slow")
    with pytest.raises(ValueError, match="gray=True"):
        compute_flow(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8))


def test_card_text_names_the_algorithm():
    assert "Farneback" in FlowConfig().describe()
    assert "DIS" in FlowConfig(algorithm="dis").describe()
