"""Video models behind a timm-style registry: ``create_model(name)``, ``list_models(pattern)``."""

from . import c3d, inception, lrcn, timesformer, tsn, video_resnet  # noqa: F401  (register)
from ._registry import create_model, list_models, register_model
from .cost import count_flops, count_parameters
from .inflate import inflate

__all__ = [
    "count_flops",
    "count_parameters",
    "create_model",
    "inflate",
    "list_models",
    "register_model",
]
