"""The deep methods of the benchmark, registered with :func:`bench.methods.register_method`.

Each method wraps a network of :mod:`deep.models` in :class:`deep.train.VideoClassifier` and
trains it (from scratch unless ``weights`` is given) under one of three protocols
(``_RECIPES``):

* ``small`` (the default): the ``<name>_small`` network under one shared recipe, sized so that
  the whole deep track of the default synthetic run trains and tests on a CPU in minutes;
* quick (``ctx.quick``, ``--quick``): the same networks on a smaller clip, for tests and CI;
* ``preset="paper"``: the paper-size network on its paper's clip length and input size
  (``default_input`` of the model), tested on 10 clips x 3 crops.

Budgets are stated in optimisation steps, not only epochs (:mod:`deep.budget`): ``small``
trains its nominal epochs, but at least ``min_steps`` and at most ``max_steps`` steps, so a
30-video folder dataset (2 steps per epoch) trains for hundreds of epochs and a 10 000-video one
for a few; warm-up and patience stretch with the epochs. The card states the rule; the budget
resolved for a fit is ``VideoClassifier.budget_``, kept in ``timing.json``.

Why the shared recipe is what it is: every clip is standardised per channel with its own
statistics (``normalise="clip"``, :class:`deep.clips.ClipSpec`), because from scratch the fixed
ImageNet statistics leave the light synthetic backgrounds as a large constant offset; the
quick and small training crops are taken from the whole frame and keep most of its area, so
that the actor is never cropped away. ``small`` and ``paper`` hold actors of the training fold
out for early stopping when the caller passes ``groups`` (the benchmark runner passes the
manifest's actors) and keep the best epoch's weights, so no choice is made on the test fold.

Methods that do not learn under the shared recipe change it (``_METHOD_RECIPE``, chosen on a
held-out actor of the training fold or on an independent synthetic set, never on the test
fold): ``c3d`` (no normalisation layers) trains at a lower learning rate and without dropout;
``i3d`` and ``mc3_18`` under-fit in the shared number of epochs and train longer (that 3D
blocks are harder to optimise than (2+1)D ones is also reported by Tran et al. 2018);
``timesformer``, trained without the paper's ImageNet initialisation, uses a lower learning
rate.

``tsn`` is registered with the paper's average consensus, which is blind to segment order;
``tsn_ordered`` concatenates the segment features in time order (the ordered segment fusion of
Zhou et al. 2018).

Parameters a method accepts (besides ``preset``, and ``consensus`` for TSN) are those of
:class:`~deep.train.VideoClassifier` (``epochs``, ``lr``, ``weights``, ``reinit_head``, ...);
they override the preset's values. ``ctx.options["weights"]`` / ``["reinit_head"]`` are used
when no per-method value is given. :func:`training_config` returns a method's parameters.

The recipes of every method in a table, and the dated measurements they were chosen on:
``docs/deep-recipes.md``.

References
----------
Tran, D., Wang, H., Torresani, L., Ray, J., LeCun, Y., Paluri, M. (2018). A closer look at
spatiotemporal convolutions for action recognition. CVPR. arXiv:1711.11248.
Wang, L. et al. (2016). Temporal segment networks: towards good practices for deep action
recognition. ECCV. arXiv:1608.00859.
Zhou, B., Andonian, A., Oliva, A., Torralba, A. (2018). Temporal relational reasoning in
videos. ECCV. arXiv:1711.08496.
Bertasius, G., Wang, H., Torresani, L. (2021). Is space-time attention all you need for video
understanding? ICML. arXiv:2102.05095.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.methods import MethodCard, MethodContext, register_method
from deep.clips import ClipSpec
from deep.models import count_flops, count_parameters, create_model
from deep.train import VideoClassifier

__all__ = ["DeepMethod", "DEEP_METHODS", "training_config", "build_classifier", "budget_rule"]

#: Classes the method cards' parameter and FLOP counts assume (the synthetic dataset's 12);
#: the fitted estimator's ``cost_`` holds the numbers of the dataset actually used.
CARD_NUM_CLASSES = 12


@dataclass(frozen=True)
class DeepMethod:
    name: str
    family: str
    year: int
    paper: str
    description: str
    sampling: str = "dense"
    #: paper protocol: frame interval (dense) and segments (TSN)
    paper_interval: int = 1
    #: the model family in :mod:`deep.models` (default: the method's name)
    model: str | None = None
    #: TSN's segmental consensus
    consensus: str = "average"

    @property
    def base(self) -> str:
        return self.model or self.name


_TRAN_2018 = ("Tran, D., Wang, H., Torresani, L., Ray, J., LeCun, Y., Paluri, M. A closer look "
              "at spatiotemporal convolutions for action recognition. CVPR 2018. arXiv:1711.11248")

DEEP_METHODS: tuple[DeepMethod, ...] = (
    DeepMethod("lrcn", "CNN + LSTM", 2015,
               "Donahue, J. et al. Long-term recurrent convolutional networks for visual "
               "recognition and description. CVPR 2015. arXiv:1411.4389",
               "2D CNN per frame, LSTM over time (order-aware)"),
    DeepMethod("c3d", "3D CNN", 2015,
               "Tran, D., Bourdev, L., Fergus, R., Torresani, L., Paluri, M. Learning "
               "spatiotemporal features with 3D convolutional networks. ICCV 2015. "
               "arXiv:1412.0767",
               "3x3x3 convolutions throughout"),
    DeepMethod("tsn", "2D CNN + segmental consensus", 2016,
               "Wang, L. et al. Temporal segment networks: towards good practices for deep "
               "action recognition. ECCV 2016. arXiv:1608.00859",
               "2D ResNet on sparse segments, average consensus", sampling="segments"),
    DeepMethod("tsn_ordered", "2D CNN + ordered segment fusion", 2018,
               "Zhou, B., Andonian, A., Oliva, A., Torralba, A. Temporal relational reasoning in "
               "videos. ECCV 2018. arXiv:1711.08496 (ordered fusion of segment features); "
               "Wang, L. et al. Temporal segment networks. ECCV 2016. arXiv:1608.00859",
               "TSN's 2D ResNet on sparse segments, segment features concatenated in time order "
               "(order-aware)", sampling="segments", model="tsn", consensus="ordered"),
    DeepMethod("i3d", "inflated 3D CNN", 2017,
               "Carreira, J., Zisserman, A. Quo vadis, action recognition? A new model and the "
               "Kinetics dataset. CVPR 2017. arXiv:1705.07750",
               "Inception-v1 inflated to 3D"),
    DeepMethod("r3d_18", "3D ResNet", 2018, _TRAN_2018, "ResNet-18 with 3D convolutions"),
    DeepMethod("mc3_18", "mixed 3D/2D ResNet", 2018, _TRAN_2018,
               "ResNet-18: 3D convolutions in the first stage, 2D after"),
    DeepMethod("r2plus1d_18", "(2+1)D ResNet", 2018, _TRAN_2018,
               "ResNet-18 with (2+1)D convolutions (spatial then temporal)"),
    DeepMethod("timesformer", "video transformer", 2021,
               "Bertasius, G., Wang, H., Torresani, L. Is space-time attention all you need "
               "for video understanding? ICML 2021. arXiv:2102.05095",
               "divided space-time attention", paper_interval=32),
)
_BY_NAME = {m.name: m for m in DEEP_METHODS}

#: Training recipes of the protocols (``quick``: tests and CI; ``small``: the default; ``paper``:
#: the paper-size networks, whose clip length and input size come from the model). ``small`` is
#: sized so that the nine small presets train and test within the deep track's budget of the
#: default synthetic run on 2 CPU cores (timings: docs/deep-recipes.md).
_RECIPES: dict[str, dict[str, Any]] = {
    "quick": dict(clip_len=8, frame_interval=3, crop_size=32, short_side=32, scale=(0.7, 1.0),
                  epochs=12, batch_size=8, clips_per_video=3, lr=2e-3, warmup_epochs=1.0,
                  test_clips=1, test_crops=1, val_fraction=0.0, patience=None),
    "small": dict(clip_len=8, frame_interval=3, crop_size=48, short_side=48, scale=(0.7, 1.0),
                  epochs=24, min_steps=300, max_steps=4000, batch_size=16,
                  clips_per_video=1, lr=2e-3, warmup_epochs=0.5, test_clips=2, test_crops=1,
                  val_fraction=0.1, patience=6),
    "paper": dict(epochs=30, batch_size=16, clips_per_video=1, lr=1e-3, warmup_epochs=2.0,
                  test_clips=10, test_crops=3, val_fraction=0.1, patience=5),
}


#: Per-method changes to the recipes, by protocol (``"both"``: quick and small). Each was
#: chosen on data other than the test fold: a held-out actor of the default set's fold-1
#: training actors, or fold 1 of an independent quick set (``seed=1``). The measurements:
#: docs/deep-recipes.md.
_METHOD_RECIPE: dict[str, dict[str, dict[str, Any]]] = {
    # C3D has no normalisation layers: at the shared learning rate its loss stays at chance.
    "c3d": {"both": dict(lr=5e-4)},
    # I3D from scratch (22 layers deep at a quarter width) needs more steps than the shared
    # schedules give: on the quick set it is still near chance after 12 epochs, and on the
    # default set it fits sit_down/stand_up (learned last, after the appearance classes) only
    # with a longer schedule. Patience grows with the schedule.
    "i3d": {"quick": dict(epochs=30), "small": dict(epochs=36, patience=10)},
    # MC3 under-fits the default set in the shared epochs (it does not separate sit_down
    # from stand_up even on its own training clips); patience grows with the schedule.
    "mc3_18": {"small": dict(epochs=36, patience=10)},
    # TimeSformer trained from scratch sits on a plateau at chance before it learns (the paper
    # starts from ImageNet ViT weights); a lower learning rate, and on quick more epochs.
    "timesformer": {"both": dict(lr=1e-3), "quick": dict(epochs=24)},
}


def _model_overrides(name: str, num_frames: int, crop: int, consensus: str) -> dict[str, Any]:
    """Builder overrides that make a model's native input the protocol's clip."""
    if name == "tsn":
        return dict(num_segments=num_frames, img_size=crop, consensus=consensus)
    if name in ("lrcn", "timesformer"):
        return dict(num_frames=num_frames, img_size=crop)
    if name == "c3d":
        # C3D has no normalisation layers; with its paper dropout (0.5 in fc6/fc7) the small
        # preset cannot fit even one fixed batch (docs/deep-recipes.md). The paper preset keeps
        # the paper's dropout.
        return dict(dropout=0.0)
    return {}


def training_config(name: str, preset: str = "small", quick: bool = False,
                    consensus: str | None = None) -> dict[str, Any]:
    """The :class:`~deep.train.VideoClassifier` parameters of method ``name``.

    Parameters
    ----------
    name : str
        One of the registered deep methods.
    preset : {"small", "paper"}
        Network size; ``small`` trains under the shared small protocol.
    quick : bool
        With ``preset="small"``: the tiny test/CI protocol.
    consensus : {"average", "ordered"} or None
        TSN only; None: the method's own (``tsn`` average, ``tsn_ordered`` ordered).
    """
    if name not in _BY_NAME:
        raise ValueError(f"unknown deep method {name!r}; use one of {sorted(_BY_NAME)}")
    if preset not in ("small", "paper"):
        raise ValueError(f"The 'preset' parameter must be 'small' or 'paper'. Got {preset!r}.")
    method = _BY_NAME[name]
    base = method.base
    consensus = consensus or method.consensus
    if preset == "paper":
        recipe = dict(_RECIPES["paper"])
        _, frames, size, _ = create_model(base, CARD_NUM_CLASSES).default_input
        if method.sampling == "segments":
            frames = 3
        recipe.update(clip_len=frames, frame_interval=method.paper_interval, crop_size=size)
        model_name = base
    else:
        recipe = dict(_RECIPES["quick" if quick else "small"])
        changes = _METHOD_RECIPE.get(name, {})
        recipe.update(changes.get("both", {}))
        recipe.update(changes.get("quick" if quick else "small", {}))
        model_name = f"{base}_small"
    recipe["sampling"] = method.sampling
    recipe["model"] = model_name
    overrides = _model_overrides(base, recipe["clip_len"], recipe["crop_size"], consensus)
    if preset == "paper":
        overrides.pop("dropout", None)  # the paper's own regularisation
    recipe["model_overrides"] = overrides or None
    return recipe


def budget_rule(config: dict[str, Any]) -> str:
    """The training budget of a recipe in words (the card's), e.g. ``"14 epochs of 16 clips
    per step, at least 300 and at most 4000 steps"``."""
    rule = f"{config['epochs']} epochs of {config['batch_size']} clips per step"
    bounds = []
    if config.get("min_steps"):
        bounds.append(f"at least {config['min_steps']}")
    if config.get("max_steps"):
        bounds.append(f"at most {config['max_steps']}")
    if bounds:
        rule += ", " + " and ".join(bounds) + " steps"
    if config.get("patience"):
        rule += f", patience {config['patience']} epochs"
    return rule


def _spec_of(config: dict[str, Any]) -> ClipSpec:
    return ClipSpec(sampling=config["sampling"], num_frames=config["clip_len"],
                    interval=config["frame_interval"], crop_size=config["crop_size"],
                    test_clips=config["test_clips"], test_crops=config["test_crops"])


def build_classifier(name: str, ctx: MethodContext, *, preset: str = "small",
                     consensus: str | None = None, **params: Any) -> VideoClassifier:
    """A :class:`VideoClassifier` for method ``name`` under ``ctx`` (the registered factory).

    ``params`` override the recipe (any VideoClassifier parameter).
    """
    config = training_config(name, preset, ctx.quick, consensus)
    options = ctx.options or {}
    for key in ("weights", "reinit_head"):
        if key in options and key not in params:
            params[key] = options[key]
    config.update(
        num_classes=len(ctx.classes) or None,
        allow_flip=bool(ctx.allow_flip),
        device=ctx.device,
        random_state=int(ctx.seed),
        progress=bool(ctx.progress),
        cache_dir=ctx.cache_dir,
        work_dir=ctx.work_dir,
        # Clip preparation is cheap: a worker only pays off where it does not take a core from
        # the training threads, so none on 2 cores (measured: docs/deep-recipes.md).
        num_workers=min(8, max(0, int(ctx.jobs) - 2)),
    )
    unknown = set(params) - set(VideoClassifier().get_params())
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {sorted(unknown)} for deep method {name!r}; use preset, "
            f"consensus (tsn) or VideoClassifier parameters"
        )
    config.update(params)
    return VideoClassifier(**config)


def _card(method: DeepMethod) -> MethodCard:
    config = training_config(method.name)
    spec = _spec_of(config)
    model = create_model(config["model"], CARD_NUM_CLASSES, **(config["model_overrides"] or {}))
    shape = (3, spec.num_frames, spec.crop_size, spec.crop_size)
    protocol = (f"{spec.describe()}; small preset {config['model']}; {budget_rule(config)}")
    if method.base == "tsn":
        protocol += f"; {method.consensus} consensus"
    return MethodCard(
        name=method.name,
        track="deep",
        family=method.family,
        year=method.year,
        paper=method.paper,
        protocol=protocol,
        params=int(count_parameters(model)),
        flops_per_clip=int(count_flops(model, shape)),
        description=f"{method.description} (small preset; FLOPs per clip, not MACs; "
                    f"{CARD_NUM_CLASSES} classes)",
    )


def _factory_for(name: str):
    def factory(ctx: MethodContext, **params: Any) -> VideoClassifier:
        return build_classifier(name, ctx, **params)

    factory.__name__ = f"build_{name}"
    factory.__doc__ = f"Build the {name} VideoClassifier for a MethodContext."
    return factory


for _method in DEEP_METHODS:
    _defaults: dict[str, Any] = {"preset": "small"}
    if _method.base == "tsn":
        _defaults["consensus"] = _method.consensus
    register_method(_card(_method), _factory_for(_method.name), **_defaults)


def _register_detection() -> None:
    """The deep temporal detectors (:mod:`deep.detection`), task ``detection``."""
    from deep.detection.methods import (
        ACTIONFORMER_CARD,
        S_CNN_CARD,
        SSN_TAG_CARD,
        build_actionformer_detector,
        build_segment_cnn_detector,
        build_snippet_tag_detector,
    )

    register_method(S_CNN_CARD, build_segment_cnn_detector)
    register_method(SSN_TAG_CARD, build_snippet_tag_detector)
    register_method(ACTIONFORMER_CARD, build_actionformer_detector)


_register_detection()


def _register_localization() -> None:
    """The deep spatio-temporal localizer (:mod:`deep.localization`), task ``localization``."""
    from deep.localization.methods import ROI_ACTION_HEAD_CARD, build_roi_action_localizer

    register_method(ROI_ACTION_HEAD_CARD, build_roi_action_localizer)


_register_localization()
