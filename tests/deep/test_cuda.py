"""The CUDA code paths: skipped on machines without a GPU (CI), run on a GPU machine.

What they check: every registered model gives the same fp32 output on CUDA as on the CPU;
training on CUDA works in each mixed precision (fp16 with a GradScaler, bf16) and learns the
moving-square task; ``device="auto"`` picks CUDA; the deterministic mode repeats itself.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _moving_square import make_dataset
from test_train import FAST

from deep.models import create_model, list_models
from deep.train import VideoClassifier

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

#: The paper-size models are large; their CPU/CUDA agreement is checked on the small presets,
#: which share every module.
SMALL_MODELS = [name for name in list_models() if name.endswith("_small")]


def _input_of(model: torch.nn.Module) -> torch.Tensor:
    shape = tuple(model.default_input)
    generator = torch.Generator().manual_seed(0)
    return torch.randn((2, *shape), generator=generator)


@pytest.mark.parametrize("name", SMALL_MODELS)
def test_cuda_forward_matches_cpu(name):
    torch.manual_seed(0)
    model = create_model(name, 7).eval()
    x = _input_of(model)
    with torch.no_grad():
        expected = model(x)
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        got = model.cuda()(x.cuda()).cpu()
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-3, atol=1e-4)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("squares_cuda")
    return make_dataset(root / "train", 6, seed=1), make_dataset(root / "test", 3, seed=2)


@pytest.mark.parametrize("precision", ["fp16", "bf16", "fp32"])
def test_cuda_training_learns_in_each_precision(videos, tmp_path, precision):
    (xtr, ytr), (xte, yte) = videos
    est = VideoClassifier(**{**FAST, "epochs": 6}, device="cuda", precision=precision,
                          cache_dir=tmp_path / "c").fit(xtr, ytr)
    assert est.device_.type == "cuda"
    assert all(np.isfinite(h["train_loss"]) for h in est.history_)
    scores = est.decision_function(xte)
    assert np.isfinite(scores).all()
    assert (scores.argmax(1) == yte).mean() > 1 / 3 + 0.2


def test_auto_device_picks_cuda_and_deterministic_mode_repeats(videos, tmp_path):
    (xtr, ytr), (xte, _) = videos
    runs = [VideoClassifier(**FAST, device="auto", deterministic=True,
                            cache_dir=tmp_path / "c").fit(xtr, ytr) for _ in range(2)]
    assert runs[0].device_.type == "cuda"
    np.testing.assert_array_equal(runs[0].decision_function(xte), runs[1].decision_function(xte))
