"""RoIAlign in plain torch: bilinear samples averaged in each bin of a region of interest.

Faster R-CNN's RoI pooling (Ren et al. 2015; Girshick 2015) cuts a region of a feature map
into ``output_size`` bins and max-pools each, after rounding the region and its bins to the
feature grid. RoIAlign (He et al. 2017) drops every rounding: each bin is sampled at
``sampling_ratio x sampling_ratio`` regularly spaced points, each point's value is the bilinear
interpolation of the four nearest feature cells, and the bin's value is the mean of its points.
The result is differentiable in the features *and* in the box coordinates.

The definition, for a box ``(x1, y1, x2, y2)`` in input-image coordinates, a ``spatial_scale``
``s`` (feature cells per input pixel) and ``offset = 0.5`` when ``aligned`` (else 0):

1. ``x0 = s * x1 - offset``, ``w = s * x2 - offset - x0`` (likewise ``y0``, ``h``); without
   ``aligned`` the size is floored at one cell (``max(w, 1)``, Detectron's legacy rule);
2. bin ``(i, j)`` of ``(ph, pw)`` spans ``[y0 + i h / ph, y0 + (i + 1) h / ph)`` by the like in
   x; its sample ``(a, b)``, ``a, b`` in ``range(sampling_ratio)``, lies at
   ``y = y0 + i h / ph + (a + 1/2) h / (ph * sampling_ratio)`` and the like in x;
3. a sample farther than one cell outside the map (``y < -1`` or ``y > H``, or the like in x)
   counts as 0; otherwise ``y`` is clamped to ``[0, H - 1]`` and interpolated bilinearly from
   cells ``floor(y)`` and ``floor(y) + 1`` (the same in x);
4. the bin's value is the mean over its ``sampling_ratio ** 2`` samples (the zeros included).

With ``aligned=True`` a feature cell ``k`` is centred at input coordinate ``(k + 1/2) / s``:
the half-pixel shift that makes a box in continuous coordinates (pixel ``i`` covering
``[i, i + 1)``) sample the cells it covers, which Detectron2 uses for all its models.

References
----------
Ren, S., He, K., Girshick, R., Sun, J. (2015). Faster R-CNN: towards real-time object
detection with region proposal networks. NeurIPS. arXiv:1506.01497.
He, K., Gkioxari, G., Dollár, P., Girshick, R. (2017). Mask R-CNN. ICCV. arXiv:1703.06870.
Wu, Y., Kirillov, A., Massa, F., Lo, W.-Y., Girshick, R. (2019). Detectron2 (``aligned``).
https://github.com/facebookresearch/detectron2
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["roi_align", "RoIAlign", "time_pooled_roi_align"]


def _check(features: torch.Tensor, rois: torch.Tensor, output_size, sampling_ratio: int
           ) -> tuple[int, int]:
    if features.ndim != 4:
        raise ValueError(f"roi_align: features must be (N, C, H, W); got shape "
                         f"{tuple(features.shape)}. Pool a 3D feature map over time first "
                         "(time_pooled_roi_align).")
    if rois.ndim != 2 or rois.shape[1] != 5:
        raise ValueError(f"roi_align: rois must be (K, 5) rows (batch index, x1, y1, x2, y2); "
                         f"got shape {tuple(rois.shape)}.")
    size = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    if len(size) != 2 or any(not isinstance(v, int) or v < 1 for v in size):
        raise ValueError(f"The 'output_size' parameter of roi_align must be an int or a pair of "
                         f"ints >= 1. Got {output_size!r} instead.")
    if isinstance(sampling_ratio, bool) or not isinstance(sampling_ratio, int) or \
            sampling_ratio < 1:
        raise ValueError(f"The 'sampling_ratio' parameter of roi_align must be an int >= 1 "
                         f"(a fixed number of samples per bin side). Got {sampling_ratio!r} "
                         "instead.")
    return size


def _sample_axis(start: torch.Tensor, length: torch.Tensor, bins: int, ratio: int
                 ) -> torch.Tensor:
    """Sample coordinates along one axis: ``(K, bins * ratio)``, bin-major."""
    steps = (torch.arange(bins * ratio, dtype=start.dtype, device=start.device) + 0.5) / ratio
    return start[:, None] + steps[None, :] * (length / bins)[:, None]


def _bilinear_axis(coord: torch.Tensor, size: int):
    """Low/high cell indices, their weights and the inside mask along one axis (step 3)."""
    inside = (coord >= -1.0) & (coord <= size)
    c = coord.clamp(min=0.0)
    low = c.floor().long()
    at_edge = low >= size - 1
    low = torch.where(at_edge, torch.full_like(low, size - 1), low)
    high = torch.where(at_edge, low, low + 1)
    c = torch.where(at_edge, low.to(c.dtype), c)
    frac = c - low.to(c.dtype)
    return low, high, 1.0 - frac, frac, inside


def roi_align(features: torch.Tensor, rois: torch.Tensor, output_size: int | tuple[int, int],
              spatial_scale: float = 1.0, sampling_ratio: int = 2,
              aligned: bool = True) -> torch.Tensor:
    """RoIAlign of boxes on a batch of 2D feature maps (He et al. 2017).

    Parameters
    ----------
    features : torch.Tensor, shape (N, C, H, W)
    rois : torch.Tensor, shape (K, 5)
        ``batch_index, x1, y1, x2, y2`` per box, in input-image coordinates.
    output_size : int or (int, int)
        Bins ``(ph, pw)`` of each output.
    spatial_scale : float, default 1.0
        Feature cells per input pixel (1 / the feature stride).
    sampling_ratio : int, default 2
        Samples per bin side.
    aligned : bool, default True
        The half-pixel offset (see the module docstring).

    Returns
    -------
    torch.Tensor, shape (K, C, ph, pw)
        Differentiable in ``features`` and in the box coordinates of ``rois``.

    Raises
    ------
    ValueError
        Wrong shapes, or an ``output_size`` / ``sampling_ratio`` that is not a positive int.

    Notes
    -----
    ``sampling_ratio`` must be fixed: the adaptive rule of some libraries (``ceil(h / ph)``
    samples per box, for ``sampling_ratio <= 0``) gives every box another number of samples,
    which this vectorised form does not handle. The four neighbours of every sample are read
    with one index into the ``(N H W, C)`` view of the map, so memory grows with the number of
    samples, not with ``K x H x W``.
    """
    ph, pw = _check(features, rois, output_size, sampling_ratio)
    n, c, height, width = features.shape
    k = rois.shape[0]
    if k == 0:
        return features.new_zeros((0, c, ph, pw))
    rois = rois.to(features.dtype)
    offset = 0.5 if aligned else 0.0
    batch = rois[:, 0].long()
    x0 = rois[:, 1] * spatial_scale - offset
    y0 = rois[:, 2] * spatial_scale - offset
    w = rois[:, 3] * spatial_scale - offset - x0
    h = rois[:, 4] * spatial_scale - offset - y0
    if not aligned:
        w, h = w.clamp(min=1.0), h.clamp(min=1.0)
    ys = _sample_axis(y0, h, ph, sampling_ratio)  # (K, Sy)
    xs = _sample_axis(x0, w, pw, sampling_ratio)  # (K, Sx)
    y_lo, y_hi, wy_lo, wy_hi, y_in = _bilinear_axis(ys, height)
    x_lo, x_hi, wx_lo, wx_hi, x_in = _bilinear_axis(xs, width)
    flat = features.permute(0, 2, 3, 1).reshape(n * height * width, c)
    base = (batch * height * width)[:, None, None]
    out = 0.0
    for yi, wy in ((y_lo, wy_lo), (y_hi, wy_hi)):
        for xi, wx in ((x_lo, wx_lo), (x_hi, wx_hi)):
            index = base + yi[:, :, None] * width + xi[:, None, :]  # (K, Sy, Sx)
            weight = wy[:, :, None] * wx[:, None, :]
            out = out + flat[index] * weight[..., None]
    mask = (y_in[:, :, None] & x_in[:, None, :]).to(features.dtype)
    out = out * mask[..., None]  # (K, Sy, Sx, C)
    out = out.view(k, ph, sampling_ratio, pw, sampling_ratio, c).mean(dim=(2, 4))
    return out.permute(0, 3, 1, 2).contiguous()


def time_pooled_roi_align(features: torch.Tensor, rois: torch.Tensor,
                          output_size: int | tuple[int, int], spatial_scale: float = 1.0,
                          sampling_ratio: int = 2, aligned: bool = True) -> torch.Tensor:
    """RoIAlign on a 3D feature map ``(N, C, T, H, W)`` averaged over time first.

    The AVA baselines' way (Gu et al. 2018; SlowFast, Feichtenhofer et al. 2019): the keyframe's
    box is taken to hold for the whole clip, so the map is pooled over ``T`` and the box
    aligned once on the pooled map. Parameters as :func:`roi_align`.
    """
    if features.ndim != 5:
        raise ValueError(f"time_pooled_roi_align: features must be (N, C, T, H, W); got shape "
                         f"{tuple(features.shape)}.")
    return roi_align(features.mean(dim=2), rois, output_size, spatial_scale, sampling_ratio,
                     aligned)


class RoIAlign(nn.Module):
    """:func:`roi_align` as a module (3D maps are pooled over time first).

    Parameters
    ----------
    output_size, spatial_scale, sampling_ratio, aligned
        As :func:`roi_align`.
    """

    def __init__(self, output_size: int | tuple[int, int], spatial_scale: float = 1.0,
                 sampling_ratio: int = 2, aligned: bool = True):
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = float(spatial_scale)
        self.sampling_ratio = sampling_ratio
        self.aligned = bool(aligned)

    def forward(self, features: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        if features.ndim == 5:
            features = features.mean(dim=2)
        return roi_align(features, rois, self.output_size, self.spatial_scale,
                         self.sampling_ratio, self.aligned)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
                f"sampling_ratio={self.sampling_ratio}, aligned={self.aligned}")
