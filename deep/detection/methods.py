"""The deep temporal detectors as benchmark methods: factories, recipes and method cards.

``s_cnn`` (:func:`build_segment_cnn_detector`) classifies multi-scale windows with a network of
the snippet classifier's model and recipe (not its weights: :mod:`deep.detection.segment_cnn`,
Shou et al. 2016). Two methods of the detection task stand on the same snippet classifier
(:class:`~deep.detection.backbone.SnippetClassifier`, the ``r3d_18_small`` preset of
:mod:`deep.models` over 8-frame RGB-difference snippets, one per 4 frames, of the whole
frame):

* ``ssn_tag`` (:func:`build_snippet_tag_detector`): temporal actionness grouping of the
  snippet actionness, proposals scored per class (Zhao et al. 2017);
* ``actionformer`` (:func:`build_actionformer_detector`): the snippet features, frozen, under a
  local-attention transformer pyramid with anchor-free heads (Zhang et al. 2022).

Recipes: ``quick`` (``ctx.quick``: tests and CI, frames at a short side of 32) and ``default``
(frames at 48, sized for the default untrimmed preset to train in minutes per fold on 2 CPU
cores). Budgets are in epochs bounded in steps (:mod:`deep.budget`). With the run's
``cache_dir`` the two methods of one fold share the trained snippet classifier (see
:mod:`deep.detection.backbone`).

``params`` of a factory override the recipe: a name of the detector goes to the detector, a
name only the snippet classifier has (``short_side``, ``model``, ...) or one written
``backbone__<name>`` (``backbone__epochs``) goes to the snippet classifier.

The cards are constants for the harness to register (:func:`bench.methods.register_method`
does not take the detection task yet). The recipes in a table, and the measurements they were
sized on: ``docs/deep-detection.md``.

References
----------
Shou, Z., Wang, D., Chang, S.-F. (2016). Temporal action localization in untrimmed videos via
multi-stage CNNs. CVPR. arXiv:1601.02129.
Zhao, Y., Xiong, Y., Wang, L., Wu, Z., Tang, X., Lin, D. (2017). Temporal action detection
with structured segment networks. ICCV. arXiv:1704.06228.
Zhang, C.-L., Wu, J., Li, Y. (2022). ActionFormer: localizing moments of actions with
transformers. ECCV. arXiv:2202.07925.
"""

from __future__ import annotations

from typing import Any

from bench.methods import MethodCard, MethodContext
from deep.detection.actionformer import ActionFormerHead
from deep.detection.actionformer_detector import ActionFormerDetector
from deep.detection.backbone import SnippetClassifier
from deep.detection.segment_cnn import SegmentCNNDetector
from deep.detection.tag_detector import SnippetTAGDetector

__all__ = [
    "BACKBONE_RECIPES",
    "TAG_RECIPES",
    "ACTIONFORMER_RECIPES",
    "S_CNN_RECIPES",
    "S_CNN_NETWORK_RECIPES",
    "backbone_config",
    "build_segment_cnn_detector",
    "build_snippet_tag_detector",
    "build_actionformer_detector",
    "S_CNN_CARD",
    "SSN_TAG_CARD",
    "ACTIONFORMER_CARD",
]

#: Classes the cards' parameter and FLOP counts assume (the synthetic set's 12).
CARD_NUM_CLASSES = 12

#: The snippet classifier's recipes (SnippetClassifier parameters).
BACKBONE_RECIPES: dict[str, dict[str, Any]] = {
    "quick": dict(model="r3d_18_small", clip_len=8, frame_interval=2, stride=4, short_side=32,
                  modality="diff", scale=(0.7, 1.0), epochs=6, min_steps=60, max_steps=400,
                  batch_size=16, lr=2e-3, warmup_epochs=0.5),
    "default": dict(model="r3d_18_small", clip_len=8, frame_interval=2, stride=4,
                    short_side=48, modality="diff", scale=(0.7, 1.0), epochs=4, min_steps=300,
                    max_steps=1200, batch_size=32, lr=2e-3, warmup_epochs=0.5),
}
#: The S-CNN detector's recipes (SegmentCNNDetector parameters).
S_CNN_RECIPES: dict[str, dict[str, Any]] = {"quick": {}, "default": {}}
#: What the S-CNN window network changes in the snippet classifier's recipe: its own budget
#: (its epochs are passes over the positive windows and as many background ones).
S_CNN_NETWORK_RECIPES: dict[str, dict[str, Any]] = {
    "quick": dict(epochs=6, min_steps=60, max_steps=300),
    "default": dict(epochs=6, min_steps=200, max_steps=600),
}
#: The TAG detector's recipes (SnippetTAGDetector parameters).
TAG_RECIPES: dict[str, dict[str, Any]] = {"quick": {}, "default": {}}
#: The ActionFormer head's recipes (ActionFormerDetector parameters).
ACTIONFORMER_RECIPES: dict[str, dict[str, Any]] = {
    "quick": dict(width=32, n_levels=3, epochs=60, min_steps=150, max_steps=600),
    "default": dict(width=64, n_levels=4, epochs=60, min_steps=300, max_steps=3000),
}


def backbone_config(quick: bool = False) -> dict[str, Any]:
    """The snippet classifier's parameters of a recipe (a copy)."""
    return dict(BACKBONE_RECIPES["quick" if quick else "default"])


def _budget_words(config: dict[str, Any], unit: str) -> str:
    words = f"{config['epochs']} epochs"
    if unit:
        words += f" of {unit}"
    bounds = [f"at least {config['min_steps']}" if config.get("min_steps") else "",
              f"at most {config['max_steps']}" if config.get("max_steps") else ""]
    bounds = [b for b in bounds if b]
    return words + (", " + " and ".join(bounds) + " steps" if bounds else "")


def _backbone_words(config: dict[str, Any]) -> str:
    kind = "RGB-difference" if config["modality"] == "diff" else "RGB"
    return (f"{config['clip_len']}x{config['frame_interval']} {kind} snippets, one per "
            f"{config['stride']} frames, whole frame at short side {config['short_side']}; "
            f"{config['model']} snippet classifier (classes + background) trained from scratch, "
            f"{_budget_words(config, str(config['batch_size']) + ' snippets per step')}")


def _context_params(ctx: MethodContext) -> dict[str, Any]:
    return dict(
        n_classes=len(ctx.classes) or None, allow_flip=bool(ctx.allow_flip),
        device=ctx.device, random_state=int(ctx.seed), progress=bool(ctx.progress),
        cache_dir=ctx.cache_dir, work_dir=ctx.work_dir,
        # as the recognition track: a DataLoader worker only where it takes no training core
        num_workers=min(8, max(0, int(ctx.jobs) - 2)))


def _build(detector_cls, recipe: dict[str, Any], ctx: MethodContext, params: dict[str, Any],
           network: dict[str, Any] | None = None):
    backbone_params = {**backbone_config(ctx.quick), **(network or {}), **_context_params(ctx)}
    detector_params = {**recipe, "n_classes": len(ctx.classes) or None}
    if "random_state" in detector_cls().get_params():
        detector_params["random_state"] = int(ctx.seed)
    own = set(detector_cls().get_params(deep=False)) - {"backbone"}
    theirs = set(SnippetClassifier().get_params())
    for key, value in params.items():
        name = key.removeprefix("backbone__")
        if key == name and name in own:
            detector_params[name] = value
        elif name in theirs:
            backbone_params[name] = value
        else:
            raise ValueError(f"unknown parameter {key!r} for {detector_cls.__name__}; use one of "
                             f"{sorted(own)} or a SnippetClassifier parameter "
                             f"(backbone__<name>: {sorted(theirs)})")
    return detector_cls(backbone=SnippetClassifier(**backbone_params), **detector_params)


def build_segment_cnn_detector(ctx: MethodContext, **params: Any) -> SegmentCNNDetector:
    """A fresh, unfitted ``s_cnn`` detector for ``ctx`` (recipe, then ``params``)."""
    recipe = "quick" if ctx.quick else "default"
    return _build(SegmentCNNDetector, S_CNN_RECIPES[recipe], ctx, params,
                  network=S_CNN_NETWORK_RECIPES[recipe])


def build_snippet_tag_detector(ctx: MethodContext, **params: Any) -> SnippetTAGDetector:
    """A fresh, unfitted ``ssn_tag`` detector for ``ctx`` (recipe, then ``params``)."""
    return _build(SnippetTAGDetector, TAG_RECIPES["quick" if ctx.quick else "default"], ctx,
                  params)


def build_actionformer_detector(ctx: MethodContext, **params: Any) -> ActionFormerDetector:
    """A fresh, unfitted ``actionformer`` detector for ``ctx`` (recipe, then ``params``)."""
    return _build(ActionFormerDetector,
                  ACTIONFORMER_RECIPES["quick" if ctx.quick else "default"], ctx, params)


def _backbone_cost() -> tuple[int, int, int]:
    """Parameters, FLOPs per snippet and feature size of the default snippet classifier."""
    from deep.models import count_flops, count_parameters, create_model

    config = backbone_config()
    model = create_model(config["model"], CARD_NUM_CLASSES + 1)
    short = config["short_side"]
    shape = (3, config["clip_len"], short, round(short * 4 / 3))  # 4:3 frames
    return int(count_parameters(model)), int(count_flops(model, shape)), model.fc.in_features


def _cards() -> tuple[MethodCard, MethodCard, MethodCard]:
    params, flops, feature_dim = _backbone_cost()
    config = backbone_config()
    network = {**config, **S_CNN_NETWORK_RECIPES["default"]}
    windows = SegmentCNNDetector()
    s_cnn = MethodCard(
        name="s_cnn", track="deep", family="multi-scale segment 3D CNN", year=2016,
        paper="Shou, Z., Wang, D., Chang, S.-F. Temporal action localization in untrimmed "
              "videos via multi-stage CNNs. CVPR 2016. arXiv:1601.02129",
        protocol=(f"sliding windows of {', '.join(map(str, windows.window_frames))} frames, "
                  f"{round(100 * windows.window_overlap)} % overlap, each resampled to "
                  f"{network['clip_len']} RGB-difference frames, whole frame at short side "
                  f"{network['short_side']}; {network['model']} window classifier (classes + "
                  f"background) trained from scratch with the overlap loss (lambda "
                  f"{windows.overlap_weight:g}, alpha {windows.overlap_alpha:g}) on windows of "
                  f"tIoU >= {windows.positive_iou:g} and as many background ones (< "
                  f"{windows.background_iou:g}), "
                  f"{_budget_words(network, str(network['batch_size']) + ' windows per step')}; "
                  f"NMS at tIoU {windows.nms_iou:g}; {windows.max_detections} detections per "
                  "video"),
        params=params, flops_per_clip=flops, task="detection",
        description="multi-scale sliding windows, each resampled and classified by a 3D CNN "
                    "trained with the overlap loss (small preset; FLOPs per window; 12 "
                    "classes)")
    head_recipe = ACTIONFORMER_RECIPES["default"]
    head = ActionFormerHead(feature_dim, CARD_NUM_CLASSES, width=head_recipe["width"],
                            n_levels=head_recipe["n_levels"])
    head_params = int(sum(p.numel() for p in head.parameters()))
    tag = MethodCard(
        name="ssn_tag", track="deep", family="snippet 3D CNN + temporal actionness grouping",
        year=2017,
        paper="Zhao, Y., Xiong, Y., Wang, L., Wu, Z., Tang, X., Lin, D. Temporal action "
              "detection with structured segment networks. ICCV 2017. arXiv:1704.06228",
        protocol=(f"{_backbone_words(config)}; actionness 1 - P(background); TAG over "
                  "thresholds and tolerances 0.05:0.05:0.95; per-class score mean probability "
                  "x contrast with the flanks; NMS at tIoU 0.5; 100 detections per video"),
        params=params, flops_per_clip=flops, task="detection",
        description="snippet classifier, actionness grouped into proposals (TAG), scored per "
                    "class (small preset; FLOPs per snippet, not MACs; 12 classes)")
    head_words = _budget_words(head_recipe, f"{4} videos per step")
    former = MethodCard(
        name="actionformer", track="deep", family="transformer on snippet features, "
        "anchor-free", year=2022,
        paper="Zhang, C.-L., Wu, J., Li, Y. ActionFormer: localizing moments of actions with "
              "transformers. ECCV 2022. arXiv:2202.07925",
        protocol=(f"{_backbone_words(config)}, then frozen; head width {head_recipe['width']}, "
                  f"{head_recipe['n_levels']} pyramid levels, local attention window 9, "
                  f"sigmoid focal + DIoU losses, {head_words}; soft-NMS; 100 detections per "
                  "video"),
        params=params + head_params, flops_per_clip=flops, task="detection",
        description="local-attention transformer pyramid on frozen snippet features, per-step "
                    "class scores and start/end distances (small preset; FLOPs per snippet)")
    return s_cnn, tag, former


S_CNN_CARD, SSN_TAG_CARD, ACTIONFORMER_CARD = _cards()
