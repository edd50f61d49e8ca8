"""Peak resident memory of the benchmark process and its worker processes, for the run record.

The runner stores these numbers in each unit's ``timing.json`` and in ``run.json`` so that a
reader can see whether a method fits in a machine's memory.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["peak_memory_mib", "PEAK_MEMORY_NOTE"]

#: Stored next to the numbers in ``run.json``.
PEAK_MEMORY_NOTE = (
    "ru_maxrss is a per-process high-water mark, in MiB. main: this Python process since it "
    "started (a resumed run counts only the resuming process). children: the largest peak of "
    "one child process (waited-for children via RUSAGE_CHILDREN, and on Linux the VmHWM of "
    "children still alive); loky workers are reused across units, so it is the largest "
    "worker's peak so far, not a per-unit or summed figure."
)


def _maxrss_mib(who: int) -> float:
    import resource

    value = resource.getrusage(who).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return value / 1024**2 if sys.platform == "darwin" else value / 1024


def _live_children_hwm_mib(proc: Path = Path("/proc")) -> float:
    """Largest ``VmHWM`` of the live direct children of this process (Linux; else 0)."""
    if not proc.is_dir():
        return 0.0
    me = str(os.getpid())
    peak = 0.0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if stat[stat.rindex(")") + 2:].split()[1] != me:  # field 4: parent pid
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)  # kB
        except (OSError, ValueError, IndexError):
            continue  # the process exited while we looked
    return peak


def peak_memory_mib() -> dict[str, float] | None:
    """Peak resident set sizes so far, in MiB.

    Returns
    -------
    dict or None
        ``{"peak_rss_main_mib": ..., "peak_rss_children_mib": ...}``: this process's
        ``getrusage(RUSAGE_SELF).ru_maxrss``, and the largest peak of a single child process
        (``RUSAGE_CHILDREN`` covers children that have exited and were waited for; on Linux
        the ``VmHWM`` of live children, such as reused loky workers, is included). ``None``
        where the ``resource`` module does not exist (Windows).

    References
    ----------
    .. [1] POSIX ``getrusage``: https://pubs.opengroup.org/onlinepubs/9799919799/functions/getrusage.html
    .. [2] Linux ``proc_pid_status(5)`` (``VmHWM``): https://man7.org/linux/man-pages/man5/proc_pid_status.5.html
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    children = max(_maxrss_mib(resource.RUSAGE_CHILDREN), _live_children_hwm_mib())
    return {"peak_rss_main_mib": round(_maxrss_mib(resource.RUSAGE_SELF), 1),
            "peak_rss_children_mib": round(children, 1)}
