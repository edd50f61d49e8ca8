"""DistributedDataParallel on 2 CPU processes (gloo) equals one process on the global batch.

The model has no batch statistics (GroupNorm, not BatchNorm): with BatchNorm each rank would
normalise with its own half-batch statistics and the two runs would legitimately differ.
"""

from __future__ import annotations

import numpy as np
import torch
from _moving_square import make_dataset
from torch import nn

from deep import distributed

GLOBAL_BATCH = 8


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv3d(3, 4, kernel_size=3, padding=1),
        nn.GroupNorm(2, 4),
        nn.ReLU(),
        nn.AdaptiveAvgPool3d(1),
        nn.Flatten(),
        nn.Linear(4, 3),
    )


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(GLOBAL_BATCH, 3, 4, 8, 8, generator=gen)
    y = torch.randint(0, 3, (GLOBAL_BATCH,), generator=gen)
    return x, y


def _sgd_step(model: nn.Module, params: list, x: torch.Tensor, y: torch.Tensor) -> None:
    opt = torch.optim.SGD(params, lr=0.5, momentum=0.9)
    loss = nn.functional.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()


def _ddp_worker(rank: int, world_size: int, videos: tuple, work_dir: str) -> dict:
    model = _model()
    ddp = distributed.wrap_model(model, torch.device("cpu"))
    assert isinstance(ddp, nn.parallel.DistributedDataParallel)
    x, y = _batch()
    share = GLOBAL_BATCH // world_size
    part = slice(rank * share, (rank + 1) * share)
    _sgd_step(ddp, list(ddp.parameters()), x[part], y[part])
    step_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}

    # the estimator under DDP: ranks stay in sync, only rank 0 writes the checkpoint
    from deep.train import VideoClassifier

    paths, labels = videos
    est = VideoClassifier(model=_tiny, clip_len=4, crop_size=16, short_side=16, epochs=1,
                          batch_size=4, val_fraction=0.0, work_dir=f"{work_dir}/rank{rank}"
                          if rank else work_dir, allow_flip=False)
    est.fit(paths, labels)
    fit_weights = {k: v.detach().clone() for k, v in est.model_.state_dict().items()}
    return {"step": step_weights, "fit": fit_weights}


def _tiny(num_classes: int) -> nn.Module:
    return nn.Sequential(nn.Conv3d(3, 4, 3, padding=1), nn.GroupNorm(2, 4), nn.ReLU(),
                         nn.AdaptiveMaxPool3d(1), nn.Flatten(), nn.Linear(4, num_classes))


def test_one_ddp_step_equals_one_step_on_the_global_batch(tmp_path):
    paths, labels = make_dataset(tmp_path / "videos", 2, seed=3, frames=8)
    results = distributed.spawn_local(
        _ddp_worker, world_size=2, args=((paths, labels), str(tmp_path / "work"))
    )

    single = _model()
    x, y = _batch()
    _sgd_step(single, list(single.parameters()), x, y)
    initial = _model().state_dict()
    for key, value in single.state_dict().items():
        for rank in range(2):
            np.testing.assert_allclose(results[rank]["step"][key], value.numpy(), rtol=0,
                                       atol=1e-5)
        assert not torch.equal(value, initial[key])  # the step did move every parameter

    for key, value in results[0]["fit"].items():
        np.testing.assert_allclose(results[1]["fit"][key], value, rtol=0, atol=1e-6)
    assert (tmp_path / "work" / "checkpoint_last.pt").is_file()
    assert not (tmp_path / "work" / "rank1").exists()  # rank 1 never writes


def test_single_process_needs_no_process_group():
    info = distributed.current()
    assert (info.rank, info.world_size, info.distributed) == (0, 1, False)
    model = _model()
    assert distributed.wrap_model(model, torch.device("cpu")) is model
    assert distributed.make_sampler(list(range(4)), shuffle=True, seed=0) is None
    assert distributed.is_main_process()
    assert 0 < distributed.free_port() < 65536
    assert np.isfinite(model(_batch()[0]).detach().numpy()).all()
