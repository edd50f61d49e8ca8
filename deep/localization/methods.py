"""The deep track's localization method, ``roi_action_head``: recipes, card and factory.

``roi_action_head`` (:class:`~deep.localization.localizer.RoIActionLocalizer`) is the
two-stage AVA pipeline: the track's own person detector (a small CenterNet, Zhou et al.
2019) finds the actors of every keyframe, and a RoI head on a 3D CNN's time-pooled features
(RoIAlign, He et al. 2017, on the ``r3d_18_small`` preset's third stage; Gu et al. 2018;
Feichtenhofer et al. 2019) scores their actions, multi-label.

Recipes: ``quick`` (``ctx.quick``: tests and CI, about a minute for fold 1 of the quick
untrimmed preset on 2 CPU cores) and ``default`` (sized for minutes per fold of the default
preset). Budgets are in epochs of training keyframes, bounded in steps (:mod:`deep.budget`).

``params`` of the factory override the recipe: a name of the localizer goes to it, a name
written ``detector__<name>`` to the person detector. The recipes and what they measured:
``docs/deep-localization.md``.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from bench.methods import MethodCard, MethodContext
from deep.localization.localizer import RoIActionLocalizer
from deep.localization.person_detector import PersonDetector

__all__ = ["LOCALIZER_RECIPES", "DETECTOR_RECIPES", "build_roi_action_localizer",
           "ROI_ACTION_HEAD_CARD"]

#: Classes the card's parameter count assumes (the synthetic set's 12).
CARD_NUM_CLASSES = 12

#: The RoI action head's recipes (RoIActionLocalizer parameters).
LOCALIZER_RECIPES: dict[str, dict[str, Any]] = {
    "quick": dict(short_side=64, clip_len=8, frame_interval=2, epochs=30, min_steps=60,
                  max_steps=400, batch_size=8, lr=1e-3),
    "default": dict(short_side=64, clip_len=8, frame_interval=2, epochs=12, min_steps=200,
                    max_steps=400, batch_size=16, lr=1e-3),
}
#: The person detector's recipes (PersonDetector parameters).
DETECTOR_RECIPES: dict[str, dict[str, Any]] = {
    "quick": dict(short_side=64, epochs=30, min_steps=200, max_steps=600, batch_size=8),
    "default": dict(short_side=80, epochs=15, min_steps=300, max_steps=600, batch_size=16),
}


def build_roi_action_localizer(ctx: MethodContext, **params: Any) -> RoIActionLocalizer:
    """A fresh, unfitted ``roi_action_head`` localizer for ``ctx`` (recipe, then ``params``).

    Raises
    ------
    ValueError
        A parameter neither the localizer nor (as ``detector__<name>``) the detector has.
    """
    recipe = "quick" if ctx.quick else "default"
    common = dict(device=ctx.device, random_state=int(ctx.seed), progress=bool(ctx.progress),
                  cache_dir=ctx.cache_dir,
                  # as the other deep methods: a loader worker only where it takes no
                  # training core
                  num_workers=min(8, max(0, int(ctx.jobs) - 2)))
    detector_params = {**DETECTOR_RECIPES[recipe], **common}
    localizer_params = {**LOCALIZER_RECIPES[recipe], **common,
                        "n_classes": len(ctx.classes) or None,
                        "allow_flip": bool(ctx.allow_flip), "work_dir": ctx.work_dir}
    own = set(RoIActionLocalizer().get_params(deep=False)) - {"detector"}
    theirs = set(PersonDetector().get_params())
    for key, value in params.items():
        if key.startswith("detector__") and key.removeprefix("detector__") in theirs:
            detector_params[key.removeprefix("detector__")] = value
        elif key in own:
            localizer_params[key] = value
        else:
            raise ValueError(f"unknown parameter {key!r} for roi_action_head; use one of "
                             f"{sorted(own)} or a PersonDetector parameter written "
                             f"detector__<name> ({sorted(theirs)})")
    return RoIActionLocalizer(detector=PersonDetector(**detector_params), **localizer_params)


class _Features(nn.Module):
    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net.features(x)


def _card() -> MethodCard:
    from deep.localization.action_head import RoIActionNet
    from deep.localization.centernet import IN_CHANNELS, CenterNetLite
    from deep.models import count_flops, count_parameters

    head, det = LOCALIZER_RECIPES["default"], DETECTOR_RECIPES["default"]
    defaults = RoIActionLocalizer()
    net = RoIActionNet(defaults.backbone, CARD_NUM_CLASSES, defaults.roi_size,
                       defaults.sampling_ratio, defaults.hidden, defaults.dropout)
    detector = CenterNetLite(PersonDetector().width)
    short = head["short_side"]
    clip = (3, head["clip_len"], short, round(short * 4 / 3))  # 4:3 frames
    frame = (IN_CHANNELS, det["short_side"], round(det["short_side"] * 4 / 3))
    flops = int(count_flops(_Features(net), clip) + count_flops(detector, frame))
    return MethodCard(
        name="roi_action_head", track="deep", family="person detector + 3D CNN RoI head",
        year=2018,
        paper="Gu, C. et al. AVA: a video dataset of spatio-temporally localized atomic visual "
              "actions. CVPR 2018. arXiv:1705.08421; Ren, S. et al. Faster R-CNN. NeurIPS 2015. "
              "arXiv:1506.01497; Feichtenhofer, C. et al. SlowFast networks for video "
              "recognition. ICCV 2019. arXiv:1812.03982",
        protocol=(f"person detector: CenterNet from scratch on the training keyframes' actor "
                  f"boxes (frame + RGB difference at short side {det['short_side']}, "
                  f"{det['epochs']} epochs of {det['batch_size']} keyframes per step, at least "
                  f"{det['min_steps']} and at most {det['max_steps']} steps), peaks + NMS 0.5; "
                  f"action head: {head['clip_len']}x{head['frame_interval']} RGB-difference "
                  f"clip at short side {short} through {defaults.backbone} stages 1-3, pooled "
                  f"over time, RoIAlign {defaults.roi_size}x{defaults.roi_size} per box, MLP, "
                  f"sigmoid + binary cross-entropy on the ground-truth boxes, "
                  f"{head['epochs']} epochs of {head['batch_size']} keyframes per step, at "
                  f"least {head['min_steps']} and at most {head['max_steps']} steps; test on "
                  "detected boxes, score = person score x action probability"),
        params=int(count_parameters(net) + count_parameters(detector)),
        flops_per_clip=flops, task="localization",
        description="two-stage AVA baseline: own person detector, RoIAlign on time-pooled 3D "
                    "CNN features, multi-label action head (small preset; FLOPs per keyframe, "
                    "backbone and detector, not MACs; 12 classes)")


ROI_ACTION_HEAD_CARD = _card()
