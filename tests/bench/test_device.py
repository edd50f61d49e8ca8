"""bench.device: one vocabulary (auto, cpu, cuda, cuda:N) for config, CLI and the deep track."""

from __future__ import annotations

import pytest
import torch

from bench.device import check_device, resolve_device
from bench.run.config import RunConfig, RunConfigError


@pytest.mark.parametrize("good", ["auto", "cpu", "cuda", "cuda:0", "cuda:12"])
def test_the_vocabulary_is_accepted_by_the_config(good):
    assert check_device(good) == good and RunConfig(device=good).device == good


@pytest.mark.parametrize("bad", ["gpu", "CUDA", "cuda:", "cuda:x", "cpu:0", "", None])
def test_anything_else_is_refused_with_the_vocabulary_in_the_message(bad):
    with pytest.raises(ValueError, match="auto .*cpu, cuda or cuda:N"):
        check_device(bad)
    with pytest.raises(RunConfigError, match="cuda:N"):
        RunConfig(device=bad)


def test_auto_and_cpu_resolve_and_cuda_needs_a_gpu(monkeypatch):
    assert resolve_device("cpu") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    with pytest.raises(ValueError, match="sees no CUDA device"):
        resolve_device("cuda:0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto") == "cuda" and resolve_device("cuda:1") == "cuda:1"
    with pytest.raises(ValueError, match="2 CUDA device"):
        resolve_device("cuda:2")
