"""Throughput rows of the deep track for ``python -m bench perf``.

For each paper-size model: forward and forward+backward clips/s at batch 8 on 3×16×112×112
clips, in fp32 and in bf16 (CPU autocast, or CUDA autocast on a GPU), and the achieved
GFLOP/s as a share of the fp32 and bf16 matrix-multiply peak measured in the same run (a large
``torch.matmul``). FLOPs are :func:`deep.models.count_flops` (2 × multiply-accumulates of
convolutions, matrix products and attention); forward+backward is counted as 3 × forward (the
backward pass computes two products per forward product), an approximation stated in the row
notes. Where ``torchvision`` is importable, its ``r3d_18`` / ``mc3_18`` / ``r2plus1d_18`` run
in the same conditions as the reference of ours; otherwise the rows say it was skipped.

Targets (the rows' ``target`` and ``met``; ``python -m bench perf --strict`` exits 1 when a row
misses its target): forward fp32 of ``r3d_18`` / ``r2plus1d_18`` within 5 % of torchvision's
same architecture (``mc3_18`` is timed against torchvision without a target), so that our
generic video ResNet costs no speed against the reference implementation; bf16 forward
>= 1.8× the fp32 forward on CPUs with native bf16 (AVX-512 BF16 or AMX), where bf16 should
pay off. On a CPU without native bf16 the bf16 target is not applicable (``met`` is None); on
CUDA it is not set, since fp32 convolutions run on TF32 tensor cores there by default.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from bench.device import resolve_device

__all__ = ["run_perf", "matmul_peak", "measure_model", "cpu_has_bf16"]

PAPER_MODELS = ("c3d", "r3d_18", "mc3_18", "r2plus1d_18", "i3d", "tsn", "lrcn", "timesformer")
QUICK_MODELS = ("r3d_18", "r2plus1d_18")
TORCHVISION_TWINS = ("r3d_18", "mc3_18", "r2plus1d_18")
CLIP = (3, 16, 112, 112)
PASSES = ("forward", "forward+backward")
PRECISIONS = ("fp32", "bf16")




def _case_name(name: str, kind: str, label: str, batch: int, clip: Sequence[int]) -> str:
    return f"deep/{name} {kind} {label} b{batch} {'x'.join(map(str, clip))}"


def _matmul_case(label: str, size: int) -> str:
    return f"deep/matmul_peak {label} {size}^3"


def _matches(pattern: str, cases: Sequence[str]) -> bool:
    """``python -m bench perf --only``: case-insensitive substring of any case name."""
    return any(pattern in case.lower() for case in cases)


def cpu_has_bf16() -> bool:
    """True when the CPU advertises native bf16 arithmetic (AVX-512 BF16 or AMX-BF16)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            flags = fh.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _timed(fn: Callable[[], Any], iterations: int, device: torch.device) -> float:
    """Median seconds of ``fn`` over ``iterations`` runs after one warm-up run."""
    return _timed_alternately([fn], iterations, device)[0]


def _timed_alternately(fns: Sequence[Callable[[], Any]], iterations: int,
                       device: torch.device) -> list[float]:
    """Median seconds of each callable, timed in turn (a, b, a, b, ...) after a warm-up of
    each, so that clock drift and allocator or cache warm-up do not favour either one."""
    for fn in fns:
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(iterations):
        for fn, out in zip(fns, times, strict=True):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            out.append(time.perf_counter() - start)
    return [sorted(t)[len(t) // 2] for t in times]


def matmul_peak(dtype: torch.dtype, size: int = 2048, iterations: int = 3,
                device: torch.device | None = None) -> float:
    """Achieved GFLOP/s of a ``size``×``size`` ``torch.matmul`` in ``dtype`` (2 n³ FLOPs)."""
    device = device or torch.device("cpu")
    gen = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(size, size, generator=gen).to(device=device, dtype=dtype)
    b = torch.randn(size, size, generator=gen).to(device=device, dtype=dtype)
    # On CUDA, fp32 convolutions run on TF32 tensor cores by default (cudnn.allow_tf32): the
    # fp32 peak they are compared with is measured the same way.
    previous = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32
    try:
        seconds = _timed(lambda: torch.matmul(a, b), iterations, device)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous
    return 2 * size**3 / seconds / 1e9


def measure_model(model: nn.Module, *, batch: int, clip: Sequence[int], backward: bool,
                  bf16: bool, iterations: int, device: torch.device) -> float:
    """Seconds per batch of a forward (inference) or forward+backward (training) pass."""
    return _timed(_pass(model, batch=batch, clip=clip, backward=backward, bf16=bf16,
                        device=device), iterations, device)


def _pass(model: nn.Module, *, batch: int, clip: Sequence[int], backward: bool, bf16: bool,
          device: torch.device) -> Callable[[], None]:
    """The timed callable: one forward (inference) or forward+backward pass on a fixed batch."""
    model = model.to(device)
    gen = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randn(batch, *clip, generator=gen).to(device)
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16)

    def forward() -> None:
        with torch.inference_mode(), autocast:
            model(x)

    def forward_backward() -> None:
        model.zero_grad(set_to_none=True)
        with autocast:
            out = model(x)
        out.float().sum().backward()

    model.train(backward)
    return forward_backward if backward else forward


def _torchvision_twin(name: str) -> nn.Module | None:
    try:
        from torchvision.models import video
    except ImportError:
        return None
    return getattr(video, name)(weights=None)


def run_perf(quick: bool = False, *, only: str | None = None, device: str = "auto",
             models: Sequence[str] | None = None, batch: int | None = None,
             clip: Sequence[int] | None = None,
             iterations: int | None = None) -> list[dict[str, Any]]:
    """Rows for ``python -m bench perf``.

    Parameters
    ----------
    quick : bool
        Batch 2, ``r3d_18`` and ``r2plus1d_18`` only, one timed iteration, a smaller matmul.
    only : str, optional
        Time only the models with a case name containing this text (case-insensitive), e.g.
        ``"r3d_18"``; the others are not built or timed. The matmul peak rows are measured
        whenever a model is timed (its ``peak_share`` needs them) or the text matches them.
    device : {"auto", "cpu", "cuda"}, default "auto"
        Where to time; ``"auto"`` is CUDA when available, else the CPU.
    models, batch, clip, iterations : optional
        Overrides (tests use a small model and clip).

    Returns
    -------
    list of dict
        Keys ``case, ours_s, reference, reference_s, speedup, max_abs_diff, target, met,
        notes`` plus ``clips_per_s``, ``gflop_per_s`` and ``peak_share`` (of the matmul peak of
        the same precision).

    Raises
    ------
    ValueError
        For an unknown ``device``, or ``"cuda"`` without a CUDA device.
    """
    from deep.models import count_flops, create_model

    device = torch.device(resolve_device(device))
    models = tuple(models or (QUICK_MODELS if quick else PAPER_MODELS))
    batch = batch or (2 if quick else 8)
    clip = tuple(clip or CLIP)
    iterations = iterations or (1 if quick else 3)
    size = (4096 if quick else 8192) if device.type == "cuda" else (1024 if quick else 2048)
    bf16_native = device.type == "cuda" or cpu_has_bf16()
    pattern = (only or "").lower()
    if pattern:
        models = tuple(name for name in models if _matches(pattern, [
            _case_name(name, kind, label, batch, clip)
            for kind in PASSES for label in PRECISIONS]))
        if not models and not _matches(pattern, [_matmul_case(label, size)
                                                 for label in PRECISIONS]):
            return []

    rows: list[dict[str, Any]] = []
    peaks = {}
    for label, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        peaks[label] = matmul_peak(dtype, size=size, iterations=iterations + 1, device=device)
        tf32 = (" (TF32, as cuDNN's fp32 convolutions)"
                if device.type == "cuda" and label == "fp32" and torch.backends.cudnn.allow_tf32
                else "")
        rows.append(_row(_matmul_case(label, size), 2 * size**3 / peaks[label] / 1e9,
                         notes=f"{peaks[label]:.1f} GFLOP/s on {device.type}{tf32}",
                         gflop_per_s=peaks[label]))

    for name in models:
        torch.manual_seed(0)
        model = create_model(name, 400)
        flops = count_flops(model, clip)
        twin = _torchvision_twin(name) if name in TORCHVISION_TWINS else None
        fwd_fp32 = None
        for kind in PASSES:
            backward = kind == "forward+backward"
            work = flops * (3 if backward else 1)
            for label in PRECISIONS:
                seconds = measure_model(model, batch=batch, clip=clip, backward=backward,
                                        bf16=label == "bf16", iterations=iterations,
                                        device=device)
                rate = batch / seconds
                achieved = work * rate / 1e9
                row = _row(
                    _case_name(name, kind, label, batch, clip), seconds,
                    clips_per_s=rate, gflop_per_s=achieved, peak_share=achieved / peaks[label],
                    notes=(f"{rate:.2f} clips/s, {achieved:.1f} GFLOP/s = "
                           f"{100 * achieved / peaks[label]:.0f}% of the {label} matmul peak"
                           + ("; FLOPs = 3 x forward" if backward else "")),
                )
                if not backward and label == "fp32":
                    fwd_fp32 = seconds
                    _compare_torchvision(row, name, model, twin, batch, clip, iterations,
                                         device)
                if not backward and label == "bf16" and fwd_fp32:
                    row.update(reference=f"{name} forward fp32", reference_s=fwd_fp32,
                               speedup=fwd_fp32 / seconds)
                    if device.type == "cuda":
                        # The target is for CPUs; on a GPU "fp32" convolutions already run on
                        # TF32 tensor cores and batch 8 at 112x112 is launch-bound.
                        row["notes"] += "; the >= 1.8x bf16 target is for CPUs"
                    else:
                        row.update(target=">= 1.8x fp32",
                                   met=(fwd_fp32 / seconds >= 1.8) if bf16_native else None)
                        if not bf16_native:
                            row["notes"] += "; this CPU has no native bf16: target not applicable"
                rows.append(row)
    return rows


def _compare_torchvision(row: dict, name: str, ours: nn.Module, twin: nn.Module | None,
                         batch: int, clip: Sequence[int], iterations: int,
                         device: torch.device) -> None:
    if name not in TORCHVISION_TWINS:
        return
    row["target"] = "within 5% of torchvision" if name != "mc3_18" else None
    if twin is None:
        row["notes"] += "; torchvision not importable: comparison skipped"
        return
    ours_fn = _pass(ours, batch=batch, clip=clip, backward=False, bf16=False, device=device)
    ref_fn = _pass(twin, batch=batch, clip=clip, backward=False, bf16=False, device=device)
    ours_s, ref = _timed_alternately([ours_fn, ref_fn], max(iterations, 5), device)
    speed = ref / ours_s
    row.update(reference=f"torchvision {name}", reference_s=ref, speedup=speed)
    row["notes"] += (f"; vs torchvision timed alternately, {max(iterations, 5)} times each "
                     f"(ours {ours_s:.4g} s in that pairing)")
    if row["target"]:
        row["met"] = speed >= 0.95


def _row(case: str, ours_s: float, **extra: Any) -> dict[str, Any]:
    row = {"case": case, "ours_s": ours_s, "reference": None, "reference_s": None,
           "speedup": None, "max_abs_diff": None, "target": None, "met": None, "notes": ""}
    row.update(extra)
    return row
