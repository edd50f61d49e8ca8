"""The one place that sets the Numba flags of :mod:`baselines._kernels`.

Every ``@njit`` in the package takes its flags from here, so a single edit (or the environment
variables below) switches caching, fast-math or threading for all kernels at once.

* ``CACHE`` — write compiled kernels to ``__pycache__`` so that the next process (and the test
  suite) skips compilation. ``ACTBENCH_NUMBA_CACHE=0`` turns it off.
* ``PARALLEL`` — compile the kernels that loop with ``prange`` as multi-threaded. Each of them
  writes disjoint outputs per iteration, so the result does not depend on the thread count
  (tests compare 1 thread with 2). ``ACTBENCH_NUMBA_PARALLEL=0`` compiles them serial.
* ``FASTMATH`` — off: the HOG kernel must reproduce scikit-image to the last float32 bit and
  the orientation binning depends on exact comparisons.
* ``FASTMATH_REDUCTION`` — the flags for pure reductions (the χ² distance): reassociation lets
  LLVM vectorise the sum; it changes the summation order only, well inside the 1e-10 agreement
  with scikit-learn. No approximate functions (``afn``) and no reciprocal tricks (``arcp``).
"""

from __future__ import annotations

import os

__all__ = ["CACHE", "PARALLEL", "FASTMATH", "FASTMATH_REDUCTION", "JIT", "JIT_PARALLEL", "JIT_REDUCTION"]


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() not in ("0", "false", "no", "off", "")


CACHE: bool = _env_flag("ACTBENCH_NUMBA_CACHE", True)
PARALLEL: bool = _env_flag("ACTBENCH_NUMBA_PARALLEL", True)
FASTMATH: bool = False
FASTMATH_REDUCTION: set[str] = {"reassoc", "nsz", "contract"}

#: Keyword sets for ``numba.njit``: serial exact kernels, prange kernels, and reductions.
#: ``error_model="numpy"``: division by zero gives inf/nan instead of raising, which lets LLVM
#: vectorise loops with divisions (every kernel guards its divisors itself).
JIT: dict = {"cache": CACHE, "fastmath": FASTMATH, "nogil": True, "error_model": "numpy"}
JIT_PARALLEL: dict = {**JIT, "parallel": PARALLEL}
JIT_REDUCTION: dict = {**JIT, "fastmath": FASTMATH_REDUCTION, "parallel": PARALLEL}
