"""Peak memory figures for the run record (bench.run.memory)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.run.memory import _live_children_hwm_mib, peak_memory_mib

ALLOCATE_MIB = 48


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux /proc")
def test_a_live_child_counts_and_the_main_figure_is_this_process():
    before = peak_memory_mib()
    assert before is not None and before["peak_rss_main_mib"] > 0
    child = subprocess.Popen(
        [sys.executable, "-c",
         f"import sys, time; b = b'x' * ({ALLOCATE_MIB} << 20); print('ready', flush=True); "
         "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        hwm = next(int(ln.split()[1]) / 1024 for ln in
                   Path(f"/proc/{child.pid}/status").read_text().splitlines()
                   if ln.startswith("VmHWM:"))
        assert hwm >= ALLOCATE_MIB
        assert _live_children_hwm_mib() >= hwm  # the live child is seen through /proc
        during = peak_memory_mib()
        assert during["peak_rss_children_mib"] >= hwm - 0.1
        assert during["peak_rss_main_mib"] >= before["peak_rss_main_mib"]
    finally:
        child.kill()
        child.wait()
    # Reaped now: RUSAGE_CHILDREN holds its peak, /proc no longer lists it.
    assert peak_memory_mib()["peak_rss_children_mib"] >= ALLOCATE_MIB
