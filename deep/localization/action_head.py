"""The RoI action head: a 3D CNN over the clip, RoIAlign per actor box, multi-label logits.

The AVA baseline's second stage (Gu et al. 2018, a Faster R-CNN-style head on I3D features;
SlowFast, Feichtenhofer et al. 2019, on a slow-fast backbone): the clip around a keyframe
goes through a 3D CNN once; its feature map, averaged over time, is cut at each actor's box
with RoIAlign (:mod:`deep.localization.roi_align`); each box's features go through a small
MLP to one logit per action, trained with the binary cross-entropy (an actor may do several
actions at once, AVA's multi-label protocol; sigmoid, not softmax).

The backbone is a registered model of :mod:`deep.models` (the ``r3d_18_small`` preset) up to
its third stage (feature stride 8): its fourth would leave 4 x 5 cells of an 85 x 64 clip,
less than a cell per actor (SlowFast removes the last stage's stride for the same reason).
The clip is the RGB difference (:func:`deep.detection.snippets.snippet_clip`), which trained
better from scratch than RGB for the detection track (``docs/deep-detection.md``). The RoI
features keep their ``roi_size x roi_size`` layout into the MLP (where the arms are says
which action it is), where SlowFast max-pools them.

References
----------
Gu, C. et al. (2018). AVA: a video dataset of spatio-temporally localized atomic visual
actions. CVPR. arXiv:1705.08421.
Feichtenhofer, C., Fan, H., Malik, J., He, K. (2019). SlowFast networks for video recognition.
ICCV. arXiv:1812.03982.
He, K., Gkioxari, G., Dollár, P., Girshick, R. (2017). Mask R-CNN. ICCV. arXiv:1703.06870.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from deep.detection.snippets import SnippetGrid, snippet_clip
from deep.localization._training import Keyframe
from deep.localization.roi_align import RoIAlign

__all__ = ["RoIActionNet", "keyframe_clip", "TrainKeyframeClips", "boxes_to_rois"]

#: Feature stride of the backbone's third stage.
FEATURE_STRIDE = 8


class RoIActionNet(nn.Module):
    """``(B, 3, T, H, W)`` clips and ``(K, 5)`` RoIs to ``(K, n_classes)`` action logits.

    Parameters
    ----------
    backbone : str
        A video ResNet of :mod:`deep.models` (``stem``, ``layer1`` .. ``layer3`` are used).
    n_classes : int
    roi_size : int, default 4
        RoIAlign bins per side.
    sampling_ratio : int, default 2
    hidden : int, default 256
    dropout : float, default 0.3
    """

    def __init__(self, backbone: str, n_classes: int, roi_size: int = 4,
                 sampling_ratio: int = 2, hidden: int = 256, dropout: float = 0.3):
        super().__init__()
        from deep.models import create_model

        net = create_model(backbone, 1)
        for part in ("stem", "layer1", "layer2", "layer3"):
            if not hasattr(net, part):
                raise ValueError(f"The 'backbone' parameter must name a video ResNet of "
                                 f"deep.models (with stem, layer1..layer3); {backbone!r} has "
                                 f"no {part!r}. Use e.g. 'r3d_18_small'.")
        self.stem, self.layer1, self.layer2, self.layer3 = (net.stem, net.layer1, net.layer2,
                                                            net.layer3)
        with torch.no_grad():
            channels = self.features(torch.zeros(1, 3, 4, 16, 16)).shape[1]
        self.roi = RoIAlign(roi_size, 1.0 / FEATURE_STRIDE, sampling_ratio, aligned=True)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(channels * roi_size ** 2, hidden),
                                  nn.ReLU(inplace=True), nn.Dropout(dropout),
                                  nn.Linear(hidden, n_classes))

    def features(self, clips: torch.Tensor) -> torch.Tensor:
        """The ``(B, C, T', H / 8, W / 8)`` feature map of the third stage."""
        return self.layer3(self.layer2(self.layer1(self.stem(clips))))

    def forward(self, clips: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        return self.head(self.roi(self.features(clips), rois))


def boxes_to_rois(boxes: torch.Tensor, valid: torch.Tensor, height: int, width: int
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """RoIs in clip pixels from ``(B, M, 4)`` fractions and a ``(B, M)`` validity mask, and
    the flat index of each kept box."""
    b, m = valid.shape
    batch = torch.arange(b, device=boxes.device)[:, None].expand(b, m)
    scale = torch.tensor([width, height, width, height], dtype=boxes.dtype,
                         device=boxes.device)
    keep = valid.flatten().bool()
    rois = torch.cat([batch.flatten()[:, None].to(boxes.dtype),
                      boxes.reshape(-1, 4) * scale], dim=1)
    return rois[keep], torch.nonzero(keep).flatten()


def keyframe_clip(frames: np.ndarray, frame: int, clip_len: int, interval: int,
                  modality: str, flip: bool = False) -> np.ndarray:
    """The ``(3, T, H, W)`` clip centred on ``frame`` (indices clamped to the video)."""
    grid = SnippetGrid(len(frames), 1.0, 1, int(clip_len), int(interval))
    return snippet_clip(frames, grid.clip_indices(int(frame)), flip=flip, modality=modality)


class TrainKeyframeClips(Dataset):
    """One clip per training keyframe and epoch, with its actors' boxes padded to
    ``max_boxes`` (a validity mask), seeded by ``(seed, epoch, item)``.

    The augmentation: the clip's centre moved by up to ``jitter`` frames; a horizontal flip
    (clip and boxes) with probability 1/2 where ``allow_flip``; each box's sides moved by up
    to ``box_jitter`` of its width or height (the test boxes come from a detector, not the
    ground truth).
    """

    def __init__(self, frames: list, keys: list[Keyframe], n_classes: int, max_boxes: int,
                 clip_len: int, interval: int, modality: str, seed: int, jitter: int,
                 box_jitter: float, allow_flip: bool):
        self.frames, self.keys, self.n_classes = frames, keys, int(n_classes)
        self.max_boxes, self.clip_len, self.interval = int(max_boxes), clip_len, interval
        self.modality, self.seed, self.jitter = modality, int(seed), int(jitter)
        self.box_jitter, self.allow_flip, self.epoch = float(box_jitter), bool(allow_flip), 0

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, item: int):
        key = self.keys[item]
        rng = np.random.default_rng([self.seed, self.epoch, item])
        frames = self.frames[key.video]
        centre = int(np.clip(key.frame + rng.integers(-self.jitter, self.jitter + 1), 0,
                             len(frames) - 1))
        flip = bool(self.allow_flip and rng.random() < 0.5)
        clip = keyframe_clip(frames, centre, self.clip_len, self.interval, self.modality, flip)
        m = min(len(key.boxes), self.max_boxes)
        boxes = np.zeros((self.max_boxes, 4), dtype=np.float32)
        labels = np.zeros((self.max_boxes, self.n_classes), dtype=np.float32)
        valid = np.zeros(self.max_boxes, dtype=np.float32)
        chosen = key.boxes[:m].copy()
        if flip:
            chosen[:, [0, 2]] = 1.0 - chosen[:, [2, 0]]
        size = np.column_stack([chosen[:, 2] - chosen[:, 0], chosen[:, 3] - chosen[:, 1]])
        shift = rng.uniform(-self.box_jitter, self.box_jitter, size=(m, 4)) * np.tile(size, 2)
        moved = np.clip(chosen + shift, 0.0, 1.0)
        moved[:, 2:] = np.maximum(moved[:, 2:], moved[:, :2] + 1e-3)
        boxes[:m], labels[:m], valid[:m] = moved, key.labels[:m], 1.0
        return (torch.from_numpy(clip), torch.from_numpy(boxes), torch.from_numpy(labels),
                torch.from_numpy(valid))
