"""Inflate a 2D network into its 3D counterpart (I3D's "boring video" initialisation).

References
----------
.. [1] Carreira, J. & Zisserman, A. (2017). Quo Vadis, Action Recognition? A New Model and the
   Kinetics Dataset. CVPR, Sec. 2.4. arXiv:1705.07750.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["inflate"]

_CONVS = (nn.Conv2d, nn.Conv3d)
_NORMS = (nn.BatchNorm2d, nn.BatchNorm3d, nn.GroupNorm, nn.LayerNorm)


def _leaf_modules_with_state(model: nn.Module) -> dict[str, nn.Module]:
    return {
        name: m
        for name, m in model.named_modules()
        if any(True for _ in m.parameters(recurse=False)) or any(True for _ in m.buffers(recurse=False))
    }


def _inflate_conv(name: str, src: nn.Module, dst: nn.Module) -> None:
    w2 = src.weight
    if isinstance(src, nn.Conv3d):
        if w2.shape[2] != 1:
            raise ValueError(
                f"inflate: source layer {name!r} is a 3D convolution with temporal kernel "
                f"{w2.shape[2]}; only 2D kernels (or 3D kernels of temporal size 1) can be inflated."
            )
        w2 = w2[:, :, 0]
    if not isinstance(dst, nn.Conv3d):
        raise TypeError(f"inflate: target layer {name!r} is {type(dst).__name__}, expected Conv3d.")
    w3 = dst.weight
    if w3.shape[:2] != w2.shape[:2] or tuple(w3.shape[-2:]) != tuple(w2.shape[-2:]) or src.groups != dst.groups:
        raise ValueError(
            f"inflate: layer {name!r} does not match: 2D weight {tuple(w2.shape)} (groups={src.groups}) "
            f"vs 3D weight {tuple(w3.shape)} (groups={dst.groups}); the two networks must have the "
            "same channels and spatial kernels."
        )
    t = w3.shape[2]
    dst.weight.copy_(w2.unsqueeze(2).expand_as(w3) / t)
    if (src.bias is None) != (dst.bias is None):
        raise ValueError(f"inflate: layer {name!r}: one convolution has a bias and the other has not.")
    if src.bias is not None:
        dst.bias.copy_(src.bias)


def _copy_state(name: str, src: nn.Module, dst: nn.Module) -> None:
    src_state = dict(src.named_parameters(recurse=False)) | dict(src.named_buffers(recurse=False))
    dst_state = dict(dst.named_parameters(recurse=False)) | dict(dst.named_buffers(recurse=False))
    if src_state.keys() != dst_state.keys():
        raise ValueError(
            f"inflate: layer {name!r} has state {sorted(src_state)} in the 2D network but "
            f"{sorted(dst_state)} in the 3D network."
        )
    for key, value in src_state.items():
        if value is None:
            continue
        if dst_state[key].shape != value.shape:
            raise ValueError(
                f"inflate: '{name}.{key}' has shape {tuple(value.shape)} in the 2D network but "
                f"{tuple(dst_state[key].shape)} in the 3D network."
            )
        dst_state[key].copy_(value)


@torch.no_grad()
def inflate(model_2d: nn.Module, model_3d: nn.Module) -> nn.Module:
    """Copy a 2D network's weights into the 3D network with the same structure.

    Every 3D convolution kernel of temporal size ``T`` is the 2D kernel repeated ``T`` times
    along time and divided by ``T``, so that ``Σ_t W3[:, :, t] = W2``; normalisation layers
    (weights, biases, running statistics), linear layers and any other parameters are copied
    unchanged.

    Parameters
    ----------
    model_2d : torch.nn.Module
        The source, e.g. ``create_model("inception_v1")``. A ``Conv3d`` with temporal kernel 1
        counts as a 2D convolution (a frame-wise network can be inflated too).
    model_3d : torch.nn.Module
        The target, e.g. ``create_model("i3d")``; modified in place.

    Returns
    -------
    torch.nn.Module
        ``model_3d``.

    Raises
    ------
    ValueError
        If the two networks do not have the same named layers, or a layer's channels, spatial
        kernel or state shapes differ (the message names the layer).
    TypeError
        If a 2D convolution faces something other than a ``Conv3d``.

    Notes
    -----
    On a static clip ("boring video") each inflated convolution gives, away from the temporal
    borders, exactly the 2D response; with replicate temporal padding (``temporal_padding=
    "replicate"`` on :class:`~deep.models.inception.InceptionV1`) it does so at every frame, and
    the inflated network in eval mode reproduces the 2D network's output.

    References
    ----------
    .. [1] Carreira & Zisserman (2017), arXiv:1705.07750, Sec. 2.4.

    Examples
    --------
    >>> from deep.models import create_model, inflate
    >>> i3d = inflate(create_model("inception_v1_small"), create_model("i3d_small"))
    """
    src_layers = _leaf_modules_with_state(model_2d)
    dst_layers = _leaf_modules_with_state(model_3d)
    missing = sorted(src_layers.keys() - dst_layers.keys())
    extra = sorted(dst_layers.keys() - src_layers.keys())
    if missing or extra:
        raise ValueError(
            "inflate: the 2D and 3D networks do not have the same layers. "
            f"Only in the 2D network: {missing[:5]}{' ...' if len(missing) > 5 else ''}; "
            f"only in the 3D network: {extra[:5]}{' ...' if len(extra) > 5 else ''}."
        )
    for name, src in src_layers.items():
        dst = dst_layers[name]
        if isinstance(src, _CONVS):
            _inflate_conv(name, src, dst)
        else:
            if type(src) is not type(dst) and not (isinstance(src, _NORMS) and isinstance(dst, _NORMS)):
                raise TypeError(
                    f"inflate: layer {name!r} is {type(src).__name__} in the 2D network but "
                    f"{type(dst).__name__} in the 3D network."
                )
            _copy_state(name, src, dst)
    return model_3d
