"""DistributedDataParallel on 2 CPU processes (gloo) equals one process on the global batch.

The model has no batch statistics (GroupNorm, not BatchNorm): with BatchNorm each rank would
normalise with its own half-batch statistics and the two runs would legitimately differ.
"""

from __future__ import annotations

import math

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


def _detection_worker(rank: int, world_size: int, train: tuple, segments: dict,
                      work_dir: str) -> dict:
    """The snippet classifier and the S-CNN window network of the detection track under DDP."""
    import pandas as pd

    from deep.detection import SegmentCNNDetector, SnippetClassifier

    table = pd.DataFrame(segments)
    params = dict(short_side=16, clip_len=4, frame_interval=2, stride=8, epochs=1, max_steps=3,
                  batch_size=8, model_overrides={"widths": (4, 4, 8, 8)}, device="cpu",
                  allow_flip=False)
    snippets = SnippetClassifier(**params, work_dir=f"{work_dir}/rank{rank}" if rank
                                 else work_dir).fit(np.array(train, dtype=object), table)
    windows = SegmentCNNDetector(backbone=SnippetClassifier(**params), n_classes=12).fit(
        np.array(train, dtype=object), table)
    def sample(model):
        """A few values of every parameter (the results pass through a pipe). Not the
        BatchNorm running statistics: DDP broadcasts rank 0's before each forward, so after
        the last step each rank holds its own shard's update (rank 0 writes the results)."""
        return {k: v.detach().flatten()[:32].clone() for k, v in model.named_parameters()}

    return {"snippets": sample(snippets.model_), "windows": sample(windows.backbone_.model_),
            "items": snippets.budget_["steps_per_epoch"],
            "n_cells": sum(g.n_cells for g in (d.grid for d in snippets.decode(
                train, [], "train")))}


def test_detection_networks_train_in_sync_under_ddp(tmp_path, quick_set):
    segments = quick_set["segments"]
    results = distributed.spawn_local(
        _detection_worker, world_size=2,
        args=(tuple(quick_set["train"]), {c: segments[c].tolist() for c in segments},
              str(tmp_path / "work")))
    for net in ("snippets", "windows"):
        for key, value in results[0][net].items():
            np.testing.assert_allclose(results[1][net][key], value, rtol=0, atol=1e-6)
    # each rank's epoch is its shard: half the cells, in batches of 8
    n_cells = results[0]["n_cells"]
    assert results[0]["items"] == math.ceil(math.ceil(n_cells / 2) / 8)
    assert (tmp_path / "work" / "snippet-backbone").is_dir()
    assert not (tmp_path / "work" / "rank1").exists()  # rank 1 never writes
