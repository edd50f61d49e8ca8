"""The numerical environment of a run: what decides whether two runs can be bitwise equal.

Two runs of the same code, config and seed give byte-identical predictions only when every
kernel they call rounds the same way. On a CPU that is decided by which kernel each library
picks at run time -- by instruction set (AVX2, AVX-512, AVX-512 BF16, AMX), by its own build
(oneDNN, MKL, OpenBLAS and their versions) and by how many threads split a reduction -- and on a
GPU by the device, CUDA and cuDNN. :func:`environment_info` records those facts for
``run.json``; :func:`environment_key` hashes the ones that decide the kernels, so that
``compare`` can say whether two runs share an environment (bitwise equality expected) or not
(only a statistical comparison makes sense).

:data:`SIMULATED_ISAS` names environment-variable sets that make this machine's libraries pick
the kernels of an older instruction set, to reproduce the cross-machine case on one machine
(``python -m bench run --simulate-isa avx2``). They are read when each library loads, so they
must be in the environment before the process imports numpy, torch, OpenCV or numba:
:func:`simulated_isa_environment` gives the variables and the CLI re-executes itself with them.

References
----------
.. [1] oneDNN developer guide, "CPU dispatcher control" (``ONEDNN_MAX_CPU_ISA``).
.. [2] PyTorch, ``ATEN_CPU_CAPABILITY`` (``torch.backends.cpu.get_cpu_capability``).
.. [3] OpenBLAS, ``OPENBLAS_CORETYPE`` (dynamic-architecture builds).
.. [4] Numba, ``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES`` (environment variables).
.. [5] OpenCV, ``OPENCV_CPU_DISABLE`` (runtime dispatch of optimised code paths).
.. [6] NumPy, ``NPY_DISABLE_CPU_FEATURES`` (runtime dispatch of SIMD loops).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import platform
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.paths import cache_home

__all__ = [
    "KERNEL_FLAGS",
    "KERNEL_ENV_VARS",
    "SIMULATED_ISAS",
    "SIMULATED_ISA_MARKER",
    "environment_info",
    "environment_key",
    "environment_differences",
    "simulated_isa_environment",
    "SIMULATED_HOME_PARENT",
]

#: CPU flags (``/proc/cpuinfo`` names) that select different kernels in our libraries.
KERNEL_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl",
                "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8")

#: Environment variables that change which kernel a library picks, or how many threads it uses.
KERNEL_ENV_VARS = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY",
                   "MKL_ENABLE_INSTRUCTIONS", "MKL_CBWR", "OPENBLAS_CORETYPE", "NUMBA_CPU_NAME",
                   "NUMBA_CPU_FEATURES", "NPY_DISABLE_CPU_FEATURES", "OPENCV_CPU_DISABLE",
                   "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                   "NUMBA_NUM_THREADS", "CUBLAS_WORKSPACE_CONFIG")

#: The variable that marks a process started under a simulated instruction set.
SIMULATED_ISA_MARKER = "ACTBENCH_SIMULATED_ISA"
#: The cache home a simulated process was started from; its own cache home is
#: ``<that>/simulated-<isa>`` (another machine has its own caches: descriptors, decoded frames,
#: trained detection backbones and generated datasets computed here must not be reused there).
SIMULATED_HOME_PARENT = "ACTBENCH_SIMULATED_HOME_PARENT"

_OPENCV_AVX512 = "AVX512-SKX,AVX512-COMMON"
_NUMPY_AVX512 = "X86_V4 AVX512_ICL AVX512_SPR"  # numpy 2.4's dispatch targets above AVX2
#: Instruction sets this machine can pretend to stop at: variables per library.
SIMULATED_ISAS: dict[str, dict[str, str]] = {
    "avx2": {  # a Haswell-to-Zen 3 machine: AVX2 + FMA, no AVX-512
        "ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2", "OPENBLAS_CORETYPE": "Haswell",
        "NUMBA_CPU_NAME": "haswell", "NPY_DISABLE_CPU_FEATURES": _NUMPY_AVX512,
        "OPENCV_CPU_DISABLE": _OPENCV_AVX512,
    },
    "avx512_core": {  # a Skylake-SP machine: AVX-512 without VNNI, BF16 or AMX
        "ONEDNN_MAX_CPU_ISA": "AVX512_CORE", "ATEN_CPU_CAPABILITY": "avx512",
        "OPENBLAS_CORETYPE": "SkylakeX", "NUMBA_CPU_NAME": "skylake-avx512",
    },
    "sse41": {  # a pre-2011 machine: no AVX at all
        "ONEDNN_MAX_CPU_ISA": "SSE41", "ATEN_CPU_CAPABILITY": "default",
        "MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "OPENBLAS_CORETYPE": "Nehalem",
        "NUMBA_CPU_NAME": "nehalem", "NPY_DISABLE_CPU_FEATURES": "X86_V3 " + _NUMPY_AVX512,
        "OPENCV_CPU_DISABLE": "AVX,AVX2,FMA3,FP16," + _OPENCV_AVX512,
    },
}


def simulated_isa_environment(name: str, base: Mapping[str, str] | None = None
                              ) -> dict[str, str]:
    """The environment variables that simulate instruction set ``name`` on this machine.

    Parameters
    ----------
    name : str
        A key of :data:`SIMULATED_ISAS`.
    base : mapping, optional
        A whole environment (e.g. ``os.environ``) to return with the simulation applied: every
        variable another simulated set would set is removed from it first, so nothing stale
        is left. ``None``: only the simulation's own variables.

    Raises
    ------
    ValueError
        For a name not in :data:`SIMULATED_ISAS`.
    """
    if name not in SIMULATED_ISAS:
        raise ValueError(f"--simulate-isa must be one of {', '.join(SIMULATED_ISAS)}; "
                         f"got {name!r}.")
    home = (base if base is not None else os.environ).get(SIMULATED_HOME_PARENT) or \
        (base if base is not None else os.environ).get("ACTBENCH_HOME")
    root = cache_home(home) if home else cache_home()
    variables = {**SIMULATED_ISAS[name], SIMULATED_ISA_MARKER: name,
                 SIMULATED_HOME_PARENT: str(root),
                 "ACTBENCH_HOME": str(root / f"simulated-{name}")}
    if base is None:
        return variables
    simulated = {k for isa in SIMULATED_ISAS.values() for k in isa}
    return {**{k: v for k, v in base.items() if k not in simulated}, **variables}


def _cpuinfo() -> tuple[str | None, set[str] | None]:
    """CPU model name and flags from ``/proc/cpuinfo`` (Linux); ``(None, None)`` elsewhere."""
    path = Path("/proc/cpuinfo")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None, None
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    flags = re.search(r"^(?:flags|Features)\s*:\s*(.+)$", text, re.MULTILINE)
    return (model.group(1).strip() if model else None,
            set(flags.group(1).split()) if flags else None)


def _torch_facts() -> dict[str, Any] | None:
    try:
        import torch
    except ImportError:
        return None
    config = torch.__config__.show()
    onednn = re.search(r"(?:oneDNN|MKL-DNN) v([\w.]+)", config)
    mkl = re.search(r"Math Kernel Library Version ([\w.]+)", config)
    openmp = re.search(r"OpenMP (\d+)", config)
    facts: dict[str, Any] = {
        "version": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "num_threads": torch.get_num_threads(),
        "num_interop_threads": torch.get_num_interop_threads(),
        "onednn": onednn.group(1) if onednn else None,
        "mkl": mkl.group(1) if mkl else None,
        "openmp": openmp.group(1) if openmp else None,
        "cuda": torch.version.cuda,
        "cudnn": None,
        "gpus": [],
    }
    if torch.cuda.is_available():
        facts["cudnn"] = torch.backends.cudnn.version()
        facts["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return facts


def _threadpools() -> list[dict[str, Any]]:
    """BLAS / OpenMP libraries of this process (threadpoolctl), without file paths.

    The libraries the runs use are imported first, so that the list does not depend on
    what happened to be loaded when it was read.
    """
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    for module in ("numpy", "scipy.linalg", "sklearn.cluster", "torch", "cv2"):
        try:
            importlib.import_module(module)
        except ImportError:
            pass
    keep = ("user_api", "internal_api", "prefix", "version", "num_threads", "architecture",
            "threading_layer")
    pools = [{k: pool.get(k) for k in keep if k in pool} for pool in threadpool_info()]
    return sorted(pools, key=lambda p: json.dumps(p, sort_keys=True, default=str))


def _numpy_facts() -> dict[str, Any]:
    """numpy's version and the SIMD dispatch targets it uses on this CPU."""
    import numpy as np

    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:  # numpy < 2
        return {"version": np.__version__, "simd_dispatch": None}
    return {"version": np.__version__,
            "simd_dispatch": [t for t in __cpu_dispatch__ if __cpu_features__.get(t)]}


def _opencv_facts() -> dict[str, Any] | None:
    try:
        import cv2
    except ImportError:
        return None
    return {"version": cv2.__version__, "num_threads": cv2.getNumThreads(),
            "optimized": bool(cv2.useOptimized()),
            "cpu_features": cv2.getCPUFeaturesLine()}  # "?": compiled, switched off


def _numba_target() -> dict[str, Any] | None:
    try:
        import llvmlite.binding as llvm
        import numba
    except ImportError:
        return None
    return {"version": numba.__version__,
            "cpu_name": os.environ.get("NUMBA_CPU_NAME") or llvm.get_host_cpu_name(),
            "cpu_features": os.environ.get("NUMBA_CPU_FEATURES")}


def environment_info(device: str = "cpu", packages: dict[str, Any] | None = None
                     ) -> dict[str, Any]:
    """Facts about this process that decide which kernels run, for ``run.json``.

    Parameters
    ----------
    device : str
        The device the run's deep methods use (``"cpu"`` or ``"cuda"``), resolved.
    packages : dict, optional
        The run's package versions (:func:`bench.run.runinfo.package_versions`); they enter the
        key, not the returned facts.

    Returns
    -------
    dict
        ``cpu_model``, ``cpu_flags`` (each of :data:`KERNEL_FLAGS`: bool, or ``None`` where
        the OS does not tell), ``device``, ``torch`` (CPU capability, threads, oneDNN / MKL /
        OpenMP, CUDA / cuDNN, GPUs), ``threadpools`` (threadpoolctl: BLAS and OpenMP
        libraries, versions, thread counts, OpenBLAS core type), ``numba`` (LLVM target CPU),
        ``numpy`` (SIMD dispatch targets in use), ``opencv`` (threads, optimised code on,
        dispatched CPU features),
        ``kernel_env`` (those of :data:`KERNEL_ENV_VARS` that are set), ``simulated_isa``
        (the name when the process runs under :data:`SIMULATED_ISAS`, else ``None``), and
        ``key``: :func:`environment_key` of the rest and of ``packages``.
    """
    model, flags = _cpuinfo()
    info: dict[str, Any] = {
        "cpu_model": model or platform.processor() or None,
        "cpu_flags": {f: (None if flags is None else f in flags) for f in KERNEL_FLAGS},
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "device": device,
        "torch": _torch_facts(),
        "threadpools": _threadpools(),
        "numpy": _numpy_facts(),
        "numba": _numba_target(),
        "opencv": _opencv_facts(),
        "kernel_env": {k: os.environ[k] for k in KERNEL_ENV_VARS if k in os.environ},
        "simulated_isa": os.environ.get(SIMULATED_ISA_MARKER),
    }
    info["key"] = environment_key(info, packages)
    return info


def _key_facts(info: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in info.items() if k != "key"}


def environment_key(info: dict[str, Any], packages: dict[str, Any] | None = None) -> str:
    """SHA-256 (16 hex digits) of an :func:`environment_info` dict, plus ``packages``.

    Everything in ``info`` enters the key: the CPU model, its kernel flags, the libraries'
    builds and thread counts, the kernel variables, the device.
    """
    payload = {"environment": _key_facts(info), "packages": packages or {}}
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def environment_differences(base: dict[str, Any] | None, cand: dict[str, Any] | None,
                            base_packages: dict[str, Any] | None = None,
                            cand_packages: dict[str, Any] | None = None) -> list[str]:
    """What differs between two runs' environments, as short ``"what: a -> b"`` phrases.

    An empty list means the same environment. A run without an environment record (written
    before it existed) differs from everything: ``["no environment record"]``.
    """
    if not base or not cand:
        return ["no environment record in " + ("the baseline" if not base else "the candidate")]
    out: list[str] = []

    def walk(a: Any, b: Any, where: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                walk(a.get(k), b.get(k), f"{where}.{k}" if where else str(k))
        elif a != b:
            out.append(f"{where}: {_short(a)} -> {_short(b)}")

    facts_b, facts_c = _key_facts(base), _key_facts(cand)
    first = [k for k in _DIFFERENCE_ORDER if k in facts_b or k in facts_c]
    for k in first + sorted((set(facts_b) | set(facts_c)) - set(first)):
        walk(facts_b.get(k), facts_c.get(k), k)
    walk(base_packages or {}, cand_packages or {}, "packages")
    return out


#: The facts that explain a difference best come first in :func:`environment_differences`.
_DIFFERENCE_ORDER = ("simulated_isa", "cpu_model", "cpu_flags", "device", "torch", "numpy",
                     "numba", "threadpools", "opencv", "kernel_env")


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."
